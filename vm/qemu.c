/* QEMU backend: the fallback hypervisor and the one the tests boot.  A q35 machine whose devices
 * sit behind PCIe root ports with native hot-plug, guest memory in a shared memfd (vhost-user-fs
 * needs it), QMP on a unix socket for hot-plug and the power button (vm/qmp.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/base/timeutil.h"
#include "hv.h"
#include "hv_internal.h"
#include "qmp.h"

#define ROOT_PORT_PREFIX "nbxrp"
#define ROOT_PORT_FIRST_SLOT 0x10
#define ROOT_PORTS_MAX 96 /* 12 slots x 8 functions: slots 0x10-0x1b, below the LPC at 0x1f */
#define VHOST_VSOCK_DEVICE "/dev/vhost-vsock"
/* with the default spare ports (hotplug_slots = 0), every share a VM may have (NBX_MAX_MOUNTS,
 * boot shares included: nixbox mount, docs/mounts.md) finds a free root port, and the ports of the
 * largest machine are never cut */
_Static_assert(NBX_VM_MAX_SHARES + NBX_VM_MAX_DISKS >= NBX_MAX_MOUNTS,
               "spare root ports for every hot-plugged share");
_Static_assert(2 * (NBX_VM_MAX_SHARES + NBX_VM_MAX_DISKS) <= ROOT_PORTS_MAX,
               "boot devices plus the spare ports fit the root ports");
#define IMAGE_DISK_ID "nbxroot"
#define IMAGE_DISK_SERIAL "nixbox-root"

static unsigned root_port_count(const nbx_vm_spec *s) {
        unsigned spare = s->hotplug_slots ? s->hotplug_slots : NBX_VM_MAX_SHARES + NBX_VM_MAX_DISKS;
        unsigned n = (unsigned)(s->n_shares + s->n_disks) + spare;
        return n > ROOT_PORTS_MAX ? ROOT_PORTS_MAX : n;
}

/* An expression (GNU statement expression), so that "PUSH(opt), PUSH(value)" pairs read as one. */
#define PUSH(...)                                                                                  \
        ({                                                                                         \
                if (nbx_strv_pushf(&argv, __VA_ARGS__) < 0)                                        \
                        return nbx_error_set(err, ENOMEM, "%s", "qemu command line");              \
        })

