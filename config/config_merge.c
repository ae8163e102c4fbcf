/* Merge and validation of the evaluated config: defaults, then each plugin in order, then the
 * user's config.nix.  Every source is checked against the schema first (unknown keys with a "did
 * you mean", wrong types), then each value is validated into typed form as it is merged, so an
 * error always names the field, the bad value, what was expected and the file it came from. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "domain.h"
#include "mountspec.h"
#include "base/fsutil.h"

/* Caps on user-controlled counts and lengths not in config.h. */
#define MAX_PLUGINS 32
#define MAX_PACKAGES 512
#define MAX_SCRIPTS 64
#define MAX_ATTR_PATH 200
#define MAX_HOOK_LEN 16384
#define MAX_ENV_VALUE 65536
#define MAX_ENV_NAME 128

typedef struct source {
        const char *origin; /* "user" or the plugin's name */
        const char *file;   /* absolute file it came from */
        bool is_user;
        const json_t *v; /* its attribute set */
} source;

/* ---- errors ------------------------------------------------------------------------------- */

static int failv(const source *s, nbx_error **err, const char *field, const char *fmt, va_list ap) {
        _cleanup_free_ char *body = NULL;
        if (vasprintf(&body, fmt, ap) < 0)
                body = NULL;
        if (s->is_user)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s%s%s (%s)", field ? field : "",
                                      field ? ": " : "", body ? body : fmt, s->file);
        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s%s%s (plugin %s: %s)", field ? field : "",
                              field ? ": " : "", body ? body : fmt, s->origin, s->file);
}

static int fail(const source *s, nbx_error **err, const char *field, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int fail(const source *s, nbx_error **err, const char *field, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = failv(s, err, field, fmt, ap);
        va_end(ap);
        return r;
}

/* Wrap an error from a helper (nbx_domain_normalize...) with the field and the file. */
static int fail_wrap(const source *s, nbx_error **err, const char *field) {
        if (!err || !*err)
                return -EINVAL;
        (*err)->exit_code = NBX_EXIT_CONFIG;
        (void)nbx_error_wrap(err, "%s", field);
        if (s->is_user)
                return nbx_error_append(err, " (%s)", s->file);
        return nbx_error_append(err, " (plugin %s: %s)", s->origin, s->file);
}

static const char *type_name(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a float";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        case JSON_ARRAY:
                return "a list";
        case JSON_OBJECT:
                return "an attribute set";
        }
        return "a value";
}

/* "a string \"four\"", "a list" ... for messages. */
static char *describe(const json_t *v) {
        char *out = NULL;
        if (json_is_array(v) || json_is_object(v) || json_is_null(v))
                return strdup(type_name(v));
        _cleanup_free_ char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        _cleanup_free_ char *q = NULL;
        if (json_is_string(v))
                q = nbx_quote(json_string_value(v), 80);
        if (asprintf(&out, "%s %s", type_name(v), q ? q : dump ? dump : "") < 0)
                return NULL;
        return out;
}

static int fail_type(const source *s, nbx_error **err, const char *field, const char *expected,
                     const json_t *v) {
        _cleanup_free_ char *d = describe(v);
        return fail(s, err, field, "expected %s, got %s", expected, d ? d : type_name(v));
}

/* ---- schema ------------------------------------------------------------------------------- */

enum kind { K_OBJ, K_STR, K_INT, K_BOOL, K_STRLIST, K_INTLIST, K_MOUNTS, K_STRMAP, K_PLUGINS };

typedef struct schema_field {
        const char *key;
        enum kind kind;
        const struct schema_field *sub;
} schema_field;

static const schema_field resources_f[] = {{"vcpus", K_INT, NULL}, {"memoryMB", K_INT, NULL}, {0}};
static const schema_field network_f[] = {
        {"mode", K_STR, NULL},          {"domains", K_STRLIST, NULL},
        {"ports", K_INTLIST, NULL},     {"upstreamDns", K_STRLIST, NULL},
        {"allowPrivate", K_BOOL, NULL}, {0}};
static const schema_field nix_f[] = {
        {"packages", K_STRLIST, NULL}, {"ldLibraries", K_STRLIST, NULL}, {0}};
static const schema_field hooks_f[] = {{"pre-up", K_STRLIST, NULL},
                                       {"post-up", K_STRLIST, NULL},
                                       {"pre-down", K_STRLIST, NULL},
                                       {"post-down", K_STRLIST, NULL},
                                       {0}};
static const schema_field vm_f[] = {
        {"hypervisor", K_STR, NULL}, {"image", K_STR, NULL}, {"accel", K_STR, NULL}, {0}};
static const schema_field mount_f[] = {
        {"source", K_STR, NULL}, {"target", K_STR, NULL}, {"readonly", K_BOOL, NULL}, {0}};
static const schema_field top_f[] = {{"plugins", K_PLUGINS, NULL},
                                     {"name", K_STR, NULL},
                                     {"resources", K_OBJ, resources_f},
                                     {"mounts", K_MOUNTS, mount_f},
                                     {"network", K_OBJ, network_f},
                                     {"nix", K_OBJ, nix_f},
                                     {"scripts", K_STRLIST, NULL},
                                     {"env", K_STRMAP, NULL},
                                     {"hooks", K_OBJ, hooks_f},
                                     {"vm", K_OBJ, vm_f},
                                     {0}};

