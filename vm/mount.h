/* Hot-plugged shares (vm/mount.c: `nixbox mount`, `nixbox unmount`; docs/mounts.md).  cmd/ uses
 * vm/lifecycle.h; this header is what the unit tests reach: the checks a share passes before
 * anything starts, and the line the guest reads. */
#pragma once

#include <stdbool.h>

#include "../config/mountspec.h"
#include "../config/base/error.h"
#include "../config/base/user.h"
#include "record.h"

/* Where a share is checked against. */
typedef struct nbx_vm_mount_env {
        const nbx_vm_record *rec; /* the running VM: its shares and its guest user */
        const nbx_invoker *inv;   /* the VM's owner, who must be able to read the source */
        const char *state_root;   /* the owner's nixbox state folder (~/.local/state/nixbox) */
        const char *runtime_dir;  /* nixbox's runtime folder */
        const char *project_dir;  /* the VM's project folder (the guest writes it) */
        bool skip_half_attached;  /* leave shares not yet attached out of the target checks (they
                                   * are about to be removed) */
} nbx_vm_mount_env;

/* Resolve and check a share before anything starts:
 *  - source: ~ and ~/... from the owner's home, relative from the current folder; resolved
 *    (links followed) with the owner's file identity into a canonical folder the owner may read
 *    and search, whose .nixbox/ (if any) is a plain folder (virtiofsd protects it); never inside
 *    the state folder (other VMs' keys) or the runtime folder; read-write, never a folder that
 *    holds either of them;
 *  - target: nbx_mountspec_guest_path with ~ = /home/<guest user>; not the target of another
 *    share, not inside one, not holding one;
 *  - the VM has fewer than NBX_MAX_MOUNTS shares (boot shares and half-attached ones count).
 * *ret holds the canonical source and normalized target.  Errors: NBX_EXIT_USAGE. */
int nbx_vm_mount_check(const nbx_vm_mount_env *e, const nbx_mountspec *in, nbx_mountspec *ret,
                       nbx_error **err);

/* The line `nixbox-guest mount` reads on stdin: virtiofs<TAB>TAG<TAB>TARGET<TAB>rw|ro<LF>
 * (docs/guest-contract.md section 5).  -EINVAL for a tag or target holding a control character
 * (they would split the line). */
int nbx_vm_mount_line(const char *tag, const char *target, bool readonly, char **ret,
                      nbx_error **err);
