/* up: one table of steps (name, progress line, function); each step that starts something
 * records it in the VM record before it waits on it, so a failure anywhere — or a crash — is
 * undone by the same teardown `down` runs (vm/down.c). */
#include "internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "boot.h"
#include "build.h"
#include "creds.h"
#include "hooks.h"
#include "image.h"

#define API_TIMEOUT_MS 30000
#define SSH_TIMEOUT_MS 60000

typedef struct up_ctx {
        nbx_vm_ctx c;
        nbx_config cfg;
        bool have_cfg;
        nbx_pool pool;
        nbx_slot_addr addr;
        nbx_net_pending *net; /* the slot's network between its two halves */
        char guest_ip[16];
        const nbx_hv_ops *ops;
        nbx_image img;
        bool have_img;
        nbx_idmap idmap;
        nbx_vm_record rec;
        int creds_fd;
        nbx_strv child_env; /* for hypervisor, virtiofsd, SSH master */
        char *identity_pub;
        char *step_log;    /* log file of the step that failed, for the error */
        const char *retry; /* set by a step that returns -EAGAIN: run again from this step */
} up_ctx;

static int save(up_ctx *u, nbx_error **err) {
        return nbx_vm_record_save(u->c.paths.record, &u->rec, err);
}

static void set_step_log(up_ctx *u, const char *path) {
        free(u->step_log);
        u->step_log = path ? strdup(path) : NULL;
}

/* A long-lived child of the VM (the hypervisor): the invoking user, its own session, the minimal
 * environment, output to its log. */
static nbx_spawn_opts user_daemon_opts(const up_ctx *u, int logfd) {
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.drop_privileges = true;
        so.uid = u->c.inv.uid;
        so.gid = u->c.inv.gid;
        so.new_session = true;
        so.envp = u->child_env.v;
        so.stdout_fd = logfd;
        so.stderr_fd = logfd;
        return so;
}

/* The guest folder `shell` and `run` start in: the mount of the project folder, else the first. */
static const char *workdir_of(const nbx_config *c) {
        for (size_t i = 0; i < c->n_mounts; i++)
                if (c->mounts[i].source && c->project_dir &&
                    strcmp(c->mounts[i].source, c->project_dir) == 0)
                        return c->mounts[i].target;
        return c->n_mounts ? c->mounts[0].target : NULL;
}

/* ---- the steps ------------------------------------------------------------------------------ */

/* A share of a folder that holds nixbox's own state would give the guest every VM's keys
 * (~/.local/state/nixbox: refused even read-only, as `nixbox mount` does) or let it change what
 * nixbox trusts (the runtime folder: refused writable). */
static bool contains(const char *folder, const char *path) {
        size_t n = strlen(folder);
        return strncmp(folder, path, n) == 0 &&
               (path[n] == '/' || path[n] == '\0' || (n == 1 && folder[0] == '/'));
}

static int check_shares(up_ctx *u, nbx_error **err) {
        _cleanup_free_ char *state = strdup(u->c.paths.state_dir);
        char *cut = state ? strstr(state, "/.local/state/nixbox/") : NULL;
        if (!state)
                return nbx_error_set(err, ENOMEM, "shares");
        if (cut)
                cut[sizeof("/.local/state/nixbox") - 1] = '\0';
        for (size_t i = 0; i < u->cfg.n_mounts; i++) {
                const nbx_mount *m = &u->cfg.mounts[i];
                if (m->kind != NBX_MOUNT_HOST) /* state folders hold nothing nixbox trusts */
                        continue;
                /* the state folder holds every VM's keys: not even read-only (as `nixbox mount`) */
                bool state_in = contains(m->source, state);
                if (state_in || (contains(m->source, u->c.runtime_dir) && !m->readonly))
                        return nbx_error_setx(
                                err, NBX_EXIT_CONFIG, 0,
                                "mounts[%zu]: %s holds %s, where nixbox keeps what it trusts "
                                "(%s); share a folder inside it%s",
                                i, m->source, state_in ? state : u->c.runtime_dir,
                                state_in ? "every VM's keys and your approvals" : "VM records",
                                state_in ? "" : ", or share it read-only");
        }
        return 0;
}

