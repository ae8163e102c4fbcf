/* virtiofsd, one per share, confined (docs/decisions/0005-virtiofsd-in-a-user-namespace.md):
 *
 *  - it runs in its own user and mount namespaces with the invoker's id map (vm/idmap.h): as
 *    namespace root it can run its own sandbox, but on the host it is the invoker's first
 *    subordinate uid — never root, no capability outside its namespaces;
 *  - files the guest user creates belong to the invoker, files of any other guest id to a
 *    subordinate id; no set-user-ID/set-group-ID bit and no device node can be created
 *    (vm/seccomp.h; the kernel refuses device nodes in a user namespace anyway);
 *  - it sees the share through a private bind mount with nosuid,nodev, read-only when the share
 *    is, and the share's own .nixbox/ read-only;
 *  - nixbox creates the listening vhost-user socket itself (owned by the invoker, 0600) and
 *    hands it over as --fd, so the socket accepts connections before virtiofsd starts and no
 *    process in the namespace needs to reach the socket folder;
 *  - RLIMIT_NOFILE is raised to NBX_VIRTIOFSD_NOFILE for large trees (to the hard limit where
 *    root may not raise that).
 *
 * Both flavours take this: QEMU's C virtiofsd (Debian 12: /usr/lib/qemu/virtiofsd) and the Rust
 * one. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "../config/base/check.h"
#include "../config/base/error.h"
#include "../config/base/strv.h"
#include "../config/base/user.h"
#include "idmap.h"

#define NBX_VIRTIOFSD_NOFILE 524288
/* what the share's bind mount calls the folder inside virtiofsd's mount namespace */
#define NBX_VIRTIOFSD_ROOT "/run/nixbox-share"

typedef struct nbx_virtiofsd {
        char *path;
        bool c_flavour; /* QEMU's C virtiofsd (-o options) rather than the Rust one */
} nbx_virtiofsd;

/* virtiofsd in PATH, /usr/libexec or /usr/lib/qemu; NBX_EXIT_PREREQ naming the package.  Its
 * flavour comes from its --version. */
int nbx_virtiofsd_find(nbx_virtiofsd *ret, nbx_error **err);
/* The same, with the flavour remembered in cache_dir (root's runtime folder) for that very file:
 * asked again when the file changed (device, inode, size or modification time). */
int nbx_virtiofsd_find_cached(const char *cache_dir, nbx_virtiofsd *ret, nbx_error **err);
void nbx_virtiofsd_done(nbx_virtiofsd *v);
/* doctor: which virtiofsd, and whether shares can be confined (user namespaces, subordinate ids).
 */
void nbx_virtiofsd_check(nbx_checks *l, const nbx_invoker *inv);

/* The argv for a virtiofsd serving NBX_VIRTIOFSD_ROOT on listening socket fd. */
int nbx_virtiofsd_argv(const nbx_virtiofsd *v, int fd, nbx_strv *ret, nbx_error **err);

typedef struct nbx_share_start {
        const char *source; /* host folder, absolute */
        bool readonly;
        const char *socket; /* where the listening socket is created (replaced if present) */
        int log_fd;         /* virtiofsd's stderr */
        const nbx_invoker *inv;
        const nbx_idmap *map;
        char *const *envp;
        /* A folder the guest can write (the project, another writable share) that source lies
         * inside, or NULL: below it no component of source may be a link (the guest could have
         * planted one to share what it chose) — opened with RESOLVE_BENEATH|NO_SYMLINKS. */
        const char *beneath;
} nbx_share_start;

/* The checks nbx_virtiofsd_start makes on a share's source, without starting anything: a folder
 * (not a link) the invoker may read and search, whose .nixbox/ is absent or a plain folder.
 * Errors: NBX_EXIT_CONFIG. */
int nbx_virtiofsd_check_source(const char *source, const char *beneath, const nbx_invoker *inv,
                               nbx_error **err);
/* Open source as the invoker (it must be a folder the invoker may read; no symbolic link is
 * followed in its last component), create the socket, start virtiofsd.  *ret_pid: its PID. */
int nbx_virtiofsd_start(const nbx_virtiofsd *v, const nbx_share_start *s, pid_t *ret_pid,
                        nbx_error **err);