static int qemu_build_argv(const nbx_vm_spec *s, const char *program, nbx_strv *ret_argv,
                           nbx_error **err) {
        int r = nbx_hv_check_spec(s, err);
        if (r < 0)
                return r;
        unsigned ports = root_port_count(s);
        if (s->n_shares + s->n_disks > ports)
                return nbx_error_set(err, E2BIG, "qemu: more devices than PCIe root ports");

        _cleanup_strv_ nbx_strv argv = {0};
        PUSH("%s", program);
        if (s->name)
                PUSH("-name"), PUSH("guest=%s", s->name);
        /* Native PCIe hot-plug on the root ports (ACPI hot-plug, q35's default, needs the guest
         * to eject even while the machine has not started). */
        PUSH("-machine"), PUSH("q35,memory-backend=mem");
        PUSH("-global"), PUSH("ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off");
        PUSH("-accel"), PUSH("%s", s->accel == NBX_ACCEL_KVM ? "kvm" : "tcg");
        PUSH("-cpu"), PUSH("%s", s->accel == NBX_ACCEL_KVM ? "host" : "max");
        PUSH("-smp"), PUSH("%u", s->vcpus);
        PUSH("-m"), PUSH("%uM", s->memory_mb);
        PUSH("-object"), PUSH("memory-backend-memfd,id=mem,size=%uM,share=on", s->memory_mb);
        PUSH("-nodefaults"), PUSH("-no-user-config"), PUSH("-display"), PUSH("none");
        PUSH("-no-reboot");
        if (s->start_paused)
                PUSH("-S");
        /* QEMU's own seccomp filter: a guest that breaks QEMU still cannot exec, setuid, or use
         * obsolete or resource-control system calls */
        PUSH("-sandbox");
        PUSH("on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        PUSH("-kernel"), PUSH("%s", s->image->kernel);
        if (s->image->initrd)
                PUSH("-initrd"), PUSH("%s", s->image->initrd);
        PUSH("-append"), PUSH("%s", s->image->cmdline ? s->image->cmdline : "");
        PUSH("-qmp"), PUSH("unix:%s,server=on,wait=off", s->api_socket);
        PUSH("-serial"), PUSH("file:%s", s->serial_log);

        /* Root ports first, at fixed addresses, so that the devices QEMU places itself cannot
         * take their slots. */
        for (unsigned i = 0; i < ports; i++) {
                PUSH("-device");
                PUSH("pcie-root-port,id=" ROOT_PORT_PREFIX "%u,bus=pcie.0,chassis=%u,"
                     "addr=0x%x.0x%x%s,io-reserve=0",
                     i, i + 1, ROOT_PORT_FIRST_SLOT + i / 8, i % 8,
                     i % 8 == 0 ? ",multifunction=on" : "");
        }
        unsigned port = 0;

        PUSH("-device"), PUSH("virtio-rng-pci");
        PUSH("-device"), PUSH("virtio-balloon-pci,free-page-reporting=on");
        if (s->tap) {
                unsigned q = s->net_queues > 1 ? s->net_queues : 1;
                PUSH("-netdev");
                if (q > 1)
                        PUSH("tap,id=net0,ifname=%s,script=no,downscript=no,vhost=off,queues=%u",
                             s->tap, q);
                else
                        PUSH("tap,id=net0,ifname=%s,script=no,downscript=no,vhost=off", s->tap);
                PUSH("-device");
                if (q > 1)
                        PUSH("virtio-net-pci,netdev=net0,mac=%s,mq=on,vectors=%u", s->mac,
                             2 * q + 2);
                else
                        PUSH("virtio-net-pci,netdev=net0,mac=%s", s->mac);
        }
        /* vhost-vsock needs the host's vhost_vsock module; without it the guest has no vsock and
         * the lifecycle reaches it over the network. */
        if (s->vsock_cid && access(VHOST_VSOCK_DEVICE, F_OK) == 0)
                PUSH("-device"), PUSH("vhost-vsock-pci,guest-cid=%u", s->vsock_cid);
        if (s->image->disk) {
                PUSH("-blockdev");
                PUSH("driver=raw,node-name=" IMAGE_DISK_ID ".blk,read-only=on,file.driver=file,"
                     "file.filename=%s,file.read-only=on",
                     s->image->disk);
                PUSH("-device");
                PUSH("virtio-blk-pci,drive=" IMAGE_DISK_ID ".blk,id=" IMAGE_DISK_ID
                     ",serial=" IMAGE_DISK_SERIAL);
        }
        for (size_t i = 0; i < s->n_disks; i++) {
                const nbx_vm_disk *d = &s->disks[i];
                const char *ro = d->readonly ? "on" : "off";
                PUSH("-blockdev");
                PUSH("driver=raw,node-name=%s.blk,read-only=%s,file.driver=file,"
                     "file.filename=%s,file.read-only=%s",
                     d->id, ro, d->path, ro);
                PUSH("-device");
                if (d->serial[0])
                        PUSH("virtio-blk-pci,drive=%s.blk,id=%s,serial=%s,bus=" ROOT_PORT_PREFIX
                             "%u",
                             d->id, d->id, d->serial, port++);
                else
                        PUSH("virtio-blk-pci,drive=%s.blk,id=%s,bus=" ROOT_PORT_PREFIX "%u", d->id,
                             d->id, port++);
        }
        for (size_t i = 0; i < s->n_shares; i++) {
                const nbx_vm_share *sh = &s->shares[i];
                PUSH("-chardev"), PUSH("socket,id=%s.chr,path=%s", sh->tag, sh->socket);
                PUSH("-device");
                PUSH("vhost-user-fs-pci,chardev=%s.chr,tag=%s,id=%s,bus=" ROOT_PORT_PREFIX "%u",
                     sh->tag, sh->tag, sh->tag, port++);
        }
        *ret_argv = argv;
        argv = (nbx_strv){0};
        return 0;
}

/* ---- QMP operations ------------------------------------------------------------------------- */

static int qemu_wait_api(const char *api_socket, uint64_t deadline_ms, nbx_error **err) {
        nbx_backoff b = NBX_BACKOFF_INIT;
        uint64_t start = nbx_now_ms();
        for (;;) {
                _cleanup_error_ nbx_error *last = NULL;
                _cleanup_qmp_ nbx_qmp *q = NULL;
                if (nbx_qmp_open(api_socket, deadline_ms, &q, &last) == 0)
                        return 0;
                if (!nbx_backoff_sleep(&b, deadline_ms))
                        return nbx_error_set(err, ETIMEDOUT,
                                             "QEMU did not answer on its QMP socket %s within "
                                             "%llu ms (last: %s)",
                                             api_socket, (unsigned long long)(nbx_now_ms() - start),
                                             last ? last->msg : "?");
        }
}

static int open_qmp(const char *api_socket, nbx_qmp **ret, nbx_error **err) {
        return nbx_qmp_open(api_socket, nbx_deadline_in(NBX_HV_REQUEST_TIMEOUT_MS), ret, err);
}

static int qemu_info(const char *api_socket, nbx_vm_info *ret, nbx_error **err) {
        _cleanup_qmp_ nbx_qmp *q = NULL;
        int r = open_qmp(api_socket, &q, err);
        if (r < 0)
                return r;
        json_auto_t *st = NULL;
        if ((r = nbx_qmp_execute(q, "query-status", NULL, &st, NULL, err)) < 0)
                return r;
        const char *status = json_string_value(json_object_get(st, "status"));
        if (!status)
                return nbx_error_set(err, EPROTO, "QMP query-status: no status in the reply");
        nbx_vm_info info = {0};
        snprintf(info.state, sizeof(info.state), "%s", status);
        *ret = info;
        return 0;
}

/* The first root port whose bus holds no device.  Ports are numbered from 0 without gaps; the
 * bus of port X is /machine/peripheral/X/X and lists a child[N] link per device on it. */
static int find_free_port(nbx_qmp *q, char *ret, size_t ret_len, nbx_error **err) {
        for (unsigned i = 0; i < ROOT_PORTS_MAX; i++) {
                char path[96];
                snprintf(path, sizeof(path),
                         "/machine/peripheral/" ROOT_PORT_PREFIX "%u/" ROOT_PORT_PREFIX "%u", i, i);
                json_auto_t *args = json_pack("{s:s}", "path", path);
                json_auto_t *props = NULL;
                _cleanup_error_ nbx_error *e = NULL;
                _cleanup_free_ char *cls = NULL;
                if (!args)
                        return nbx_error_set(err, ENOMEM, "QMP");
                if (nbx_qmp_execute(q, "qom-list", args, &props, &cls, &e) < 0) {
                        if (cls && strcmp(cls, "DeviceNotFound") == 0)
                                break; /* past the last port */
                        return nbx_error_set(err, e ? e->errnum : EIO, "%s",
                                             e ? e->msg : "qom-list");
                }
                bool used = false;
                size_t k;
                json_t *p;
                json_array_foreach(props, k, p) {
                        const char *name = json_string_value(json_object_get(p, "name"));
                        if (name && strncmp(name, "child[", 6) == 0)
                                used = true;
                }
                if (!used) {
                        snprintf(ret, ret_len, ROOT_PORT_PREFIX "%u", i);
                        return 0;
                }
        }
        return nbx_error_set(err, ENOSPC,
                             "no free PCIe hot-plug slot (all root ports are in use; raise "
                             "hotplug_slots in the VM spec)");
}

static bool has_block_node(nbx_qmp *q, const char *node, nbx_error **err, int *r) {
        json_auto_t *args = json_pack("{s:b}", "flat", 1);
        json_auto_t *nodes = NULL;
        *r = args ? nbx_qmp_execute(q, "query-named-block-nodes", args, &nodes, NULL, err)
                  : nbx_error_set(err, ENOMEM, "QMP");
        if (*r < 0)
                return false;
        size_t i;
        json_t *n;
        json_array_foreach(nodes, i, n) {
                const char *name = json_string_value(json_object_get(n, "node-name"));
                if (name && strcmp(name, node) == 0)
                        return true;
        }
        return false;
}

static bool has_chardev(nbx_qmp *q, const char *label, nbx_error **err, int *r) {
        json_auto_t *devs = NULL;
        *r = nbx_qmp_execute(q, "query-chardev", NULL, &devs, NULL, err);
        if (*r < 0)
                return false;
        size_t i;
        json_t *c;
        json_array_foreach(devs, i, c) {
                const char *l = json_string_value(json_object_get(c, "label"));
                if (l && strcmp(l, label) == 0)
                        return true;
        }
        return false;
}

static int qemu_add_disk(const char *api_socket, const nbx_vm_disk *disk, nbx_error **err) {
        int r = nbx_hv_check_disk(disk, err);
        if (r < 0)
                return r;
        _cleanup_qmp_ nbx_qmp *q = NULL;
        if ((r = open_qmp(api_socket, &q, err)) < 0)
                return r;
        char port[32], node[40];
        if ((r = find_free_port(q, port, sizeof(port), err)) < 0)
                return nbx_error_wrap(err, "add disk %s", disk->id);
        snprintf(node, sizeof(node), "%s.blk", disk->id);
        json_auto_t *bargs =
                json_pack("{s:s, s:s, s:b, s:{s:s, s:s, s:b}}", "driver", "raw", "node-name", node,
                          "read-only", disk->readonly, "file", "driver", "file", "filename",
                          disk->path, "read-only", disk->readonly);
        json_auto_t *dargs = json_pack("{s:s, s:s, s:s, s:s}", "driver", "virtio-blk-pci", "drive",
                                       node, "id", disk->id, "bus", port);
        if (!bargs || !dargs ||
            (disk->serial[0] && json_object_set_new(dargs, "serial", json_string(disk->serial))))
                return nbx_error_set(err, ENOMEM, "QMP");
        if ((r = nbx_qmp_execute(q, "blockdev-add", bargs, NULL, NULL, err)) < 0)
                return nbx_error_wrap(err, "add disk %s (%s)", disk->id, disk->path);
        if ((r = nbx_qmp_execute(q, "device_add", dargs, NULL, NULL, err)) < 0) {
                json_auto_t *del = json_pack("{s:s}", "node-name", node);
                if (del)
                        (void)nbx_qmp_execute(q, "blockdev-del", del, NULL, NULL, NULL);
                return nbx_error_wrap(err, "add disk %s (%s)", disk->id, disk->path);
        }
        return 0;
}

static int qemu_add_fs(const char *api_socket, const nbx_vm_share *share, nbx_error **err) {
        int r = nbx_hv_check_share(share, err);
        if (r < 0)
                return r;
        _cleanup_qmp_ nbx_qmp *q = NULL;
        if ((r = open_qmp(api_socket, &q, err)) < 0)
                return r;
        char port[32], chr[40];
        if ((r = find_free_port(q, port, sizeof(port), err)) < 0)
                return nbx_error_wrap(err, "add share %s", share->tag);
        snprintf(chr, sizeof(chr), "%s.chr", share->tag);
        json_auto_t *cargs = json_pack("{s:s, s:{s:s, s:{s:{s:s, s:{s:s}}, s:b}}}", "id", chr,
                                       "backend", "type", "socket", "data", "addr", "type", "unix",
                                       "data", "path", share->socket, "server", 0);
        json_auto_t *dargs =
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "driver", "vhost-user-fs-pci", "chardev",
                          chr, "tag", share->tag, "id", share->tag, "bus", port);
        if (!cargs || !dargs)
                return nbx_error_set(err, ENOMEM, "QMP");
        if ((r = nbx_qmp_execute(q, "chardev-add", cargs, NULL, NULL, err)) < 0)
                return nbx_error_wrap(err, "add share %s (%s)", share->tag, share->socket);
        if ((r = nbx_qmp_execute(q, "device_add", dargs, NULL, NULL, err)) < 0) {
                json_auto_t *del = json_pack("{s:s}", "id", chr);
                if (del)
                        (void)nbx_qmp_execute(q, "chardev-remove", del, NULL, NULL, NULL);
                return nbx_error_wrap(err, "add share %s (%s)", share->tag, share->socket);
        }
        return 0;
}

