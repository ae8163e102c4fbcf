/* `nixbox mount` and `nixbox unmount`: shares hot-plugged into a running VM (docs/mounts.md).
 *
 * A share enters the record (attached = false) before its virtiofsd starts, and is marked
 * attached only once the guest has mounted it; unmount clears the mark before it takes the host
 * side apart.  So wherever nixbox stops, the record names everything it started, and a share not
 * marked attached is half-done: the next mount or unmount removes it (or completes it, when the
 * guest already works in it), `down` removes it with the VM, `status` reports it. */
#include "mount.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "../config/domain.h"
#include "idmap.h"
#include "internal.h"
#include "virtiofsd.h"

/* the guest waits up to 10 s for a new tag; sudo, SSH and a loaded TCG host add the rest */
#define GUEST_MOUNT_TIMEOUT_MS 60000
#define GUEST_UNMOUNT_TIMEOUT_MS 30000
#define GUEST_MSG_MAX 300
#define QUOTE_MAX 200

_Static_assert(NBX_MAX_MOUNTS <= NBX_VM_MAX_SHARES, "a VM spec holds every share a record can");

/* a usage error: what the user typed is refused */
#define bad(err, ...) nbx_error_setx(err, NBX_EXIT_USAGE, 0, __VA_ARGS__)

/* Hand error *src over to the caller's err (which may be NULL); returns its code. */
static int pass_error(nbx_error **err, nbx_error **src) {
        int r = nbx_error_ret(*src);
        if (err && !*err)
                *err = TAKE_PTR(*src);
        return r;
}

/* ---- checks --------------------------------------------------------------------------------- */

/* realpath with the owner's file identity (the kernel's permission checks are the owner's) */
static int real_as(const nbx_invoker *inv, const char *path, char **ret, nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(inv, &fs, err);
        if (r < 0)
                return r;
        char *real = realpath(path, NULL);
        if (!real)
                return nbx_error_set(err, errno, "resolve %s", path);
        *ret = real;
        return 0;
}

static const char *writable_root(const nbx_vm_mount_env *e, const char *path) {
        return nbx_vm_guest_writable_root(e->project_dir, e->rec, path);
}

static int resolve_source(const nbx_vm_mount_env *e, const char *in, char **ret, nbx_error **err) {
        const nbx_invoker *inv = e->inv;
        _cleanup_free_ char *q = nbx_quote(in, QUOTE_MAX);
        _cleanup_free_ char *abs = NULL;
        if (in[0] == '~') {
                if (in[1] != '\0' && in[1] != '/')
                        return bad(err, "SOURCE %s: only ~ and ~/... are supported (not ~user)", q);
                if (asprintf(&abs, "%s%s", inv->home, in + 1) < 0)
                        abs = NULL;
        } else {
                abs = strdup(in);
        }
        if (!abs)
                return nbx_error_set(err, ENOMEM, "SOURCE");
        nbx_error *re = NULL;
        int r = real_as(inv, abs, ret, &re);
        if (r < 0) {
                nbx_error_free(re);
                return nbx_error_setx(err, NBX_EXIT_USAGE, -r, "SOURCE %s: %s cannot reach it", q,
                                      inv->name);
        }
        /* a link inside a folder the guest can write could have been planted by it */
        _cleanup_free_ char *lexical = nbx_path_lexical(abs);
        const char *root = lexical ? writable_root(e, lexical) : NULL;
        if (root && strcmp(lexical, *ret) != 0) {
                r = bad(err,
                        "SOURCE %s goes through a symbolic link inside %s (to %s), which the VM "
                        "can write and could have planted; name the folder itself",
                        q, root, *ret);
                free(*ret);
                *ret = NULL;
                return r;
        }
        return 0;
}

/* Folders no share may reveal: the state folder always (the keys of every VM of the owner), the
 * runtime folder when the share is writable (records and sockets). */
