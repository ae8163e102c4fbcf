#include "proc.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timeutil.h"

extern char **environ;

#define CAPTURE_MAX (16u << 20)

static int setup_fd(int fd, int target) {
        if (fd == NBX_FD_INHERIT)
                return 0;
        if (fd == -1) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0)
                        return -1;
                if (dup2(null, target) < 0)
                        return -1;
                close(null);
                return 0;
        }
        if (fd == target) /* dup2 would keep CLOEXEC */
                return fcntl(fd, F_SETFD, 0);
        return dup2(fd, target) < 0 ? -1 : 0;
}

static __attribute__((noreturn)) void child_fail(int report_fd, const char *what) {
        int e = errno;
        char buf[128];
        int n = snprintf(buf, sizeof(buf), "%d %s", e, what);
        if (n > 0)
                (void)!write(report_fd, buf, (size_t)n);
        _exit(127);
}

#define MAX_GROUPS 64

static char *find_program(const char *name, bool as_root);

int nbx_user_groups(uid_t uid, gid_t gid, gid_t *ret, int max) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        int n = max;
        if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res ||
            getgrouplist(pw.pw_name, gid, ret, &n) < 0 || n < 1) {
                ret[0] = gid; /* unknown user, or more groups than max: the safe side */
                return 1;
        }
        return n;
}

/* What a program nixbox starts begins with: no blocked signal, and the dispositions a caller may
 * have set while it waits (as system() does) back to their defaults. */
static void signals_default(void) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
}

/* As root: become opts->uid/gid with the given supplementary groups (-errno on failure). */
static int become_user(const nbx_spawn_opts *o, const gid_t *groups, int n_groups) {
        if (setgroups((size_t)n_groups, groups) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
            setresuid(o->uid, o->uid, o->uid) < 0)
                return -errno;
        return 0;
}

static __attribute__((noreturn)) void child_exec(const char *prog, char *const argv[],
                                                 const nbx_spawn_opts *o, const gid_t *groups,
                                                 int n_groups, int report_fd) {
        signals_default();
        if (o->die_with_parent)
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (o->new_session && setsid() < 0)
                child_fail(report_fd, "setsid");
        if (setup_fd(o->stdin_fd, 0) < 0 || setup_fd(o->stdout_fd, 1) < 0 ||
            setup_fd(o->stderr_fd, 2) < 0)
                child_fail(report_fd, "redirect standard streams");
        for (size_t i = 0; i < o->n_keep_fds; i++)
                if (fcntl(o->keep_fds[i], F_SETFD, 0) < 0)
                        child_fail(report_fd, "keep file descriptor");
        if (o->cwd && chdir(o->cwd) < 0)
                child_fail(report_fd, "change directory");
        if (o->child_setup) {
                const char *what = "set up the child";
                int r = o->child_setup(o->setup_data, &what);
                if (r < 0) {
                        errno = -r;
                        child_fail(report_fd, what);
                }
        }
        if (o->drop_privileges && geteuid() == 0 && become_user(o, groups, n_groups) < 0)
                child_fail(report_fd, "drop privileges");
        if (o->exec_fd)
                syscall(SYS_execveat, *o->exec_fd, "", argv, o->envp ? o->envp : environ,
                        AT_EMPTY_PATH);
        else
                execve(prog, argv, o->envp ? o->envp : environ);
        child_fail(report_fd, "execute");
}

