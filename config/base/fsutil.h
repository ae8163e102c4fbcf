/* Small file-system helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* mkdir -p with mode for each created component; existing directories are fine. */
int nbx_mkdir_p(const char *path, mode_t mode, nbx_error **err);
/* Write data to path atomically (temp file in the same directory + rename), with mode. */
int nbx_write_file(const char *path, const void *data, size_t len, mode_t mode, nbx_error **err);
/* Read a whole file (capped at max bytes) into a NUL-terminated buffer. */
int nbx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, nbx_error **err);
/* Read everything from fd (capped at max bytes); what names it in errors. */
int nbx_read_fd(int fd, const char *what, size_t max, char **ret_data, size_t *ret_len,
                nbx_error **err);
/* openat2 below dirfd with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS and
 * O_NOFOLLOW | O_CLOEXEC: no component of path may be a symbolic link or leave dirfd.  For every
 * file nixbox opens in a folder a guest can write.  Returns the fd or -errno (ELOOP for a link,
 * EXDEV for an escape). */
int nbx_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* A folder only uid may change: created with mode when missing; an existing one must be a real
 * folder (not a link), is chowned to uid:gid when root and set to mode.  Refuses (EPERM) a folder
 * another user owns when it cannot be taken over. */
int nbx_dir_private(const char *path, mode_t mode, uid_t uid, gid_t gid, nbx_error **err);
/* rm -rf below and including path; missing path is success. Does not follow symlinks. */
int nbx_rm_rf(const char *path, nbx_error **err);
/* path made absolute (from the current folder when relative) and normalized by its letters alone:
 * no "//", ".", ".." (above "/" stays "/") or trailing "/"; no link is looked at.  malloc'd,
 * NULL on ENOMEM. */
char *nbx_path_lexical(const char *path);
/* Whether path is root itself or inside it, component-wise ("/a/bc" is not inside "/a/b";
 * everything is inside "/"); both absolute and normalized, root may end in "/". */
bool nbx_path_within(const char *path, const char *root);
/* malloc'd "a/b"; NULL on ENOMEM. */
char *nbx_path_join(const char *a, const char *b);
bool nbx_is_dir(const char *path);
bool nbx_is_file(const char *path);
/* chown path to uid:gid when running as root (for files in a user's project folder). */
int nbx_chown_if_root(const char *path, uid_t uid, gid_t gid, nbx_error **err);
/* An exclusive lock on path (flock), created 0600 when missing.  An existing lock file must be a
 * regular file of the caller's own (a lock another user may open is a lock another user may hold
 * forever); its mode is set to 0600.  Waits with a backoff until deadline_ms, then fails with
 * -EBUSY: "<holder> (it holds <path>); wait for it to finish and try again".  *ret_fd holds the
 * lock until it is closed. */
int nbx_lock_file(const char *path, uint64_t deadline_ms, const char *holder, int *ret_fd,
                  nbx_error **err);
