/* The context every lifecycle command starts from, and the helpers its files share. */
#include "internal.h"

#include "../config/approval.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"

int nbx_vm_ctx_open(nbx_vm_ctx *c, const nbx_project *p, const nbx_vm_opts *o, bool lock,
                    nbx_error **err) {
        *c = (nbx_vm_ctx){.p = p, .o = o, .ui = o ? o->ui : NULL, .lock_fd = -1};
        c->runtime_dir = o && o->runtime_dir ? strdup(o->runtime_dir) : nbx_runtime_dir();
        if (!c->runtime_dir)
                return nbx_error_set(err, ENOMEM, "runtime folder");
        int r = nbx_invoker_get(&c->inv, err);
        if (r < 0) {
                free(c->runtime_dir);
                return r;
        }
        /* the invoker's home: $HOME when nixbox runs as the user, the password database's under
         * sudo (config/base/user.c) */
        if ((r = nbx_vm_paths_get(c->runtime_dir, p->root, c->inv.home, &c->paths, err)) < 0)
                goto fail;
        if (lock) {
                if ((r = nbx_vm_paths_prepare(&c->paths, &c->inv, err)) < 0 ||
                    (r = nbx_lock_file(c->paths.lock, nbx_deadline_in(NBX_VM_LOCK_TIMEOUT_MS),
                                       "another nixbox is working on this VM", &c->lock_fd, err)) <
                            0)
                        goto fail;
        }
        return 0;
fail:
        nbx_vm_ctx_close(c);
        return r;
}

void nbx_vm_ctx_close(nbx_vm_ctx *c) {
        nbx_closep(&c->lock_fd);
        nbx_vm_paths_done(&c->paths);
        nbx_invoker_done(&c->inv);
        free(c->runtime_dir);
        *c = (nbx_vm_ctx){.lock_fd = -1};
}

const nbx_hv_ops *nbx_vm_ops(enum nbx_hypervisor h) {
        return h == NBX_HV_QEMU               ? &nbx_hv_qemu
               : h == NBX_HV_CLOUD_HYPERVISOR ? &nbx_hv_cloud_hypervisor
                                              : NULL;
}

bool nbx_vm_hv_alive(const nbx_vm_record *r) {
        return r->hv.pid > 0 && nbx_pid_alive(r->hv.pid, r->hv.start_time);
}

int nbx_vm_not_running(const nbx_project *p, nbx_error **err) {
        return nbx_error_setx(err, NBX_EXIT_NOT_RUNNING, 0,
                              "the VM of %s is not running (start it with `sudo nixbox up`)",
                              p->root);
}

