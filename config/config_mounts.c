/* `mounts`: each entry checked into one of three kinds (config.h, enum nbx_mount_kind):
 *   { source = "~/data"; target = "/data"; readonly = true; }  a host folder;
 *   { state = "claude"; target = "~/.claude"; }                a folder of the project's own on
 *                                                              the host, outside the project;
 *   { tmpfs = true; target = "~/.claude/todos"; }              a RAM folder in the guest.
 * The host side of a state folder is vm/'s to place and create (vm/paths.h); config only checks
 * its name. */
#include "config_mounts.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_values.h"
#include "base/fsutil.h"

static int oom(nbx_error **err) {
        return nbx_error_set(err, ENOMEM, "mounts");
}

static bool valid_state_name(const char *n) {
        size_t len = strlen(n);
        if (len == 0 || len > NBX_MAX_STATE_NAME || !isalnum((unsigned char)n[0]))
                return false;
        for (const char *p = n; *p; p++)
                if (!(isalnum((unsigned char)*p) || strchr("._-", *p)) || (unsigned char)*p >= 0x80)
                        return false;
        return true;
}

/* The kind of an entry: exactly one of source, state and tmpfs = true. */
static int mount_kind(const nbx_config_source *s, const json_t *mount, const char *field,
                      enum nbx_mount_kind *ret, nbx_error **err) {
        const json_t *src = json_object_get(mount, "source");
        const json_t *state = json_object_get(mount, "state");
        bool has_src = src && !json_is_null(src), has_state = state && !json_is_null(state);
        bool tmpfs = json_is_true(json_object_get(mount, "tmpfs"));
        int kinds = has_src + has_state + tmpfs;
        if (kinds != 1)
                return nbx_config_fail(s, err, field,
                                       "a mount has exactly one of source (a host folder), state "
                                       "(a folder of the project's own) and tmpfs = true (a RAM "
                                       "folder), this one has %s",
                                       kinds > 1 ? "several" : "none");
        if (tmpfs && json_is_true(json_object_get(mount, "readonly")))
                return nbx_config_fail(s, err, field,
                                       "a tmpfs starts empty: readonly = true would leave it "
                                       "empty forever");
        *ret = has_src ? NBX_MOUNT_HOST : has_state ? NBX_MOUNT_STATE : NBX_MOUNT_TMPFS;
        return 0;
}

/* The host side: an existing folder for a host mount, a valid name for a state folder. */
static int mount_host_side(const nbx_config_ctx *ctx, const nbx_config_source *s,
                           const json_t *mount, const char *field, nbx_mount *m, nbx_error **err) {
        if (m->kind == NBX_MOUNT_HOST) {
                _cleanup_free_ char *fs = nbx_config_field(field, "source");
                if (!fs)
                        return oom(err);
                int r = nbx_config_value_host_path(
                        s, ctx, fs, json_string_value(json_object_get(mount, "source")), &m->source,
                        err);
                if (r < 0)
                        return r;
                return nbx_is_dir(m->source)
                               ? 0
                               : nbx_config_fail(s, err, fs, "%s is not a directory", m->source);
        }
        if (m->kind != NBX_MOUNT_STATE)
                return 0;
        _cleanup_free_ char *fs = nbx_config_field(field, "state");
        const char *name = json_string_value(json_object_get(mount, "state"));
        if (!fs)
                return oom(err);
        if (!valid_state_name(name)) {
                _cleanup_free_ char *q = nbx_quote(name, 80);
                return nbx_config_fail(s, err, fs,
                                       "expected a folder name (1-%d characters of A-Z, a-z, 0-9, "
                                       "'.', '_' and '-', starting with a letter or digit), got %s",
                                       NBX_MAX_STATE_NAME, q ? q : "");
        }
        return (m->state = strdup(name)) ? 0 : oom(err);
}