int nbx_spawn(char *const argv[], const nbx_spawn_opts *opts, pid_t *ret_pid, nbx_error **err) {
        nbx_spawn_opts defaults = NBX_SPAWN_OPTS_INIT;
        const nbx_spawn_opts *o = opts ? opts : &defaults;
        int report[2];

        if (!argv || !argv[0])
                return nbx_error_set(err, EINVAL, "spawn: empty command");
        /* the program is found here, by nixbox's PATH rule, never by execvp in the child; a
         * program given as an open file (exec_fd) was checked by whoever opened it */
        _cleanup_free_ char *prog =
                o->exec_fd ? strdup(argv[0])
                           : find_program(argv[0], geteuid() == 0 && !o->drop_privileges);
        if (!prog)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT, "cannot run %s: %s", argv[0],
                                      !strchr(argv[0], '/') ? NBX_PATH_RULE
                                      : argv[0][0] != '/'
                                              ? "a relative path (nixbox runs programs by "
                                                "absolute path only)"
                                              : "not an executable file (as root: one owned by "
                                                "root in a folder of root's that no one else may "
                                                "write)");
        /* the group database is read here, not in the child after fork */
        gid_t groups[MAX_GROUPS];
        int n_groups = 0;
        if (o->drop_privileges && geteuid() == 0)
                n_groups = nbx_user_groups(o->uid, o->gid, groups, MAX_GROUPS);
        if (pipe2(report, O_CLOEXEC) < 0)
                return nbx_error_set(err, errno, "spawn %s: pipe", argv[0]);

        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(report[0]);
                close(report[1]);
                return nbx_error_set(err, e, "spawn %s: fork", argv[0]);
        }
        if (pid == 0) {
                close(report[0]);
                child_exec(prog, argv, o, groups, n_groups, report[1]);
        }
        close(report[1]);
        if (o->parent_setup) {
                int r = o->parent_setup(pid, o->setup_data, err);
                if (r < 0) {
                        close(report[0]);
                        (void)kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        return nbx_error_wrap(err, "spawn %s", argv[0]);
                }
        }

        char buf[128] = {0};
        ssize_t n;
        do
                n = read(report[0], buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        close(report[0]);
        if (n > 0) {
                int e = atoi(buf);
                const char *what = strchr(buf, ' ');
                (void)waitpid(pid, NULL, 0);
                return nbx_error_set(err, e ? e : EIO, "cannot run %s (%s)", argv[0],
                                     what ? what + 1 : "exec");
        }
        *ret_pid = pid;
        return 0;
}

int nbx_wait_pid(pid_t pid, uint64_t deadline_ms, int *ret_status, nbx_error **err) {
        nbx_backoff b = NBX_BACKOFF_INIT;
        for (;;) {
                int status;
                pid_t r = waitpid(pid, &status, deadline_ms ? WNOHANG : 0);
                if (r == pid) {
                        if (ret_status)
                                *ret_status = status;
                        return 0;
                }
                if (r < 0 && errno != EINTR)
                        return nbx_error_set(err, errno, "wait for process %d", (int)pid);
                if (r == 0 && nbx_now_ms() >= deadline_ms)
                        return nbx_error_set(err, ETIMEDOUT, "process %d did not exit in time",
                                             (int)pid);
                if (r == 0)
                        nbx_backoff_sleep(&b, deadline_ms);
        }
}

/* Read both pipes until EOF; returns 0 or -errno. */
static int drain(int out_fd, int err_fd, char **out, size_t *out_len, char **errb, size_t *err_len,
                 uint64_t deadline_ms) {
        struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
        char **bufs[2] = {out, errb};
        size_t *lens[2] = {out_len, err_len};
        size_t caps[2] = {0, 0};

        while (p[0].fd >= 0 || p[1].fd >= 0) {
                int timeout = -1;
                if (deadline_ms) {
                        uint64_t now = nbx_now_ms();
                        if (now >= deadline_ms)
                                return -ETIMEDOUT;
                        timeout = (int)(deadline_ms - now);
                }
                int r = poll(p, 2, timeout);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                for (int i = 0; i < 2; i++) {
                        if (p[i].fd < 0 || !p[i].revents)
                                continue;
                        if (*lens[i] + 4096 + 1 > caps[i]) {
                                size_t cap = caps[i] ? caps[i] * 2 : 8192;
                                char *nb = realloc(*bufs[i], cap);
                                if (!nb)
                                        return -ENOMEM;
                                *bufs[i] = nb;
                                caps[i] = cap;
                                nb[*lens[i]] = '\0'; /* terminated even if EOF comes next */
                        }
                        ssize_t n = read(p[i].fd, *bufs[i] + *lens[i], 4096);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                p[i].fd = -1;
                                continue;
                        }
                        if (*lens[i] + (size_t)n > CAPTURE_MAX)
                                return -EFBIG;
                        *lens[i] += (size_t)n;
                        (*bufs[i])[*lens[i]] = '\0';
                }
        }
        return 0;
}