static int qemu_remove_device(const char *api_socket, const char *id, nbx_error **err) {
        if (!nbx_hv_valid_name(id, 23, false))
                return nbx_error_set(err, EINVAL, "remove device: bad id \"%s\"", id ? id : "");
        _cleanup_qmp_ nbx_qmp *q = NULL;
        int r = open_qmp(api_socket, &q, err);
        if (r < 0)
                return r;
        json_auto_t *args = json_pack("{s:s}", "id", id);
        if (!args)
                return nbx_error_set(err, ENOMEM, "QMP");
        _cleanup_free_ char *cls = NULL;
        _cleanup_error_ nbx_error *e = NULL;
        r = nbx_qmp_execute(q, "device_del", args, NULL, &cls, &e);
        if (r < 0 && !(cls && strcmp(cls, "DeviceNotFound") == 0)) {
                /* the guest has not finished an earlier unplug request: keep waiting below */
                if (!(e && strstr(e->msg, "already in progress")))
                        return nbx_error_set(err, e ? e->errnum : EIO, "remove device %s: %s", id,
                                             e ? e->msg : "device_del");
                r = 0;
        }
        if (r == 0 && (r = nbx_qmp_wait_event(q, "DEVICE_DELETED", id,
                                              nbx_deadline_in(NBX_HV_UNPLUG_TIMEOUT_MS), err)) < 0)
                return nbx_error_wrap(err,
                                      "remove device %s: the guest did not release it (is its "
                                      "PCIe hot-plug driver, pciehp, loaded?)",
                                      id);
        /* Backends the device used (disks: <id>.blk, shares: <id>.chr). */
        char name[40];
        snprintf(name, sizeof(name), "%s.blk", id);
        bool present = has_block_node(q, name, err, &r);
        if (r < 0)
                return r;
        if (present) {
                json_auto_t *del = json_pack("{s:s}", "node-name", name);
                if (!del)
                        return nbx_error_set(err, ENOMEM, "QMP");
                if ((r = nbx_qmp_execute(q, "blockdev-del", del, NULL, NULL, err)) < 0)
                        return nbx_error_wrap(err, "remove device %s", id);
        }
        snprintf(name, sizeof(name), "%s.chr", id);
        present = has_chardev(q, name, err, &r);
        if (r < 0)
                return r;
        if (present) {
                json_auto_t *del = json_pack("{s:s}", "id", name);
                if (!del)
                        return nbx_error_set(err, ENOMEM, "QMP");
                if ((r = nbx_qmp_execute(q, "chardev-remove", del, NULL, NULL, err)) < 0)
                        return nbx_error_wrap(err, "remove device %s", id);
        }
        return 0;
}

static int qemu_power_button(const char *api_socket, nbx_error **err) {
        _cleanup_qmp_ nbx_qmp *q = NULL;
        int r = open_qmp(api_socket, &q, err);
        if (r < 0)
                return r;
        return nbx_qmp_execute(q, "system_powerdown", NULL, NULL, NULL, err);
}

const nbx_hv_ops nbx_hv_qemu = {
        .name = "qemu",
        .program = "qemu-system-x86_64",
        .build_argv = qemu_build_argv,
        .wait_api = qemu_wait_api,
        .info = qemu_info,
        .add_disk = qemu_add_disk,
        .add_fs = qemu_add_fs,
        .remove_device = qemu_remove_device,
        .power_button = qemu_power_button,
};