static int check_places(const nbx_vm_mount_env *e, const char *src, bool readonly,
                        nbx_error **err) {
        const struct {
                const char *path, *what;
                bool ro_ok;
        } places[] = {
                {e->state_root, "nixbox's state folder (the SSH keys of your VMs)", false},
                {e->runtime_dir, "nixbox's runtime folder (the VMs' records and sockets)", true},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(places); i++) {
                if (!places[i].path)
                        continue;
                _cleanup_free_ char *real = NULL;
                if (real_as(e->inv, places[i].path, &real, NULL) < 0 &&
                    !(real = strdup(places[i].path)))
                        return nbx_error_set(err, ENOMEM, "SOURCE");
                _cleanup_free_ char *qs = nbx_quote(src, QUOTE_MAX);
                if (nbx_path_within(src, real))
                        return bad(err, "SOURCE %s is inside %s %s: nixbox never shares it", qs,
                                   places[i].what, real);
                if (nbx_path_within(real, src) && !(readonly && places[i].ro_ok))
                        return bad(err,
                                   "SOURCE %s holds %s %s, which the guest must not %s: share a "
                                   "folder that does not hold it%s",
                                   qs, places[i].what, real, places[i].ro_ok ? "change" : "see",
                                   places[i].ro_ok ? " (or share it --readonly)" : "");
        }
        return 0;
}

static int check_target(const nbx_vm_mount_env *e, const char *t, nbx_error **err) {
        for (size_t i = 0; i < e->rec->n_mounts; i++) {
                const nbx_record_mount *m = &e->rec->mounts[i];
                if (e->skip_half_attached && !m->attached)
                        continue;
                _cleanup_free_ char *qt = nbx_quote(t, QUOTE_MAX);
                _cleanup_free_ char *qs = nbx_quote(m->source, QUOTE_MAX);
                if (strcmp(m->target, t) == 0)
                        return bad(err,
                                   "TARGET %s is already a share (of %s): `sudo nixbox unmount "
                                   "%s` first",
                                   qt, qs, qt);
                if (nbx_path_within(t, m->target))
                        return bad(err,
                                   "TARGET %s is inside the share at %s (of %s): its mount point "
                                   "would be made on the host; choose a folder outside it",
                                   qt, m->target, qs);
                if (nbx_path_within(m->target, t))
                        return bad(err,
                                   "TARGET %s holds the share at %s: mounting over it would hide "
                                   "it; choose a folder beside it",
                                   qt, m->target);
        }
        return 0;
}

int nbx_vm_mount_check(const nbx_vm_mount_env *e, const nbx_mountspec *in, nbx_mountspec *ret,
                       nbx_error **err) {
        size_t n = 0;
        for (size_t i = 0; i < e->rec->n_mounts; i++)
                n += e->rec->mounts[i].attached || !e->skip_half_attached;
        if (n >= NBX_MAX_MOUNTS)
                return bad(err,
                           "the VM has %zu shares (boot shares and half-attached ones included), "
                           "the most one VM can have: `sudo nixbox unmount TARGET` one first",
                           n);
        _cleanup_free_ char *home = NULL;
        if (!e->rec->user || asprintf(&home, "/home/%s", e->rec->user) < 0)
                return nbx_error_set(err, ENOMEM, "guest home");
        nbx_mountspec m = {.readonly = in->readonly};
        int r = nbx_mountspec_guest_path(in->target, home, &m.target, err);
        if (r < 0)
                return nbx_error_wrap(err, "TARGET");
        if ((r = check_target(e, m.target, err)) < 0 ||
            (r = resolve_source(e, in->source, &m.source, err)) < 0 ||
            (r = check_places(e, m.source, m.readonly, err)) < 0)
                goto fail;
        if ((r = nbx_virtiofsd_check_source(m.source, writable_root(e, m.source), e->inv, err)) <
            0) {
                (*err)->exit_code = NBX_EXIT_USAGE;
                goto fail;
        }
        *ret = m;
        return 0;
fail:
        nbx_mountspec_done(&m);
        return r;
}

static bool has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

