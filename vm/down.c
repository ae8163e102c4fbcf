/* down, and the one teardown that both `down` and a failed `up` run. */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "hooks.h"

static void note(nbx_strv *failures, const char *what, nbx_error **e) {
        (void)nbx_strv_pushf(failures, "%s: %s", what, *e && (*e)->msg ? (*e)->msg : "failed");
        nbx_error_free(*e);
        *e = NULL;
}

static int stop_hypervisor(const nbx_vm_paths *paths, const nbx_vm_record *r, bool graceful,
                           nbx_error **err) {
        if (!nbx_vm_hv_alive(r))
                return 0;
        const nbx_hv_ops *ops = nbx_vm_ops(r->backend);
        if (graceful && ops) {
                _cleanup_error_ nbx_error *perr = NULL;
                if (ops->power_button(paths->api_socket, &perr) == 0) {
                        uint64_t deadline = nbx_deadline_in(NBX_VM_POWEROFF_TIMEOUT_MS);
                        nbx_backoff b = NBX_BACKOFF_INIT;
                        b.max_us = 200000;
                        while (nbx_vm_hv_alive(r) && nbx_backoff_sleep(&b, deadline))
                                ;
                }
        }
        return nbx_terminate(r->hv.pid, r->hv.start_time, nbx_deadline_in(NBX_VM_TERM_GRACE_MS),
                             err);
}