/* Optimal string alignment distance (edits and adjacent transpositions), case-insensitive. */
static size_t edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t d[65][65];
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        int ca = tolower((unsigned char)a[i - 1]);
                        int cb = tolower((unsigned char)b[j - 1]);
                        size_t best = d[i - 1][j - 1] + (ca != cb);
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                            tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        return d[la][lb];
}

static const schema_field *find_field(const schema_field *fs, const char *key) {
        for (const schema_field *f = fs; f->key; f++)
                if (strcmp(f->key, key) == 0)
                        return f;
        return NULL;
}

static char *join_path(const char *prefix, const char *key) {
        char *p = NULL;
        if (asprintf(&p, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", key) < 0)
                return NULL;
        return p;
}

static char *index_path(const char *prefix, size_t i) {
        char *p = NULL;
        if (asprintf(&p, "%s[%zu]", prefix, i) < 0)
                return NULL;
        return p;
}

static int fail_unknown(const source *s, nbx_error **err, const schema_field *fs,
                        const char *prefix, const char *key) {
        _cleanup_free_ char *path = join_path(prefix, key);
        const schema_field *best = NULL;
        size_t best_d = SIZE_MAX;
        for (const schema_field *f = fs; f->key; f++) {
                size_t d = edit_distance(key, f->key);
                if (d < best_d) {
                        best_d = d;
                        best = f;
                }
        }
        size_t limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
        if (best && best_d <= limit) {
                _cleanup_free_ char *sug = join_path(prefix, best->key);
                return fail(s, err, path, "unknown setting; did you mean %s?", sug ? sug : "");
        }
        char known[512] = "";
        for (const schema_field *f = fs; f->key; f++) {
                if (f != fs)
                        strncat(known, ", ", sizeof(known) - strlen(known) - 1);
                strncat(known, f->key, sizeof(known) - strlen(known) - 1);
        }
        return fail(s, err, path, "unknown setting (known here: %s)", known);
}

static int check_obj(const source *s, const schema_field *fs, const json_t *o, const char *prefix,
                     nbx_error **err);

static int check_value(const source *s, const schema_field *f, const json_t *v, const char *path,
                       nbx_error **err) {
        if (json_is_null(v))
                return 0; /* null = not set */
        switch (f->kind) {
        case K_OBJ:
                if (!json_is_object(v))
                        return fail_type(s, err, path, "an attribute set", v);
                return check_obj(s, f->sub, v, path, err);
        case K_STR:
                return json_is_string(v) ? 0 : fail_type(s, err, path, "a string", v);
        case K_INT:
                return json_is_integer(v) ? 0 : fail_type(s, err, path, "an integer", v);
        case K_BOOL:
                return json_is_boolean(v) ? 0
                                          : fail_type(s, err, path, "a boolean (true or false)", v);
        case K_STRMAP: {
                if (!json_is_object(v))
                        return fail_type(s, err, path, "an attribute set of strings", v);
                const char *k;
                json_t *x;
                json_object_foreach((json_t *)v, k, x) {
                        if (!json_is_string(x)) {
                                _cleanup_free_ char *p = join_path(path, k);
                                return fail_type(s, err, p, "a string", x);
                        }
                }
                return 0;
        }
        case K_STRLIST:
        case K_INTLIST:
        case K_MOUNTS:
        case K_PLUGINS: {
                const char *what = f->kind == K_STRLIST   ? "a list of strings"
                                   : f->kind == K_INTLIST ? "a list of integers"
                                   : f->kind == K_MOUNTS  ? "a list of mounts"
                                                          : "a list of plugins";
                if (!json_is_array(v))
                        return fail_type(s, err, path, what, v);
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x) {
                        _cleanup_free_ char *p = index_path(path, i);
                        if (f->kind == K_STRLIST && !json_is_string(x))
                                return fail_type(s, err, p, "a string", x);
                        if (f->kind == K_INTLIST && !json_is_integer(x))
                                return fail_type(s, err, p, "an integer", x);
                        if (f->kind == K_PLUGINS && !json_is_string(x))
                                return fail_type(
                                        s, err, p,
                                        "a plugin name (\"aws\") or path (./my-plugin.nix)", x);
                        if (f->kind == K_MOUNTS) {
                                if (!json_is_object(x))
                                        return fail_type(s, err, p,
                                                         "a mount { source = ...; target = ...; }",
                                                         x);
                                int r = check_obj(s, f->sub, x, p, err);
                                if (r < 0)
                                        return r;
                                const char *need[] = {"source", "target"};
                                for (size_t k = 0; k < 2; k++) {
                                        const json_t *y = json_object_get(x, need[k]);
                                        if (!y || json_is_null(y)) {
                                                _cleanup_free_ char *pp = join_path(p, need[k]);
                                                return fail(s, err, pp,
                                                            "missing (a mount needs "
                                                            "source and target)");
                                        }
                                }
                        }
                }
                return 0;
        }
        }
        return 0;
}

static int check_obj(const source *s, const schema_field *fs, const json_t *o, const char *prefix,
                     nbx_error **err) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)o, k, v) {
                const schema_field *f = find_field(fs, k);
                if (!f)
                        return fail_unknown(s, err, fs, prefix, k);
                _cleanup_free_ char *path = join_path(prefix, k);
                if (!path)
                        return nbx_error_set(err, ENOMEM, "checking config");
                int r = check_value(s, f, v, path, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- value helpers ------------------------------------------------------------------------ */

/* o.a.b, or NULL when missing or null. */
static const json_t *at(const json_t *o, const char *a, const char *b) {
        const json_t *v = json_object_get(o, a);
        if (v && b)
                v = json_is_object(v) ? json_object_get(v, b) : NULL;
        return v && !json_is_null(v) ? v : NULL;
}

static int set_str(char **slot, const char *v) {
        char *n = strdup(v);
        if (!n)
                return -ENOMEM;
        free(*slot);
        *slot = n;
        return 0;
}

static int set_origin(char **slot, const source *s) {
        return set_str(slot, s->origin);
}

static bool valid_name(const char *n) {
        size_t len = strlen(n);
        if (len == 0 || len > NBX_MAX_NAME)
                return false;
        if (!(islower((unsigned char)n[0]) || isdigit((unsigned char)n[0])))
                return false;
        for (const char *p = n; *p; p++)
                if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
                        return false;
        return true;
}

static bool valid_attr_path(const char *p) {
        size_t len = strlen(p);
        if (len == 0 || len > MAX_ATTR_PATH || p[0] == '.' || p[len - 1] == '.' || strstr(p, ".."))
                return false;
        for (const char *c = p; *c; c++)
                if (!(isalnum((unsigned char)*c) || strchr("_.+-", *c)))
                        return false;
        return true;
}

static bool valid_env_name(const char *n) {
        if (!*n || strlen(n) > MAX_ENV_NAME || !(isalpha((unsigned char)n[0]) || n[0] == '_'))
                return false;
        for (const char *p = n; *p; p++)
                if (!(isalnum((unsigned char)*p) || *p == '_'))
                        return false;
        return true;
}

/* A host path: "~" and "~/..." from the host home, relative from the project folder; must
 * exist.  *ret is canonical (realpath). */
static int host_path(const source *s, const nbx_config_ctx *ctx, const char *field, const char *in,
                     char **ret, nbx_error **err) {
        _cleanup_free_ char *q = nbx_quote(in, 200);
        if (!*in)
                return fail(s, err, field, "empty path");
        if (strlen(in) >= PATH_MAX)
                return fail(s, err, field, "path longer than %d bytes", PATH_MAX - 1);
        _cleanup_free_ char *abs = NULL;
        if (in[0] == '~') {
                if (in[1] != '\0' && in[1] != '/')
                        return fail(s, err, field, "%s: only ~ and ~/... are supported (not ~user)",
                                    q);
                if (asprintf(&abs, "%s%s", ctx->host_home, in + 1) < 0)
                        return -ENOMEM;
        } else if (in[0] == '/') {
                abs = strdup(in);
        } else {
                abs = nbx_path_join(ctx->project_dir, in);
        }
        if (!abs)
                return nbx_error_set(err, ENOMEM, "%s", field);
        char *real = realpath(abs, NULL);
        if (!real) {
                int e = errno;
                return fail(s, err, field, "%s: %s does not exist (%s)", q, abs, strerror(e));
        }
        *ret = real;
        return 0;
}

/* A guest path: nbx_mountspec_guest_path (the same rules as `nixbox mount`'s targets). */
static int guest_path(const source *s, const nbx_config_ctx *ctx, const char *field, const char *in,
                      char **ret, nbx_error **err) {
        return nbx_mountspec_guest_path(in, ctx->guest_home, ret, err) < 0
                       ? fail_wrap(s, err, field)
                       : 0;
}

/* ---- merge -------------------------------------------------------------------------------- */

static int push_with_origin(nbx_strv *list, nbx_strv *origins, const char *v, const source *s) {
        if (nbx_strv_push(list, v) < 0 || nbx_strv_push(origins, s->origin) < 0)
                return -ENOMEM;
        return 0;
}

static int merge_mount(const source *s, const nbx_config_ctx *ctx, nbx_config *c, const json_t *m,
                       const char *field, nbx_error **err) {
        _cleanup_free_ char *fs = join_path(field, "source"), *ft = join_path(field, "target");
        _cleanup_free_ char *src = NULL, *tgt = NULL;
        int r = host_path(s, ctx, fs, json_string_value(json_object_get(m, "source")), &src, err);
        if (r < 0)
                return r;
        if (!nbx_is_dir(src))
                return fail(s, err, fs, "%s is not a directory", src);
        r = guest_path(s, ctx, ft, json_string_value(json_object_get(m, "target")), &tgt, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_mounts; i++)
                if (strcmp(c->mounts[i].target, tgt) == 0)
                        return fail(s, err, ft,
                                    "%s is already a mount target (of %s, from %s); no two "
                                    "mounts on one target",
                                    tgt, c->mounts[i].source, c->mounts[i].origin);
        if (c->n_mounts >= NBX_MAX_MOUNTS)
                return fail(s, err, "mounts", "more than %d mounts", NBX_MAX_MOUNTS);
        const json_t *ro = json_object_get(m, "readonly");
        nbx_mount *n = realloc(c->mounts, (c->n_mounts + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        c->mounts = n;
        char *origin = strdup(s->origin);
        if (!origin)
                return -ENOMEM;
        c->mounts[c->n_mounts++] = (nbx_mount){.source = TAKE_PTR(src),
                                               .target = TAKE_PTR(tgt),
                                               .readonly = ro && json_is_true(ro),
                                               .origin = origin};
        return 0;
}

static int parse_enum(const source *s, const char *field, const char *v, const char *const *names,
                      size_t n, int *ret, nbx_error **err) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v, names[i]) == 0) {
                        *ret = (int)i;
                        return 0;
                }
        char list[256] = "";
        for (size_t i = 0; i < n; i++) {
                if (i)
                        strncat(list, ", ", sizeof(list) - strlen(list) - 1);
                strncat(list, names[i], sizeof(list) - strlen(list) - 1);
        }
        _cleanup_free_ char *q = nbx_quote(v, 80);
        return fail(s, err, field, "expected one of %s, got %s", list, q ? q : "");
}

static const char *const mode_names[] = {"off", "filtered", "open"};
static const char *const hv_names[] = {"auto", "cloud-hypervisor", "qemu"};
static const char *const accel_names[] = {"auto", "kvm", "tcg"};
static const char *const hook_names[] = {"pre-up", "post-up", "pre-down", "post-down"};

const char *nbx_net_mode_name(enum nbx_net_mode m) {
        return (unsigned)m < NBX_ARRAY_SIZE(mode_names) ? mode_names[m] : "?";
}
const char *nbx_hypervisor_name(enum nbx_hypervisor h) {
        return (unsigned)h < NBX_ARRAY_SIZE(hv_names) ? hv_names[h] : "?";
}
const char *nbx_accel_name(enum nbx_accel a) {
        return (unsigned)a < NBX_ARRAY_SIZE(accel_names) ? accel_names[a] : "?";
}
const char *nbx_hook_name(enum nbx_hook h) {
        return (unsigned)h < NBX_ARRAY_SIZE(hook_names) ? hook_names[h] : "?";
}

/* A deduplicated list of validated strings (domains, packages, ...). */
typedef int (*norm_fn)(const source *s, const char *field, const char *in, char **ret,
                       nbx_error **err);

static int norm_domain(const source *s, const char *field, const char *in, char **ret,
                       nbx_error **err) {
        int r = nbx_domain_normalize(in, ret, err);
        return r < 0 ? fail_wrap(s, err, field) : 0;
}

static int norm_attr(const source *s, const char *field, const char *in, char **ret,
                     nbx_error **err) {
        if (!valid_attr_path(in)) {
                _cleanup_free_ char *q = nbx_quote(in, 80);
                return fail(s, err, field,
                            "expected a nixpkgs attribute path ([A-Za-z0-9_.+-], at most %d "
                            "characters, e.g. \"python3Packages.requests\"), got %s",
                            MAX_ATTR_PATH, q ? q : "");
        }
        *ret = strdup(in);
        return *ret ? 0 : -ENOMEM;
}

static int merge_strlist(const source *s, const json_t *list, const char *field, norm_fn norm,
                         size_t cap, nbx_strv *dst, nbx_strv *origins, nbx_error **err) {
        if (!list)
                return 0;
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = index_path(field, i);
                _cleanup_free_ char *v = NULL;
                int r = norm(s, p, json_string_value(x), &v, err);
                if (r < 0)
                        return r;
                if (nbx_strv_contains(dst, v))
                        continue; /* first occurrence kept */
                if (dst->n >= cap)
                        return fail(s, err, field, "more than %zu entries", cap);
                if (push_with_origin(dst, origins, v, s) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int merge_ports(const source *s, const json_t *list, nbx_config *c, nbx_error **err) {
        if (!list)
                return 0;
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = index_path("network.ports", i);
                json_int_t v = json_integer_value(x);
                if (v < 1 || v > 65535)
                        return fail(s, err, p, "expected a TCP port 1..65535, got %lld",
                                    (long long)v);
                bool dup = false;
                for (size_t k = 0; k < c->n_ports; k++)
                        dup = dup || c->ports[k] == (uint16_t)v;
                if (dup)
                        continue;
                if (c->n_ports >= NBX_MAX_PORTS)
                        return fail(s, err, "network.ports", "more than %d ports", NBX_MAX_PORTS);
                uint16_t *n = realloc(c->ports, (c->n_ports + 1) * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                c->ports = n;
                c->ports[c->n_ports++] = (uint16_t)v;
                if (nbx_strv_pushf(&c->origins.ports, "%s", s->origin) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static bool parse_ip(const char *s, nbx_ip *ret) {
        nbx_ip ip = {0};
        if (inet_pton(AF_INET, s, &ip.v4) == 1)
                ip.family = AF_INET;
        else if (inet_pton(AF_INET6, s, &ip.v6) == 1)
                ip.family = AF_INET6;
        else
                return false;
        *ret = ip;
        return true;
}

static bool same_ip(const nbx_ip *a, const nbx_ip *b) {
        if (a->family != b->family)
                return false;
        return a->family == AF_INET ? memcmp(&a->v4, &b->v4, sizeof(a->v4)) == 0
                                    : memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
}

static int push_dns(nbx_config *c, const nbx_ip *ip, const char *origin) {
        for (size_t k = 0; k < c->n_upstream_dns; k++)
                if (same_ip(&c->upstream_dns[k], ip))
                        return 0;
        nbx_ip *n = realloc(c->upstream_dns, (c->n_upstream_dns + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        c->upstream_dns = n;
        c->upstream_dns[c->n_upstream_dns++] = *ip;
        return nbx_strv_push(&c->origins.upstream_dns, origin);
}

static int merge_dns(const source *s, const json_t *list, nbx_config *c, nbx_error **err) {
        if (!list)
                return 0;
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = index_path("network.upstreamDns", i);
                nbx_ip ip;
                if (!parse_ip(json_string_value(x), &ip)) {
                        _cleanup_free_ char *q = nbx_quote(json_string_value(x), 80);
                        return fail(s, err, p, "expected an IPv4 or IPv6 address, got %s",
                                    q ? q : "");
                }
                if (c->n_upstream_dns >= NBX_MAX_DNS)
                        return fail(s, err, "network.upstreamDns", "more than %d servers",
                                    NBX_MAX_DNS);
                if (push_dns(c, &ip, s->origin) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int merge_scripts(const source *s, const nbx_config_ctx *ctx, const json_t *list,
                         nbx_config *c, nbx_error **err) {
        if (!list)
                return 0;
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = index_path("scripts", i);
                _cleanup_free_ char *path = NULL;
                int r = host_path(s, ctx, p, json_string_value(x), &path, err);
                if (r < 0)
                        return r;
                if (!nbx_is_file(path))
                        return fail(s, err, p, "%s is not a regular file", path);
                if (c->scripts.n >= MAX_SCRIPTS)
                        return fail(s, err, "scripts", "more than %d scripts", MAX_SCRIPTS);
                if (push_with_origin(&c->scripts, &c->origins.scripts, path, s) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int merge_env(const source *s, const json_t *env, nbx_config *c, nbx_error **err) {
        if (!env)
                return 0;
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)env, k, x) {
                _cleanup_free_ char *p = join_path("env", k);
                _cleanup_free_ char *q = nbx_quote(k, 80);
                if (!valid_env_name(k))
                        return fail(s, err, p,
                                    "expected a variable name ([A-Za-z_][A-Za-z0-9_]*, at most "
                                    "%d characters), got %s",
                                    MAX_ENV_NAME, q ? q : "");
                const char *v = json_string_value(x);
                if (strlen(v) > MAX_ENV_VALUE)
                        return fail(s, err, p, "value longer than %d bytes", MAX_ENV_VALUE);
                size_t idx = c->n_env;
                for (size_t i = 0; i < c->n_env; i++)
                        if (strcmp(c->env[i].name, k) == 0)
                                idx = i; /* shallow merge: the later source wins */
                if (idx == c->n_env) {
                        if (c->n_env >= NBX_MAX_ENV)
                                return fail(s, err, "env", "more than %d variables", NBX_MAX_ENV);
                        nbx_env_var *n = realloc(c->env, (c->n_env + 1) * sizeof(*n));
                        if (!n)
                                return -ENOMEM;
                        c->env = n;
                        c->env[idx] = (nbx_env_var){0};
                        if (!(c->env[idx].name = strdup(k)))
                                return -ENOMEM;
                        c->n_env++;
                        if (nbx_strv_push(&c->origins.env, s->origin) < 0)
                                return -ENOMEM;
                } else {
                        free(c->origins.env.v[idx]);
                        if (!(c->origins.env.v[idx] = strdup(s->origin)))
                                return -ENOMEM;
                }
                if (set_str(&c->env[idx].value, v) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int merge_hooks(const source *s, const json_t *hooks, nbx_config *c, nbx_error **err) {
        for (int h = 0; h < NBX_HOOK_COUNT; h++) {
                const json_t *list = hooks ? json_object_get(hooks, hook_names[h]) : NULL;
                if (!list || json_is_null(list))
                        continue;
                _cleanup_free_ char *field = join_path("hooks", hook_names[h]);
                size_t i;
                json_t *x;
                json_array_foreach(list, i, x) {
                        _cleanup_free_ char *p = index_path(field, i);
                        const char *cmd = json_string_value(x);
                        if (!*cmd)
                                return fail(s, err, p, "empty command");
                        if (strlen(cmd) > MAX_HOOK_LEN)
                                return fail(s, err, p, "command longer than %d bytes",
                                            MAX_HOOK_LEN);
                        if (c->hooks[h].n >= NBX_MAX_HOOKS)
                                return fail(s, err, field, "more than %d commands", NBX_MAX_HOOKS);
                        if (push_with_origin(&c->hooks[h], &c->origins.hooks[h], cmd, s) < 0)
                                return -ENOMEM;
                }
        }
        return 0;
}

static int merge_source(const source *s, const nbx_config_ctx *ctx, nbx_config *c,
                        nbx_error **err) {
        const json_t *o = s->v, *v;
        int r;

        if ((v = at(o, "name", NULL))) {
                _cleanup_free_ char *n = strdup(json_string_value(v));
                if (!n)
                        return -ENOMEM;
                for (char *p = n; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                if (!valid_name(n)) {
                        _cleanup_free_ char *q = nbx_quote(json_string_value(v), 80);
                        return fail(s, err, "name",
                                    "expected 1-%d characters of a-z, 0-9 and '-' starting with a "
                                    "letter or digit, got %s",
                                    NBX_MAX_NAME, q ? q : "");
                }
                if (set_str(&c->name, n) < 0 || set_origin(&c->origins.name, s) < 0)
                        return -ENOMEM;
        }
        if ((v = at(o, "resources", "vcpus"))) {
                json_int_t n = json_integer_value(v);
                if (n < 1 || (uint64_t)n > ctx->host.cores)
                        return fail(s, err, "resources.vcpus",
                                    "expected 1..%u (this host's CPU count), got %lld",
                                    ctx->host.cores, (long long)n);
                c->vcpus = (unsigned)n;
                if (set_origin(&c->origins.vcpus, s) < 0)
                        return -ENOMEM;
        }
        if ((v = at(o, "resources", "memoryMB"))) {
                json_int_t n = json_integer_value(v);
                if (n < 256 || (uint64_t)n > ctx->host.memory_mb)
                        return fail(s, err, "resources.memoryMB",
                                    "expected 256..%llu (this host's RAM in MB), got %lld",
                                    (unsigned long long)ctx->host.memory_mb, (long long)n);
                c->memory_mb = (unsigned)n;
                if (set_origin(&c->origins.memory_mb, s) < 0)
                        return -ENOMEM;
        }
        if ((v = at(o, "mounts", NULL))) {
                size_t i;
                json_t *m;
                json_array_foreach(v, i, m) {
                        _cleanup_free_ char *p = index_path("mounts", i);
                        if ((r = merge_mount(s, ctx, c, m, p, err)) < 0)
                                return r;
                }
        }
        if ((v = at(o, "network", "mode"))) {
                int m;
                if ((r = parse_enum(s, "network.mode", json_string_value(v), mode_names,
                                    NBX_ARRAY_SIZE(mode_names), &m, err)) < 0)
                        return r;
                c->net_mode = (enum nbx_net_mode)m;
                if (set_origin(&c->origins.net_mode, s) < 0)
                        return -ENOMEM;
        }
        if ((r = merge_strlist(s, at(o, "network", "domains"), "network.domains", norm_domain,
                               NBX_MAX_DOMAINS, &c->domains, &c->origins.domains, err)) < 0)
                return r;
        if ((r = merge_ports(s, at(o, "network", "ports"), c, err)) < 0)
                return r;
        if ((r = merge_dns(s, at(o, "network", "upstreamDns"), c, err)) < 0)
                return r;
        if ((v = at(o, "network", "allowPrivate"))) {
                c->allow_private = json_is_true(v);
                if (set_origin(&c->origins.allow_private, s) < 0)
                        return -ENOMEM;
        }
        if ((r = merge_strlist(s, at(o, "nix", "packages"), "nix.packages", norm_attr, MAX_PACKAGES,
                               &c->nix_packages, &c->origins.nix_packages, err)) < 0)
                return r;
        if ((r = merge_strlist(s, at(o, "nix", "ldLibraries"), "nix.ldLibraries", norm_attr,
                               MAX_PACKAGES, &c->nix_ld_libraries, &c->origins.nix_ld_libraries,
                               err)) < 0)
                return r;
        if ((r = merge_scripts(s, ctx, at(o, "scripts", NULL), c, err)) < 0)
                return r;
        if ((r = merge_env(s, at(o, "env", NULL), c, err)) < 0)
                return r;
        if ((r = merge_hooks(s, at(o, "hooks", NULL), c, err)) < 0)
                return r;
        if ((v = at(o, "vm", "hypervisor"))) {
                int h;
                if ((r = parse_enum(s, "vm.hypervisor", json_string_value(v), hv_names,
                                    NBX_ARRAY_SIZE(hv_names), &h, err)) < 0)
                        return r;
                c->hypervisor = (enum nbx_hypervisor)h;
                if (set_origin(&c->origins.hypervisor, s) < 0)
                        return -ENOMEM;
        }
        if ((v = at(o, "vm", "accel"))) {
                int a;
                if ((r = parse_enum(s, "vm.accel", json_string_value(v), accel_names,
                                    NBX_ARRAY_SIZE(accel_names), &a, err)) < 0)
                        return r;
                c->accel = (enum nbx_accel)a;
                if (set_origin(&c->origins.accel, s) < 0)
                        return -ENOMEM;
        }
        if ((v = at(o, "vm", "image"))) {
                _cleanup_free_ char *img = NULL, *meta = NULL;
                if ((r = host_path(s, ctx, "vm.image", json_string_value(v), &img, err)) < 0)
                        return r;
                meta = nbx_path_join(img, "image.json");
                if (!meta)
                        return -ENOMEM;
                if (!nbx_is_dir(img) || !nbx_is_file(meta))
                        return fail(s, err, "vm.image",
                                    "%s is not an image folder (expected a folder holding "
                                    "image.json)",
                                    img);
                free(c->image);
                c->image = TAKE_PTR(img);
                if (set_origin(&c->origins.image, s) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- defaults ----------------------------------------------------------------------------- */

/* The project folder's name made into a valid VM name ("My_Project" → "my-project"). */
static char *default_name(const char *project_dir) {
        const char *base = strrchr(project_dir, '/');
        base = base ? base + 1 : project_dir;
        char out[NBX_MAX_NAME + 1];
        size_t n = 0;
        for (const char *p = base; *p && n < NBX_MAX_NAME; p++) {
                unsigned char ch = (unsigned char)tolower((unsigned char)*p);
                if (isalnum(ch) && ch < 0x80)
                        out[n++] = (char)ch;
                else if (n > 0 && out[n - 1] != '-')
                        out[n++] = '-';
        }
        while (n > 0 && out[n - 1] == '-')
                n--;
        out[n] = '\0';
        return strdup(n ? out : "nixbox");
}

static int set_defaults(const nbx_config_ctx *ctx, const json_t *user, nbx_config *c,
                        nbx_error **err) {
        const source def = {.origin = "default", .file = "defaults", .is_user = false};
        c->name = default_name(ctx->project_dir);
        c->vcpus = ctx->host.cores ? ctx->host.cores : 1;
        uint64_t mem = ctx->host.memory_mb / 2;
        if (mem < 4096)
                mem = 4096;
        if (mem > ctx->host.memory_mb)
                mem = ctx->host.memory_mb;
        c->memory_mb = (unsigned)mem;
        c->net_mode = NBX_NET_OPEN;
        c->allow_private = false;
        c->hypervisor = NBX_HV_AUTO;
        c->accel = NBX_ACCEL_AUTO;
        const char *o = "default";
        if (!c->name || set_str(&c->origins.name, o) < 0 || set_str(&c->origins.vcpus, o) < 0 ||
            set_str(&c->origins.memory_mb, o) < 0 || set_str(&c->origins.net_mode, o) < 0 ||
            set_str(&c->origins.allow_private, o) < 0 || set_str(&c->origins.hypervisor, o) < 0 ||
            set_str(&c->origins.image, o) < 0 || set_str(&c->origins.accel, o) < 0)
                return nbx_error_set(err, ENOMEM, "config defaults");
        if (push_with_origin(&c->domains, &c->origins.domains, "nixos.org", &def) < 0)
                return -ENOMEM;
        c->ports = calloc(2, sizeof(*c->ports));
        if (!c->ports)
                return -ENOMEM;
        c->ports[0] = 80;
        c->ports[1] = 443;
        c->n_ports = 2;
        if (nbx_strv_push(&c->origins.ports, o) < 0 || nbx_strv_push(&c->origins.ports, o) < 0)
                return -ENOMEM;
        /* The workspace mount: there unless the user's own config says `mounts` (a plugin's
         * mounts never remove it). */
        if (!at(user, "mounts", NULL) && ctx->guest_home) {
                c->mounts = calloc(1, sizeof(*c->mounts));
                if (!c->mounts)
                        return -ENOMEM;
                c->mounts[0].source = strdup(ctx->project_dir);
                c->mounts[0].target = nbx_path_join(ctx->guest_home, "workspace");
                c->mounts[0].origin = strdup(o);
                c->n_mounts = 1;
                if (!c->mounts[0].source || !c->mounts[0].target || !c->mounts[0].origin)
                        return -ENOMEM;
        }
        return 0;
}

/* ---- plugins ------------------------------------------------------------------------------ */

static char *builtin_list(const char *plugins_dir) {
        nbx_strv names = {0};
        DIR *d = opendir(plugins_dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *f = NULL;
                        if (asprintf(&f, "%s/%s/default.nix", plugins_dir, de->d_name) >= 0 &&
                            nbx_is_file(f))
                                (void)nbx_strv_push(&names, de->d_name);
                }
                closedir(d);
        }
        /* sort for a stable message */
        for (size_t i = 1; i < names.n; i++)
                for (size_t j = i; j > 0 && strcmp(names.v[j - 1], names.v[j]) > 0; j--) {
                        char *t = names.v[j];
                        names.v[j] = names.v[j - 1];
                        names.v[j - 1] = t;
                }
        size_t len = 1;
        for (size_t i = 0; i < names.n; i++)
                len += strlen(names.v[i]) + 2;
        char *out = calloc(1, len + 8);
        if (out) {
                for (size_t i = 0; i < names.n; i++) {
                        if (i)
                                strcat(out, ", ");
                        strcat(out, names.v[i]);
                }
                if (names.n == 0)
                        strcpy(out, "none");
        }
        nbx_strv_clear(&names);
        return out;
}

static const char *nix_type_name(const char *t) {
        static const struct {
                const char *nix, *text;
        } map[] = {{"int", "an integer"},       {"float", "a float"}, {"bool", "a boolean"},
                   {"string", "a string"},      {"path", "a path"},   {"null", "null"},
                   {"set", "an attribute set"}, {"list", "a list"},   {"lambda", "a function"}};
        for (size_t i = 0; t && i < NBX_ARRAY_SIZE(map); i++)
                if (strcmp(map[i].nix, t) == 0)
                        return map[i].text;
        return t ? t : "something else";
}

/* A path plugin's name for origins: relative to the config folder when inside it. */
static char *plugin_display(const char *spec, const char *config_dir) {
        size_t n = strlen(config_dir);
        if (spec[0] == '/' && strncmp(spec, config_dir, n) == 0 && spec[n] == '/') {
                char *out = NULL;
                return asprintf(&out, ".%s", spec + n) < 0 ? NULL : out;
        }
        return strdup(spec);
}

typedef struct plugin_src {
        source s;
        char *origin;
        char *file;
        bool builtin;
} plugin_src;

static int load_plugin(const json_t *p, const nbx_config_ctx *ctx, const source *user,
                       plugin_src *ret, nbx_error **err) {
        size_t index = (size_t)json_integer_value(json_object_get(p, "index"));
        _cleanup_free_ char *field = index_path("plugins", index);
        const char *error = json_string_value(json_object_get(p, "error"));
        const char *spec = json_string_value(json_object_get(p, "spec"));
        const char *kind = json_string_value(json_object_get(p, "kind"));
        const char *file = json_string_value(json_object_get(p, "file"));
        _cleanup_free_ char *q = nbx_quote(spec, 200);
        if (error && strcmp(error, "type") == 0)
                return fail(user, err, field,
                            "expected a plugin name (\"aws\") or path (./my-plugin.nix), got %s",
                            nix_type_name(json_string_value(json_object_get(p, "valueType"))));
        if (error && strcmp(error, "unknown") == 0) {
                _cleanup_free_ char *list = builtin_list(ctx->plugins_dir);
                return fail(user, err, field,
                            "unknown built-in plugin %s (built-in plugins: %s; a plugin of your "
                            "own is a path such as ./my-plugin.nix)",
                            q ? q : "", list ? list : "?");
        }
        if (error)
                return fail(user, err, field, "plugin %s not found: %s does not exist", q ? q : "",
                            file ? file : "?");
        if (!spec || !kind || !file)
                return nbx_error_set(err, EINVAL, "unexpected plugin record from eval-config.nix");

        _cleanup_free_ char *origin =
                strcmp(kind, "builtin") == 0 ? strdup(spec) : plugin_display(spec, ctx->config_dir);
        _cleanup_free_ char *real = realpath(file, NULL);
        if (!origin || !real)
                return nbx_error_set(err, errno ? errno : ENOMEM, "plugin %s", file);

        source s = {.origin = origin, .file = real, .is_user = false};
        const json_t *val = json_object_get(p, "value");
        if (!json_is_object(val))
                return fail(&s, err, NULL, "a plugin is an attribute set, this file is %s",
                            nix_type_name(json_string_value(json_object_get(p, "valueType"))));
        if (json_object_get(val, "env"))
                return fail(&s, err, "env",
                            "plugin %s may not set env: secrets reach the guest only through "
                            "your own config.nix (move these variables to env in %s)",
                            origin, ctx->config_path);
        if (json_object_get(val, "plugins"))
                return fail(&s, err, "plugins",
                            "a plugin cannot name other plugins; list them in %s",
                            ctx->config_path);
        s.v = val;
        int r = check_obj(&s, top_f, val, "", err);
        if (r < 0)
                return r;
        ret->origin = TAKE_PTR(origin);
        ret->file = TAKE_PTR(real);
        ret->builtin = strcmp(kind, "builtin") == 0;
        ret->s = (source){.origin = ret->origin, .file = ret->file, .is_user = false, .v = val};
        return 0;
}

/* ---- entry -------------------------------------------------------------------------------- */

int nbx_config_merge(const json_t *eval, const nbx_config_ctx *ctx, nbx_config *c,
                     nbx_error **err) {
        source user = {.origin = "user", .file = ctx->config_path, .is_user = true};
        const char *utype = json_string_value(json_object_get(eval, "userType"));
        user.v = json_object_get(eval, "user");
        if (!json_is_object(user.v))
                return fail(&user, err, NULL,
                            "config.nix must be an attribute set { ... }, this file is %s",
                            nix_type_name(utype));

        int r = check_obj(&user, top_f, user.v, "", err);
        if (r < 0)
                return r;

        const json_t *plist = json_object_get(eval, "plugins");
        size_t np = json_is_array(plist) ? json_array_size(plist) : 0;
        if (np > MAX_PLUGINS)
                return fail(&user, err, "plugins", "more than %d plugins", MAX_PLUGINS);
        plugin_src ps[MAX_PLUGINS] = {0};
        for (size_t i = 0; i < np && r >= 0; i++) {
                r = load_plugin(json_array_get(plist, i), ctx, &user, &ps[i], err);
                for (size_t k = 0; k < i && r >= 0; k++)
                        if (strcmp(ps[k].file, ps[i].file) == 0) {
                                _cleanup_free_ char *f = index_path("plugins", i);
                                r = fail(&user, err, f, "plugin %s is listed twice", ps[i].origin);
                        }
                /* built-ins are recorded by name, path plugins by their absolute file */
                if (r >= 0 &&
                    (nbx_strv_push(&c->plugins, ps[i].builtin ? ps[i].origin : ps[i].file) < 0 ||
                     nbx_strv_push(&c->plugin_files, ps[i].file) < 0 ||
                     nbx_strv_push(&c->origins.plugins, ps[i].origin) < 0))
                        r = nbx_error_set(err, ENOMEM, "plugins");
        }
        if (r >= 0)
                r = set_defaults(ctx, user.v, c, err);
        for (size_t i = 0; i < np && r >= 0; i++)
                r = merge_source(&ps[i].s, ctx, c, err);
        if (r >= 0)
                r = merge_source(&user, ctx, c, err);

        if (r >= 0 && c->n_upstream_dns == 0) {
                _cleanup_free_ nbx_ip *ips = NULL;
                size_t n = 0;
                r = nbx_resolv_conf_read(ctx->resolv_conf, ctx->resolv_conf_fallback, &ips, &n,
                                         err);
                for (size_t i = 0; r >= 0 && i < n; i++)
                        if (push_dns(c, &ips[i], "default") < 0)
                                r = -ENOMEM;
                if (r >= 0 && n == 0 && c->net_mode != NBX_NET_OFF)
                        r = fail(&user, err, "network.upstreamDns",
                                 "not set, and no nameserver found in %s; list DNS servers for "
                                 "the VM",
                                 ctx->resolv_conf);
        }

        for (size_t i = 0; i < np; i++) {
                free(ps[i].origin);
                free(ps[i].file);
        }
        if (r == -ENOMEM && err && !*err)
                return nbx_error_set(err, ENOMEM, "resolving the config");
        return r;
}