static int step_config(up_ctx *u, nbx_error **err) {
        int r = nbx_vm_config_load_approved(&u->c, &u->cfg, err);
        if (r < 0)
                return r;
        u->have_cfg = true;
        if ((r = check_shares(u, err)) < 0)
                return r;
        if ((r = nbx_hv_select(u->cfg.hypervisor, &u->ops, err)) < 0)
                return r;
        if ((r = nbx_accel_resolve(u->cfg.accel, &u->rec.accel, err)) < 0)
                return r;
        /* vm.image unset: the project's Nix guest, built first when missing or stale, from the
         * approved copy of .nixbox/ (its flake.lock pins nixpkgs) */
        _cleanup_free_ char *built = NULL;
        _cleanup_free_ char *lock = nbx_path_join(u->c.paths.approved_dir, "flake.lock");
        if (!lock)
                return nbx_error_set(err, ENOMEM, "guest image");
        nbx_build_opts bo = {.ui = u->c.ui,
                             .nix_dir = u->c.o->config_opts ? u->c.o->config_opts->nix_dir : NULL,
                             .lock_path = lock,
                             .approved_lock = lock};
        if (!u->cfg.image && (r = nbx_guest_image_ensure(u->c.p, &u->cfg, &bo, &built, err)) < 0)
                return r;
        if ((r = nbx_image_load(u->cfg.image ? u->cfg.image : built, &u->img, err)) < 0)
                return r;
        u->have_img = true;
        char why[512];
        if (u->rec.accel == NBX_ACCEL_KVM && u->cfg.accel == NBX_ACCEL_AUTO &&
            nbx_kvm_verdict_broken(u->c.runtime_dir, u->img.kernel, why, sizeof(why))) {
                why[strcspn(why, "\n")] = '\0';
                nbx_ui_step(u->c.ui, "Using TCG: on this host, %s", why);
                u->rec.accel = NBX_ACCEL_TCG;
        }
        nbx_ui_step(u->c.ui, "VM %s: network %s, %s (%s), %u vCPU, %u MiB", u->cfg.name,
                    nbx_net_mode_name(u->cfg.net_mode), u->ops->name,
                    u->rec.accel == NBX_ACCEL_KVM ? "KVM" : "TCG, slow", u->cfg.vcpus,
                    u->cfg.memory_mb);
        return 0;
}

static int record_init(up_ctx *u, nbx_error **err) {
        nbx_vm_record *rec = &u->rec;
        const char *wd = workdir_of(&u->cfg);
        rec->name = strdup(u->cfg.name);
        rec->project_dir = strdup(u->c.p->root);
        rec->uid = u->c.inv.uid;
        rec->gid = u->c.inv.gid;
        rec->backend = u->ops == &nbx_hv_qemu ? NBX_HV_QEMU : NBX_HV_CLOUD_HYPERVISOR;
        rec->guest_ip = strdup(u->guest_ip);
        rec->user = strdup(u->c.inv.guest_user);
        rec->workdir = wd ? strdup(wd) : NULL;
        rec->mode = u->cfg.net_mode;
        rec->started_at = (int64_t)time(NULL);
        rec->settings = nbx_vm_settings_json(&u->cfg);
        int r = nbx_strv_extend(&rec->hooks_pre_down, &u->cfg.hooks[NBX_HOOK_PRE_DOWN]);
        if (r >= 0)
                r = nbx_strv_extend(&rec->hooks_post_down, &u->cfg.hooks[NBX_HOOK_POST_DOWN]);
        if (r < 0 || !rec->name || !rec->project_dir || !rec->guest_ip || !rec->user ||
            !rec->settings || (wd && !rec->workdir))
                return nbx_error_set(err, ENOMEM, "VM record");
        return 0;
}