/* Every socket in sock_dir: the folder is nixbox's alone (the invoker's, inside root's). */
static void remove_sockets(const char *sock_dir) {
        _cleanup_close_ int dfd = open(sock_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return;
        DIR *d = fdopendir(dfd);
        if (!d)
                return;
        dfd = -1;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
}

/* A slot whose record is missing or unusable: its owner is the hypervisor (or a crashed `up`) of
 * this project. */
static void stop_slot_owner(nbx_vm_ctx *c, int slot, nbx_strv *failures) {
        nbx_slot_owner owner;
        _cleanup_error_ nbx_error *e = NULL;
        if (nbx_slot_get(c->runtime_dir, (unsigned)slot, &owner, NULL) == 0 && owner.pid > 0 &&
            owner.pid != getpid() && owner.start_time != 0 &&
            strcmp(owner.project_dir, c->p->root) == 0 &&
            nbx_pid_alive(owner.pid, owner.start_time) &&
            nbx_terminate(owner.pid, owner.start_time, nbx_deadline_in(NBX_VM_TERM_GRACE_MS), &e) <
                    0)
                note(failures, "stop the slot owner", &e);
}

void nbx_vm_teardown(nbx_vm_ctx *c, const nbx_vm_record *rec, int slot, bool graceful,
                     nbx_strv *failures) {
        _cleanup_error_ nbx_error *e = NULL;
        /* the SSH master: by the record, else by its socket (`ssh -O exit` as the socket's
         * owner: the folder is the invoker's) */
        struct stat sst;
        nbx_vm_record none = NBX_VM_RECORD_INIT;
        const nbx_vm_record *mr = rec ? rec : &none;
        nbx_ssh_target t = nbx_vm_ssh_target(&c->paths, mr, &c->inv);
        t.host = t.host ? t.host : "guest"; /* -O exit talks to the socket only */
        t.user = t.user ? t.user : "nixbox";
        if (rec) {
                t.uid = rec->uid;
                t.gid = rec->gid;
        } else if (stat(c->paths.sock_dir, &sst) == 0) {
                t.uid = sst.st_uid;
                t.gid = sst.st_gid;
        }
        (void)nbx_ssh_master_stop(&t, mr->ssh_master.pid, mr->ssh_master.start_time);
        if (rec && stop_hypervisor(&c->paths, rec, graceful, &e) < 0)
                note(failures, "stop the hypervisor", &e);
        if (slot >= 0)
                stop_slot_owner(c, slot, failures);
        for (size_t i = 0; rec && i < rec->n_mounts; i++) {
                const nbx_proc_ref *v = &rec->mounts[i].virtiofsd;
                if (v->pid > 0 && nbx_terminate(v->pid, v->start_time,
                                                nbx_deadline_in(NBX_VM_TERM_GRACE_MS), &e) < 0)
                        note(failures, "stop virtiofsd", &e);
        }
        if (slot >= 0) {
                nbx_pool pool;
                if (nbx_pool_load(c->runtime_dir, &pool, &e) < 0 ||
                    nbx_net_down(c->runtime_dir, &pool, (unsigned)slot, &e) < 0)
                        note(failures, "remove the network", &e);
                if (nbx_slot_release(c->runtime_dir, (unsigned)slot, &e) < 0)
                        note(failures, "release the slot", &e);
        }
        remove_sockets(c->paths.sock_dir);
        if (nbx_vm_record_remove(c->paths.record, &e) < 0)
                note(failures, "remove the VM record", &e);
}

int nbx_vm_failures_error(nbx_strv *failures, nbx_error **err) {
        int r = 0;
        if (failures->n) {
                r = nbx_error_set(err, EIO, "could not remove everything");
                for (size_t i = 0; i < failures->n; i++)
                        nbx_error_append(err, "\n  %s", failures->v[i]);
        }
        nbx_strv_clear(failures);
        return r;
}

/* The hooks `up` recorded, as the VM's owner, with the environment `up` gave them. */
static void run_recorded_hooks(nbx_vm_ctx *c, const nbx_vm_record *rec, enum nbx_hook which) {
        const nbx_strv *cmds =
                which == NBX_HOOK_PRE_DOWN ? &rec->hooks_pre_down : &rec->hooks_post_down;
        if (!cmds->n)
                return;
        nbx_invoker owner;
        _cleanup_error_ nbx_error *e = NULL;
        if (nbx_vm_owner(c, rec, &owner, &e) < 0) {
                nbx_ui_warn(c->ui, "skipping %s hooks: %s", nbx_hook_name(which), e->msg);
                return;
        }
        nbx_hook_env env = {.project_dir = c->p->root,
                            .name = rec->name,
                            .slot = rec->slot,
                            .guest_ip = rec->guest_ip,
                            .drop_privileges = true,
                            .uid = owner.uid,
                            .gid = owner.gid,
                            .home = owner.home,
                            .user = owner.name,
                            .config_dir = c->paths.approved_dir};
        (void)nbx_hooks_run(which, cmds, &env, c->ui, NULL, &e);
        nbx_invoker_done(&owner);
}

int nbx_vm_down(const nbx_project *p, const nbx_vm_opts *o, bool *ret_was_running,
                nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, true, err);
        if (r < 0)
                return r;
        nbx_vm_record rec = NBX_VM_RECORD_INIT;
        _cleanup_error_ nbx_error *warn = NULL;
        bool have = nbx_vm_record_load(c.paths.record, &rec, &warn) == 0;
        if (!have && warn)
                nbx_ui_warn(c.ui, "%s", warn->msg);
        if (have && strcmp(rec.project_dir, p->root) != 0) {
                nbx_ui_warn(c.ui, "the VM record names another project (%s); ignoring it",
                            rec.project_dir);
                nbx_vm_record_done(&rec);
                have = false;
        }
        int slot = have ? rec.slot : -1;
        unsigned found;
        if (slot < 0 && nbx_slot_find(c.runtime_dir, p->root, &found, NULL) == 0)
                slot = (int)found;
        bool something = have || slot >= 0;
        nbx_strv failures = {0};
        if (something) {
                if (have)
                        run_recorded_hooks(&c, &rec, NBX_HOOK_PRE_DOWN);
                nbx_ui_step(c.ui, "Stopping the VM");
                nbx_vm_teardown(&c, have ? &rec : NULL, slot, true, &failures);
                if (have)
                        run_recorded_hooks(&c, &rec, NBX_HOOK_POST_DOWN);
        } else {
                remove_sockets(c.paths.sock_dir);
        }
        r = nbx_vm_failures_error(&failures, err);
        nbx_vm_record_done(&rec);
        nbx_vm_ctx_close(&c);
        if (r >= 0 && ret_was_running)
                *ret_was_running = something;
        return r;
}
