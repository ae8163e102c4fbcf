/* Child processes: spawned with an explicit argv (never a shell string built from data), optionally
 * as another user, waited for with a deadline.  Used for nix-instantiate, dnsmasq, hypervisors,
 * virtiofsd, ssh and hooks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct nbx_spawn_opts {
        const char *cwd;     /* NULL: inherit */
        char *const *envp;   /* NULL: inherit the caller's environment */
        int stdin_fd;        /* -1: /dev/null; NBX_FD_INHERIT: inherit */
        int stdout_fd;       /* same convention */
        int stderr_fd;       /* same convention */
        const int *keep_fds; /* extra fds kept open (CLOEXEC cleared) in the child */
        size_t n_keep_fds;
        bool drop_privileges; /* switch to uid/gid below before exec (when running as root) */
        uid_t uid;
        gid_t gid;
        bool new_session;     /* setsid(): own process group, no controlling terminal */
        bool die_with_parent; /* PR_SET_PDEATHSIG SIGKILL */
        /* Optional: execute this open file (execveat with AT_EMPTY_PATH: no path is looked up or
         * followed) instead of argv[0], which is then only the name the program sees.  A
         * script's fd must be in keep_fds as well: its interpreter reads it as /dev/fd/N. */
        const int *exec_fd;
        /* Optional, for children that set up namespaces: child_setup runs in the child after the
         * streams and kept fds are in place, before privileges are dropped and argv is executed
         * (returns 0, or -errno with *ret_what naming the step); parent_setup runs in the parent
         * right after fork, before it waits for the exec (a failure kills the child). */
        int (*child_setup)(void *data, const char **ret_what);
        int (*parent_setup)(pid_t pid, void *data, nbx_error **err);
        void *setup_data;
} nbx_spawn_opts;

#define NBX_FD_INHERIT (-2)
/* Default options: inherit everything, stdin from /dev/null. */
#define NBX_SPAWN_OPTS_INIT                                                                        \
        { .stdin_fd = -1, .stdout_fd = NBX_FD_INHERIT, .stderr_fd = NBX_FD_INHERIT }

/* fork + exec argv[0], found by the PATH rule of nbx_find_program (never execvp; the checks for
 * root apply unless the child drops its privileges).  A failing exec is reported
 * through a CLOEXEC pipe, so "program not found" is an error here, not a mysterious exit 127. */
int nbx_spawn(char *const argv[], const nbx_spawn_opts *opts, pid_t *ret_pid, nbx_error **err);

/* Replace this process with argv[0] (looked up as nbx_spawn does), as opts->uid/gid with their
 * groups when opts->drop_privileges and running as root, with opts->envp (NULL: this environment)
 * and this process's streams; the other options are not used.  Returns only on failure, with the
 * error (privileges may already be dropped then). */
int nbx_exec(char *const argv[], const nbx_spawn_opts *opts, nbx_error **err);

/* Wait for pid until deadline_ms (CLOCK_MONOTONIC ms, 0 = forever).  -ETIMEDOUT when it did not
 * exit in time (the child is left running).  *ret_status is the raw wait status. */
int nbx_wait_pid(pid_t pid, uint64_t deadline_ms, int *ret_status, nbx_error **err);

/* nbx_spawn, then wait for it to exit (no deadline): *ret_code is its exit code (128+signal). */
int nbx_run(char *const argv[], const nbx_spawn_opts *opts, int *ret_code, nbx_error **err);

/* Run to completion, capturing stdout (and stderr when ret_stderr is non-NULL) into NUL-terminated
 * buffers, each capped at 16 MiB.  *ret_status is the raw wait status. */
int nbx_run_capture(char *const argv[], const nbx_spawn_opts *opts, uint64_t deadline_ms,
                    int *ret_status, char **ret_stdout, char **ret_stderr, nbx_error **err);

/* Exit code of a wait status: the code, or 128+signal. */
int nbx_status_code(int status);

/* Where programs are looked for when PATH is unset or empty. */
#define NBX_SYSTEM_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The PATH rule, in words for error messages (docs/security.md, "Programs nixbox runs"). */
#define NBX_PATH_RULE                                                                              \
        "not found in PATH (nixbox looks only in absolute PATH entries; as root only in folders "  \
        "owned by root that no one else may write, and only at programs owned by root that no "    \
        "one else may write)"
/* Find an executable by the PATH rule: only absolute PATH entries (relative and empty ones, which
 * mean the current folder, are skipped); running as root (euid 0), only entries that are folders
 * owned by root and writable by no group or other user, and only programs that are likewise
 * root's alone.  A name with a '/' must be an absolute path that passes the same checks.
 * Returns a malloc'd path or NULL. */
char *nbx_find_program(const char *name);

/* SIGTERM, wait until grace_deadline_ms, then SIGKILL and reap.  Already gone counts as done. */
int nbx_stop_pid(pid_t pid, uint64_t grace_deadline_ms);

/* Process start time (field 22 of /proc/PID/stat, in clock ticks since boot), to tell a PID that
 * was reused apart from the process we started.  0 when the process does not exist. */
uint64_t nbx_pid_start_time(pid_t pid);

/* Stop a process that is not our child (started by an earlier nixbox run): check that pid still
 * has start_time (0 = don't check), SIGTERM, wait on a pidfd until grace_deadline_ms, SIGKILL,
 * wait again.  A process already gone (or a reused PID) counts as done. */
int nbx_terminate(pid_t pid, uint64_t start_time, uint64_t grace_deadline_ms, nbx_error **err);

/* True when pid is alive and (if start_time != 0) is the same process. */
bool nbx_pid_alive(pid_t pid, uint64_t start_time);

/* The supplementary groups of uid (with gid), from the group database; at most max.  Returns
 * the count (at least 1: gid itself). */
int nbx_user_groups(uid_t uid, gid_t gid, gid_t *ret, int max);
