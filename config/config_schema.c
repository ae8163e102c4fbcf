/* The schema of config.nix and of a plugin: one table of known keys and their types, checked
 * before any value is used, so a typo is reported as a typo ("did you mean network.domains?")
 * rather than as a missing setting. */
#include "config_schema.h"

#include <errno.h>
#include <string.h>

enum kind {
        K_OBJ,     /* an attribute set of the fields in sub */
        K_STR,     /* a string */
        K_INT,     /* an integer */
        K_BOOL,    /* true or false */
        K_STRLIST, /* a list of strings */
        K_INTLIST, /* a list of integers */
        K_MOUNTS,  /* a list of attribute sets of the fields in sub, each with a target */
        K_STRMAP,  /* an attribute set of strings, any names (env) */
        K_PLUGINS, /* a list of plugin names or paths (paths arrive as strings) */
        K_HOOKS,   /* an attribute set of string lists named by nbx_hook_table */
};

typedef struct field {
        const char *key;
        enum kind kind;
        const struct field *sub;
} field;

static const field resources_f[] = {{"vcpus", K_INT, NULL}, {"memoryMB", K_INT, NULL}, {0}};
static const field network_f[] = {{"mode", K_STR, NULL},          {"domains", K_STRLIST, NULL},
                                  {"ports", K_INTLIST, NULL},     {"upstreamDns", K_STRLIST, NULL},
                                  {"allowPrivate", K_BOOL, NULL}, {0}};
static const field nix_f[] = {{"packages", K_STRLIST, NULL}, {"ldLibraries", K_STRLIST, NULL}, {0}};
static const field vm_f[] = {
        {"hypervisor", K_STR, NULL}, {"image", K_STR, NULL}, {"accel", K_STR, NULL}, {0}};
static const field mount_f[] = {{"source", K_STR, NULL},    {"state", K_STR, NULL},
                                {"tmpfs", K_BOOL, NULL},    {"target", K_STR, NULL},
                                {"readonly", K_BOOL, NULL}, {0}};
static const field top_f[] = {{"plugins", K_PLUGINS, NULL},
                              {"name", K_STR, NULL},
                              {"resources", K_OBJ, resources_f},
                              {"mounts", K_MOUNTS, mount_f},
                              {"network", K_OBJ, network_f},
                              {"nix", K_OBJ, nix_f},
                              {"scripts", K_STRLIST, NULL},
                              {"env", K_STRMAP, NULL},
                              {"hooks", K_HOOKS, NULL},
                              {"vm", K_OBJ, vm_f},
                              {0}};

/* "PATH: unknown setting; did you mean SUGGESTION?" or the list of the keys known there. */
static int fail_unknown(const nbx_config_source *s, const char *path, const char *prefix,
                        const char *key, const char *const *known, size_t n, nbx_error **err) {
        nbx_suggest sug;
        nbx_suggest_init(&sug, key);
        for (size_t i = 0; i < n; i++)
                nbx_suggest_add(&sug, known[i]);
        const char *best = nbx_suggest_best(&sug);
        if (best) {
                _cleanup_free_ char *full = nbx_config_field(prefix, best);
                return nbx_config_fail(s, err, path, "unknown setting; did you mean %s?",
                                       full ? full : best);
        }
        char list[512] = "";
        for (size_t i = 0; i < n; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                         known[i]);
        return nbx_config_fail(s, err, path, "unknown setting (known here: %s)", list);
}

static int check_obj(const nbx_config_source *s, const field *fs, const json_t *o,
                     const char *prefix, nbx_error **err);

