/* What a Nix-built guest is made of, and its cache key.  `nixbox build` stages a folder:
 *
 *   flake.nix    nixbox's nix/build/flake.nix (its one input: nixpkgs)
 *   guest.json   the part of the resolved config that changes the image (nix/settings.nix)
 *   nix/         a copy of nixbox's own Nix files
 *   flake.lock   the project's pinned nixpkgs, when it has one
 *
 * and the cache key is the SHA-256 of exactly that folder (every file's path and content, in path
 * order): the build reads nothing else (tests/nix checks it in Nix's restricted mode), so an
 * unchanged key means an unchanged image.  See docs/nix.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/project.h"
#include "../config/base/sha256.h"

#define NBX_GUEST_JSON "guest.json"
#define NBX_GUEST_LOCK "flake.lock"
#define NBX_GUEST_JSON_VERSION 1
/* Caps on what is staged (the Nix files are nixbox's own; the lock is the project's). */
#define NBX_GUEST_MAX_FILES 1000
#define NBX_GUEST_FILE_MAX (4u << 20)
#define NBX_GUEST_LOCK_MAX (1u << 20)

/* The Nix system of this machine ("x86_64-linux", "aarch64-linux"); NULL for others. */
const char *nbx_guest_inputs_system(void);

/* guest.json for c: { "version": 1, "system", "plugins", "packages", "ldLibraries" } (plugins
 * by the names config origins use: a built-in's name, a path plugin's path relative to
 * config.nix), pretty-printed, ending in a newline. */
int nbx_guest_inputs_json(const nbx_config *c, const char *system, char **ret, nbx_error **err);

/* The project's flake.lock: <project>/.nixbox/flake.lock.  The one place that names it; callers
 * that read an approved snapshot of .nixbox/ pass their own path instead (nbx_build_opts). */
int nbx_guest_inputs_lock_path(const nbx_project *p, char **ret, nbx_error **err);

/* Fill the empty folder dir: guest_json as guest.json, a copy of nix_dir as nix/, its
 * build/flake.nix as flake.nix, and lock (lock_len bytes) as flake.lock unless lock is NULL.
 * Regular files and folders only (a symlink or device in nix_dir is an error). */
int nbx_guest_inputs_stage(const char *dir, const char *nix_dir, const char *guest_json,
                           const char *lock, size_t lock_len, nbx_error **err);

/* The cache key of a staged folder: lowercase hex SHA-256. */
int nbx_guest_inputs_key(const char *dir, char ret[NBX_SHA256_HEX], nbx_error **err);
