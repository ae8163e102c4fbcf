#include "ssh.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "creds.h"

static nbx_spawn_opts as_user(uid_t uid, gid_t gid) {
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        o.drop_privileges = true;
        o.uid = uid;
        o.gid = gid;
        return o;
}

static int keygen(const char *path, const char *comment, uid_t uid, gid_t gid, nbx_error **err) {
        _cleanup_free_ char *pub = NULL;
        if (asprintf(&pub, "%s.pub", path) < 0)
                return nbx_error_set(err, ENOMEM, "ssh key %s", path);
        if (nbx_is_file(path) && nbx_is_file(pub))
                return 0;
        /* half there (interrupted earlier): start over */
        (void)unlink(path);
        (void)unlink(pub);
        char *argv[] = {"ssh-keygen",    "-q", "-t",         "ed25519", "-N", "", "-C",
                        (char *)comment, "-f", (char *)path, NULL};
        nbx_spawn_opts o = as_user(uid, gid);
        int status = 0;
        _cleanup_free_ char *out = NULL, *errout = NULL;
        int r = nbx_run_capture(argv, &o, nbx_deadline_in(30000), &status, &out, &errout, err);
        if (r < 0)
                return nbx_error_wrap(err, "generate SSH key %s", path);
        if (nbx_status_code(status) != 0 || !nbx_is_file(path) || !nbx_is_file(pub))
                return nbx_error_set(err, EIO, "ssh-keygen failed for %s (exit %d)", path,
                                     nbx_status_code(status));
        return 0;
}

int nbx_ssh_keys_ensure(const char *ssh_dir, const nbx_invoker *inv, const char *comment,
                        nbx_error **err) {
        _cleanup_free_ char *client = nbx_path_join(ssh_dir, NBX_SSH_CLIENT_KEY);
        _cleanup_free_ char *host = nbx_path_join(ssh_dir, NBX_SSH_HOST_KEY);
        _cleanup_free_ char *ident = nbx_path_join(ssh_dir, NBX_SSH_IDENTITY_KEY);
        if (!client || !host || !ident)
                return nbx_error_set(err, ENOMEM, "ssh keys");
        int r;
        if ((r = keygen(client, "nixbox-client", inv->uid, inv->gid, err)) < 0 ||
            (r = keygen(host, "nixbox-guest", inv->uid, inv->gid, err)) < 0)
                return r;
        return keygen(ident, comment, inv->uid, inv->gid, err);
}