/* Two mounts on one target, or one state folder at two targets. */
static int check_unique(const nbx_config_source *s, const nbx_config *c, const nbx_mount *m,
                        const char *field, nbx_error **err) {
        for (size_t i = 0; i < c->n_mounts; i++) {
                const nbx_mount *o = &c->mounts[i];
                if (strcmp(o->target, m->target) == 0) {
                        _cleanup_free_ char *ft = nbx_config_field(field, "target");
                        return nbx_config_fail(s, err, ft,
                                               "%s is already a mount target (of %s%s, from %s); "
                                               "no two mounts on one target",
                                               m->target,
                                               o->kind == NBX_MOUNT_HOST    ? ""
                                               : o->kind == NBX_MOUNT_STATE ? "state "
                                                                            : "a tmpfs",
                                               o->source  ? o->source
                                               : o->state ? o->state
                                                          : "",
                                               o->origin);
                }
                if (m->state && o->state && strcmp(o->state, m->state) == 0) {
                        _cleanup_free_ char *fs = nbx_config_field(field, "state");
                        return nbx_config_fail(s, err, fs,
                                               "state folder \"%s\" is already mounted at %s (from "
                                               "%s); give each mount its own state folder",
                                               m->state, o->target, o->origin);
                }
        }
        return 0;
}

static void mount_done(nbx_mount *m) {
        free(m->source);
        free(m->state);
        free(m->target);
        free(m->origin);
}

static int push_mount(nbx_config *c, nbx_mount *m, nbx_error **err) {
        nbx_mount *n = realloc(c->mounts, (c->n_mounts + 1) * sizeof(*n));
        if (!n)
                return oom(err);
        c->mounts = n;
        c->mounts[c->n_mounts++] = *m;
        *m = (nbx_mount){0};
        return 0;
}

static int merge_mount(const nbx_config_ctx *ctx, const nbx_config_source *s, const json_t *mount,
                       const char *field, nbx_config *c, nbx_error **err) {
        _cleanup_free_ char *ft = nbx_config_field(field, "target");
        if (!ft)
                return oom(err);
        nbx_mount m = {.readonly = json_is_true(json_object_get(mount, "readonly"))};
        int r = mount_kind(s, mount, field, &m.kind, err);
        if (r >= 0)
                r = mount_host_side(ctx, s, mount, field, &m, err);
        if (r >= 0)
                r = nbx_config_value_guest_path(s, ctx, ft,
                                                json_string_value(json_object_get(mount, "target")),
                                                &m.target, err);
        if (r >= 0)
                r = check_unique(s, c, &m, field, err);
        if (r >= 0 && c->n_mounts >= NBX_MAX_MOUNTS)
                r = nbx_config_fail(s, err, "mounts", "more than %d mounts", NBX_MAX_MOUNTS);
        if (r >= 0 && !(m.origin = strdup(s->origin)))
                r = oom(err);
        if (r >= 0)
                r = push_mount(c, &m, err);
        mount_done(&m);
        return r;
}

int nbx_config_mounts_merge(const nbx_config_ctx *ctx, const nbx_config_source *s,
                            const json_t *list, nbx_config *c, nbx_error **err) {
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index("mounts", i);
                int r = p ? merge_mount(ctx, s, x, p, c, err) : oom(err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nbx_config_mounts_default(const nbx_config_ctx *ctx, nbx_config *c, nbx_error **err) {
        nbx_mount m = {.kind = NBX_MOUNT_HOST,
                       .source = strdup(ctx->project_dir),
                       .target = nbx_path_join(ctx->guest_home, "workspace"),
                       .origin = strdup("default")};
        int r = m.source && m.target && m.origin ? push_mount(c, &m, err) : oom(err);
        mount_done(&m);
        return r;
}

void nbx_config_mounts_done(nbx_config *c) {
        for (size_t i = 0; i < c->n_mounts; i++)
                mount_done(&c->mounts[i]);
        free(c->mounts);
        c->mounts = NULL;
        c->n_mounts = 0;
}
