/* The invoking user: who nixbox acts for.  Under sudo that is SUDO_UID/SUDO_GID, not root; hooks,
 * plugin commands, SSH, virtiofsd and files in .nixbox/ run as / belong to this user. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "cleanup.h"
#include "error.h"

typedef struct nbx_invoker {
        uid_t uid;
        gid_t gid;
        char *name;       /* login name on the host */
        char *home;       /* host home directory */
        char *guest_user; /* user name inside the guest: the host name, or "nixbox" for root */
} nbx_invoker;

/* Resolve from SUDO_UID/SUDO_GID when the process runs as root under sudo, else from getuid(). */
int nbx_invoker_get(nbx_invoker *ret, nbx_error **err);
void nbx_invoker_done(nbx_invoker *inv);

/* Commands that start VMs (up, mount) act for a user account: root without SUDO_UID is refused with
 * NBX_EXIT_PERMISSION and a message naming `sudo` from the user's account (a VM's files and
 * processes would otherwise belong to root). */
int nbx_invoker_require_user(const nbx_invoker *inv, const char *cmd, nbx_error **err);

/* File access as the invoker.  When nixbox runs as root, every file it reads or writes in a
 * place the invoker (or a guest) can write — the project folder, the invoker's home — is
 * accessed with the invoker's file-system identity (setfsuid/setfsgid and the invoker's groups),
 * so the kernel's permission checks apply as they would to the invoker and files created belong
 * to the invoker.  A no-op when nixbox does not run as root.  Single-threaded use only. */
typedef struct nbx_fsid {
        bool active;
        int n_groups;
        gid_t groups[64];
} nbx_fsid;
int nbx_fsid_enter(const nbx_invoker *inv, nbx_fsid *ret_saved, nbx_error **err);
void nbx_fsid_leave(nbx_fsid *saved);
static inline void nbx_fsid_leavep(nbx_fsid *saved) {
        nbx_fsid_leave(saved);
}
#define _cleanup_fsid_ _cleanup_(nbx_fsid_leavep)