int nbx_ssh_key_read(const char *ssh_dir, const char *name, const nbx_invoker *inv, char **ret,
                     nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(inv, &fs, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open(ssh_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return nbx_error_set(err, errno, "open %s", ssh_dir);
        _cleanup_close_ int fd = nbx_open_beneath(dfd, name, O_RDONLY, 0);
        if (fd < 0)
                return nbx_error_set(err, -fd, "read %s/%s", ssh_dir, name);
        return nbx_read_fd(fd, name, 16384, ret, NULL, err);
}

int nbx_ssh_known_hosts_write(const char *ssh_dir, const char *host, const nbx_invoker *inv,
                              nbx_error **err) {
        _cleanup_free_ char *pub = NULL;
        int r = nbx_ssh_key_read(ssh_dir, NBX_SSH_HOST_KEY ".pub", inv, &pub, err);
        if (r < 0)
                return r;
        /* "ssh-ed25519 BASE64 comment": keep type and key */
        char type[32], key[1024];
        if (sscanf(pub, "%31s %1023s", type, key) != 2 || strcmp(type, "ssh-ed25519") != 0)
                return nbx_error_set(err, EINVAL, "%s/%s.pub: not an ed25519 public key", ssh_dir,
                                     NBX_SSH_HOST_KEY);
        _cleanup_free_ char *line = NULL;
        if (asprintf(&line, "%s %s %s\n", host, type, key) < 0)
                return nbx_error_set(err, ENOMEM, "known_hosts");
        _cleanup_free_ char *kh = nbx_path_join(ssh_dir, NBX_SSH_KNOWN_HOSTS);
        if (!kh)
                return nbx_error_set(err, ENOMEM, "known_hosts");
        _cleanup_fsid_ nbx_fsid fs = {0};
        if ((r = nbx_fsid_enter(inv, &fs, err)) < 0)
                return r;
        return nbx_write_file(kh, line, strlen(line), 0600, err);
}

int nbx_ssh_argv(const nbx_ssh_target *t, enum nbx_ssh_mode mode, const char *remote, nbx_strv *ret,
                 nbx_error **err) {
        if (!t->ssh_dir || !t->host || !t->user)
                return nbx_error_set(err, EINVAL, "ssh: incomplete target");
        if (t->control_path && strlen(t->control_path) > NBX_SSH_CONTROL_PATH_MAX)
                return nbx_error_set(err, ENAMETOOLONG, "ssh control socket path %s",
                                     t->control_path);
        if ((mode == NBX_SSH_MASTER || mode == NBX_SSH_MASTER_EXIT) && !t->control_path)
                return nbx_error_set(err, EINVAL, "ssh: no control socket for the master");
        nbx_strv v = {0};
        int r = 0;
#define PUSH(s) (r = r < 0 ? r : nbx_strv_push(&v, (s)))
#define PUSHF(...) (r = r < 0 ? r : nbx_strv_pushf(&v, __VA_ARGS__))
        PUSH("ssh");
        PUSH("-F");
        PUSH("none");
        PUSH("-i");
        PUSHF("%s/%s", t->ssh_dir, NBX_SSH_CLIENT_KEY);
        PUSH("-o");
        PUSH("IdentitiesOnly=yes");
        PUSH("-o");
        PUSH("IdentityAgent=none");
        PUSH("-o");
        PUSHF("UserKnownHostsFile=%s/%s", t->ssh_dir, NBX_SSH_KNOWN_HOSTS);
        PUSH("-o");
        PUSH("GlobalKnownHostsFile=/dev/null");
        PUSH("-o");
        PUSH("StrictHostKeyChecking=yes");
        PUSH("-o");
        PUSH("HostKeyAlgorithms=ssh-ed25519");
        PUSH("-o");
        PUSH("UpdateHostKeys=no");
        PUSH("-o");
        PUSH("BatchMode=yes");
        PUSH("-o");
        PUSH("LogLevel=ERROR");
        PUSH("-o");
        PUSH("ConnectTimeout=10");
        PUSH("-o");
        PUSH("ServerAliveInterval=15");
        if (t->control_path) {
                PUSH("-o");
                PUSHF("ControlPath=%s", t->control_path);
        }
        switch (mode) {
        case NBX_SSH_MASTER:
                PUSH("-o");
                PUSH("ControlMaster=yes");
                PUSH("-o");
                PUSH("ControlPersist=no");
                PUSH("-N");
                break;
        case NBX_SSH_MASTER_EXIT:
                PUSH("-O");
                PUSH("exit");
                break;
        case NBX_SSH_BATCH:
        case NBX_SSH_TTY:
                /* use the master when it is there, else connect directly */
                PUSH("-o");
                PUSH("ControlMaster=no");
                PUSH(mode == NBX_SSH_TTY ? "-t" : "-T");
                break;
        }
        if (t->port && t->port != 22) {
                PUSH("-p");
                PUSHF("%u", (unsigned)t->port);
        }
        PUSH("-l");
        PUSH(t->user);
        PUSH(t->host);
        if (remote && (mode == NBX_SSH_BATCH || mode == NBX_SSH_TTY)) {
                PUSH("--");
                PUSH(remote);
        }
#undef PUSH
#undef PUSHF
        if (r < 0) {
                nbx_strv_clear(&v);
                return nbx_error_set(err, ENOMEM, "ssh argv");
        }
        *ret = v;
        return 0;
}

/* "cd 'WS' 2>/dev/null; " or "" */
static int cd_prefix(FILE *f, const char *workdir) {
        if (!workdir || !*workdir)
                return 0;
        _cleanup_free_ char *q = nbx_sh_quote(workdir);
        if (!q)
                return -ENOMEM;
        fprintf(f, "cd %s 2>/dev/null; ", q);
        return 0;
}

/* Close the memstream (which is what sets *buf) and hand the string out. */
static char *finish(FILE *f, char **buf, int r) {
        if (fclose(f) != 0 || r < 0) {
                free(*buf);
                return NULL;
        }
        return *buf;
}

char *nbx_ssh_run_command(const char *workdir, char *const *args, size_t n_args) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        int r = cd_prefix(f, workdir);
        fputs("exec sh -lc '\"$@\"' sh", f);
        for (size_t i = 0; r >= 0 && i < n_args; i++) {
                char *q = nbx_sh_quote(args[i]);
                if (!q) {
                        r = -ENOMEM;
                        break;
                }
                fprintf(f, " %s", q);
                free(q);
        }
        return finish(f, &buf, r);
}

char *nbx_ssh_shell_command(const char *workdir) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        int r = cd_prefix(f, workdir);
        fputs("exec \"${SHELL:-/bin/sh}\" -l", f);
        return finish(f, &buf, r);
}

