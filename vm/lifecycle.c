/* up / down / status / run / shell / logs / reload.  See docs/lifecycle.md for the steps, what each
 * owns and how it is undone. */
#include "lifecycle.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "../config/base/user.h"
#include "../net/net.h"
#include "creds.h"
#include "hooks.h"
#include "hv.h"
#include "image.h"
#include "ssh.h"
#include "state.h"
#include "undo.h"

const char *const nbx_vm_up_steps[] = {
        "config", "slot", "pre-up-hooks", "network", "ssh-keys", "virtiofsd", "credentials",
        "launch", "api",  "attach",       "ssh",     "mounts",   "scripts",   "post-up-hooks",
};
const size_t nbx_vm_up_n_steps = NBX_ARRAY_SIZE(nbx_vm_up_steps);

#define API_TIMEOUT_MS 30000
#define SSH_TIMEOUT_KVM_MS 120000
#define SSH_TIMEOUT_TCG_MS 300000
#define POWEROFF_TIMEOUT_MS 30000
#define TERM_GRACE_MS 5000
#define VIRTIOFSD_TIMEOUT_MS 10000
/* the guest user's ids when the invoker is root (the guest user is then "nixbox") */
#define GUEST_DEFAULT_UID 1000

static const nbx_hv_ops *ops_by_name(const char *name) {
        if (name && strcmp(name, nbx_hv_qemu.name) == 0)
                return &nbx_hv_qemu;
        if (name && strcmp(name, nbx_hv_cloud_hypervisor.name) == 0)
                return &nbx_hv_cloud_hypervisor;
        return NULL;
}

static char *runtime_dir_of(const nbx_vm_opts *o) {
        return o && o->runtime_dir ? strdup(o->runtime_dir) : nbx_runtime_dir();
}

static bool hv_alive(const nbx_vm_state *st) {
        return st->hv.pid > 0 && nbx_pid_alive(st->hv.pid, st->hv.start_time);
}

static void ip_str(struct in_addr a, char buf[16]) {
        if (!inet_ntop(AF_INET, &a, buf, 16))
                buf[0] = '\0';
}

/* Open (create/truncate) a log file owned by the invoker. */
static int open_log(const char *path, uid_t uid, gid_t gid, nbx_error **err) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return nbx_error_set(err, errno, "open log %s", path);
        if (geteuid() == 0 && fchown(fd, uid, gid) < 0) {
                int e = errno;
                close(fd);
                return nbx_error_set(err, e, "chown %s", path);
        }
        return fd;
}

/* The environment of the long-lived processes nixbox starts (hypervisor, virtiofsd, SSH master):
 * only what they need, so nothing from the caller's environment (tokens a config reads with
 * builtins.getEnv, for instance) lives on in them. */