int nbx_vm_mount_line(const char *tag, const char *target, bool readonly, char **ret,
                      nbx_error **err) {
        if (has_control(tag) || has_control(target))
                return nbx_error_set(err, EINVAL,
                                     "a share's tag or target holds a control "
                                     "character");
        if (asprintf(ret, "virtiofs\t%s\t%s\t%s\n", tag, target, readonly ? "ro" : "rw") < 0)
                return nbx_error_set(err, ENOMEM, "guest input");
        return 0;
}

/* ---- what up and mount share ---------------------------------------------------------------- */

/* ---- a command on a running VM's shares ----------------------------------------------------- */

typedef struct share_ctx {
        nbx_vm_ctx c;
        bool have_c;
        nbx_vm_record rec;
        const nbx_hv_ops *ops;
        nbx_strv child_env;
} share_ctx;

static void share_done(share_ctx *s) {
        nbx_strv_clear(&s->child_env);
        nbx_vm_record_done(&s->rec);
        if (s->have_c)
                nbx_vm_ctx_close(&s->c);
}

static int save(share_ctx *s, nbx_error **err) {
        return nbx_vm_record_save(s->c.paths.record, &s->rec, err);
}

/* Root (the record is root's; virtiofsd's id map needs it), the VM's lock, its running record,
 * and an invoker who owns the VM. */
static int share_open(share_ctx *s, const nbx_project *p, const nbx_vm_opts *o, const char *cmd,
                      nbx_error **err) {
        *s = (share_ctx){.rec = NBX_VM_RECORD_INIT};
        if (geteuid() != 0)
                return nbx_error_setx(err, NBX_EXIT_PERMISSION, 0,
                                      "nixbox %s changes the VM's record (root's) and runs "
                                      "virtiofsd on your subordinate ids: run it with sudo "
                                      "(`sudo nixbox %s ...`)",
                                      cmd, cmd);
        int r = nbx_vm_ctx_open(&s->c, p, o, true, err);
        if (r < 0)
                return r;
        s->have_c = true;
        if ((r = nbx_invoker_require_user(&s->c.inv, cmd, err)) < 0 ||
            (r = nbx_vm_load_running(&s->c, &s->rec, err)) < 0)
                return r;
        if (s->rec.uid != s->c.inv.uid)
                return nbx_error_setx(err, NBX_EXIT_PERMISSION, 0,
                                      "the VM of %s runs for uid %u, not for %s: run `sudo nixbox "
                                      "%s` from that account",
                                      p->root, (unsigned)s->rec.uid, s->c.inv.name, cmd);
        if (!(s->ops = nbx_vm_ops(s->rec.backend)))
                return nbx_error_set(err, EBADMSG, "the VM record names no hypervisor");
        return nbx_vm_child_env(&s->c.inv, &s->child_env, err);
}

static size_t index_of(const share_ctx *s, const char *tag) {
        size_t i = 0;
        while (i < s->rec.n_mounts && strcmp(s->rec.mounts[i].tag, tag) != 0)
                i++;
        return i;
}

/* A guest's words, made safe for an error message: one line, escaped, cut. */
static char *guest_words(const char *s) {
        _cleanup_free_ char *flat = strndup(s ? s : "", GUEST_MSG_MAX);
        if (!flat)
                return NULL;
        for (char *p = flat; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        size_t n = strlen(flat);
        while (n && flat[n - 1] == ' ')
                flat[--n] = '\0';
        return nbx_ui_escape(n ? flat : "(no message)");
}

/* Run fixed command cmd (`sudo -n nixbox-guest mount|unmount`) as the guest user over the SSH
 * master, input on stdin.  *ret_code: its exit status; *ret_msg: its stderr, made safe. */
static int guest_run(const share_ctx *s, const char *cmd, const char *input, uint64_t timeout_ms,
                     int *ret_code, char **ret_msg, nbx_error **err) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return nbx_error_set(err, errno, "pipe");
        _cleanup_close_ int rfd = p[0];
        size_t n = strlen(input); /* well below the pipe's capacity: the write cannot block */
        ssize_t w = write(p[1], input, n);
        int e = errno;
        close(p[1]);
        if (w != (ssize_t)n)
                return nbx_error_set(err, w < 0 ? e : EIO, "write the guest's input");
        nbx_ssh_target t = nbx_vm_ssh_target(&s->c.paths, &s->rec, &s->c.inv);
        _cleanup_free_ char *errout = NULL;
        _cleanup_error_ nbx_error *se = NULL;
        int r = nbx_ssh_capture(&t, cmd, rfd, nbx_deadline_in(timeout_ms), ret_code, &errout, &se);
        if (r == -ETIMEDOUT)
                return nbx_error_set(err, ETIMEDOUT, "the guest did not answer within %llu s",
                                     (unsigned long long)(timeout_ms / 1000));
        if (r < 0)
                return pass_error(err, &se);
        if (!(*ret_msg = guest_words(errout)))
                return nbx_error_set(err, ENOMEM, "guest message");
        return 0;
}