static int step_slot(up_ctx *u, nbx_error **err) {
        int r = nbx_pool_load(u->c.runtime_dir, &u->pool, err);
        if (r < 0)
                return r;
        nbx_slot_owner owner = nbx_vm_slot_owner(u->c.p, u->cfg.name, getpid());
        unsigned slot;
        if ((r = nbx_slot_acquire(u->c.runtime_dir, &owner, &slot, err)) < 0)
                return r;
        u->rec.slot = (int)slot;
        if ((r = nbx_slot_addr_derive(&u->pool, slot, &u->addr, err)) < 0)
                return r;
        if (!inet_ntop(AF_INET, &u->addr.guest_ip, u->guest_ip, sizeof(u->guest_ip)))
                return nbx_error_set(err, errno, "guest address");
        /* the record: from now on `down` (and the rollback) can find and remove everything */
        if ((r = record_init(u, err)) < 0)
                return r;
        nbx_ui_step(u->c.ui, "Slot %u: %s, guest %s", slot, u->addr.tap, u->guest_ip);
        return save(u, err);
}

static int run_hooks(up_ctx *u, enum nbx_hook h, nbx_error **err) {
        nbx_hook_env env = {.project_dir = u->c.p->root,
                            .name = u->cfg.name,
                            .slot = u->rec.slot,
                            .guest_ip = u->rec.slot >= 0 ? u->guest_ip : NULL,
                            .drop_privileges = true,
                            .uid = u->c.inv.uid,
                            .gid = u->c.inv.gid,
                            .home = u->c.inv.home,
                            .user = u->c.inv.name,
                            .config_dir = u->c.paths.approved_dir};
        return nbx_hooks_run(h, &u->cfg.hooks[h], &env, u->c.ui, NULL, err);
}

static int step_pre_up_hooks(up_ctx *u, nbx_error **err) {
        return run_hooks(u, NBX_HOOK_PRE_UP, err);
}

/* The VM is ready for `nixbox run` (and plugin commands such as `nixbox aws login`) before the
 * post-up hooks, which use it. */
static int step_post_up_hooks(up_ctx *u, nbx_error **err) {
        u->rec.ready = true;
        int r = save(u, err);
        return r < 0 ? r : run_hooks(u, NBX_HOOK_POST_UP, err);
}

/* The slot's rules, TAP and dnsmasq; dnsmasq starts while the next steps run (network-ready
 * waits for it). */
static int step_network(up_ctx *u, nbx_error **err) {
        nbx_net_params np = nbx_vm_net_params(u->c.runtime_dir, &u->pool, (unsigned)u->rec.slot,
                                              &u->cfg, &u->c.inv);
        return nbx_net_up_begin(&np, &u->net, err);
}

/* dnsmasq answering, the TAP up: the hypervisor may attach. */
static int step_network_ready(up_ctx *u, nbx_error **err) {
        if (!u->net) /* run again after the KVM watchdog: ready since the first time */
                return 0;
        nbx_net_pending *pd = u->net;
        u->net = NULL; /* freed by nbx_net_up_end, whatever happens */
        return nbx_net_up_end(pd, err);
}

static int step_ssh_keys(up_ctx *u, nbx_error **err) {
        _cleanup_free_ char *comment = NULL;
        if (asprintf(&comment, "nixbox@%s", u->cfg.name) < 0)
                return nbx_error_set(err, ENOMEM, "ssh keys");
        int r = nbx_ssh_keys_ensure(u->c.paths.ssh_dir, &u->c.inv, comment, err);
        if (r < 0)
                return r;
        return nbx_ssh_known_hosts_write(u->c.paths.ssh_dir, u->guest_ip, &u->c.inv, err);
}

/* The host folder of a config mount's share: its source, or its state folder (created as the
 * user when missing; kept across `down`). */
static int share_source(up_ctx *u, const nbx_mount *m, char **ret, nbx_error **err) {
        if (m->kind == NBX_MOUNT_STATE)
                return nbx_vm_state_mount_dir(&u->c.paths, m->state, &u->c.inv, true, ret, err);
        return (*ret = strdup(m->source)) ? 0 : nbx_error_set(err, ENOMEM, "share");
}