char *nbx_ssh_script_command(const char *workdir) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        int r = cd_prefix(f, workdir);
        /* The script arrives on stdin; stored in the guest's /tmp so its #! line is honoured. */
        fputs("exec sh -lc 'f=$(mktemp) || exit 1; cat >\"$f\" && chmod 700 \"$f\" && \"$f\"; "
              "rc=$?; rm -f \"$f\"; exit $rc'",
              f);
        return finish(f, &buf, r);
}

/* One non-blocking connect + banner read attempt, bounded by the deadline.  0 when an SSH banner
 * arrived. */
/* A SYN sent before the guest's stack answers is only retried by the kernel after 1 s, then 2 s:
 * the connect phase gets its own short window (a fresh SYN per attempt), the banner the rest. */
#define SSH_CONNECT_ATTEMPT_MS 150

static int try_banner(const struct sockaddr_in *sa, uint64_t deadline_ms) {
        uint64_t connect_deadline = nbx_now_ms() + SSH_CONNECT_ATTEMPT_MS;
        bool connected = false;
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS)
                return -errno;
        char buf[8];
        size_t got = 0;
        for (;;) {
                uint64_t now = nbx_now_ms();
                uint64_t until = connected || connect_deadline > deadline_ms ? deadline_ms
                                                                             : connect_deadline;
                if (now >= until)
                        return -ETIMEDOUT;
                uint64_t wait = until - now;
                struct pollfd p = {.fd = fd, .events = got == 0 ? POLLOUT | POLLIN : POLLIN};
                int n = poll(&p, 1, (int)(wait > 1000 ? 1000 : wait));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        continue;
                if (p.revents & (POLLERR | POLLHUP) && !(p.revents & POLLIN)) {
                        int soerr = 0;
                        socklen_t sl = sizeof(soerr);
                        (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                        return -(soerr ? soerr : ECONNRESET);
                }
                if (!(p.revents & POLLIN)) {
                        connected = true; /* wait for the banner */
                        continue;
                }
                connected = true;
                ssize_t r = read(fd, buf + got, 4 - got);
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                if (r <= 0)
                        return r < 0 ? -errno : -ECONNRESET;
                got += (size_t)r;
                if (got >= 4)
                        return memcmp(buf, "SSH-", 4) == 0 ? 0 : -EPROTO;
        }
}

static int wait_port(const nbx_ssh_target *t, const char *host, uint16_t port, uint64_t deadline_ms,
                     nbx_error **err);

int nbx_ssh_wait_port(const char *host, uint16_t port, uint64_t deadline_ms, nbx_error **err) {
        return wait_port(NULL, host, port, deadline_ms, err);
}

static bool gave_up(const nbx_ssh_target *t) {
        return t && t->keep_waiting && !t->keep_waiting(t->keep_waiting_data);
}