static int guest_mount(const share_ctx *s, const nbx_record_mount *m, nbx_error **err) {
        _cleanup_free_ char *line = NULL, *msg = NULL;
        int code = 0;
        int r = nbx_vm_mount_line(m->tag, m->target, m->readonly, &line, err);
        if (r >= 0)
                r = guest_run(s, "sudo -n nixbox-guest mount", line, GUEST_MOUNT_TIMEOUT_MS, &code,
                              &msg, err);
        if (r < 0)
                return nbx_error_wrap(err, "mount %s in the guest", m->target);
        if (code == 255)
                return nbx_error_set(err, EHOSTUNREACH, "mount %s in the guest: SSH failed: %s",
                                     m->target, msg);
        if (code != 0)
                return nbx_error_set(err, EIO, "the guest could not mount %s (exit %d): %s",
                                     m->target, code, msg);
        return 0;
}

/* 0: not (or no longer) mounted in the guest; -EBUSY: a process works in it. */
static int guest_unmount(const share_ctx *s, const nbx_record_mount *m, nbx_error **err) {
        _cleanup_free_ char *line = NULL, *msg = NULL;
        int code = 0;
        if (has_control(m->target) || asprintf(&line, "%s\n", m->target) < 0)
                return nbx_error_set(err, EINVAL, "unmount: bad target");
        int r = guest_run(s, "sudo -n nixbox-guest unmount", line, GUEST_UNMOUNT_TIMEOUT_MS, &code,
                          &msg, err);
        if (r < 0)
                return nbx_error_wrap(err, "unmount %s in the guest", m->target);
        if (code == 16)
                return nbx_error_set(err, EBUSY, "%s is busy in the guest (a process works in it)",
                                     m->target);
        if (code == 255)
                return nbx_error_set(err, EHOSTUNREACH, "unmount %s in the guest: SSH failed: %s",
                                     m->target, msg);
        if (code != 0)
                return nbx_error_set(err, EIO, "the guest could not unmount %s (exit %d): %s",
                                     m->target, code, msg);
        return 0;
}

/* ---- taking a share apart ------------------------------------------------------------------- */

enum release_mode {
        RELEASE_NORMAL, /* a guest or device failure stops it (the share stays) */
        RELEASE_FORCE,  /* the host side goes whatever the guest says */
        RELEASE_REPAIR, /* a half-done share: as FORCE, but one the guest works in is completed */
};

static void warn_and_free(const share_ctx *s, nbx_error **e, const char *what) {
        nbx_ui_warn(s->c.ui, "%s: %s", what, *e && (*e)->msg ? (*e)->msg : "failed");
        nbx_error_free(*e);
        *e = NULL;
}

/* Share i: guest unmount (unless skip_guest), mark it half-done, remove the device, stop its
 * virtiofsd, forget it.  *ret_completed: REPAIR found it in use and marked it attached. */