static int check_list(const nbx_config_source *s, const field *f, const json_t *v, const char *path,
                      nbx_error **err) {
        const char *what = f->kind == K_STRLIST   ? "a list of strings"
                           : f->kind == K_INTLIST ? "a list of integers"
                           : f->kind == K_MOUNTS  ? "a list of mounts"
                                                  : "a list of plugins";
        if (!json_is_array(v))
                return nbx_config_fail_type(s, err, path, what, v);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index(path, i);
                if (!p)
                        return nbx_error_set(err, ENOMEM, "checking the config");
                if (f->kind == K_STRLIST && !json_is_string(x))
                        return nbx_config_fail_type(s, err, p, "a string", x);
                if (f->kind == K_INTLIST && !json_is_integer(x))
                        return nbx_config_fail_type(s, err, p, "an integer", x);
                if (f->kind == K_PLUGINS && !json_is_string(x))
                        return nbx_config_fail_type(
                                s, err, p, "a plugin name (\"aws\") or path (./my-plugin.nix)", x);
                if (f->kind != K_MOUNTS)
                        continue;
                if (!json_is_object(x))
                        return nbx_config_fail_type(s, err, p,
                                                    "a mount { source = ...; target = ...; }", x);
                int r = check_obj(s, f->sub, x, p, err);
                if (r < 0)
                        return r;
                const json_t *y = json_object_get(x, "target");
                if (!y || json_is_null(y)) {
                        _cleanup_free_ char *pp = nbx_config_field(p, "target");
                        return nbx_config_fail(s, err, pp,
                                               "missing (a mount needs a target, and a source, "
                                               "a state or tmpfs = true)");
                }
        }
        return 0;
}

static int check_hooks(const nbx_config_source *s, const json_t *v, const char *path,
                       nbx_error **err) {
        static const field hook_list = {"", K_STRLIST, NULL};
        if (!json_is_object(v))
                return nbx_config_fail_type(s, err, path, "an attribute set of command lists", v);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
                _cleanup_free_ char *p = nbx_config_field(path, k);
                if (!p)
                        return nbx_error_set(err, ENOMEM, "checking the config");
                enum nbx_hook h;
                if (nbx_hook_from_name(k, &h, NULL) < 0)
                        return fail_unknown(s, p, path, k, nbx_hook_table.v, nbx_hook_table.n, err);
                int r = json_is_null(x) ? 0 : check_list(s, &hook_list, x, p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_value(const nbx_config_source *s, const field *f, const json_t *v,
                       const char *path, nbx_error **err) {
        if (json_is_null(v))
                return 0; /* null = not set */
        switch (f->kind) {
        case K_OBJ:
                if (!json_is_object(v))
                        return nbx_config_fail_type(s, err, path, "an attribute set", v);
                return check_obj(s, f->sub, v, path, err);
        case K_STR:
                return json_is_string(v) ? 0 : nbx_config_fail_type(s, err, path, "a string", v);
        case K_INT:
                return json_is_integer(v) ? 0 : nbx_config_fail_type(s, err, path, "an integer", v);
        case K_BOOL:
                return json_is_boolean(v)
                               ? 0
                               : nbx_config_fail_type(s, err, path, "a boolean (true or false)", v);
        case K_STRMAP: {
                if (!json_is_object(v))
                        return nbx_config_fail_type(s, err, path, "an attribute set of strings", v);
                const char *k;
                json_t *x;
                json_object_foreach((json_t *)v, k, x) {
                        if (!json_is_string(x)) {
                                _cleanup_free_ char *p = nbx_config_field(path, k);
                                return nbx_config_fail_type(s, err, p, "a string", x);
                        }
                }
                return 0;
        }
        case K_HOOKS:
                return check_hooks(s, v, path, err);
        case K_STRLIST:
        case K_INTLIST:
        case K_MOUNTS:
        case K_PLUGINS:
                return check_list(s, f, v, path, err);
        }
        return nbx_config_fail(s, err, path, "no rule to check this setting");
}

static int check_obj(const nbx_config_source *s, const field *fs, const json_t *o,
                     const char *prefix, nbx_error **err) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)o, k, v) {
                _cleanup_free_ char *path = nbx_config_field(prefix, k);
                if (!path)
                        return nbx_error_set(err, ENOMEM, "checking the config");
                const field *f = fs;
                while (f->key && strcmp(f->key, k) != 0)
                        f++;
                if (!f->key) {
                        const char *known[32];
                        size_t n = 0;
                        for (const field *g = fs; g->key && n < NBX_ARRAY_SIZE(known); g++)
                                known[n++] = g->key;
                        return fail_unknown(s, path, prefix, k, known, n, err);
                }
                int r = check_value(s, f, v, path, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int nbx_config_schema_check(const nbx_config_source *s, nbx_error **err) {
        if (!json_is_object(s->v))
                return nbx_config_fail_type(s, err, NULL, "an attribute set", s->v);
        return check_obj(s, top_f, s->v, "", err);
}