/* One boot share: a config mount m, or a share the image mounts itself (read-only). */
static int start_share(up_ctx *u, const nbx_virtiofsd *v, const nbx_mount *m,
                       const nbx_image_share *is, nbx_error **err) {
        nbx_record_mount *rm;
        _cleanup_free_ char *src = NULL;
        int r = m ? share_source(u, m, &src, err) : 0;
        if (r >= 0)
                r = m ? nbx_vm_record_add_mount(&u->rec, src, m->target, m->readonly, false, &rm,
                                                err)
                      : nbx_vm_record_add_image_share(&u->rec, is->source, is->tag, &rm, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *logp = NULL;
        r = nbx_vm_share_start(&u->c, v, &u->idmap, u->child_env.v, &u->rec, rm, &logp, err);
        if (logp)
                set_step_log(u, logp);
        if (r < 0)
                return r;
        rm->attached = true; /* boot shares: attached with the VM */
        return save(u, err);
}

static int step_virtiofsd(up_ctx *u, nbx_error **err) {
        size_t n = u->img.n_shares;
        for (size_t i = 0; i < u->cfg.n_mounts; i++)
                n += u->cfg.mounts[i].kind != NBX_MOUNT_TMPFS; /* a tmpfs is the guest's alone */
        if (n == 0)
                return 0;
        nbx_ui_step(u->c.ui, "Starting virtiofsd for %zu share(s)", n);
        nbx_virtiofsd v;
        int r = nbx_vm_shares_prepare(&u->c, &u->idmap, &v, err);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < u->img.n_shares; i++)
                r = start_share(u, &v, NULL, &u->img.shares[i], err);
        for (size_t i = 0; r >= 0 && i < u->cfg.n_mounts; i++)
                if (u->cfg.mounts[i].kind != NBX_MOUNT_TMPFS)
                        r = start_share(u, &v, &u->cfg.mounts[i], NULL, err);
        nbx_virtiofsd_done(&v);
        if (r >= 0)
                set_step_log(u, NULL);
        return r;
}

static int step_credentials(up_ctx *u, nbx_error **err) {
        const char *ssh = u->c.paths.ssh_dir;
        _cleanup_free_ char *client_pub = NULL, *host_key = NULL, *ident = NULL;
        int r;
        if ((r = nbx_ssh_key_read(ssh, NBX_SSH_CLIENT_KEY ".pub", &u->c.inv, &client_pub, err)) <
                    0 ||
            (r = nbx_ssh_key_read(ssh, NBX_SSH_HOST_KEY, &u->c.inv, &host_key, err)) < 0 ||
            (r = nbx_ssh_key_read(ssh, NBX_SSH_IDENTITY_KEY, &u->c.inv, &ident, err)) < 0 ||
            (r = nbx_ssh_key_read(ssh, NBX_SSH_IDENTITY_KEY ".pub", &u->c.inv, &u->identity_pub,
                                  err)) < 0)
                return r;
        /* the boot mounts: the shares (the image mounts its own itself) and the RAM folders;
         * nbx_creds_mounts_render orders them parents first */
        nbx_creds_mount mounts[NBX_MAX_MOUNTS];
        size_t n_mounts = 0;
        for (size_t i = 0; i < u->rec.n_mounts && n_mounts < NBX_MAX_MOUNTS; i++)
                if (!u->rec.mounts[i].image)
                        mounts[n_mounts++] =
                                (nbx_creds_mount){.type = "virtiofs",
                                                  .source = u->rec.mounts[i].tag,
                                                  .target = u->rec.mounts[i].target,
                                                  .readonly = u->rec.mounts[i].readonly};
        for (size_t i = 0; i < u->cfg.n_mounts && n_mounts < NBX_MAX_MOUNTS; i++)
                if (u->cfg.mounts[i].kind == NBX_MOUNT_TMPFS)
                        mounts[n_mounts++] = (nbx_creds_mount){.type = "tmpfs",
                                                               .source = "tmpfs",
                                                               .target = u->cfg.mounts[i].target};
        nbx_creds c = {.user = u->c.inv.guest_user,
                       .uid = u->c.inv.uid,
                       .gid = u->c.inv.gid,
                       .hostname = u->cfg.name,
                       .authorized_keys = client_pub,
                       .host_key = host_key,
                       .env = u->cfg.env,
                       .n_env = u->cfg.n_env,
                       .identity = ident,
                       .identity_pub = u->identity_pub,
                       .mounts = mounts,
                       .n_mounts = n_mounts};
        r = nbx_creds_memfd(&c, &u->creds_fd, err);
        explicit_bzero(host_key, strlen(host_key));
        explicit_bzero(ident, strlen(ident));
        return r;
}