int nbx_run_capture(char *const argv[], const nbx_spawn_opts *opts, uint64_t deadline_ms,
                    int *ret_status, char **ret_stdout, char **ret_stderr, nbx_error **err) {
        nbx_spawn_opts o = opts ? *opts : (nbx_spawn_opts)NBX_SPAWN_OPTS_INIT;
        _cleanup_close_ int out_r = -1, out_w = -1, err_r = -1, err_w = -1;
        int fds[2];

        if (pipe2(fds, O_CLOEXEC) < 0)
                return nbx_error_set(err, errno, "run %s: pipe", argv[0]);
        out_r = fds[0], out_w = fds[1];
        if (ret_stderr) {
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return nbx_error_set(err, errno, "run %s: pipe", argv[0]);
                err_r = fds[0], err_w = fds[1];
                o.stderr_fd = err_w;
        }
        o.stdout_fd = out_w;

        pid_t pid;
        int r = nbx_spawn(argv, &o, &pid, err);
        if (r < 0)
                return r;
        nbx_closep(&out_w), out_w = -1;
        nbx_closep(&err_w), err_w = -1;

        _cleanup_free_ char *out = NULL, *errb = NULL;
        size_t out_len = 0, err_len = 0;
        r = drain(out_r, err_r, &out, &out_len, &errb, &err_len, deadline_ms);
        if (r < 0) {
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return nbx_error_set(err, r, "run %s", argv[0]);
        }
        int status;
        r = nbx_wait_pid(pid, 0, &status, err);
        if (r < 0)
                return r;
        if (ret_status)
                *ret_status = status;
        if (ret_stdout)
                *ret_stdout = out ? TAKE_PTR(out) : strdup("");
        if (ret_stderr)
                *ret_stderr = errb ? TAKE_PTR(errb) : strdup("");
        return 0;
}

int nbx_status_code(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 1;
}

/* Whether root may run what lies at path (a folder or a program): owned by root and writable by
 * nobody else, or any other user could put a program there that root would run. */
static bool root_trusts(const char *path, bool want_dir) {
        struct stat st;
        if (stat(path, &st) < 0 || st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
                return false;
        return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

static bool usable(const char *path, bool as_root) {
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                return false;
        if (!as_root)
                return true;
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!slash)
                return false;
        *slash = '\0';
        return root_trusts(path, false) && root_trusts(dir[0] ? dir : "/", true);
}

static char *find_program(const char *name, bool as_root) {
        if (strchr(name, '/'))
                return name[0] == '/' && usable(name, as_root) ? strdup(name) : NULL;
        const char *path = getenv("PATH");
        if (!path || !*path)
                path = NBX_SYSTEM_PATH;
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return NULL;
        /* empty entries (the current folder) fall out with the relative ones */
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                if (dir[0] != '/' || (as_root && !root_trusts(dir, true)))
                        continue;
                char *full = NULL;
                if (asprintf(&full, "%s/%s", dir, name) < 0)
                        return NULL;
                if (usable(full, as_root))
                        return full;
                free(full);
        }
        return NULL;
}

char *nbx_find_program(const char *name) {
        return find_program(name, geteuid() == 0);
}

