#include "idmap.h"

#include <fcntl.h>
#include <shadow.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/base/fsutil.h"

#define SUBID_FIRST 100000u
#define SUBID_MAX (1u << 30)
#define SUBID_FILE_MAX (1u << 20)

typedef struct range {
        uint64_t start, count;
} range;

/* Parse "owner:start:count" lines; the owner matches name or decimal uid.  *ret_mine: the first
 * range of inv with count >= NBX_IDMAP_RANGE; all ranges go to used (for allocation). */
static int parse(const char *text, const nbx_invoker *inv, bool *ret_found, uint64_t *ret_mine,
                 range *used, size_t *n_used, size_t max_used) {
        char uidstr[16];
        snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)inv->uid);
        *ret_found = false;
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                char buf[256];
                if (len < sizeof(buf)) {
                        memcpy(buf, line, len);
                        buf[len] = '\0';
                        char *c1 = strchr(buf, ':');
                        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                        char *end1, *end2;
                        if (c1 && c2 && buf[0] != '#') {
                                *c1 = *c2 = '\0';
                                unsigned long long s = strtoull(c1 + 1, &end1, 10);
                                unsigned long long c = strtoull(c2 + 1, &end2, 10);
                                if (!*end1 && !*end2 && c1[1] && c2[1] && c > 0) {
                                        if (*n_used < max_used)
                                                used[(*n_used)++] = (range){s, c};
                                        bool mine = strcmp(buf, inv->name ? inv->name : "") == 0 ||
                                                    strcmp(buf, uidstr) == 0;
                                        if (mine && !*ret_found && c >= NBX_IDMAP_RANGE &&
                                            s + c <= UINT32_MAX) {
                                                *ret_found = true;
                                                *ret_mine = s;
                                        }
                                }
                        }
                }
                line = nl ? nl + 1 : NULL;
        }
        return 0;
}

static int read_optional(const char *path, char **ret, nbx_error **err) {
        int r = nbx_read_file(path, SUBID_FILE_MAX, ret, NULL, NULL);
        if (r == -ENOENT) {
                *ret = strdup("");
                return *ret ? 0 : nbx_error_set(err, ENOMEM, "read %s", path);
        }
        return r < 0 ? nbx_error_set(err, -r, "read %s", path) : 0;
}

static bool overlaps(uint64_t s, const range *used, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s < used[i].start + used[i].count && used[i].start < s + NBX_IDMAP_RANGE)
                        return true;
        return false;
}

/* Append "name:start:count" to path (created 0644 when missing), atomically replacing it. */
static int append_entry(const char *path, const char *old, const char *name, uint64_t start,
                        nbx_error **err) {
        _cleanup_free_ char *text = NULL;
        size_t ol = strlen(old);
        if (asprintf(&text, "%s%s%s:%llu:%u\n", old, ol && old[ol - 1] != '\n' ? "\n" : "", name,
                     (unsigned long long)start, NBX_IDMAP_RANGE) < 0)
                return nbx_error_set(err, ENOMEM, "write %s", path);
        return nbx_write_file(path, text, strlen(text), 0644, err);
}

static int lookup(const nbx_invoker *inv, const char *uidp, const char *gidp, bool *ret_found,
                  nbx_idmap *ret, range *used, size_t *n_used, char **ret_utext, char **ret_gtext,
                  nbx_error **err) {
        _cleanup_free_ char *ut = NULL, *gt = NULL;
        int r;
        if ((r = read_optional(uidp, &ut, err)) < 0 || (r = read_optional(gidp, &gt, err)) < 0)
                return r;
        bool fu, fg;
        uint64_t su = 0, sg = 0;
        *n_used = 0;
        parse(ut, inv, &fu, &su, used, n_used, 1024);
        parse(gt, inv, &fg, &sg, used, n_used, 2048);
        *ret_found = fu && fg;
        *ret = (nbx_idmap){
                .sub_uid = (uid_t)su, .sub_gid = (gid_t)sg, .uid = inv->uid, .gid = inv->gid};
        if (ret_utext)
                *ret_utext = TAKE_PTR(ut);
        if (ret_gtext)
                *ret_gtext = TAKE_PTR(gt);
        return 0;
}