static int child_env(const nbx_invoker *inv, nbx_strv *ret, nbx_error **err) {
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

static int wait_socket(const char *path, pid_t pid, uint64_t deadline_ms) {
        nbx_backoff b = NBX_BACKOFF_INIT;
        for (;;) {
                struct stat st;
                if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                        return 0;
                if (!nbx_pid_alive(pid, 0))
                        return -ECHILD;
                if (!nbx_backoff_sleep(&b, deadline_ms))
                        return -ETIMEDOUT;
        }
}

/* The guest folder `shell` and `run` start in: the mount of the project folder, else the first. */
static const char *workdir_of(const nbx_config *c) {
        for (size_t i = 0; i < c->n_mounts; i++)
                if (c->mounts[i].source && c->project_dir &&
                    strcmp(c->mounts[i].source, c->project_dir) == 0)
                        return c->mounts[i].target;
        return c->n_mounts ? c->mounts[0].target : NULL;
}

static int not_running(const nbx_project *p, nbx_error **err) {
        return nbx_error_setx(err, NBX_EXIT_NOT_RUNNING, 0,
                              "the VM of %s is not running (start it with `sudo nixbox up`)",
                              p->root);
}

/* ---- teardown pieces, shared by rollback and down ----------------------------------------- */

static void unlink_in(const char *dir, const char *name) {
        _cleanup_free_ char *p = nbx_path_join(dir, name);
        if (p)
                (void)unlink(p);
}

/* Sockets and pid-ish files of the run folder; logs are kept for diagnosis. */
static void remove_run_files(const char *run_dir) {
        static const char *const names[] = {"api.sock", "vsock.sock", "ssh.sock"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(names); i++)
                unlink_in(run_dir, names[i]);
        for (unsigned i = 0; i < NBX_MAX_MOUNTS; i++) {
                char n[32];
                snprintf(n, sizeof(n), "fs%u.sock", i);
                unlink_in(run_dir, n);
        }
}

static int stop_hypervisor(const nbx_vm_state *st, bool graceful, nbx_error **err) {
        if (!hv_alive(st))
                return 0;
        const nbx_hv_ops *ops = ops_by_name(st->backend);
        if (graceful && ops && st->api_socket) {
                _cleanup_error_ nbx_error *perr = NULL;
                if (ops->power_button(st->api_socket, &perr) == 0) {
                        uint64_t deadline = nbx_deadline_in(POWEROFF_TIMEOUT_MS);
                        nbx_backoff b = NBX_BACKOFF_INIT;
                        b.max_us = 200000;
                        while (hv_alive(st) && nbx_backoff_sleep(&b, deadline))
                                ;
                }
        }
        return nbx_terminate(st->hv.pid, st->hv.start_time, nbx_deadline_in(TERM_GRACE_MS), err);
}

static int stop_virtiofsds(const nbx_vm_state *st, nbx_error **err) {
        int ret = 0;
        for (size_t i = 0; i < st->n_mounts; i++) {
                const nbx_proc_ref *v = &st->mounts[i].virtiofsd;
                if (v->pid > 0) {
                        int r = nbx_terminate(v->pid, v->start_time, nbx_deadline_in(TERM_GRACE_MS),
                                              err);
                        if (r < 0 && ret == 0)
                                ret = r;
                }
                if (st->mounts[i].socket)
                        (void)unlink(st->mounts[i].socket);
        }
        return ret;
}

static nbx_ssh_target ssh_target_of(const nbx_project *p, const nbx_vm_state *st,
                                    const nbx_invoker *inv) {
        return (nbx_ssh_target){.ssh_dir = p->ssh_dir,
                                .host = st->guest_ip,
                                .user = st->user,
                                .control_path = st->control_path,
                                .uid = inv->uid,
                                .gid = inv->gid};
}

/* ---- up ------------------------------------------------------------------------------------ */

typedef struct up_ctx {
        const nbx_project *p;
        const nbx_vm_opts *o;
        const nbx_ui *ui;
        char *runtime_dir;
        nbx_config cfg;
        bool have_cfg;
        nbx_invoker inv;
        nbx_pool pool;
        nbx_slot_addr addr;
        char guest_ip[16];
        int slot;
        bool slot_held;
        const nbx_hv_ops *ops;
        enum nbx_accel accel;
        nbx_image img;
        bool have_img;
        nbx_vm_state st;
        nbx_vm_share shares[NBX_VM_MAX_SHARES];
        size_t n_shares;
        int creds_fd;
        nbx_strv child_env; /* for hypervisor, virtiofsd, SSH master */
        nbx_undo undo;
        char *step_log; /* log file of the step that failed, for the error */
} up_ctx;

static int save_state(up_ctx *u, nbx_error **err) {
        return nbx_vm_state_save(u->p->state_dir, &u->st, u->inv.uid, u->inv.gid, err);
}

static void set_step_log(up_ctx *u, const char *path) {
        free(u->step_log);
        u->step_log = path ? strdup(path) : NULL;
}

/* A long-lived child of the VM (virtiofsd, the hypervisor): the invoking user, its own session,
 * the minimal environment, output to its log. */
static nbx_spawn_opts user_daemon_opts(const up_ctx *u, int logfd) {
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.drop_privileges = true;
        so.uid = u->inv.uid;
        so.gid = u->inv.gid;
        so.new_session = true;
        so.envp = u->child_env.v;
        so.stdout_fd = logfd;
        so.stderr_fd = logfd;
        return so;
}

static nbx_hook_env hook_env_of(const up_ctx *u) {
        return (nbx_hook_env){.project_dir = u->p->root,
                              .name = u->cfg.name,
                              .slot = u->slot,
                              .guest_ip = u->slot >= 0 ? u->guest_ip : NULL,
                              .drop_privileges = true,
                              .uid = u->inv.uid,
                              .gid = u->inv.gid,
                              .home = u->inv.home,
                              .user = u->inv.name};
}

static int undo_record(void *data, nbx_error **err) {
        up_ctx *u = data;
        remove_run_files(u->p->run_dir);
        return nbx_vm_state_remove(u->p->state_dir, err);
}

static int undo_slot(void *data, nbx_error **err) {
        up_ctx *u = data;
        int r = nbx_slot_release(u->runtime_dir, (unsigned)u->slot, err);
        if (r >= 0)
                u->slot_held = false;
        return r;
}

static int undo_network(void *data, nbx_error **err) {
        up_ctx *u = data;
        return nbx_net_down(u->runtime_dir, &u->pool, (unsigned)u->slot, err);
}

static int undo_virtiofsd(void *data, nbx_error **err) {
        up_ctx *u = data;
        return stop_virtiofsds(&u->st, err);
}

static int undo_credentials(void *data, nbx_error **err) {
        (void)err;
        up_ctx *u = data;
        nbx_closep(&u->creds_fd);
        u->creds_fd = -1;
        return 0;
}

static int undo_launch(void *data, nbx_error **err) {
        up_ctx *u = data;
        int r = stop_hypervisor(&u->st, false, err);
        if (u->st.api_socket)
                (void)unlink(u->st.api_socket);
        return r;
}

static int undo_ssh(void *data, nbx_error **err) {
        (void)err;
        up_ctx *u = data;
        nbx_ssh_target t = ssh_target_of(u->p, &u->st, &u->inv);
        return nbx_ssh_master_stop(&t, u->st.ssh_master.pid, u->st.ssh_master.start_time);
}

static int step_config(up_ctx *u, nbx_error **err) {
        int r = nbx_config_load(u->p->root, u->o->config_opts, &u->cfg, err);
        if (r < 0)
                return r;
        u->have_cfg = true;
        if (u->cfg.n_mounts > NBX_VM_MAX_SHARES)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "mounts: at most %d",
                                      NBX_VM_MAX_SHARES);
        if ((r = nbx_hv_select(u->cfg.hypervisor, &u->ops, err)) < 0)
                return r;
        if ((r = nbx_accel_resolve(u->cfg.accel, &u->accel, err)) < 0)
                return r;
        if (!u->cfg.image)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "vm.image is not set and no image was built: run `nixbox "
                                      "build` or set vm.image to an image folder");
        if ((r = nbx_image_load(u->cfg.image, &u->img, err)) < 0)
                return r;
        u->have_img = true;
        return 0;
}

static int step_slot(up_ctx *u, nbx_error **err) {
        int r = nbx_pool_load(u->runtime_dir, &u->pool, err);
        if (r < 0)
                return r;
        nbx_slot_owner owner = {.pid = getpid(), .start_time = nbx_pid_start_time(getpid())};
        snprintf(owner.project_dir, sizeof(owner.project_dir), "%s", u->p->root);
        snprintf(owner.name, sizeof(owner.name), "%s", u->cfg.name);
        unsigned slot;
        if ((r = nbx_slot_acquire(u->runtime_dir, &owner, &slot, err)) < 0)
                return r;
        u->slot = (int)slot;
        u->slot_held = true;
        if ((r = nbx_undo_push(&u->undo, "slot", undo_slot, u, err)) < 0)
                return r;
        if ((r = nbx_slot_addr_derive(&u->pool, slot, &u->addr, err)) < 0)
                return r;
        ip_str(u->addr.guest_ip, u->guest_ip);

        /* the record: from now on `down` can find and remove everything */
        nbx_vm_state *st = &u->st;
        st->name = strdup(u->cfg.name);
        st->project_dir = strdup(u->p->root);
        st->slot = u->slot;
        st->backend = strdup(u->ops->name);
        st->accel = strdup(u->accel == NBX_ACCEL_KVM ? "kvm" : "tcg");
        st->api_socket = nbx_path_join(u->p->run_dir, "api.sock");
        st->serial_log = nbx_path_join(u->p->run_dir, "serial.log");
        st->control_path = nbx_path_join(u->p->run_dir, "ssh.sock");
        st->guest_ip = strdup(u->guest_ip);
        st->user = strdup(u->inv.guest_user);
        const char *wd = workdir_of(&u->cfg);
        st->workdir = wd ? strdup(wd) : NULL;
        st->mode = strdup(nbx_net_mode_name(u->cfg.net_mode));
        st->started_at = (int64_t)time(NULL);
        st->settings = nbx_vm_settings_json(&u->cfg);
        if (!st->name || !st->project_dir || !st->backend || !st->accel || !st->api_socket ||
            !st->serial_log || !st->control_path || !st->guest_ip || !st->user || !st->mode ||
            !st->settings || (wd && !st->workdir))
                return nbx_error_set(err, ENOMEM, "VM record");
        if (strlen(st->control_path) > NBX_SSH_CONTROL_PATH_MAX) {
                free(st->control_path); /* too long for a unix socket: no master, direct ssh */
                st->control_path = NULL;
        }
        if (strlen(st->api_socket) >= 100)
                return nbx_error_set(err, ENAMETOOLONG,
                                     "project folder path too long for the API socket %s",
                                     st->api_socket);
        if ((r = nbx_mkdir_p(u->p->run_dir, 0755, err)) < 0 ||
            (r = nbx_chown_if_root(u->p->run_dir, u->inv.uid, u->inv.gid, err)) < 0 ||
            (r = nbx_mkdir_p(u->p->state_dir, 0755, err)) < 0 ||
            (r = nbx_chown_if_root(u->p->state_dir, u->inv.uid, u->inv.gid, err)) < 0)
                return r;
        if ((r = nbx_undo_push(&u->undo, "slot", undo_record, u, err)) < 0)
                return r;
        return save_state(u, err);
}