int nbx_stop_pid(pid_t pid, uint64_t grace_deadline_ms) {
        if (pid <= 0)
                return 0;
        if (kill(pid, SIGTERM) < 0 && errno == ESRCH)
                return 0;
        int r = nbx_wait_pid(pid, grace_deadline_ms, NULL, NULL);
        if (r == 0 || r == -ECHILD)
                return 0;
        (void)kill(pid, SIGKILL);
        r = nbx_wait_pid(pid, 0, NULL, NULL);
        return r == -ECHILD ? 0 : r;
}

uint64_t nbx_pid_start_time(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        /* comm may hold spaces and parentheses: fields restart after the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        p++;
        /* after ')' comes field 3 (state); start time is field 22 */
        for (int field = 3; field < 22 && p; field++)
                p = strchr(p + 1, ' ');
        return p ? strtoull(p + 1, NULL, 10) : 0;
}

#include <sys/syscall.h>

bool nbx_pid_alive(pid_t pid, uint64_t start_time) {
        if (pid <= 0)
                return false;
        uint64_t st = nbx_pid_start_time(pid);
        if (st == 0)
                return false;
        if (start_time && st != start_time)
                return false;
        /* a zombie has a stat entry but is gone for our purposes */
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (n <= 0)
                return false;
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        return !(p && p[1] == ' ' && p[2] == 'Z');
}

static int wait_pidfd(int pidfd, pid_t pid, uint64_t deadline_ms) {
        for (;;) {
                if (waitpid(pid, NULL, WNOHANG) == pid) /* reap when it happens to be our child */
                        return 0;
                uint64_t now = nbx_now_ms();
                if (now >= deadline_ms)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                int r = poll(&p, 1, (int)(deadline_ms - now));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0) {
                        (void)waitpid(pid, NULL, WNOHANG);
                        return 0;
                }
        }
}

int nbx_terminate(pid_t pid, uint64_t start_time, uint64_t grace_deadline_ms, nbx_error **err) {
        if (!nbx_pid_alive(pid, start_time))
                return 0;
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                return errno == ESRCH ? 0 : nbx_error_set(err, errno, "pidfd_open(%d)", (int)pid);
        /* re-check after taking the pidfd: from here on the pid cannot be recycled under us */
        if (!nbx_pid_alive(pid, start_time))
                return 0;
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
                return errno == ESRCH ? 0
                                      : nbx_error_set(err, errno, "signal process %d", (int)pid);
        if (wait_pidfd(pidfd, pid, grace_deadline_ms) == 0)
                return 0;
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return nbx_error_set(err, errno, "kill process %d", (int)pid);
        if (wait_pidfd(pidfd, pid, nbx_now_ms() + 5000) < 0)
                return nbx_error_set(err, ETIMEDOUT, "process %d survived SIGKILL", (int)pid);
        return 0;
}

int nbx_exec(char *const argv[], const nbx_spawn_opts *o, nbx_error **err) {
        if (!argv || !argv[0])
                return nbx_error_set(err, EINVAL, "exec: empty command");
        if (o->drop_privileges && geteuid() == 0) {
                gid_t groups[MAX_GROUPS];
                int n = nbx_user_groups(o->uid, o->gid, groups, MAX_GROUPS);
                int r = become_user(o, groups, n);
                if (r < 0)
                        return nbx_error_set(err, r, "run %s: drop privileges", argv[0]);
        }
        /* found as the user it runs as */
        _cleanup_free_ char *prog = nbx_find_program(argv[0]);
        if (!prog)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT, "cannot run %s: not found",
                                      argv[0]);
        signals_default();
        execve(prog, argv, o->envp ? o->envp : environ);
        return nbx_error_set(err, errno, "run %s", prog);
}

int nbx_run(char *const argv[], const nbx_spawn_opts *opts, int *ret_code, nbx_error **err) {
        pid_t pid;
        int status = 0;
        int r = nbx_spawn(argv, opts, &pid, err);
        if (r >= 0)
                r = nbx_wait_pid(pid, 0, &status, err);
        if (r < 0)
                return r;
        *ret_code = nbx_status_code(status);
        return 0;
}
