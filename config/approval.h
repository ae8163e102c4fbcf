/* The user's approval of a project's configuration, direnv-style.  Everything in .nixbox/ is
 * configuration the guest could have written (the project folder is shared into the VM), so
 * nixbox acts only on a copy the user approved on the host (`nixbox allow`): `up` and `reload`
 * refuse while .nixbox/ differs from the approved copy, and evaluate the approved copy itself —
 * never the live folder, which the guest may change at any moment.
 *
 * A configuration is a tree of folders and regular files (at most NBX_APPROVAL_MAX_FILES files,
 * NBX_APPROVAL_MAX_BYTES in all, NBX_APPROVAL_MAX_DEPTH deep); a link, a device or anything else
 * is refused.  It is read as the invoking user, never following a link.  Its digest is SHA-256
 * over a canonical listing (kind, executable bit, size, path, content, sorted by path). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/sha256.h"
#include "base/user.h"

#define NBX_APPROVAL_MAX_FILES 1000
#define NBX_APPROVAL_MAX_BYTES (16u << 20)
#define NBX_APPROVAL_MAX_DEPTH 16

typedef struct nbx_tree_entry {
        char *path; /* relative, '/'-separated */
        bool dir;
        bool exec; /* a file with an executable bit */
        char *data;
        size_t len;
} nbx_tree_entry;

typedef struct nbx_tree {
        nbx_tree_entry *v; /* sorted by path */
        size_t n;
        char digest[NBX_SHA256_HEX];
} nbx_tree;

void nbx_tree_done(nbx_tree *t);
/* Read the tree below dir as inv.  -ENOENT (with err) when dir does not exist. */
int nbx_tree_read(const char *dir, const nbx_invoker *inv, nbx_tree *ret, nbx_error **err);
/* Write t into dir (created; must not exist) as inv: folders 0700, files 0600 (0700 when exec). */
int nbx_tree_write(const nbx_tree *t, const char *dir, const nbx_invoker *inv, nbx_error **err);

enum nbx_approval_state {
        NBX_APPROVAL_APPROVED, /* .nixbox/ equals the approved copy */
        NBX_APPROVAL_CHANGED,  /* it differs */
        NBX_APPROVAL_NONE,     /* nothing was ever approved */
};

/* Compare the live configuration folder with the approved copy. */
int nbx_approval_state(const char *config_dir, const char *approved_dir, const nbx_invoker *inv,
                       enum nbx_approval_state *ret, nbx_error **err);
/* 0 when approved, else an NBX_EXIT_NOT_APPROVED error naming `nixbox allow`. */
int nbx_approval_require(const char *config_dir, const char *approved_dir, const nbx_invoker *inv,
                         nbx_error **err);
/* Approve: the live folder becomes the approved copy (replaced atomically).  diff_fd >= 0: first
 * `diff -ruN` of the old copy against the new one is written there (run as inv).  dry_run: only
 * the diff.  *ret_changed: there was something to approve. */
int nbx_approval_approve(const char *config_dir, const char *approved_dir, const nbx_invoker *inv,
                         int diff_fd, bool dry_run, bool *ret_changed, nbx_error **err);