static int step_hooks(up_ctx *u, enum nbx_hook h, nbx_error **err) {
        nbx_hook_env env = hook_env_of(u);
        return nbx_hooks_run(h, &u->cfg.hooks[h], &env, u->ui, NULL, err);
}

static nbx_net_params net_params_of(const char *runtime_dir, const nbx_pool *pool, unsigned slot,
                                    const nbx_config *c, const nbx_invoker *inv) {
        return (nbx_net_params){.runtime_dir = runtime_dir,
                                .pool = *pool,
                                .slot = slot,
                                .tap_owner = inv->uid,
                                .tap_group = inv->gid,
                                .multi_queue = c->vcpus > 2,
                                .policy = {.mode = c->net_mode,
                                           .domains = &c->domains,
                                           .ports = c->ports,
                                           .n_ports = c->n_ports,
                                           .upstream_dns = c->upstream_dns,
                                           .n_upstream_dns = c->n_upstream_dns,
                                           .allow_private = c->allow_private}};
}

static int step_network(up_ctx *u, nbx_error **err) {
        nbx_net_params np =
                net_params_of(u->runtime_dir, &u->pool, (unsigned)u->slot, &u->cfg, &u->inv);
        int r = nbx_net_up(&np, err);
        /* registered even on failure: nbx_net_up undoes itself, nbx_net_down is idempotent */
        int r2 = nbx_undo_push(&u->undo, "network", undo_network, u, r < 0 ? NULL : err);
        return r < 0 ? r : r2;
}

static int step_ssh_keys(up_ctx *u, nbx_error **err) {
        int r = nbx_ssh_keys_ensure(u->p->ssh_dir, u->inv.uid, u->inv.gid, err);
        if (r < 0)
                return r;
        return nbx_ssh_known_hosts_write(u->p->ssh_dir, u->guest_ip, u->inv.uid, u->inv.gid, err);
}

/* virtiofsd flavour: the C one (QEMU <= 7, Debian 12's /usr/lib/qemu/virtiofsd) takes -o options;
 * the Rust one takes --shared-dir. */
static int find_virtiofsd(char **ret_path, bool *ret_c_flavour, nbx_error **err) {
        static const char *const candidates[] = {"virtiofsd", "/usr/libexec/virtiofsd",
                                                 "/usr/lib/qemu/virtiofsd"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(candidates); i++) {
                char *path = nbx_find_program(candidates[i]);
                if (!path)
                        continue;
                char *argv[] = {path, "--version", NULL};
                int status = 0;
                _cleanup_free_ char *out = NULL, *errout = NULL;
                bool c_flavour = false;
                if (nbx_run_capture(argv, NULL, nbx_deadline_in(5000), &status, &out, &errout,
                                    NULL) == 0)
                        c_flavour = (out && strstr(out, "FUSE kernel interface")) ||
                                    (out && strstr(out, "QEMU Project"));
                *ret_path = path;
                *ret_c_flavour = c_flavour;
                return 0;
        }
        return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                              "virtiofsd not found (install the Debian package qemu-system-common "
                              "or virtiofsd)");
}

static int step_virtiofsd(up_ctx *u, nbx_error **err) {
        if (u->cfg.n_mounts == 0)
                return 0;
        _cleanup_free_ char *prog = NULL;
        bool c_flavour = false;
        int r = find_virtiofsd(&prog, &c_flavour, err);
        if (r < 0)
                return r;
        /* the C virtiofsd (QEMU <= 7) needs root for its sandbox and pid file; nixbox runs
         * virtiofsd as the invoking user, so say so before anything starts */
        if (c_flavour && u->inv.uid != 0)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "%s is the C virtiofsd, which cannot run as %s (it needs "
                                      "root); install the Rust virtiofsd (`virtiofsd` in PATH, "
                                      "e.g. Debian 13's virtiofsd package), or share nothing "
                                      "with `mounts = [ ];` in .nixbox/config.nix",
                                      prog, u->inv.name);
        if ((r = nbx_undo_push(&u->undo, "virtiofsd", undo_virtiofsd, u, err)) < 0)
                return r;
        for (size_t i = 0; i < u->cfg.n_mounts; i++) {
                const nbx_mount *m = &u->cfg.mounts[i];
                char tag[36], name[32], logname[40];
                snprintf(tag, sizeof(tag), "nbxfs%zu", i);
                snprintf(name, sizeof(name), "fs%zu.sock", i);
                snprintf(logname, sizeof(logname), "virtiofsd-%zu.log", i);
                _cleanup_free_ char *sock = nbx_path_join(u->p->run_dir, name);
                _cleanup_free_ char *logp = nbx_path_join(u->p->run_dir, logname);
                if (!sock || !logp)
                        return nbx_error_set(err, ENOMEM, "virtiofsd");
                if (strlen(sock) >= sizeof(u->shares[i].socket))
                        return nbx_error_set(err, ENAMETOOLONG, "socket path %s", sock);
                (void)unlink(sock);
                if ((r = nbx_vm_state_add_mount(&u->st, m->source, m->target, tag, m->readonly,
                                                sock, err)) < 0)
                        return r;
                set_step_log(u, logp);
                _cleanup_close_ int logfd = open_log(logp, u->inv.uid, u->inv.gid, err);
                if (logfd < 0)
                        return logfd;
                _cleanup_strv_ nbx_strv argv = {0};
                nbx_strv_push(&argv, prog);
                if (c_flavour) {
                        nbx_strv_pushf(&argv, "--socket-path=%s", sock);
                        nbx_strv_pushf(&argv, "-o");
                        nbx_strv_pushf(&argv, "source=%s", m->source);
                        nbx_strv_push(&argv, "-o");
                        nbx_strv_push(&argv, "cache=auto");
                } else {
                        nbx_strv_push(&argv, "--socket-path");
                        nbx_strv_push(&argv, sock);
                        nbx_strv_push(&argv, "--shared-dir");
                        nbx_strv_push(&argv, m->source);
                        nbx_strv_push(&argv, "--cache");
                        nbx_strv_push(&argv, "auto");
                        if (u->inv.uid != 0) {
                                nbx_strv_push(&argv, "--sandbox");
                                nbx_strv_push(&argv, "none");
                        }
                }
                if (!argv.v || argv.n < 6)
                        return nbx_error_set(err, ENOMEM, "virtiofsd argv");
                nbx_spawn_opts so = user_daemon_opts(u, logfd);
                pid_t pid;
                if ((r = nbx_spawn(argv.v, &so, &pid, err)) < 0)
                        return r;
                u->st.mounts[u->st.n_mounts - 1].virtiofsd =
                        (nbx_proc_ref){.pid = pid, .start_time = nbx_pid_start_time(pid)};
                if ((r = save_state(u, err)) < 0)
                        return r;
                r = wait_socket(sock, pid, nbx_deadline_in(VIRTIOFSD_TIMEOUT_MS));
                if (r < 0)
                        return nbx_error_set(
                                err, r == -ECHILD ? 0 : -r, "virtiofsd for %s %s", m->source,
                                r == -ECHILD ? "exited" : "did not create its socket in time");
                snprintf(u->shares[i].tag, sizeof(u->shares[i].tag), "%s", tag);
                snprintf(u->shares[i].socket, sizeof(u->shares[i].socket), "%s", sock);
                u->n_shares = i + 1;
        }
        set_step_log(u, NULL);
        return 0;
}