static int wait_port(const nbx_ssh_target *t, const char *host, uint16_t port, uint64_t deadline_ms,
                     nbx_error **err) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                return nbx_error_set(err, EINVAL, "ssh: bad address %s", host);
        nbx_backoff b = NBX_BACKOFF_INIT;
        b.max_us = 250000;
        int last = 0;
        for (;;) {
                /* each attempt is bounded so a dead VM is noticed */
                uint64_t attempt = nbx_now_ms() + 2000;
                last = try_banner(&sa, attempt < deadline_ms ? attempt : deadline_ms);
                if (last == 0)
                        return 0;
                if (gave_up(t))
                        return nbx_error_set(err, ECONNABORTED,
                                             "stopped waiting for SSH on %s: the VM is gone", host);
                if (!nbx_backoff_sleep(&b, deadline_ms))
                        break;
        }
        return nbx_error_set(err, ETIMEDOUT, "SSH on %s:%u did not answer in time (last: %s)", host,
                             (unsigned)port, strerror(-last));
}

static bool socket_exists(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Watch the control socket's folder for the socket ssh creates once it is logged in (it binds a
 * temporary name and links it to the real one): an inotify fd, or -1 when that cannot be had. */
static int watch_control_dir(const char *control_path) {
        _cleanup_free_ char *dir = strdup(control_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!slash)
                return -1;
        *slash = '\0';
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd >= 0 && inotify_add_watch(fd, dir[0] ? dir : "/", IN_CREATE | IN_MOVED_TO) < 0) {
                close(fd);
                fd = -1;
        }
        return fd;
}

/* Start the master; 0 when its control socket appeared (= authenticated), -EAGAIN when it exited
 * (guest not ready, auth refused), -ETIMEDOUT at the deadline.  Woken by the socket's creation and
 * by the master's exit (inotify, pidfd), not by polling; every 100 ms it looks again all the same
 * (where pidfds are not available, the exit is noticed then). */
static int master_try(const nbx_ssh_target *t, int log_fd, uint64_t deadline_ms, pid_t *ret_pid,
                      nbx_error **err) {
        _cleanup_strv_ nbx_strv argv = {0};
        int r = nbx_ssh_argv(t, NBX_SSH_MASTER, NULL, &argv, err);
        if (r < 0)
                return r;
        (void)unlink(t->control_path);
        _cleanup_close_ int ino = watch_control_dir(t->control_path);
        nbx_spawn_opts o = as_user(t->uid, t->gid);
        o.new_session = true;
        o.envp = t->master_envp;
        o.stdout_fd = log_fd;
        o.stderr_fd = log_fd;
        pid_t pid;
        if ((r = nbx_spawn(argv.v, &o, &pid, err)) < 0)
                return r;
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        for (;;) {
                if (socket_exists(t->control_path)) {
                        *ret_pid = pid;
                        return 0;
                }
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid)
                        return -EAGAIN;
                uint64_t now = nbx_now_ms();
                if (now >= deadline_ms) {
                        (void)nbx_stop_pid(pid, nbx_deadline_in(1000));
                        return -ETIMEDOUT;
                }
                struct pollfd p[2] = {{.fd = ino, .events = POLLIN},
                                      {.fd = pidfd, .events = POLLIN}};
                uint64_t wait = deadline_ms - now < 100 ? deadline_ms - now : 100;
                if (poll(p, 2, (int)wait) > 0 && ino >= 0) {
                        char buf[4096];
                        while (read(ino, buf, sizeof(buf)) > 0)
                                ;
                }
        }
}

static int plain_try(const nbx_ssh_target *t, int log_fd, uint64_t deadline_ms, nbx_error **err) {
        _cleanup_strv_ nbx_strv argv = {0};
        int r = nbx_ssh_argv(t, NBX_SSH_BATCH, "true", &argv, err);
        if (r < 0)
                return r;
        nbx_spawn_opts o = as_user(t->uid, t->gid);
        o.stdout_fd = log_fd;
        o.stderr_fd = log_fd;
        pid_t pid;
        if ((r = nbx_spawn(argv.v, &o, &pid, err)) < 0)
                return r;
        int status = 0;
        r = nbx_wait_pid(pid, deadline_ms, &status, NULL);
        if (r == -ETIMEDOUT) {
                (void)nbx_stop_pid(pid, nbx_deadline_in(1000));
                return -ETIMEDOUT;
        }
        return r == 0 && nbx_status_code(status) == 0 ? 0 : -EAGAIN;
}

