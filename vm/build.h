/* The project's guest image, built with Nix: `nixbox build`, `nixbox update`, and `up` when
 * vm.image is unset.  The build folder is staged by vm/guest_inputs.h and built with
 * `nix build` (flakes) as the invoking user — under sudo in a child that has switched to that
 * user — with Nix's progress on stderr as Nix writes it.  Results live in a per-user cache,
 * keyed by the staged folder's SHA-256:
 *
 *   <cache>/<key>/result   Nix's out-link (a GC root) to the image folder (kernel, initrd,
 *                          image.json)
 *   <cache>/<key>/source   the staged flake it was built from
 *
 * Without Nix, with a Nix that has no flakes or refuses them, or when nixpkgs cannot be fetched,
 * the error has exit code 6 (NBX_EXIT_PREREQ) and says which and what to do.  See docs/nix.md. */
#pragma once

#include <stdbool.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/project.h"
#include "../config/base/sha256.h"
#include "../config/base/ui.h"

typedef struct nbx_build_opts {
        const nbx_ui *ui;    /* progress lines (NULL: none) */
        const char *nix_dir; /* nixbox's Nix files (the data folder's nix/); required */
        /* Where the pin is read from.  NULL: the live project's .nixbox/flake.lock
         * (nbx_guest_inputs_lock_path).  A caller acting on the approved copy of .nixbox/
         * (config/approval.h) passes that copy's flake.lock here and as approved_lock. */
        const char *lock_path;
        /* A new pin is written to the live .nixbox/flake.lock and, when set, here too, so that an
         * approved .nixbox/ stays approved (nothing the guest wrote is approved with it). */
        const char *approved_lock;
        const char *cache_dir; /* NULL: the invoker's $XDG_CACHE_HOME/nixbox/guests (~/.cache) */
        const char *nix;       /* the nix program (NULL: "nix" from PATH) */
        const char *system;    /* Nix system (NULL: this machine's, nbx_guest_inputs_system) */
        bool force;            /* build even when the cache has the image (`build -f`) */
        bool update;           /* lock nixpkgs afresh first (`nixbox update`) */
} nbx_build_opts;

typedef struct nbx_build_result {
        char *image_dir; /* <cache>/<key>/result: a folder holding image.json */
        char key[NBX_SHA256_HEX];
        bool built;        /* false: the cache had it, Nix built nothing */
        bool lock_written; /* the project's flake.lock was created or changed */
} nbx_build_result;

/* Build the guest of config c (or find it in the cache).  p names the project (for the default
 * lock path). */
int nbx_guest_build(const nbx_project *p, const nbx_config *c, const nbx_build_opts *o,
                    nbx_build_result *ret, nbx_error **err);
void nbx_build_result_done(nbx_build_result *r);

/* For `up` with vm.image unset: the image folder of the project's guest, built first when it is
 * missing or stale.  *ret_image_dir is malloc'd. */
int nbx_guest_image_ensure(const nbx_project *p, const nbx_config *c, const nbx_build_opts *o,
                           char **ret_image_dir, nbx_error **err);