static int release(share_ctx *s, size_t i, enum release_mode mode, bool skip_guest,
                   bool *ret_completed, nbx_error **err) {
        nbx_record_mount *m = &s->rec.mounts[i];
        _cleanup_error_ nbx_error *e = NULL;
        int r = skip_guest ? 0 : guest_unmount(s, m, &e);
        if (r == -EBUSY && mode == RELEASE_REPAIR &&
            nbx_pid_alive(m->virtiofsd.pid, m->virtiofsd.start_time)) {
                m->attached = true; /* the mount got that far and is in use: finish it */
                *ret_completed = true;
                return save(s, err);
        }
        if (r < 0 && mode == RELEASE_NORMAL) {
                r = pass_error(err, &e);
                (void)nbx_error_append(err,
                                       "\n  the share stays attached; `sudo nixbox unmount "
                                       "--force %s` releases the host side anyway (the guest "
                                       "then gets I/O errors there)",
                                       m->target);
                return r;
        }
        if (r < 0)
                warn_and_free(s, &e, "releasing the host side anyway");
        if (m->attached) {
                m->attached = false;
                if ((r = save(s, err)) < 0)
                        return r;
        }
        if ((r = s->ops->remove_device(s->c.paths.api_socket, m->tag, &e)) < 0) {
                if (mode == RELEASE_NORMAL) {
                        r = pass_error(err, &e);
                        (void)nbx_error_append(err,
                                               "\n  the share is half-detached: `sudo nixbox "
                                               "unmount --force %s` or `down` removes the rest",
                                               m->target);
                        return r;
                }
                warn_and_free(s, &e, "the device stays in the VM until `down`");
        }
        if (m->virtiofsd.pid > 0 &&
            (r = nbx_terminate(m->virtiofsd.pid, m->virtiofsd.start_time,
                               nbx_deadline_in(NBX_VM_TERM_GRACE_MS), err)) < 0)
                return nbx_error_wrap(err, "stop virtiofsd of %s", m->target);
        _cleanup_free_ char *sock = nbx_vm_share_socket(&s->c.paths, m->tag);
        if (sock)
                (void)unlink(sock);
        nbx_vm_record_remove_mount(&s->rec, i);
        return save(s, err);
}

/* Remove (or complete) every half-done share but the one named keep. */
static void repair(share_ctx *s, const char *keep) {
        for (size_t i = s->rec.n_mounts; i-- > 0;) {
                const nbx_record_mount *m = &s->rec.mounts[i];
                if (m->attached || (keep && strcmp(m->tag, keep) == 0))
                        continue;
                _cleanup_free_ char *target = strdup(m->target);
                nbx_ui_step(s->c.ui,
                            "Repairing the share at %s, left half-attached by an "
                            "interrupted mount or unmount",
                            target ? target : m->tag);
                bool completed = false;
                _cleanup_error_ nbx_error *e = NULL;
                if (release(s, i, RELEASE_REPAIR, false, &completed, &e) < 0)
                        nbx_ui_warn(s->c.ui,
                                    "could not remove the half-attached share at %s: %s "
                                    "(`down` removes it)",
                                    target ? target : "?", e && e->msg ? e->msg : "failed");
                else if (completed)
                        nbx_ui_step(s->c.ui, "The guest works in %s: the share stays, attached",
                                    target ? target : "?");
        }
}

/* ---- mount ---------------------------------------------------------------------------------- */

typedef struct mount_run {
        share_ctx *s;
        nbx_mountspec want;
        char tag[24];
        char *log;
        bool guest_touched;
} mount_run;

static nbx_record_mount *current(mount_run *m) {
        size_t i = index_of(m->s, m->tag);
        return i < m->s->rec.n_mounts ? &m->s->rec.mounts[i] : NULL;
}

static int step_virtiofsd(mount_run *m, nbx_error **err) {
        share_ctx *s = m->s;
        nbx_idmap map;
        nbx_virtiofsd v;
        int r = nbx_vm_shares_prepare(&s->c, &map, &v, err);
        if (r < 0)
                return r;
        nbx_record_mount *rm = NULL;
        /* recorded before it starts: a crash from here on leaves a share `repair` finds */
        if ((r = nbx_vm_record_add_mount(&s->rec, m->want.source, m->want.target, m->want.readonly,
                                         true, &rm, err)) >= 0) {
                snprintf(m->tag, sizeof(m->tag), "%s", rm->tag);
                r = save(s, err);
        }
        if (r >= 0) {
                nbx_ui_step(s->c.ui, "Starting virtiofsd (%s)", m->tag);
                r = nbx_vm_share_start(&s->c, &v, &map, s->child_env.v, &s->rec, current(m),
                                       &m->log, err);
        }
        nbx_virtiofsd_done(&v);
        return r < 0 ? r : save(s, err);
}