int nbx_ssh_connect(const nbx_ssh_target *t, int log_fd, uint64_t deadline_ms, pid_t *ret_pid,
                    nbx_error **err) {
        int r;
        nbx_backoff b = NBX_BACKOFF_INIT;
        b.max_us = 500000;
        unsigned attempts = 0;
        for (;;) {
                pid_t pid = 0;
                attempts++;
                r = t->control_path ? master_try(t, log_fd, deadline_ms, &pid, err)
                                    : plain_try(t, log_fd, deadline_ms, err);
                if (r == 0) {
                        *ret_pid = pid;
                        return 0;
                }
                if (r != -EAGAIN && r != -ETIMEDOUT)
                        return r;
                if (gave_up(t))
                        return nbx_error_set(err, ECONNABORTED,
                                             "stopped waiting for SSH on %s: the VM is gone",
                                             t->host);
                if (r == -ETIMEDOUT || !nbx_backoff_sleep(&b, deadline_ms))
                        return nbx_error_set(err, ETIMEDOUT,
                                             "SSH login to %s@%s failed (%u attempts): host key "
                                             "or authorized key not accepted in time",
                                             t->user, t->host, attempts);
        }
}

int nbx_ssh_master_stop(const nbx_ssh_target *t, pid_t pid, uint64_t start_time) {
        if (t->control_path && socket_exists(t->control_path)) {
                _cleanup_strv_ nbx_strv argv = {0};
                if (nbx_ssh_argv(t, NBX_SSH_MASTER_EXIT, NULL, &argv, NULL) == 0) {
                        nbx_spawn_opts o = as_user(t->uid, t->gid);
                        o.stdout_fd = -1;
                        o.stderr_fd = -1;
                        int status;
                        (void)nbx_run_capture(argv.v, &o, nbx_deadline_in(5000), &status, NULL,
                                              NULL, NULL);
                }
        }
        if (pid > 0)
                (void)nbx_terminate(pid, start_time, nbx_deadline_in(2000), NULL);
        if (t->control_path)
                (void)unlink(t->control_path);
        return 0;
}

int nbx_ssh_exec(const nbx_ssh_target *t, enum nbx_ssh_mode mode, const char *remote, int stdin_fd,
                 int stdout_fd, int stderr_fd, int *ret_code, nbx_error **err) {
        _cleanup_strv_ nbx_strv argv = {0};
        int r = nbx_ssh_argv(t, mode, remote, &argv, err);
        if (r < 0)
                return r;
        nbx_spawn_opts o = as_user(t->uid, t->gid);
        o.stdin_fd = stdin_fd;
        o.stdout_fd = stdout_fd;
        o.stderr_fd = stderr_fd;
        pid_t pid;
        if ((r = nbx_spawn(argv.v, &o, &pid, err)) < 0)
                return r;
        int status = 0;
        if ((r = nbx_wait_pid(pid, 0, &status, err)) < 0)
                return r;
        *ret_code = nbx_status_code(status);
        return 0;
}

int nbx_ssh_exec_replace(const nbx_ssh_target *t, enum nbx_ssh_mode mode, const char *remote,
                         nbx_error **err) {
        _cleanup_strv_ nbx_strv argv = {0};
        int r = nbx_ssh_argv(t, mode, remote, &argv, err);
        if (r < 0)
                return r;
        nbx_spawn_opts o = as_user(t->uid, t->gid);
        return nbx_exec(argv.v, &o, err);
}

int nbx_ssh_capture(const nbx_ssh_target *t, const char *remote, int stdin_fd, uint64_t deadline_ms,
                    int *ret_code, char **ret_stderr, nbx_error **err) {
        _cleanup_strv_ nbx_strv argv = {0};
        int r = nbx_ssh_argv(t, NBX_SSH_BATCH, remote, &argv, err);
        if (r < 0)
                return r;
        nbx_spawn_opts o = as_user(t->uid, t->gid);
        o.stdin_fd = stdin_fd;
        int status = 0;
        _cleanup_free_ char *out = NULL;
        if ((r = nbx_run_capture(argv.v, &o, deadline_ms, &status, &out, ret_stderr, err)) < 0)
                return r;
        *ret_code = nbx_status_code(status);
        return 0;
}