static int step_launch(up_ctx *u, nbx_error **err) {
        nbx_vm_disk disk = {.readonly = true};
        snprintf(disk.path, sizeof(disk.path), "/proc/self/fd/%d", u->creds_fd);
        snprintf(disk.serial, sizeof(disk.serial), "%s", NBX_CREDS_SERIAL);
        snprintf(disk.id, sizeof(disk.id), "creds");
        nbx_vm_share shares[NBX_VM_MAX_SHARES];
        size_t n_shares = 0;
        for (size_t i = 0; i < u->rec.n_mounts && n_shares < NBX_VM_MAX_SHARES; i++) {
                _cleanup_free_ char *sock = nbx_vm_share_socket(&u->c.paths, u->rec.mounts[i].tag);
                if (!sock || strlen(sock) >= sizeof(shares[0].socket))
                        return nbx_error_set(err, sock ? ENAMETOOLONG : ENOMEM, "share socket");
                snprintf(shares[n_shares].tag, sizeof(shares[0].tag), "%s", u->rec.mounts[i].tag);
                snprintf(shares[n_shares].socket, sizeof(shares[0].socket), "%s", sock);
                n_shares++;
        }
        unsigned q = u->cfg.vcpus > 2 ? u->cfg.vcpus : 1; /* multi-queue TAP when vCPUs > 2 */
        nbx_vm_spec spec = {.name = u->cfg.name,
                            .vcpus = u->cfg.vcpus,
                            .memory_mb = u->cfg.memory_mb,
                            .image = &u->img,
                            .accel = u->rec.accel,
                            .tap = u->addr.tap,
                            .mac = u->addr.mac_str,
                            .api_socket = u->c.paths.api_socket,
                            .serial_log = u->c.paths.serial_log,
                            .shares = shares,
                            .n_shares = n_shares,
                            .disks = &disk,
                            .n_disks = 1,
                            .start_paused = u->c.o->kvm_stall && u->rec.accel == NBX_ACCEL_KVM,
                            .net_queues = q < NBX_VM_MAX_NET_QUEUES ? q : NBX_VM_MAX_NET_QUEUES};
        (void)unlink(u->c.paths.api_socket);
        _cleanup_free_ char *hv_log = NULL;
        /* the console log exists and belongs to the invoker before the hypervisor opens it */
        _cleanup_close_ int serial =
                nbx_vm_open_log(&u->c.paths, &u->c.inv, "console.log", NULL, err);
        if (serial < 0)
                return serial;
        _cleanup_close_ int logfd =
                nbx_vm_open_log(&u->c.paths, &u->c.inv, "hypervisor.log", &hv_log, err);
        if (logfd < 0)
                return logfd;
        set_step_log(u, hv_log);
        nbx_spawn_opts so = user_daemon_opts(u, logfd);
        so.keep_fds = &u->creds_fd;
        so.n_keep_fds = 1;
        pid_t pid;
        int r = nbx_hv_launch(u->ops, &spec, &so, &pid, err);
        /* the hypervisor holds its own copy of the credentials now */
        nbx_closep(&u->creds_fd);
        u->creds_fd = -1;
        if (r < 0)
                return r;
        u->rec.hv = (nbx_proc_ref){.pid = pid, .start_time = nbx_pid_start_time(pid)};
        if ((r = save(u, err)) < 0)
                return r;
        nbx_slot_owner owner = nbx_vm_slot_owner(u->c.p, u->cfg.name, pid);
        return nbx_slot_set_owner(u->c.runtime_dir, (unsigned)u->rec.slot, &owner, err);
}

static int step_api(up_ctx *u, nbx_error **err) {
        int r = u->ops->wait_api(u->c.paths.api_socket, nbx_deadline_in(API_TIMEOUT_MS), err);
        if (r < 0 && !nbx_vm_hv_alive(&u->rec))
                nbx_error_append(err, " (%s exited)", u->ops->name);
        return r;
}