static int step_attach(mount_run *m, nbx_error **err) {
        nbx_vm_share sh = {0};
        _cleanup_free_ char *sock = nbx_vm_share_socket(&m->s->c.paths, m->tag);
        if (!sock || strlen(sock) >= sizeof(sh.socket))
                return nbx_error_set(err, sock ? ENAMETOOLONG : ENOMEM, "share socket");
        snprintf(sh.tag, sizeof(sh.tag), "%s", m->tag);
        snprintf(sh.socket, sizeof(sh.socket), "%s", sock);
        nbx_ui_step(m->s->c.ui, "Attaching it to the VM");
        return m->s->ops->add_fs(m->s->c.paths.api_socket, &sh, err);
}

static int step_guest(mount_run *m, nbx_error **err) {
        nbx_ui_step(m->s->c.ui, "Mounting it at %s in the guest", m->want.target);
        m->guest_touched = true;
        return guest_mount(m->s, current(m), err);
}

static int step_record(mount_run *m, nbx_error **err) {
        current(m)->attached = true;
        return save(m->s, err);
}

typedef struct mount_step {
        const char *name; /* NIXBOX_FAIL_AT value and the name in errors */
        int (*run)(mount_run *m, nbx_error **err);
} mount_step;

static const mount_step mount_steps[] = {
        {"mount-virtiofsd", step_virtiofsd},
        {"mount-attach", step_attach},
        {"mount-guest", step_guest},
        {"mount-record", step_record},
};

const char *nbx_vm_mount_step_name(size_t i) {
        return i < NBX_ARRAY_SIZE(mount_steps) ? mount_steps[i].name : NULL;
}

/* A real failure: take apart what this mount made (its share is half-done in the record). */
static int mount_rollback(mount_run *m, const char *step, int r, nbx_error **err) {
        nbx_error_wrap(err, "mount failed at step \"%s\"", step);
        if (m->log)
                nbx_error_append(err, "\n  log: %s", m->log);
        size_t i = index_of(m->s, m->tag);
        if (i == m->s->rec.n_mounts)
                return r;
        nbx_ui_step(m->s->c.ui, "Undoing what `mount` did");
        bool completed = false;
        _cleanup_error_ nbx_error *e = NULL;
        if (release(m->s, i, RELEASE_FORCE, !m->guest_touched, &completed, &e) < 0)
                nbx_error_append(err,
                                 "\n  cleanup failed: %s\n  the share is left half-attached: the "
                                 "next `sudo nixbox mount`, `unmount` or `down` removes it",
                                 e && e->msg ? e->msg : "?");
        return r;
}

static int mount_run_steps(mount_run *m, const char *fail_at, nbx_error **err) {
        for (size_t i = 0; i < NBX_ARRAY_SIZE(mount_steps); i++) {
                const mount_step *st = &mount_steps[i];
                int r = st->run(m, err);
                if (r < 0)
                        return mount_rollback(m, st->name, r, err);
                if (fail_at && strcmp(fail_at, st->name) == 0)
                        /* as if nixbox died here: nothing is undone */
                        return nbx_error_set(
                                err, ECANCELED,
                                "mount failed at step \"%s\": injected failure (NIXBOX_FAIL_AT=%s, "
                                "a test hook); stopped as if nixbox had crashed: the next `sudo "
                                "nixbox mount`, `unmount` or `down` completes or removes what it "
                                "left",
                                st->name, st->name);
        }
        return 0;
}

