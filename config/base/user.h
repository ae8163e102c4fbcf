/* The invoking user: who nixbox acts for.  Under sudo that is SUDO_UID/SUDO_GID, not root; hooks,
 * plugin commands, SSH, virtiofsd and files in .nixbox/ run as / belong to this user. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

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
