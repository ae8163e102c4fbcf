/* Hypervisor backends behind one interface: cloud-hypervisor (default when installed; REST API
 * over a unix socket via libcurl) and QEMU (fallback, and what the tests boot; QMP over a unix
 * socket).  The lifecycle (vm/lifecycle.c) only talks to this interface. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/proc.h"
#include "../config/base/strv.h"
#include "image.h"

#define NBX_VM_MAX_SHARES 32
#define NBX_VM_MAX_DISKS 8

typedef struct nbx_vm_share {
        char tag[36];     /* virtiofs tag ("nbxfs0"...) */
        char socket[108]; /* virtiofsd's vhost-user socket */
} nbx_vm_share;

typedef struct nbx_vm_disk {
        char path[256]; /* file, or /proc/self/fd/N for an inherited fd */
        bool readonly;
        char serial[21]; /* virtio-blk serial the guest can find it by ("nixbox-creds") */
        char id[32];     /* device id for hot-unplug */
} nbx_vm_disk;

/* Everything a backend needs to build its command line. */
typedef struct nbx_vm_spec {
        const char *name; /* VM name (config name) */
        unsigned vcpus;
        unsigned memory_mb;
        const nbx_image *image;
        enum nbx_accel accel; /* resolved: KVM or TCG (never AUTO here) */
        const char *tap;      /* slot TAP name */
        const char *mac;      /* "02:..." */
        uint32_t vsock_cid;
        const char *api_socket;     /* QMP socket (qemu) or REST API socket (cloud-hypervisor) */
        const char *vsock_socket;   /* host side of vsock (cloud-hypervisor); may be NULL */
        const char *serial_log;     /* file receiving the serial console */
        const nbx_vm_share *shares; /* attached at launch (hot-plug uses add_fs) */
        size_t n_shares;
        const nbx_vm_disk *disks; /* attached at launch */
        size_t n_disks;
        unsigned net_queues;    /* virtio-net queue pairs; 0 or 1 = single queue (the TAP must
                                 * be multi-queue when > 1); at most NBX_VM_MAX_NET_QUEUES */
        bool start_paused;      /* qemu: -S (no vCPU runs until `cont`); a test hook that makes
                                 * a guest that never progresses */
        unsigned hotplug_slots; /* qemu: free PCIe root ports kept for add_disk/add_fs;
                                 * 0 = NBX_VM_MAX_SHARES + NBX_VM_MAX_DISKS */
} nbx_vm_spec;

#define NBX_VM_MAX_NET_QUEUES 16
#define NBX_VM_MAX_VCPUS 255

typedef struct nbx_vm_info {
        char state[32]; /* "running", "paused", "shutdown", ... as the backend says */
} nbx_vm_info;

typedef struct nbx_hv_ops {
        const char *name;    /* "cloud-hypervisor" | "qemu" */
        const char *program; /* executable looked up in PATH */
        int (*build_argv)(const nbx_vm_spec *spec, const char *program, nbx_strv *ret_argv,
                          nbx_error **err);
        /* Wait until the API socket answers (event: socket appears + handshake), with deadline. */
        int (*wait_api)(const char *api_socket, uint64_t deadline_ms, nbx_error **err);
        int (*info)(const char *api_socket, nbx_vm_info *ret, nbx_error **err);
        int (*add_disk)(const char *api_socket, const nbx_vm_disk *disk, nbx_error **err);
        int (*add_fs)(const char *api_socket, const nbx_vm_share *share, nbx_error **err);
        int (*remove_device)(const char *api_socket, const char *id, nbx_error **err);
        int (*power_button)(const char *api_socket, nbx_error **err);
} nbx_hv_ops;

/* Device ids: a disk's id is nbx_vm_disk.id, a share's id is its tag (remove_device takes
 * either).  Ids, tags and serials are [A-Za-z][A-Za-z0-9_-]* (serials may start with a digit);
 * backends reject anything else before talking to the hypervisor.
 * remove_device of an id that does not exist is success (already gone). */

extern const nbx_hv_ops nbx_hv_qemu;
extern const nbx_hv_ops nbx_hv_cloud_hypervisor;

/* auto: cloud-hypervisor when installed, else QEMU; an explicit choice that is not installed is
 * an NBX_EXIT_PREREQ error naming the package. */
int nbx_hv_select(enum nbx_hypervisor want, const nbx_hv_ops **ret, nbx_error **err);

/* auto → KVM only when /dev/kvm can really run a guest (probed with KVM ioctls: create VM and a
 * vCPU, bounded in time), else TCG.  An explicit kvm that does not work is an error. */
int nbx_accel_resolve(enum nbx_accel want, enum nbx_accel *ret, nbx_error **err);

/* The probe nbx_accel_resolve runs, exposed so tests can point it elsewhere or replace it.
 * run: executed in a forked child (so a hang or crash cannot take the caller with it); returns 0
 * when a guest really ran, else < 0 with a reason in why.  The child is killed at timeout_ms. */
typedef int (*nbx_kvm_probe_fn)(const char *device, char *why, size_t why_len);
typedef struct nbx_accel_probe {
        const char *device;   /* NULL: $NIXBOX_KVM_DEVICE, else /dev/kvm */
        uint64_t timeout_ms;  /* 0: NBX_KVM_PROBE_TIMEOUT_MS */
        nbx_kvm_probe_fn run; /* NULL: nbx_kvm_probe (KVM ioctls: VM, vCPU, tiny guest) */
        bool drop_privileges; /* probe as uid/gid with its groups, as the hypervisor will run;
                               * nbx_accel_resolve sets this to the invoking user */
        uid_t uid;
        gid_t gid;
} nbx_accel_probe;
#define NBX_KVM_PROBE_TIMEOUT_MS 2000
int nbx_accel_resolve_with(enum nbx_accel want, const nbx_accel_probe *probe, enum nbx_accel *ret,
                           nbx_error **err);
/* The real probe: open device, KVM_CREATE_VM, KVM_CREATE_VCPU, the vCPU set up as QEMU's
 * `-cpu host` does (all supported CPUID leaves, every feature MSR written back), one page of
 * real-mode code (`out 0x10, 0x42; hlt`), KVM_RUN: expect the OUT exit, then KVM_EXIT_HLT.
 * Call it in a child only (KVM_RUN may never return on a broken nested host). */
int nbx_kvm_probe(const char *device, char *why, size_t why_len);

/* Build the backend's argv from spec and start it: new session, the rest as opts say (the
 * lifecycle passes the invoking user's uid/gid, log fds and keep_fds for inherited fds).
 * ops->program is looked up in PATH (NBX_EXIT_PREREQ naming the package when missing). */
int nbx_hv_launch(const nbx_hv_ops *ops, const nbx_vm_spec *spec, const nbx_spawn_opts *opts,
                  pid_t *ret_pid, nbx_error **err);