static bool vm_alive_cb(void *data) {
        return nbx_vm_hv_alive(data);
}

/* KVM made no progress: remember it, stop what serves this hypervisor, and start again under
 * TCG from the virtiofsd step (vm.accel = "auto"), or fail (vm.accel = "kvm"). */
static int kvm_stalled(up_ctx *u, nbx_error **err) {
        _cleanup_error_ nbx_error *verr = NULL;
        if (nbx_kvm_verdict_record(u->c.runtime_dir, u->img.kernel, &verr) < 0)
                nbx_ui_warn(u->c.ui, "%s", verr->msg);
        if (u->cfg.accel == NBX_ACCEL_KVM)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ETIMEDOUT,
                                      "vm.accel = \"kvm\": this host's KVM accepted the VM but the "
                                      "guest made no progress within %d s (a nested or broken KVM "
                                      "cannot run this kernel); set vm.accel = \"auto\" (falls "
                                      "back to TCG) or \"tcg\"",
                                      NBX_KVM_BOOT_WATCHDOG_MS / 1000);
        nbx_ui_step(u->c.ui,
                    "KVM accepted the VM but the guest made no progress within %d s; starting it "
                    "again under TCG (slow), as on every later `up` of this kernel until reboot",
                    NBX_KVM_BOOT_WATCHDOG_MS / 1000);
        int r = nbx_terminate(u->rec.hv.pid, u->rec.hv.start_time,
                              nbx_deadline_in(NBX_VM_TERM_GRACE_MS), err);
        for (size_t i = 0; r >= 0 && i < u->rec.n_mounts; i++)
                r = nbx_terminate(u->rec.mounts[i].virtiofsd.pid,
                                  u->rec.mounts[i].virtiofsd.start_time,
                                  nbx_deadline_in(NBX_VM_TERM_GRACE_MS), err);
        if (r < 0)
                return r;
        while (u->rec.n_mounts)
                nbx_vm_record_remove_mount(&u->rec, u->rec.n_mounts - 1);
        u->rec.hv = (nbx_proc_ref){0};
        u->rec.accel = NBX_ACCEL_TCG;
        if ((r = save(u, err)) < 0)
                return r;
        u->retry = "virtiofsd";
        return -EAGAIN;
}

static int step_boot(up_ctx *u, nbx_error **err) {
        set_step_log(u, u->c.paths.serial_log);
        nbx_boot_watch w = {.console = u->c.paths.serial_log,
                            .kvm = u->rec.accel == NBX_ACCEL_KVM,
                            .hypervisor = u->ops->name,
                            .alive = vm_alive_cb,
                            .data = &u->rec};
        int r = nbx_boot_wait(&w, err);
        return r == -ETIMEDOUT && w.kvm && !(err && *err) ? kvm_stalled(u, err) : r;
}

/* One login, once the guest is ready: the SSH connection master everything else uses. */
static int step_ssh(up_ctx *u, nbx_error **err) {
        _cleanup_free_ char *logp = NULL;
        _cleanup_close_ int logfd = nbx_vm_open_log(&u->c.paths, &u->c.inv, "ssh.log", &logp, err);
        if (logfd < 0)
                return logfd;
        set_step_log(u, logp);
        nbx_ssh_target t = nbx_vm_ssh_target(&u->c.paths, &u->rec, &u->c.inv);
        t.master_envp = u->child_env.v;
        t.keep_waiting = vm_alive_cb;
        t.keep_waiting_data = &u->rec;
        pid_t pid = 0;
        int r = nbx_ssh_connect(&t, logfd, nbx_deadline_in(SSH_TIMEOUT_MS), &pid, err);
        if (r < 0)
                return r;
        u->rec.ssh_master =
                (nbx_proc_ref){.pid = pid, .start_time = pid ? nbx_pid_start_time(pid) : 0};
        set_step_log(u, NULL);
        return save(u, err);
}