static int step_credentials(up_ctx *u, nbx_error **err) {
        _cleanup_free_ char *client_pub = NULL, *host_key = NULL;
        _cleanup_free_ char *cp = NULL, *hp = NULL;
        if (asprintf(&cp, "%s/%s.pub", u->p->ssh_dir, NBX_SSH_CLIENT_KEY) < 0 ||
            asprintf(&hp, "%s/%s", u->p->ssh_dir, NBX_SSH_HOST_KEY) < 0)
                return nbx_error_set(err, ENOMEM, "credentials");
        size_t len;
        int r = nbx_read_file(cp, 16384, &client_pub, &len, err);
        if (r < 0)
                return r;
        if ((r = nbx_read_file(hp, 16384, &host_key, &len, err)) < 0)
                return r;
        bool root = u->inv.uid == 0;
        nbx_creds c = {.user = u->inv.guest_user,
                       .uid = root ? GUEST_DEFAULT_UID : u->inv.uid,
                       .gid = root ? GUEST_DEFAULT_UID : u->inv.gid,
                       .hostname = u->cfg.name,
                       .authorized_keys = client_pub,
                       .host_key = host_key,
                       .env = u->cfg.env,
                       .n_env = u->cfg.n_env};
        r = nbx_creds_memfd(&c, &u->creds_fd, err);
        explicit_bzero(host_key, strlen(host_key));
        if (r < 0)
                return r;
        return nbx_undo_push(&u->undo, "credentials", undo_credentials, u, err);
}

static bool vm_alive_cb(void *data) {
        return hv_alive(data);
}

static int step_launch(up_ctx *u, nbx_error **err) {
        nbx_vm_disk disk = {.readonly = true};
        snprintf(disk.path, sizeof(disk.path), "/proc/self/fd/%d", u->creds_fd);
        snprintf(disk.serial, sizeof(disk.serial), "%s", NBX_CREDS_SERIAL);
        snprintf(disk.id, sizeof(disk.id), "creds");
        _cleanup_free_ char *vsock = nbx_path_join(u->p->run_dir, "vsock.sock");
        _cleanup_free_ char *hv_log = nbx_path_join(u->p->run_dir, "hypervisor.log");
        if (!vsock || !hv_log)
                return nbx_error_set(err, ENOMEM, "launch");
        nbx_vm_spec spec = {.name = u->cfg.name,
                            .vcpus = u->cfg.vcpus,
                            .memory_mb = u->cfg.memory_mb,
                            .image = &u->img,
                            .accel = u->accel,
                            .tap = u->addr.tap,
                            .mac = u->addr.mac_str,
                            .vsock_cid = u->addr.vsock_cid,
                            .api_socket = u->st.api_socket,
                            .vsock_socket = vsock,
                            .serial_log = u->st.serial_log,
                            .shares = u->shares,
                            .n_shares = u->n_shares,
                            .disks = &disk,
                            .n_disks = 1,
                            /* the TAP is multi-queue when vCPUs > 2 (nbx_net_params) */
                            .net_queues = u->cfg.vcpus > 2 ? (u->cfg.vcpus < NBX_VM_MAX_NET_QUEUES
                                                                      ? u->cfg.vcpus
                                                                      : NBX_VM_MAX_NET_QUEUES)
                                                           : 1};
        (void)unlink(u->st.api_socket);
        (void)unlink(vsock);
        set_step_log(u, hv_log);
        /* the serial log exists and belongs to the invoker before the hypervisor opens it */
        _cleanup_close_ int serial = open_log(u->st.serial_log, u->inv.uid, u->inv.gid, err);
        if (serial < 0)
                return serial;
        _cleanup_close_ int logfd = open_log(hv_log, u->inv.uid, u->inv.gid, err);
        if (logfd < 0)
                return logfd;
        nbx_spawn_opts so = user_daemon_opts(u, logfd);
        so.keep_fds = &u->creds_fd;
        so.n_keep_fds = 1;
        pid_t pid;
        int r = nbx_hv_launch(u->ops, &spec, &so, &pid, err);
        if (r < 0)
                return r;
        u->st.hv = (nbx_proc_ref){.pid = pid, .start_time = nbx_pid_start_time(pid)};
        if ((r = nbx_undo_push(&u->undo, "launch", undo_launch, u, err)) < 0)
                return r;
        /* the hypervisor holds its own copy of the credentials now */
        nbx_closep(&u->creds_fd);
        u->creds_fd = -1;
        if ((r = save_state(u, err)) < 0)
                return r;
        nbx_slot_owner owner = {.pid = pid, .start_time = u->st.hv.start_time};
        snprintf(owner.project_dir, sizeof(owner.project_dir), "%s", u->p->root);
        snprintf(owner.name, sizeof(owner.name), "%s", u->cfg.name);
        return nbx_slot_set_owner(u->runtime_dir, (unsigned)u->slot, &owner, err);
}

static int step_api(up_ctx *u, nbx_error **err) {
        int r = u->ops->wait_api(u->st.api_socket, nbx_deadline_in(API_TIMEOUT_MS), err);
        if (r < 0 && !hv_alive(&u->st))
                nbx_error_append(err, " (%s exited)", u->ops->name);
        return r;
}

static int step_attach(up_ctx *u, nbx_error **err) {
        /* Shares and the credentials disk are given at launch; hot-plug (add_fs/add_disk) is for
         * `nixbox mount`.  Check the VM survived device setup. */
        if (!hv_alive(&u->st))
                return nbx_error_set(err, ECHILD, "%s exited after start", u->ops->name);
        return 0;
}

