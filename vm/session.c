/* run, shell, logs: the commands that use a running VM as its owner, and the VM's identity. */
#include "internal.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"

typedef struct session {
        nbx_vm_ctx c;
        nbx_vm_record rec;
        nbx_invoker owner;
        nbx_vm_paths owner_paths; /* the owner's state folder (root acting for a user) */
        bool have_owner_paths;
} session;

static const nbx_vm_paths *paths_of(const session *s) {
        return s->have_owner_paths ? &s->owner_paths : &s->c.paths;
}

static void session_close(session *s) {
        nbx_vm_record_done(&s->rec);
        nbx_invoker_done(&s->owner);
        if (s->have_owner_paths)
                nbx_vm_paths_done(&s->owner_paths);
        nbx_vm_ctx_close(&s->c);
}

static int session_open(session *s, const nbx_project *p, const nbx_vm_opts *o, bool running,
                        nbx_error **err) {
        *s = (session){.rec = NBX_VM_RECORD_INIT};
        int r = nbx_vm_ctx_open(&s->c, p, o, false, err);
        if (r < 0)
                return r;
        if (running)
                r = nbx_vm_load_running(&s->c, &s->rec, err);
        else if ((r = nbx_vm_record_load(s->c.paths.record, &s->rec, NULL)) < 0 ||
                 !nbx_vm_hv_alive(&s->rec))
                r = nbx_vm_not_running(p, err);
        if (r >= 0)
                r = nbx_vm_owner(&s->c, &s->rec, &s->owner, err);
        if (r >= 0 && s->owner.uid != s->c.inv.uid) {
                r = nbx_vm_paths_get(s->c.runtime_dir, p->root, s->owner.home, &s->owner_paths,
                                     err);
                s->have_owner_paths = r >= 0;
        }
        if (r < 0)
                session_close(s);
        return r;
}

/* Replace this process with ssh into the VM (through the connection master when it is there). */
static int ssh_into_vm(session *s, enum nbx_ssh_mode mode, const char *remote, nbx_error **err) {
        nbx_ssh_target t = nbx_vm_ssh_target(paths_of(s), &s->rec, &s->owner);
        t.control_path = s->c.paths.control_path;
        struct stat st;
        if (stat(t.control_path, &st) < 0 || !S_ISSOCK(st.st_mode))
                t.control_path = NULL; /* master gone: connect directly */
        return nbx_ssh_exec_replace(&t, mode, remote, err);
}

int nbx_vm_run(const nbx_project *p, const nbx_vm_opts *o, char *const *argv, size_t argc,
               nbx_error **err) {
        if (argc == 0)
                return nbx_error_setx(err, NBX_EXIT_USAGE, 0, "run: no command given");
        session s;
        int r = session_open(&s, p, o, true, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *remote = nbx_ssh_run_command(s.rec.workdir, argv, argc);
        r = remote ? ssh_into_vm(&s, NBX_SSH_BATCH, remote, err)
                   : nbx_error_set(err, ENOMEM, "run");
        session_close(&s);
        return r;
}

int nbx_vm_shell(const nbx_project *p, const nbx_vm_opts *o, nbx_error **err) {
        session s;
        int r = session_open(&s, p, o, true, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *remote = nbx_ssh_shell_command(s.rec.workdir);
        r = remote ? ssh_into_vm(&s, NBX_SSH_TTY, remote, err)
                   : nbx_error_set(err, ENOMEM, "shell");
        session_close(&s);
        return r;
}

/* The console is the guest's to write: every byte that is not printable ASCII, a newline or a
 * tab is shown as \xNN, so no escape sequence reaches the terminal. */
static int write_escaped(int out, const char *buf, size_t n) {
        char esc[4 * 4096 + 8];
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)buf[i];
                if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f))
                        esc[o++] = (char)ch;
                else if (ch != '\r')
                        o += (size_t)snprintf(esc + o, 5, "\\x%02x", ch);
                if (o > sizeof(esc) - 8 || i + 1 == n) {
                        for (size_t off = 0; off < o;) {
                                ssize_t w = write(out, esc + off, o - off);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w < 0)
                                        return -errno;
                                off += (size_t)w;
                        }
                        o = 0;
                }
        }
        return 0;
}

static int copy_new(int in, int out) {
        char buf[4096];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : 0;
                int r = write_escaped(out, buf, (size_t)n);
                if (r < 0)
                        return r;
        }
}

int nbx_vm_logs(const nbx_project *p, const nbx_vm_opts *o, bool follow, int out_fd,
                nbx_error **err) {
        session s;
        int r = session_open(&s, p, o, false, err);
        if (r < 0)
                return r;
        const char *log = paths_of(&s)->serial_log;
        _cleanup_close_ int in = -1;
        {
                /* the owner's folder: read it as the owner, so a link there cannot show root's
                 * files */
                _cleanup_fsid_ nbx_fsid fs = {0};
                if ((r = nbx_fsid_enter(&s.owner, &fs, err)) >= 0 &&
                    (in = open(log, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        r = nbx_error_set(err, errno, "open %s", log);
        }
        _cleanup_close_ int ino = r >= 0 && follow ? inotify_init1(IN_CLOEXEC | IN_NONBLOCK) : -1;
        if (ino >= 0)
                (void)inotify_add_watch(ino, log, IN_MODIFY);
        while (r >= 0) {
                if ((r = copy_new(in, out_fd)) < 0) {
                        r = r == -EPIPE ? 0 : nbx_error_set(err, -r, "copy %s", log);
                        break;
                }
                if (!follow || !nbx_vm_hv_alive(&s.rec))
                        break;
                /* woken by the log growing, or every half second to notice the VM's end */
                struct pollfd pf = {.fd = ino, .events = POLLIN};
                if (poll(&pf, 1, 500) > 0) {
                        char evbuf[4096];
                        while (read(ino, evbuf, sizeof(evbuf)) > 0)
                                ;
                }
        }
        session_close(&s);
        return r < 0 ? r : 0;
}

int nbx_vm_identity(const nbx_project *p, const nbx_vm_opts *o, char **ret_pub, nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *comment = NULL;
        const char *base = strrchr(p->root, '/');
        if ((r = nbx_vm_paths_prepare_state(&c.paths, &c.inv, err)) >= 0) {
                if (asprintf(&comment, "nixbox@%s", base && base[1] ? base + 1 : "vm") < 0)
                        r = nbx_error_set(err, ENOMEM, "identity");
                else if ((r = nbx_ssh_keys_ensure(c.paths.ssh_dir, &c.inv, comment, err)) >= 0)
                        r = nbx_ssh_key_read(c.paths.ssh_dir, NBX_SSH_IDENTITY_KEY ".pub", &c.inv,
                                             ret_pub, err);
        }
        nbx_vm_ctx_close(&c);
        return r;
}