int nbx_idmap_get(const nbx_invoker *inv, const char *subuid_path, const char *subgid_path,
                  bool allocate, nbx_idmap *ret, bool *ret_allocated, nbx_error **err) {
        const char *up = subuid_path ? subuid_path : "/etc/subuid";
        const char *gp = subgid_path ? subgid_path : "/etc/subgid";
        _cleanup_free_ range *used = calloc(2048, sizeof(*used));
        size_t n = 0;
        if (!used)
                return nbx_error_set(err, ENOMEM, "subordinate ids");
        bool found;
        nbx_idmap m;
        if (ret_allocated)
                *ret_allocated = false;
        int r = lookup(inv, up, gp, &found, &m, used, &n, NULL, NULL, err);
        if (r < 0)
                return r;
        if (found) {
                *ret = m;
                return 0;
        }
        if (!allocate || !inv->name)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                                      "%s has no subordinate ids in %s and %s (needed to map the "
                                      "guest's users on shares); run `sudo usermod --add-subuids "
                                      "100000-165535 --add-subgids 100000-165535 %s` with a free "
                                      "range, or `sudo nixbox up`, which reserves one",
                                      inv->name ? inv->name : "the user", up, gp,
                                      inv->name ? inv->name : "USER");
        /* the same lock shadow-utils' tools take before they change these files */
        bool locked = subuid_path == NULL && lckpwdf() == 0;
        _cleanup_free_ char *ut = NULL, *gt = NULL;
        r = lookup(inv, up, gp, &found, &m, used, &n, &ut, &gt, err);
        if (r >= 0 && !found) {
                uint64_t s = SUBID_FIRST;
                while (s < SUBID_MAX && overlaps(s, used, n))
                        s += NBX_IDMAP_RANGE;
                if (s >= SUBID_MAX)
                        r = nbx_error_setx(err, NBX_EXIT_PREREQ, ENOSPC,
                                           "no free range of %u subordinate ids below %u in %s",
                                           NBX_IDMAP_RANGE, SUBID_MAX, up);
                if (r >= 0)
                        r = append_entry(up, ut, inv->name, s, err);
                if (r >= 0)
                        r = append_entry(gp, gt, inv->name, s, err);
                m = (nbx_idmap){
                        .sub_uid = (uid_t)s, .sub_gid = (gid_t)s, .uid = inv->uid, .gid = inv->gid};
                if (r >= 0 && ret_allocated)
                        *ret_allocated = true;
        }
        if (locked)
                (void)ulckpwdf();
        if (r < 0)
                return r;
        *ret = m;
        return 0;
}

static int format_one(unsigned self, unsigned sub, char *buf, size_t size) {
        int n;
        if (self >= NBX_IDMAP_RANGE)
                n = snprintf(buf, size, "0 %u %u\n%u %u 1\n", sub, NBX_IDMAP_RANGE, self, self);
        else if (self == 0)
                return -EINVAL; /* root is never the invoker here */
        else if (self == NBX_IDMAP_RANGE - 1)
                n = snprintf(buf, size, "0 %u %u\n%u %u 1\n", sub, self, self, self);
        else
                n = snprintf(buf, size, "0 %u %u\n%u %u 1\n%u %u %u\n", sub, self, self, self,
                             self + 1, sub + self + 1, NBX_IDMAP_RANGE - self - 1);
        return n > 0 && (size_t)n < size ? 0 : -ENOSPC;
}

int nbx_idmap_format(const nbx_idmap *m, char which, char *buf, size_t size) {
        return which == 'u' ? format_one(m->uid, m->sub_uid, buf, size)
                            : format_one(m->gid, m->sub_gid, buf, size);
}