static int step_ssh(up_ctx *u, nbx_error **err) {
        _cleanup_free_ char *logp = nbx_path_join(u->p->run_dir, "ssh.log");
        if (!logp)
                return nbx_error_set(err, ENOMEM, "ssh");
        set_step_log(u, u->st.serial_log);
        _cleanup_close_ int logfd = open_log(logp, u->inv.uid, u->inv.gid, err);
        if (logfd < 0)
                return logfd;
        nbx_ssh_target t = ssh_target_of(u->p, &u->st, &u->inv);
        t.master_envp = u->child_env.v;
        t.keep_waiting = vm_alive_cb;
        t.keep_waiting_data = &u->st;
        uint64_t timeout = u->accel == NBX_ACCEL_KVM ? SSH_TIMEOUT_KVM_MS : SSH_TIMEOUT_TCG_MS;
        pid_t pid = 0;
        int r = nbx_ssh_connect(&t, logfd, nbx_deadline_in(timeout), &pid, err);
        if (r < 0)
                return r;
        u->st.ssh_master =
                (nbx_proc_ref){.pid = pid, .start_time = pid ? nbx_pid_start_time(pid) : 0};
        if ((r = nbx_undo_push(&u->undo, "ssh", undo_ssh, u, err)) < 0)
                return r;
        return save_state(u, err);
}

static int step_mounts(up_ctx *u, nbx_error **err) {
        nbx_ssh_target t = ssh_target_of(u->p, &u->st, &u->inv);
        t.user = "root";
        t.control_path = NULL; /* the master is the user's connection: root connects directly */
        for (size_t i = 0; i < u->st.n_mounts; i++) {
                const nbx_state_mount *m = &u->st.mounts[i];
                _cleanup_free_ char *cmd = nbx_ssh_mount_command(m->tag, m->target, m->readonly);
                if (!cmd)
                        return nbx_error_set(err, ENOMEM, "mount command");
                int code = 0;
                fflush(u->ui ? u->ui->err : stderr);
                int efd = u->ui ? fileno(u->ui->err) : NBX_FD_INHERIT;
                int r = nbx_ssh_exec(&t, NBX_SSH_BATCH, cmd, -1, efd, efd, &code, err);
                if (r < 0)
                        return r;
                if (code != 0)
                        return nbx_error_set(err, EIO,
                                             "mounting %s at %s in the guest failed "
                                             "(exit %d)",
                                             m->source, m->target, code);
        }
        return 0;
}

static int step_scripts(up_ctx *u, nbx_error **err) {
        nbx_ssh_target t = ssh_target_of(u->p, &u->st, &u->inv);
        for (size_t i = 0; i < u->cfg.scripts.n; i++) {
                const char *path = u->cfg.scripts.v[i];
                nbx_ui_step(u->ui, "Running script %s in the VM", path);
                _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
                if (in < 0)
                        return nbx_error_set(err, errno, "open script %s", path);
                _cleanup_free_ char *cmd = nbx_ssh_script_command(u->st.workdir);
                if (!cmd)
                        return nbx_error_set(err, ENOMEM, "script command");
                if (u->ui) {
                        fflush(u->ui->out);
                        fflush(u->ui->err);
                }
                int code = 0;
                int r = nbx_ssh_exec(&t, NBX_SSH_BATCH, cmd, in,
                                     u->ui ? fileno(u->ui->out) : NBX_FD_INHERIT,
                                     u->ui ? fileno(u->ui->err) : NBX_FD_INHERIT, &code, err);
                if (r < 0)
                        return r;
                if (code != 0)
                        return nbx_error_set(err, EIO, "script %s failed in the VM (exit %d)", path,
                                             code);
        }
        return 0;
}

/* Remove what a VM that is no longer running left behind (hypervisor killed, crash during up). */
static int cleanup_stale(const nbx_project *p, const char *runtime_dir, const nbx_invoker *inv,
                         nbx_error **err);

static bool inject(const up_ctx *u, const char *step) {
        return u->o->fail_at && strcmp(u->o->fail_at, step) == 0;
}