static int env_check(share_ctx *s, const nbx_mountspec *in, bool skip_half, nbx_mountspec *ret,
                     nbx_error **err) {
        _cleanup_free_ char *state_root = strdup(s->c.paths.state_dir);
        if (!state_root)
                return nbx_error_set(err, ENOMEM, "state folder");
        *strrchr(state_root, '/') = '\0';
        nbx_vm_mount_env e = {.rec = &s->rec,
                              .inv = &s->c.inv,
                              .state_root = state_root,
                              .runtime_dir = s->c.runtime_dir,
                              .project_dir = s->c.p->root,
                              .skip_half_attached = skip_half};
        return nbx_vm_mount_check(&e, in, ret, err);
}

void nbx_vm_mount_result_done(nbx_vm_mount_result *r) {
        free(r->source);
        free(r->target);
        *r = (nbx_vm_mount_result){0};
}

int nbx_vm_mount(const nbx_project *p, const nbx_vm_opts *o, const nbx_mountspec *spec,
                 nbx_vm_mount_result *ret, nbx_error **err) {
        share_ctx s;
        mount_run m = {.s = &s};
        int r = share_open(&s, p, o, "mount", err);
        /* checked before anything changes (half-attached shares are about to go), and again
         * after the repair, against what it could not remove */
        if (r >= 0)
                r = env_check(&s, spec, true, &m.want, err);
        if (r >= 0) {
                repair(&s, NULL);
                nbx_mountspec again = {0};
                r = env_check(&s, spec, false, &again, err);
                nbx_mountspec_done(&again);
        }
        if (r >= 0)
                r = mount_run_steps(&m, o ? o->fail_at : NULL, err);
        if (r >= 0 && ret)
                *ret = (nbx_vm_mount_result){.source = TAKE_PTR(m.want.source),
                                             .target = TAKE_PTR(m.want.target),
                                             .readonly = m.want.readonly};
        if (r >= 0 && ret)
                snprintf(ret->tag, sizeof(ret->tag), "%s", m.tag);
        free(m.log);
        nbx_mountspec_done(&m.want);
        share_done(&s);
        return r;
}

/* ---- unmount -------------------------------------------------------------------------------- */

int nbx_vm_unmount(const nbx_project *p, const nbx_vm_opts *o, const char *target, bool force,
                   nbx_vm_unmount_result *ret, nbx_error **err) {
        share_ctx s;
        _cleanup_free_ char *t = NULL, *home = NULL, *tag = NULL;
        int r = share_open(&s, p, o, "unmount", err);
        if (r >= 0 && (!s.rec.user || asprintf(&home, "/home/%s", s.rec.user) < 0))
                r = nbx_error_set(err, ENOMEM, "guest home");
        if (r >= 0 && (r = nbx_mountspec_guest_path(target, home, &t, err)) < 0)
                nbx_error_wrap(err, "TARGET");
        nbx_record_mount *m = r >= 0 ? nbx_vm_record_find_mount(&s.rec, t) : NULL;
        if (r >= 0 && !m)
                r = bad(err, "no share is mounted at %s (`nixbox status` lists the VM's shares)",
                        t);
        else if (r >= 0 && !m->hotplug)
                r = bad(err,
                        "%s is a boot share (from the configuration): it stays until `sudo nixbox "
                        "down`",
                        t);
        if (r >= 0 && !(tag = strdup(m->tag)))
                r = nbx_error_set(err, ENOMEM, "unmount");
        if (r >= 0) {
                repair(&s, tag);
                size_t i = index_of(&s, tag);
                nbx_vm_unmount_result res = {.target = strdup(s.rec.mounts[i].target),
                                             .source = strdup(s.rec.mounts[i].source)};
                nbx_ui_step(s.c.ui, "Unmounting %s", t);
                bool completed = false;
                if (!res.target || !res.source)
                        r = nbx_error_set(err, ENOMEM, "unmount");
                else
                        r = release(&s, i, force ? RELEASE_FORCE : RELEASE_NORMAL, false,
                                    &completed, err);
                if (r >= 0 && ret)
                        *ret = res;
                else
                        nbx_vm_unmount_result_done(&res);
        }
        share_done(&s);
        return r;
}

void nbx_vm_unmount_result_done(nbx_vm_unmount_result *r) {
        free(r->source);
        free(r->target);
        *r = (nbx_vm_unmount_result){0};
}