static int step_scripts(up_ctx *u, nbx_error **err) {
        nbx_ssh_target t = nbx_vm_ssh_target(&u->c.paths, &u->rec, &u->c.inv);
        for (size_t i = 0; i < u->cfg.scripts.n; i++) {
                const char *path = u->cfg.scripts.v[i];
                nbx_ui_step(u->c.ui, "Running script %s in the VM", path);
                _cleanup_close_ int in = -1;
                {
                        _cleanup_fsid_ nbx_fsid fs = {0};
                        int r = nbx_fsid_enter(&u->c.inv, &fs, err);
                        if (r < 0)
                                return r;
                        in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (in < 0)
                        return nbx_error_set(err, errno, "open script %s", path);
                _cleanup_free_ char *cmd = nbx_ssh_script_command(u->rec.workdir);
                if (!cmd)
                        return nbx_error_set(err, ENOMEM, "script command");
                if (u->c.ui) {
                        fflush(u->c.ui->out);
                        fflush(u->c.ui->err);
                }
                int code = 0;
                int r = nbx_ssh_exec(&t, NBX_SSH_BATCH, cmd, in,
                                     u->c.ui ? fileno(u->c.ui->out) : NBX_FD_INHERIT,
                                     u->c.ui ? fileno(u->c.ui->err) : NBX_FD_INHERIT, &code, err);
                if (r < 0)
                        return r;
                if (code != 0)
                        return nbx_error_set(err, EIO, "script %s failed in the VM (exit %d)", path,
                                             code);
        }
        return 0;
}

/* ---- the table ------------------------------------------------------------------------------ */

typedef struct up_step {
        const char *name;     /* NIXBOX_FAIL_AT value and the name in errors */
        const char *progress; /* printed before the step (NULL: the step says more itself) */
        int (*run)(up_ctx *u, nbx_error **err);
} up_step;

static const up_step steps[] = {
        {"config", "Resolving the configuration", step_config},
        {"slot", NULL, step_slot},
        {"pre-up-hooks", NULL, step_pre_up_hooks},
        {"network", "Configuring the network", step_network},
        {"ssh-keys", NULL, step_ssh_keys},
        {"virtiofsd", NULL, step_virtiofsd},
        {"credentials", NULL, step_credentials},
        {"network-ready", NULL, step_network_ready},
        {"launch", "Starting the VM", step_launch},
        {"api", NULL, step_api},
        {"boot", "Waiting for the guest to boot", step_boot},
        {"ssh", NULL, step_ssh},
        {"scripts", NULL, step_scripts},
        {"post-up-hooks", NULL, step_post_up_hooks},
};

const char *nbx_vm_up_step_name(size_t i) {
        return i < NBX_ARRAY_SIZE(steps) ? steps[i].name : NULL;
}

/* Already running, or half-started?  Leftovers of a VM that died are removed first. */
static int check_previous(up_ctx *u, nbx_vm_up_result *res, bool *ret_done, nbx_error **err) {
        nbx_vm_record old = NBX_VM_RECORD_INIT;
        _cleanup_error_ nbx_error *warn = NULL;
        int lr = nbx_vm_record_load(u->c.paths.record, &old, &warn);
        *ret_done = false;
        if (lr == 0 && nbx_vm_hv_alive(&old)) {
                int r = 0;
                if (old.ready) {
                        /* a second `up` reports the running VM and changes nothing */
                        res->already_running = true;
                        res->slot = old.slot;
                        snprintf(res->name, sizeof(res->name), "%s", old.name);
                        snprintf(res->guest_ip, sizeof(res->guest_ip), "%s",
                                 old.guest_ip ? old.guest_ip : "");
                        *ret_done = true;
                } else {
                        r = nbx_error_set(err, EBUSY,
                                          "the VM of %s is half-started (an `up` was interrupted); "
                                          "run `sudo nixbox down` first",
                                          u->c.p->root);
                }
                nbx_vm_record_done(&old);
                return r;
        }
        unsigned held;
        bool slot_held = nbx_slot_find(u->c.runtime_dir, u->c.p->root, &held, NULL) == 0;
        if (lr == -ENOENT && !slot_held)
                return 0;
        nbx_ui_step(u->c.ui, "Cleaning up what a previous VM of this project left behind");
        nbx_strv failures = {0};
        nbx_vm_teardown(&u->c, lr == 0 ? &old : NULL,
                        lr == 0     ? old.slot
                        : slot_held ? (int)held
                                    : -1,
                        false, &failures);
        nbx_vm_record_done(&old);
        return nbx_vm_failures_error(&failures, err);
}

static void up_done(up_ctx *u) {
        nbx_net_up_drop(u->net);
        u->net = NULL;
        nbx_closep(&u->creds_fd);
        nbx_strv_clear(&u->child_env);
        free(u->step_log);
        free(u->identity_pub);
        nbx_vm_record_done(&u->rec);
        if (u->have_img)
                nbx_image_done(&u->img);
        if (u->have_cfg)
                nbx_config_done(&u->cfg);
        nbx_vm_ctx_close(&u->c);
}

/* Undo everything the record names, report what could not be undone. */
static int rollback(up_ctx *u, const char *step, int r, nbx_error **err) {
        if (r == -ECANCELED && !(err && *err))
                nbx_error_set(err, ECANCELED, "injected failure (NIXBOX_FAIL_AT=%s, a test hook)",
                              step);
        nbx_error_wrap(err, "up failed at step \"%s\"", step);
        if (u->step_log)
                nbx_error_append(err, "\n  log: %s", u->step_log);
        nbx_ui_step(u->c.ui, "Undoing what `up` did");
        nbx_net_up_drop(u->net); /* the teardown removes the slot's network */
        u->net = NULL;
        nbx_closep(&u->creds_fd);
        u->creds_fd = -1;
        nbx_strv failures = {0};
        nbx_vm_teardown(&u->c, u->rec.name ? &u->rec : NULL, u->rec.slot, false, &failures);
        for (size_t i = 0; i < failures.n; i++)
                nbx_error_append(err, "\n  cleanup failed: %s", failures.v[i]);
        nbx_strv_clear(&failures);
        return r < 0 ? r : -EIO;
}

int nbx_vm_up(const nbx_project *p, const nbx_vm_opts *o, nbx_vm_up_result *ret, nbx_error **err) {
        up_ctx u = {.creds_fd = -1, .rec = NBX_VM_RECORD_INIT};
        nbx_vm_up_result res = {.slot = -1};
        int r = nbx_vm_ctx_open(&u.c, p, o, true, err);
        if (r < 0)
                return r;
        bool done = false;
        if ((r = nbx_invoker_require_user(&u.c.inv, "up", err)) < 0 ||
            (r = nbx_vm_child_env(&u.c.inv, &u.child_env, err)) < 0 ||
            (r = check_previous(&u, &res, &done, err)) < 0 || done)
                goto out;
        for (size_t i = 0; i < NBX_ARRAY_SIZE(steps); i++) {
                const up_step *s = &steps[i];
                if (s->progress)
                        nbx_ui_step(u.c.ui, "%s", s->progress);
                uint64_t t0 = nbx_now_us();
                r = s->run(&u, err);
                if (o->step_done)
                        o->step_done(o->step_data, s->name, t0, nbx_now_us());
                if (r == -EAGAIN && u.retry) { /* start again from an earlier step */
                        size_t j = 0;
                        while (j < i && strcmp(steps[j].name, u.retry) != 0)
                                j++;
                        u.retry = NULL;
                        i = j - 1;
                        continue;
                }
                if (r >= 0 && o->fail_at && strcmp(o->fail_at, s->name) == 0)
                        r = -ECANCELED;
                if (r < 0) {
                        r = rollback(&u, s->name, r, err);
                        goto out;
                }
        }
        u.rec.ready = true;
        if ((r = save(&u, err)) < 0) {
                r = rollback(&u, "record", r, err);
                goto out;
        }
        res.slot = u.rec.slot;
        snprintf(res.name, sizeof(res.name), "%s", u.cfg.name);
        snprintf(res.guest_ip, sizeof(res.guest_ip), "%s", u.guest_ip);
        snprintf(res.identity_pub, sizeof(res.identity_pub), "%s",
                 u.identity_pub ? u.identity_pub : "");
out:
        up_done(&u);
        if (r >= 0 && ret)
                *ret = res;
        return r;
}
