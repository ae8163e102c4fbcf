/* Shares as users write them: the arguments of `nixbox mount` (SOURCE TARGET, or the spec
 * `source=PATH,target=PATH[,readonly][,type=bind]`), and guest paths as every share target is
 * normalized — config mounts and hot-plugged shares alike, so that both agree with what the
 * guest contract promises the guest (an absolute TARGET without control characters or "..",
 * docs/guest-contract.md section 5).  Pure string work: the host-side checks (the source exists,
 * the invoker may read it) are vm/mount.h's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define NBX_GUEST_PATH_MAX 1024 /* longest guest path (after ~ expansion) */
#define NBX_MOUNTSPEC_MAX 8192  /* longest spec or argument accepted */

typedef struct nbx_mountspec {
        char *source; /* host folder as given: absolute, ~/... or relative to the current folder */
        char *target; /* guest folder as given: absolute or ~/... */
        bool readonly;
} nbx_mountspec;

void nbx_mountspec_done(nbx_mountspec *m);

/* Parse `source=PATH,target=PATH[,readonly][,type=bind]`.  Also accepted (the spellings of the
 * reference and of Docker's --mount): src= for source=, dst= and destination= for target=, ro for
 * readonly, readonly=true|false|1|0 (and ro=...).  Each key at most once; every comma separates
 * fields (a path holding a comma needs the two-argument form).  Errors: NBX_EXIT_USAGE, with a
 * message naming the field. */
int nbx_mountspec_parse(const char *spec, nbx_mountspec *ret, nbx_error **err);

/* The positional arguments of `nixbox mount`: SOURCE TARGET, or one spec (which must contain
 * "=").  readonly: --readonly was given (a share is read-only when either says so). */
int nbx_mountspec_from_args(char *const *args, size_t n, bool readonly, nbx_mountspec *ret,
                            nbx_error **err);

/* A guest path: "~" and "~/..." from guest_home, else absolute; normalized (no "//", no trailing
 * "/").  Refused: a relative path, ~user, "/" itself, a "." component, ".." anywhere (the guest
 * refuses it too), control characters (TAB and newline separate the guest's input), more than
 * NBX_GUEST_PATH_MAX bytes.  Errors: -EINVAL with NBX_EXIT_USAGE and a message quoting the input
 * (callers with other inputs set their own exit code). */
int nbx_mountspec_guest_path(const char *in, const char *guest_home, char **ret, nbx_error **err);
