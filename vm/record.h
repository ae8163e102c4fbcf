/* The VM record: what `nixbox up` started and decided, so that `down`, `status`, `run`, `logs`,
 * `reload` and `mount` find it.  It lives in <runtime>/vms/<id>/vm.json (vm/paths.h), a folder
 * only root can write: root acts on it (signals the PIDs, removes the slot's network, runs the
 * recorded hooks), so nothing a guest or another user wrote can steer it.  Paths are not recorded:
 * they follow from the project's identity.  Written atomically after every step of `up` that
 * starts something, so a crash leaves a record of everything started so far.  A missing record
 * is -ENOENT; a corrupt one -EBADMSG (callers fall back to the slot record, net/net.h); one not
 * written by root (or by the user running nixbox) is refused. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/strv.h"

typedef struct nbx_proc_ref {
        pid_t pid;           /* 0: none */
        uint64_t start_time; /* nbx_pid_start_time() when started; never 0 for a recorded pid */
} nbx_proc_ref;

typedef struct nbx_record_mount {
        char *source; /* host folder */
        char *target; /* guest folder */
        char *tag;    /* virtiofs tag: nbxfs<N> */
        bool readonly;
        bool hotplug;  /* attached by `nixbox mount` (else at launch) */
        bool attached; /* the guest side is done (a hot-plug interrupted before is half-done) */
        bool image;    /* a share the image mounts itself (image.json "shares"): fixed tag */
        nbx_proc_ref virtiofsd;
} nbx_record_mount;

typedef struct nbx_vm_record {
        char *name;
        char *project_dir;
        uid_t uid; /* the invoker the VM runs for */
        gid_t gid;
        int slot;                    /* -1: none */
        enum nbx_hypervisor backend; /* QEMU or CLOUD_HYPERVISOR once launched; AUTO before */
        enum nbx_accel accel;        /* KVM or TCG once launched; AUTO before */
        nbx_proc_ref hv;
        nbx_proc_ref ssh_master;
        char *guest_ip;
        char *user;    /* guest user */
        char *workdir; /* guest workspace (cd target of shell/run) */
        enum nbx_net_mode mode;
        nbx_record_mount *mounts;
        size_t n_mounts;
        unsigned next_tag;       /* nbxfs<next_tag> is the next share's tag: never reused */
        int64_t started_at;      /* unix seconds */
        bool ready;              /* `up` finished */
        char *settings;          /* JSON text: settings that need down+up to change (reload) */
        nbx_strv hooks_pre_down; /* the approved config's hooks, run by `down` */
        nbx_strv hooks_post_down;
} nbx_vm_record;

#define NBX_VM_RECORD_INIT                                                                         \
        { .slot = -1 }

void nbx_vm_record_done(nbx_vm_record *r);
/* Add a share (copies strings); its tag is nbxfs<next_tag>, and next_tag advances. */
int nbx_vm_record_add_mount(nbx_vm_record *r, const char *source, const char *target, bool readonly,
                            bool hotplug, nbx_record_mount **ret, nbx_error **err);
/* Add a share the image mounts itself, under its own tag (target: what status shows). */
int nbx_vm_record_add_image_share(nbx_vm_record *r, const char *source, const char *tag,
                                  nbx_record_mount **ret, nbx_error **err);
/* Forget share i. */
void nbx_vm_record_remove_mount(nbx_vm_record *r, size_t i);
/* The share mounted at target, or NULL. */
nbx_record_mount *nbx_vm_record_find_mount(const nbx_vm_record *r, const char *target);

/* Write atomically (0644: `nixbox run` as the user reads it). */
int nbx_vm_record_save(const char *path, const nbx_vm_record *r, nbx_error **err);
/* -ENOENT when absent, -EBADMSG (with err) when unreadable or not written by nixbox. */
int nbx_vm_record_load(const char *path, nbx_vm_record *ret, nbx_error **err);
/* Parse record text (what load does after reading; for tests and the fuzzer). */
int nbx_vm_record_parse(const char *text, size_t len, const char *what, nbx_vm_record *ret,
                        nbx_error **err);
/* Remove the record; absent is success. */
int nbx_vm_record_remove(const char *path, nbx_error **err);

/* The settings of a config that only take effect on the next `up` (resources, image, mounts,
 * hypervisor, packages, scripts, env names — never env values): JSON text, for reload. */
char *nbx_vm_settings_json(const nbx_config *c);
/* Names of settings that differ between two nbx_vm_settings_json texts (comma-separated in
 * *ret, "" when none). */
int nbx_vm_settings_diff(const char *old_json, const char *new_json, char **ret, nbx_error **err);
