/* SSH into the guest: a per-project client key pair, guest host key and the VM's own identity key
 * (ssh-keygen, as the invoking user, in the project's state folder, vm/paths.h), a known_hosts that
 * pins the host key for the guest's IP (StrictHostKeyChecking=yes), one connection master per VM
 * (socket in .nixbox/run/) so `run` and `shell` start fast, and remote command strings in which
 * every argument is quoted exactly once (nbx_sh_quote).  ssh always runs as the invoking user, with
 * `-F none` so the user's own ssh config cannot change what nixbox does. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/base/error.h"
#include "../config/base/strv.h"
#include "../config/base/user.h"

#define NBX_SSH_CLIENT_KEY "id_ed25519"
#define NBX_SSH_HOST_KEY "ssh_host_ed25519_key"
#define NBX_SSH_KNOWN_HOSTS "known_hosts"
/* The VM's own identity (installed as the guest user's ~/.ssh/id_ed25519; users register its
 * public half, e.g. as a deploy key).  Stable for the project. */
#define NBX_SSH_IDENTITY_KEY "vm_identity_ed25519"

/* In ssh_dir (an existing folder of the invoker's), create what is missing of the client key
 * pair, the guest host key pair and the identity key pair (ed25519, no passphrase; ssh-keygen
 * runs as the invoker).  comment names the identity ("nixbox@NAME").  Existing keys are kept. */
int nbx_ssh_keys_ensure(const char *ssh_dir, const nbx_invoker *inv, const char *comment,
                        nbx_error **err);
/* Pin the guest host key (ssh_dir/ssh_host_ed25519_key.pub) for host in ssh_dir/known_hosts
 * (replaces the file: one line, "HOST ssh-ed25519 KEY"), as the invoker. */
int nbx_ssh_known_hosts_write(const char *ssh_dir, const char *host, const nbx_invoker *inv,
                              nbx_error **err);

/* Read key file `name` of ssh_dir as the invoker (no link followed); 16 KiB at most. */
int nbx_ssh_key_read(const char *ssh_dir, const char *name, const nbx_invoker *inv, char **ret,
                     nbx_error **err);

typedef struct nbx_ssh_target {
        const char *ssh_dir;      /* keys and known_hosts */
        const char *host;         /* guest IP */
        const char *user;         /* remote user */
        uint16_t port;            /* 0 = 22 */
        const char *control_path; /* connection master socket; NULL = none */
        uid_t uid;                /* ssh runs as this user (the invoker) */
        gid_t gid;
        /* Optional: environment of the long-lived connection master (NULL: inherited); nixbox
         * passes a minimal one so no secret of the caller's environment lives on in it. */
        char *const *master_envp;
        /* Optional: nbx_ssh_connect gives up early when this returns false (the VM died). */
        bool (*keep_waiting)(void *data);
        void *keep_waiting_data;
} nbx_ssh_target;

enum nbx_ssh_mode {
        NBX_SSH_BATCH,       /* no TTY (-T): run, scripts, mounts */
        NBX_SSH_TTY,         /* force a TTY (-t): shell */
        NBX_SSH_MASTER,      /* the connection master (-M -N) */
        NBX_SSH_MASTER_EXIT, /* ask the master to exit (-O exit) */
};

/* Longest control_path ssh accepts (sun_path minus the suffix ssh appends while binding). */
#define NBX_SSH_CONTROL_PATH_MAX 80

/* The full ssh argv for a mode; remote is the command string for BATCH/TTY (NULL: none). */
int nbx_ssh_argv(const nbx_ssh_target *t, enum nbx_ssh_mode mode, const char *remote, nbx_strv *ret,
                 nbx_error **err);

/* Remote command strings (malloc'd, NULL on ENOMEM).  workdir may be NULL (home folder).
 * run: the guest login shell runs args[0] with args[1..] exactly as given:
 *   cd 'WS' 2>/dev/null; exec sh -lc '"$@"' sh 'ARG0' 'ARG1' ... */
char *nbx_ssh_run_command(const char *workdir, char *const *args, size_t n_args);
/* shell: cd 'WS' 2>/dev/null; exec "${SHELL:-/bin/sh}" -l */
char *nbx_ssh_shell_command(const char *workdir);
/* a script arriving on stdin, run in a login shell (env available) in workdir */
char *nbx_ssh_script_command(const char *workdir);

/* Wait until host:port accepts TCP and sends an SSH banner; polls with backoff from 1 ms. */
int nbx_ssh_wait_port(const char *host, uint16_t port, uint64_t deadline_ms, nbx_error **err);

/* Start the connection master (t->control_path; when NULL, wait until a plain `ssh true`
 * succeeds), once the guest says sshd listens (its `ready` line): no port is probed first, the
 * login is the first connection.  Failures (refused, authentication while the guest still starts)
 * are retried with backoff until deadline_ms.  The master's output goes to log_fd (-1: /dev/null);
 * it runs in its own session and outlives this process.  *ret_pid: the master's PID (0 without
 * one). */
int nbx_ssh_connect(const nbx_ssh_target *t, int log_fd, uint64_t deadline_ms, pid_t *ret_pid,
                    nbx_error **err);
/* Stop the connection master (-O exit, then the PID if it is still there).  Idempotent. */
int nbx_ssh_master_stop(const nbx_ssh_target *t, pid_t pid, uint64_t start_time);

/* Run remote in the guest, streaming stdin/stdout/stderr (NBX_FD_INHERIT or fds), and return
 * the remote exit code in *ret_code (255: ssh itself failed). */
int nbx_ssh_exec(const nbx_ssh_target *t, enum nbx_ssh_mode mode, const char *remote, int stdin_fd,
                 int stdout_fd, int stderr_fd, int *ret_code, nbx_error **err);
/* Replace this process with ssh running remote in the guest (as t->uid/gid when running as root),
 * on this process's streams: its exit code is the remote one (255: ssh itself failed).  Returns
 * only on failure. */
int nbx_ssh_exec_replace(const nbx_ssh_target *t, enum nbx_ssh_mode mode, const char *remote,
                         nbx_error **err);
/* Run remote (a fixed command: values go on stdin) without a TTY, stdin from stdin_fd, stdout
 * discarded and stderr captured into *ret_stderr (malloc'd); ssh is killed at deadline_ms
 * (-ETIMEDOUT: a hung guest).  *ret_code: the remote exit code (255: ssh itself failed). */
int nbx_ssh_capture(const nbx_ssh_target *t, const char *remote, int stdin_fd, uint64_t deadline_ms,
                    int *ret_code, char **ret_stderr, nbx_error **err);