int nbx_vm_up(const nbx_project *p, const nbx_vm_opts *o, nbx_vm_up_result *ret, nbx_error **err) {
        up_ctx u = {.p = p, .o = o, .ui = o->ui, .slot = -1, .creds_fd = -1};
        u.st = (nbx_vm_state){.slot = -1};
        nbx_vm_up_result res = {.slot = -1};
        int r = 0;
        const char *step = "config";

        u.runtime_dir = runtime_dir_of(o);
        if (!u.runtime_dir)
                return nbx_error_set(err, ENOMEM, "runtime folder");
        if ((r = nbx_invoker_get(&u.inv, err)) < 0) {
                free(u.runtime_dir);
                return r;
        }
        if ((r = child_env(&u.inv, &u.child_env, err)) < 0)
                goto done;

        /* already running?  stale leftovers? */
        nbx_vm_state old = {.slot = -1};
        int lr = nbx_vm_state_load(p->state_dir, &old, NULL);
        if (lr == 0 && hv_alive(&old)) {
                if (old.ready) {
                        res.already_running = true;
                        res.slot = old.slot;
                        snprintf(res.name, sizeof(res.name), "%s", old.name ? old.name : "");
                        snprintf(res.guest_ip, sizeof(res.guest_ip), "%s",
                                 old.guest_ip ? old.guest_ip : "");
                } else {
                        r = nbx_error_set(err, EBUSY,
                                          "the VM of %s is still starting or half-started; run "
                                          "`sudo nixbox down` first",
                                          p->root);
                }
                nbx_vm_state_done(&old);
                goto done;
        }
        if (lr == 0)
                nbx_vm_state_done(&old);
        unsigned held;
        if (lr != -ENOENT || nbx_slot_find(u.runtime_dir, p->root, &held, NULL) == 0) {
                nbx_ui_step(u.ui, "Cleaning up what a previous VM of this project left behind");
                if ((r = cleanup_stale(p, u.runtime_dir, &u.inv, err)) < 0)
                        goto done;
        }

        nbx_ui_step(u.ui, "Resolving the configuration");
        if ((r = step_config(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "slot";
        if ((r = step_slot(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;
        nbx_ui_step(u.ui, "Slot %d: %s, guest %s", u.slot, u.addr.tap, u.guest_ip);

        step = "pre-up-hooks";
        if ((r = step_hooks(&u, NBX_HOOK_PRE_UP, err)) < 0 ||
            (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "network";
        nbx_ui_step(u.ui, "Configuring the network (%s)", nbx_net_mode_name(u.cfg.net_mode));
        if ((r = step_network(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "ssh-keys";
        if ((r = step_ssh_keys(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "virtiofsd";
        if (u.cfg.n_mounts)
                nbx_ui_step(u.ui, "Starting virtiofsd for %zu share(s)", u.cfg.n_mounts);
        if ((r = step_virtiofsd(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "credentials";
        if ((r = step_credentials(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "launch";
        nbx_ui_step(u.ui, "Starting %s (%s)", u.ops->name,
                    u.accel == NBX_ACCEL_KVM ? "KVM" : "TCG, slow");
        if ((r = step_launch(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "api";
        if ((r = step_api(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "attach";
        if ((r = step_attach(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "ssh";
        nbx_ui_step(u.ui, "Waiting for SSH on %s", u.guest_ip);
        if ((r = step_ssh(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "mounts";
        if (u.st.n_mounts)
                nbx_ui_step(u.ui, "Mounting %zu share(s)", u.st.n_mounts);
        set_step_log(&u, NULL);
        if ((r = step_mounts(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "scripts";
        if ((r = step_scripts(&u, err)) < 0 || (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        step = "post-up-hooks";
        if ((r = step_hooks(&u, NBX_HOOK_POST_UP, err)) < 0 ||
            (inject(&u, step) && (r = -ECANCELED)))
                goto fail;

        u.st.ready = true;
        if ((r = save_state(&u, err)) < 0)
                goto fail;
        nbx_undo_clear(&u.undo);
        res.slot = u.slot;
        snprintf(res.name, sizeof(res.name), "%s", u.cfg.name);
        snprintf(res.guest_ip, sizeof(res.guest_ip), "%s", u.guest_ip);
        goto done;

fail:
        if (r == -ECANCELED && !(err && *err))
                nbx_error_set(err, ECANCELED, "injected failure (NIXBOX_FAIL_AT=%s, a test hook)",
                              step);
        nbx_error_wrap(err, "up failed at step \"%s\"", step);
        if (u.step_log)
                nbx_error_append(err, "\n  log: %s", u.step_log);
        {
                nbx_ui_step(u.ui, "Undoing what `up` did");
                nbx_strv failures = {0};
                nbx_undo_run(&u.undo, &failures);
                for (size_t i = 0; i < failures.n; i++)
                        nbx_error_append(err, "\n  cleanup failed: %s", failures.v[i]);
                nbx_strv_clear(&failures);
        }
        if (r >= 0)
                r = -EIO;
done:
        nbx_closep(&u.creds_fd);
        nbx_strv_clear(&u.child_env);
        free(u.step_log);
        nbx_vm_state_done(&u.st);
        if (u.have_img)
                nbx_image_done(&u.img);
        if (u.have_cfg)
                nbx_config_done(&u.cfg);
        nbx_invoker_done(&u.inv);
        free(u.runtime_dir);
        if (r >= 0 && ret)
                *ret = res;
        return r;
}

/* ---- down ---------------------------------------------------------------------------------- */

typedef struct teardown {
        const nbx_project *p;
        const char *runtime_dir;
        const nbx_invoker *inv;
        nbx_vm_state st;
        bool have_state;
        int slot;
        nbx_strv failures;
} teardown;

static void note_failure(teardown *t, const char *what, nbx_error *e) {
        (void)nbx_strv_pushf(&t->failures, "%s: %s", what, e && e->msg ? e->msg : "failed");
}

/* Everything but the hooks, in the order of docs/lifecycle.md.  Failures are collected. */
static void teardown_run(teardown *t, bool graceful) {
        _cleanup_error_ nbx_error *e = NULL;
        /* the SSH master: by the record, else by its socket's fixed place */
        _cleanup_free_ char *cp = nbx_path_join(t->p->run_dir, "ssh.sock");
        nbx_ssh_target sst = ssh_target_of(t->p, &t->st, t->inv);
        if (!sst.control_path)
                sst.control_path = cp;
        if (!sst.host)
                sst.host = "guest"; /* -O exit talks to the socket only */
        if (!sst.user)
                sst.user = t->inv->guest_user;
        if (sst.control_path && strlen(sst.control_path) > NBX_SSH_CONTROL_PATH_MAX)
                sst.control_path = NULL;
        (void)nbx_ssh_master_stop(&sst, t->st.ssh_master.pid, t->st.ssh_master.start_time);
        if (t->have_state) {
                if (stop_hypervisor(&t->st, graceful, &e) < 0)
                        note_failure(t, "stop the hypervisor", e);
                nbx_error_free(e), e = NULL;
        }
        nbx_slot_owner owner;
        if (t->slot >= 0 && nbx_slot_get(t->runtime_dir, (unsigned)t->slot, &owner, NULL) == 0 &&
            owner.pid > 0 && owner.pid != getpid() && strcmp(owner.project_dir, t->p->root) == 0 &&
            nbx_pid_alive(owner.pid, owner.start_time)) {
                /* no usable record: the slot's owner is the hypervisor (or a crashed `up`) */
                if (nbx_terminate(owner.pid, owner.start_time, nbx_deadline_in(TERM_GRACE_MS), &e) <
                    0)
                        note_failure(t, "stop the slot owner", e);
                nbx_error_free(e), e = NULL;
        }
        if (t->have_state && stop_virtiofsds(&t->st, &e) < 0)
                note_failure(t, "stop virtiofsd", e);
        nbx_error_free(e), e = NULL;
        if (t->slot >= 0) {
                nbx_pool pool;
                if (nbx_pool_load(t->runtime_dir, &pool, &e) < 0 ||
                    nbx_net_down(t->runtime_dir, &pool, (unsigned)t->slot, &e) < 0)
                        note_failure(t, "remove the network", e);
                nbx_error_free(e), e = NULL;
                if (nbx_slot_release(t->runtime_dir, (unsigned)t->slot, &e) < 0)
                        note_failure(t, "release the slot", e);
                nbx_error_free(e), e = NULL;
        }
        remove_run_files(t->p->run_dir);
        if (nbx_vm_state_remove(t->p->state_dir, &e) < 0)
                note_failure(t, "remove the VM record", e);
}

static int teardown_load(teardown *t, nbx_error **warn) {
        int r = nbx_vm_state_load(t->p->state_dir, &t->st, warn);
        t->have_state = r == 0;
        if (!t->have_state)
                t->st = (nbx_vm_state){.slot = -1};
        t->slot = t->have_state ? t->st.slot : -1;
        unsigned s;
        if (t->slot < 0 && nbx_slot_find(t->runtime_dir, t->p->root, &s, NULL) == 0)
                t->slot = (int)s;
        return r;
}

static int teardown_result(teardown *t, nbx_error **err) {
        int r = 0;
        if (t->failures.n) {
                r = nbx_error_set(err, EIO, "could not remove everything");
                for (size_t i = 0; i < t->failures.n; i++)
                        nbx_error_append(err, "\n  %s", t->failures.v[i]);
        }
        nbx_strv_clear(&t->failures);
        nbx_vm_state_done(&t->st);
        return r;
}

static int cleanup_stale(const nbx_project *p, const char *runtime_dir, const nbx_invoker *inv,
                         nbx_error **err) {
        teardown t = {.p = p, .runtime_dir = runtime_dir, .inv = inv};
        (void)teardown_load(&t, NULL);
        teardown_run(&t, false);
        return teardown_result(&t, err);
}

int nbx_vm_down(const nbx_project *p, const nbx_vm_opts *o, bool *ret_was_running,
                nbx_error **err) {
        _cleanup_free_ char *runtime_dir = runtime_dir_of(o);
        if (!runtime_dir)
                return nbx_error_set(err, ENOMEM, "runtime folder");
        nbx_invoker inv;
        int r = nbx_invoker_get(&inv, err);
        if (r < 0)
                return r;
        teardown t = {.p = p, .runtime_dir = runtime_dir, .inv = &inv};
        _cleanup_error_ nbx_error *warn = NULL;
        if (teardown_load(&t, &warn) == -EBADMSG)
                nbx_ui_warn(o->ui, "%s", warn->msg);
        bool something = t.have_state || t.slot >= 0;
        if (!something) {
                remove_run_files(p->run_dir);
                nbx_invoker_done(&inv);
                if (ret_was_running)
                        *ret_was_running = false;
                return 0;
        }

        /* hooks need the config; a broken config must not keep a VM running */
        nbx_config cfg;
        _cleanup_error_ nbx_error *cerr = NULL;
        bool have_cfg = nbx_config_load(p->root, o->config_opts, &cfg, &cerr) == 0;
        if (!have_cfg)
                nbx_ui_warn(o->ui, "skipping hooks: %s", cerr && cerr->msg ? cerr->msg : "config");
        nbx_hook_env henv = {.project_dir = p->root,
                             .name = have_cfg ? cfg.name : t.st.name,
                             .slot = t.slot,
                             .guest_ip = t.st.guest_ip,
                             .drop_privileges = true,
                             .uid = inv.uid,
                             .gid = inv.gid,
                             .home = inv.home,
                             .user = inv.name};
        _cleanup_error_ nbx_error *herr = NULL;
        if (have_cfg)
                (void)nbx_hooks_run(NBX_HOOK_PRE_DOWN, &cfg.hooks[NBX_HOOK_PRE_DOWN], &henv, o->ui,
                                    NULL, &herr);
        nbx_ui_step(o->ui, "Stopping the VM");
        teardown_run(&t, true);
        if (have_cfg) {
                nbx_error_free(herr), herr = NULL;
                (void)nbx_hooks_run(NBX_HOOK_POST_DOWN, &cfg.hooks[NBX_HOOK_POST_DOWN], &henv,
                                    o->ui, NULL, &herr);
                nbx_config_done(&cfg);
        }
        r = teardown_result(&t, err);
        nbx_invoker_done(&inv);
        if (r >= 0 && ret_was_running)
                *ret_was_running = true;
        return r;
}

/* ---- status -------------------------------------------------------------------------------- */

void nbx_vm_fleet_free(nbx_vm_status *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].project_dir);
                free(v[i].mode);
                free(v[i].guest_ip);
                nbx_strv_clear(&v[i].mounts);
        }
        free(v);
}

static int fleet_row(const char *project_dir, int slot, const nbx_slot_owner *owner,
                     nbx_vm_status *row) {
        nbx_vm_status s = {.slot = slot, .uptime_s = -1, .state = "stale"};
        nbx_project p;
        nbx_vm_state st = {.slot = -1};
        bool have = false;
        if (nbx_project_at(project_dir, &p, NULL) == 0) {
                have = nbx_vm_state_load(p.state_dir, &st, NULL) == 0 &&
                       (slot < 0 || st.slot == slot);
                nbx_project_done(&p);
        }
        if (have) {
                bool alive = hv_alive(&st);
                s.state = alive ? "running" : "dead";
                s.pid = st.hv.pid;
                if (alive && st.started_at > 0)
                        s.uptime_s = (int64_t)time(NULL) - st.started_at;
                s.name = st.name ? strdup(st.name) : NULL;
                s.mode = strdup(st.mode ? st.mode : "");
                s.guest_ip = st.guest_ip ? strdup(st.guest_ip) : NULL;
                for (size_t i = 0; i < st.n_mounts; i++)
                        (void)nbx_strv_pushf(&s.mounts, "%s:%s%s",
                                             st.mounts[i].source ? st.mounts[i].source : "?",
                                             st.mounts[i].target ? st.mounts[i].target : "?",
                                             st.mounts[i].readonly ? ":ro" : "");
        } else if (owner) {
                /* a slot without a record: an `up` in progress, or left behind by a crash */
                s.pid = owner->pid;
                s.state = nbx_pid_alive(owner->pid, owner->start_time) ? "running" : "stale";
                s.name = strdup(owner->name);
                s.mode = strdup("");
        } else {
                s.state = "stopped";
                s.mode = strdup("");
        }
        if (slot < 0 && have)
                s.state = hv_alive(&st) ? "running" : "stopped";
        nbx_vm_state_done(&st);
        s.project_dir = strdup(project_dir);
        if (!s.name)
                s.name = strdup(strrchr(project_dir, '/') ? strrchr(project_dir, '/') + 1 : "");
        *row = s;
        return 0;
}

int nbx_vm_fleet(const char *runtime_dir, const char *current_project, nbx_vm_status **ret,
                 size_t *ret_n, nbx_error **err) {
        nbx_vm_status *v = calloc(NBX_SLOTS + 1, sizeof(*v));
        if (!v)
                return nbx_error_set(err, ENOMEM, "status");
        size_t n = 0;
        bool current_seen = false;
        for (unsigned s = 0; s < NBX_SLOTS; s++) {
                nbx_slot_owner owner;
                if (nbx_slot_get(runtime_dir, s, &owner, NULL) < 0)
                        continue;
                fleet_row(owner.project_dir, (int)s, &owner, &v[n++]);
                if (current_project && strcmp(owner.project_dir, current_project) == 0)
                        current_seen = true;
        }
        if (current_project && !current_seen) {
                fleet_row(current_project, -1, NULL, &v[n]);
                v[n].slot = -1;
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int nbx_vm_fleet_json(const nbx_vm_status *v, size_t n, char **ret, nbx_error **err) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
                json_t *mounts = json_array();
                for (size_t j = 0; mounts && j < v[i].mounts.n; j++)
                        json_array_append_new(mounts, json_string(v[i].mounts.v[j]));
                json_t *o = json_pack(
                        "{s:s?, s:s?, s:o, s:s?, s:s, s:o, s:o, s:s?, s:o}", "name", v[i].name,
                        "project", v[i].project_dir, "slot",
                        v[i].slot >= 0 ? json_integer(v[i].slot) : json_null(), "mode",
                        v[i].mode && *v[i].mode ? v[i].mode : NULL, "state", v[i].state, "pid",
                        v[i].pid > 0 ? json_integer(v[i].pid) : json_null(), "uptime",
                        v[i].uptime_s >= 0 ? json_integer(v[i].uptime_s) : json_null(), "guest_ip",
                        v[i].guest_ip, "mounts", mounts ? mounts : json_array());
                if (!o || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return nbx_error_set(err, ENOMEM, "status JSON");
                }
        }
        char *s = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
        json_decref(a);
        if (!s)
                return nbx_error_set(err, ENOMEM, "status JSON");
        *ret = s;
        return 0;
}

/* ---- run / shell / logs / reload ------------------------------------------------------------- */

static int load_running(const nbx_project *p, nbx_vm_state *ret, nbx_error **err) {
        nbx_vm_state st;
        int r = nbx_vm_state_load(p->state_dir, &st, NULL);
        if (r < 0)
                return not_running(p, err);
        if (!hv_alive(&st) || !st.ready || !st.guest_ip || !st.user) {
                nbx_vm_state_done(&st);
                return not_running(p, err);
        }
        *ret = st;
        return 0;
}

static int ssh_in_vm(const nbx_project *p, enum nbx_ssh_mode mode, const char *remote,
                     int *ret_code, const nbx_vm_state *st, nbx_error **err) {
        nbx_invoker inv;
        int r = nbx_invoker_get(&inv, err);
        if (r < 0)
                return r;
        nbx_ssh_target t = ssh_target_of(p, st, &inv);
        struct stat sst;
        if (t.control_path && (stat(t.control_path, &sst) < 0 || !S_ISSOCK(sst.st_mode)))
                t.control_path = NULL; /* master gone: connect directly */
        r = nbx_ssh_exec(&t, mode, remote, NBX_FD_INHERIT, NBX_FD_INHERIT, NBX_FD_INHERIT, ret_code,
                         err);
        nbx_invoker_done(&inv);
        return r;
}

int nbx_vm_run(const nbx_project *p, const nbx_vm_opts *o, char *const *argv, size_t argc,
               int *ret_code, nbx_error **err) {
        (void)o;
        if (argc == 0)
                return nbx_error_setx(err, NBX_EXIT_USAGE, 0, "run: no command given");
        nbx_vm_state st;
        int r = load_running(p, &st, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *remote = nbx_ssh_run_command(st.workdir, argv, argc);
        if (!remote)
                r = nbx_error_set(err, ENOMEM, "run");
        else
                r = ssh_in_vm(p, NBX_SSH_BATCH, remote, ret_code, &st, err);
        nbx_vm_state_done(&st);
        return r;
}

int nbx_vm_shell(const nbx_project *p, const nbx_vm_opts *o, int *ret_code, nbx_error **err) {
        (void)o;
        nbx_vm_state st;
        int r = load_running(p, &st, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *remote = nbx_ssh_shell_command(st.workdir);
        if (!remote)
                r = nbx_error_set(err, ENOMEM, "shell");
        else
                r = ssh_in_vm(p, NBX_SSH_TTY, remote, ret_code, &st, err);
        nbx_vm_state_done(&st);
        return r;
}

static int copy_new(int in, int out) {
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        ssize_t w = write(out, buf + off, (size_t)(n - off));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        off += w;
                }
        }
}

int nbx_vm_logs(const nbx_project *p, const nbx_vm_opts *o, bool follow, int out_fd,
                nbx_error **err) {
        (void)o;
        nbx_vm_state st;
        int r = nbx_vm_state_load(p->state_dir, &st, NULL);
        if (r < 0 || !hv_alive(&st)) {
                if (r == 0)
                        nbx_vm_state_done(&st);
                return not_running(p, err);
        }
        _cleanup_close_ int in = open(st.serial_log, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                r = nbx_error_set(err, errno, "open %s", st.serial_log);
                nbx_vm_state_done(&st);
                return r;
        }
        _cleanup_close_ int ino = follow ? inotify_init1(IN_CLOEXEC | IN_NONBLOCK) : -1;
        if (ino >= 0)
                (void)inotify_add_watch(ino, st.serial_log, IN_MODIFY);
        for (;;) {
                if ((r = copy_new(in, out_fd)) < 0) {
                        r = r == -EPIPE ? 0 : nbx_error_set(err, r, "copy %s", st.serial_log);
                        break;
                }
                if (!follow || !hv_alive(&st)) {
                        r = 0;
                        break;
                }
                struct pollfd pf = {.fd = ino, .events = POLLIN};
                if (poll(&pf, 1, 500) > 0) {
                        char evbuf[4096];
                        while (read(ino, evbuf, sizeof(evbuf)) > 0)
                                ;
                }
        }
        nbx_vm_state_done(&st);
        return r;
}

int nbx_vm_reload(const nbx_project *p, const nbx_vm_opts *o, char **ret_restart, nbx_error **err) {
        nbx_vm_state st;
        int r = load_running(p, &st, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *runtime_dir = runtime_dir_of(o);
        nbx_invoker inv = {0};
        nbx_config cfg;
        bool have_cfg = false;
        _cleanup_free_ char *settings = NULL, *diff = NULL;
        if (!runtime_dir) {
                r = nbx_error_set(err, ENOMEM, "runtime folder");
                goto out;
        }
        if ((r = nbx_invoker_get(&inv, err)) < 0)
                goto out;
        if ((r = nbx_config_load(p->root, o->config_opts, &cfg, err)) < 0)
                goto out;
        have_cfg = true;
        nbx_pool pool;
        if ((r = nbx_pool_load(runtime_dir, &pool, err)) < 0)
                goto out;
        nbx_net_params np = net_params_of(runtime_dir, &pool, (unsigned)st.slot, &cfg, &inv);
        nbx_ui_step(o->ui, "Applying network settings (%s, %zu domain(s), %zu port(s))",
                    nbx_net_mode_name(cfg.net_mode), cfg.domains.n, cfg.n_ports);
        if ((r = nbx_net_reload(&np, err)) < 0) {
                nbx_error_wrap(err, "reload");
                goto out;
        }
        free(st.mode);
        st.mode = strdup(nbx_net_mode_name(cfg.net_mode));
        if ((r = nbx_vm_state_save(p->state_dir, &st, inv.uid, inv.gid, err)) < 0)
                goto out;
        settings = nbx_vm_settings_json(&cfg);
        if (!settings) {
                r = nbx_error_set(err, ENOMEM, "settings");
                goto out;
        }
        if ((r = nbx_vm_settings_diff(st.settings, settings, &diff, err)) < 0)
                goto out;
        *ret_restart = TAKE_PTR(diff);
        r = 0;
out:
        if (have_cfg)
                nbx_config_done(&cfg);
        nbx_invoker_done(&inv);
        nbx_vm_state_done(&st);
        return r;
}
