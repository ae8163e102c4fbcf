/* The credentials disk: a small POSIX ustar archive (meta, authorized_keys, ssh_host_ed25519_key,
 * environment) built in memory, placed in a sealed memfd and handed to the hypervisor as an
 * inherited file descriptor, named /proc/self/fd/N in the disk path.  Secrets therefore never
 * touch the host's disk and never appear in any host process's argv or environment.  The guest
 * side of this channel is described in docs/guest-contract.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/error.h"

#define NBX_CREDS_SERIAL "nixbox-creds"
/* Hard cap on the archive (the guest reads it whole into RAM). */
#define NBX_CREDS_MAX (4u << 20)

/* Quote s for a POSIX shell: '…' with every ' written as '\''.  The one quoting function used
 * for the guest environment file and for every argument sent to a remote shell over SSH.
 * Returns a malloc'd string or NULL on ENOMEM. */
char *nbx_sh_quote(const char *s);

/* An in-memory ustar archive. */
typedef struct nbx_ustar {
        uint8_t *data;
        size_t len;
        size_t cap;
} nbx_ustar;

/* Append a regular file (name < 100 bytes, no "..", mode 0..07777, uid/gid 0) to the archive. */
int nbx_ustar_add(nbx_ustar *t, const char *name, mode_t mode, const void *data, size_t len,
                  nbx_error **err);
/* Append the end-of-archive marker (two zero blocks). */
int nbx_ustar_finish(nbx_ustar *t, nbx_error **err);
/* Wipe (explicit_bzero) and free the buffer. */
void nbx_ustar_done(nbx_ustar *t);

/* The environment file: one `export NAME='value'` line per variable.  Names must match
 * [A-Za-z_][A-Za-z0-9_]*; at most NBX_MAX_ENV variables. */
int nbx_creds_env_render(const nbx_env_var *env, size_t n_env, char **ret, nbx_error **err);

/* A boot mount for the credentials member `mounts` (docs/guest-contract.md, section 5). */
typedef struct nbx_creds_mount {
        const char *type;   /* "virtiofs" | "tmpfs" */
        const char *source; /* virtiofs tag, or "tmpfs" */
        const char *target; /* absolute; no TAB, newline or ".." (refused otherwise) */
        bool readonly;
} nbx_creds_mount;

typedef struct nbx_creds {
        const char *user; /* guest user name */
        uid_t uid;
        gid_t gid;
        const char *hostname;        /* the VM name */
        const char *authorized_keys; /* client public key line(s) */
        const char *host_key;        /* the guest's OpenSSH ed25519 private key */
        const nbx_env_var *env;
        size_t n_env;
        const char *identity;     /* the VM's own OpenSSH private key (NULL: none) */
        const char *identity_pub; /* its public line */
        const nbx_creds_mount *mounts;
        size_t n_mounts;
} nbx_creds;

#define NBX_CREDS_MAX_MOUNTS 64

/* The `mounts` member: one TAB-separated line per mount, parents first (ordered by the number of
 * components of the target, the caller's order among equals), so a tmpfs at ~/.claude/todos is
 * mounted after the share at ~/.claude it sits in.  At most NBX_CREDS_MAX_MOUNTS.  Refuses a
 * target the guest could misread (relative, "..", control characters). */
int nbx_creds_mounts_render(const nbx_creds_mount *m, size_t n, char **ret, nbx_error **err);

/* Build the archive (meta, authorized_keys, ssh_host_ed25519_key, environment, identity,
 * identity.pub, mounts). */
int nbx_creds_build(const nbx_creds *c, nbx_ustar *ret, nbx_error **err);
/* Build the archive into a memfd (MFD_CLOEXEC), sealed against writes, growth and shrinking;
 * its size is a multiple of 512 (a valid raw block device).  *ret_fd is owned by the caller. */
int nbx_creds_memfd(const nbx_creds *c, int *ret_fd, nbx_error **err);
