/* The ids a VM's shares map to on the host.  virtiofsd runs in a user namespace whose ids are
 * the invoker's own subordinate ids (/etc/subuid, /etc/subgid — the ids shadow-utils reserves
 * for a user's containers), except that the invoker's uid/gid map to themselves: files the guest
 * user writes belong to the invoker, files guest root (or any other guest id) writes belong to
 * an unprivileged subordinate id, never to root
 * (docs/decisions/0005-virtiofsd-in-a-user-namespace.md).
 *
 *   namespace id      host id
 *   0 .. U-1          S .. S+U-1
 *   U                 U            (the invoker)
 *   U+1 .. 65535      S+U+1 .. S+65535
 *
 * (U >= 65536: the whole namespace range maps to S.., and U to itself.) */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "../config/base/error.h"
#include "../config/base/user.h"

#define NBX_IDMAP_RANGE 65536u

typedef struct nbx_idmap {
        uid_t sub_uid; /* first subordinate uid (S) */
        gid_t sub_gid;
        uid_t uid; /* the invoker */
        gid_t gid;
} nbx_idmap;

/* The first range of at least NBX_IDMAP_RANGE ids for inv (by name or uid) in subuid_path and
 * subgid_path (NULL: /etc/subuid, /etc/subgid).  When inv has none and allocate is true, the
 * first free, 65536-aligned range at or above 100000 that overlaps no other entry in either file
 * is reserved for inv in both (appended under the password-file lock, as usermod
 * --add-subuids does); *ret_allocated says so.  -ENOENT (with err) when none and !allocate. */
int nbx_idmap_get(const nbx_invoker *inv, const char *subuid_path, const char *subgid_path,
                  bool allocate, nbx_idmap *ret, bool *ret_allocated, nbx_error **err);

/* The text for /proc/PID/uid_map (which = 'u') or gid_map ('g'); buf of at least 128 bytes. */
int nbx_idmap_format(const nbx_idmap *m, char which, char *buf, size_t size);