int nbx_vm_child_env(const nbx_invoker *inv, nbx_strv *ret, nbx_error **err) {
        nbx_strv v = {0};
        const char *path = getenv("PATH");
        int r = nbx_strv_pushf(&v, "PATH=%s",
                               path && *path ? path
                                             : "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                               "/usr/bin:/sbin:/bin");
        if (r >= 0)
                r = nbx_strv_pushf(&v, "HOME=%s", inv->home);
        if (r >= 0)
                r = nbx_strv_pushf(&v, "USER=%s", inv->name);
        if (r >= 0)
                r = nbx_strv_pushf(&v, "LOGNAME=%s", inv->name);
        if (r >= 0)
                r = nbx_strv_push(&v, "LANG=C.UTF-8");
        if (r < 0) {
                nbx_strv_clear(&v);
                return nbx_error_set(err, ENOMEM, "environment");
        }
        *ret = v;
        return 0;
}

int nbx_vm_open_log(const nbx_vm_paths *paths, const nbx_invoker *inv, const char *name,
                    char **ret_path, nbx_error **err) {
        _cleanup_free_ char *path = nbx_vm_log_path(paths, name);
        if (!path)
                return nbx_error_set(err, ENOMEM, "log %s", name);
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(inv, &fs, err);
        if (r < 0)
                return r;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return nbx_error_set(err, errno, "open log %s", path);
        if (ret_path)
                *ret_path = TAKE_PTR(path);
        return fd;
}

nbx_ssh_target nbx_vm_ssh_target(const nbx_vm_paths *paths, const nbx_vm_record *r,
                                 const nbx_invoker *inv) {
        return (nbx_ssh_target){.ssh_dir = paths->ssh_dir,
                                .host = r->guest_ip,
                                .user = r->user,
                                .control_path = paths->control_path,
                                .uid = inv->uid,
                                .gid = inv->gid};
}

nbx_slot_owner nbx_vm_slot_owner(const nbx_project *p, const char *name, pid_t pid) {
        nbx_slot_owner o = {.pid = pid, .start_time = nbx_pid_start_time(pid)};
        snprintf(o.project_dir, sizeof(o.project_dir), "%s", p->root);
        snprintf(o.name, sizeof(o.name), "%s", name ? name : "");
        return o;
}

int nbx_vm_owner(const nbx_vm_ctx *c, const nbx_vm_record *r, nbx_invoker *ret, nbx_error **err) {
        if (r->uid == c->inv.uid) {
                nbx_invoker copy = {.uid = c->inv.uid,
                                    .gid = c->inv.gid,
                                    .name = strdup(c->inv.name),
                                    .home = strdup(c->inv.home),
                                    .guest_user = strdup(c->inv.guest_user)};
                if (!copy.name || !copy.home || !copy.guest_user) {
                        nbx_invoker_done(&copy);
                        return nbx_error_set(err, ENOMEM, "VM owner");
                }
                *ret = copy;
                return 0;
        }
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (geteuid() != 0 || getpwuid_r(r->uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
                return nbx_error_setx(err, NBX_EXIT_PERMISSION, 0,
                                      "the VM of %s runs for uid %u, not for you; ask its owner "
                                      "(or root) to use it",
                                      c->p->root, (unsigned)r->uid);
        nbx_invoker o = {.uid = r->uid,
                         .gid = r->gid,
                         .name = strdup(pw.pw_name),
                         .home = strdup(pw.pw_dir),
                         .guest_user = strdup(pw.pw_name)};
        if (!o.name || !o.home || !o.guest_user) {
                nbx_invoker_done(&o);
                return nbx_error_set(err, ENOMEM, "VM owner");
        }
        *ret = o;
        return 0;
}

int nbx_vm_load_running(const nbx_vm_ctx *c, nbx_vm_record *ret, nbx_error **err) {
        nbx_vm_record r = NBX_VM_RECORD_INIT;
        if (nbx_vm_record_load(c->paths.record, &r, NULL) < 0)
                return nbx_vm_not_running(c->p, err);
        if (!nbx_vm_hv_alive(&r) || !r.ready || !r.guest_ip || !r.user ||
            strcmp(r.project_dir, c->p->root) != 0) {
                nbx_vm_record_done(&r);
                return nbx_vm_not_running(c->p, err);
        }
        *ret = r;
        return 0;
}

nbx_net_params nbx_vm_net_params(const char *runtime_dir, const nbx_pool *pool, unsigned slot,
                                 const nbx_config *cfg, const nbx_invoker *inv) {
        return (nbx_net_params){.runtime_dir = runtime_dir,
                                .pool = *pool,
                                .slot = slot,
                                .tap_owner = inv->uid,
                                .tap_group = inv->gid,
                                .multi_queue = cfg->vcpus > 2,
                                .policy = {.mode = cfg->net_mode,
                                           .domains = &cfg->domains,
                                           .ports = cfg->ports,
                                           .n_ports = cfg->n_ports,
                                           .upstream_dns = cfg->upstream_dns,
                                           .n_upstream_dns = cfg->n_upstream_dns,
                                           .allow_private = cfg->allow_private,
                                           .owner_uid = inv->uid}};
}

/* The config as approved: the approved copy of .nixbox/ is what Nix evaluates (decision 0006). */
int nbx_vm_config_load_approved(const nbx_vm_ctx *c, nbx_config *ret, nbx_error **err) {
        int r = nbx_approval_require(c->p->nixbox_dir, c->paths.approved_dir, &c->inv, err);
        if (r < 0)
                return r;
        nbx_config_opts co = c->o && c->o->config_opts ? *c->o->config_opts : (nbx_config_opts){0};
        co.config_dir = c->paths.approved_dir;
        return nbx_config_load(c->p->root, &co, ret, err);
}
