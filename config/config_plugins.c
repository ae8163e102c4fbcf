/* Plugins: each record of eval-config.nix's "plugins" list checked and turned into an nbx_plugin
 * plus a source of settings for the merge.  A plugin contributes settings like config.nix does,
 * except env (secrets come only from the user's own file) and plugins (no chains). */
#include "config_plugins.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_schema.h"
#include "base/fsutil.h"

NBX_DEFINE_CLEANUP(DIR, closedir)

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The built-in plugins (folders of plugins_dir holding default.nix), sorted. */
static int builtin_names(const char *plugins_dir, nbx_strv *ret, nbx_error **err) {
        _cleanup_(closedirp) DIR *d = opendir(plugins_dir);
        if (!d)
                return 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *f = NULL;
                if (asprintf(&f, "%s/%s/default.nix", plugins_dir, de->d_name) < 0 ||
                    (nbx_is_file(f) && nbx_strv_push(ret, de->d_name) < 0))
                        return nbx_error_set(err, ENOMEM, "listing the built-in plugins");
        }
        if (ret->n)
                qsort(ret->v, ret->n, sizeof(*ret->v), cmp_str);
        return 0;
}

static int fail_unknown_builtin(const nbx_config_source *user, const nbx_config_ctx *ctx,
                                const char *field, const char *spec, nbx_error **err) {
        _cleanup_strv_ nbx_strv names = {0};
        _cleanup_free_ char *q = nbx_quote(spec, 200);
        int r = builtin_names(ctx->plugins_dir, &names, err);
        if (r < 0)
                return r;
        if (!q)
                return nbx_error_set(err, ENOMEM, "%s", field);
        char list[512] = "";
        nbx_suggest sug;
        nbx_suggest_init(&sug, spec);
        for (size_t i = 0; i < names.n; i++) {
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
                         names.v[i]);
                nbx_suggest_add(&sug, names.v[i]);
        }
        const char *best = nbx_suggest_best(&sug);
        return nbx_config_fail(user, err, field,
                               "unknown built-in plugin %s%s%s%s (built-in plugins: %s; a plugin "
                               "of your own is a path such as ./my-plugin.nix)",
                               q, best ? "; did you mean \"" : "", best ? best : "",
                               best ? "\"?" : "", names.n ? list : "none");
}

/* A path plugin's origin: relative to the config folder when inside it ("./tools"). */
static char *path_origin(const char *spec, const char *config_dir) {
        size_t n = strlen(config_dir);
        char *out = NULL;
        if (spec[0] == '/' && strncmp(spec, config_dir, n) == 0 && spec[n] == '/')
                return asprintf(&out, ".%s", spec + n) < 0 ? NULL : out;
        return strdup(spec);
}

/* The name commands use: the folder's name for a folder plugin (every built-in is one), the file
 * name without ".nix" for a single file. */
static char *command_name(const char *dir, const char *file, bool folder) {
        const char *base = strrchr(folder ? dir : file, '/');
        base = base ? base + 1 : (folder ? dir : file);
        size_t n = strlen(base);
        if (!folder && n > 4 && strcmp(base + n - 4, ".nix") == 0)
                n -= 4;
        return strndup(base, n);
}

/* The plugin facts of a found record: origin, name, canonical file and folder. */
static int plugin_facts(const char *spec, const char *kind, const char *file,
                        const nbx_config_ctx *ctx, nbx_plugin *ret, nbx_error **err) {
        bool builtin = strcmp(kind, "builtin") == 0;
        _cleanup_free_ char *origin = builtin ? strdup(spec) : path_origin(spec, ctx->config_dir);
        if (!origin)
                return nbx_error_set(err, ENOMEM, "plugin %s", spec);
        _cleanup_free_ char *real = realpath(file, NULL);
        if (!real)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, errno, "plugin %s: %s", origin, file);
        _cleanup_free_ char *copy = strdup(real);
        _cleanup_free_ char *dir = copy ? strdup(dirname(copy)) : NULL;
        const char *base = strrchr(real, '/');
        bool folder = base && strcmp(base + 1, "default.nix") == 0;
        char *name = dir ? command_name(dir, real, folder) : NULL;
        if (!name)
                return nbx_error_set(err, ENOMEM, "plugin %s", spec);
        *ret = (nbx_plugin){.origin = TAKE_PTR(origin),
                            .name = name,
                            .file = TAKE_PTR(real),
                            .dir = TAKE_PTR(dir),
                            .builtin = builtin,
                            .folder = folder};
        return 0;
}

static void plugin_done(nbx_plugin *p) {
        free(p->origin);
        free(p->name);
        free(p->file);
        free(p->dir);
}

/* What eval-config.nix reported for plugins[index]: a lookup error, or the plugin found. */
static int check_record(const json_t *rec, size_t index, const nbx_config_ctx *ctx,
                        const nbx_config_source *user, nbx_plugin *ret, nbx_error **err) {
        _cleanup_free_ char *field = nbx_config_field_index("plugins", index);
        if (!field)
                return nbx_error_set(err, ENOMEM, "plugins");
        const char *error = json_string_value(json_object_get(rec, "error"));
        const char *spec = json_string_value(json_object_get(rec, "spec"));
        const char *kind = json_string_value(json_object_get(rec, "kind"));
        const char *file = json_string_value(json_object_get(rec, "file"));
        const char *type = json_string_value(json_object_get(rec, "valueType"));
        if (error && strcmp(error, "type") == 0)
                return nbx_config_fail(user, err, field,
                                       "expected a plugin name (\"aws\") or path "
                                       "(./my-plugin.nix), got %s",
                                       nbx_config_nix_type(type));
        if (error && strcmp(error, "unknown") == 0 && spec)
                return fail_unknown_builtin(user, ctx, field, spec, err);
        if (error && strcmp(error, "missing") == 0 && spec && file) {
                _cleanup_free_ char *q = nbx_quote(spec, 200);
                return nbx_config_fail(user, err, field, "plugin %s not found: %s does not exist",
                                       q ? q : "", file);
        }
        if (error || !spec || !kind || !file ||
            (strcmp(kind, "builtin") != 0 && strcmp(kind, "path") != 0))
                return nbx_error_set(err, 0,
                                     "%s: unexpected record from nixbox's eval-config.nix (broken "
                                     "installation?)",
                                     field);
        return plugin_facts(spec, kind, file, ctx, ret, err);
}

/* The settings of a found plugin: an attribute set of the schema without env and plugins. */
static int check_settings(const json_t *rec, const nbx_config_ctx *ctx, const nbx_config_source *s,
                          nbx_error **err) {
        const char *type = json_string_value(json_object_get(rec, "valueType"));
        if (!json_is_object(s->v))
                return nbx_config_fail(s, err, NULL,
                                       "a plugin is an attribute set, this file is %s",
                                       nbx_config_nix_type(type));
        if (json_object_get(s->v, "env"))
                return nbx_config_fail(s, err, "env",
                                       "plugin %s may not set env: secrets reach the guest only "
                                       "through your own config.nix (move these variables to "
                                       "env in %s)",
                                       s->origin, ctx->config_path);
        if (json_object_get(s->v, "plugins"))
                return nbx_config_fail(s, err, "plugins",
                                       "a plugin cannot name other plugins; list them in %s",
                                       ctx->config_path);
        return nbx_config_schema_check(s, err);
}

static int push_plugin(nbx_config *c, nbx_plugin *p, nbx_error **err) {
        nbx_plugin *n = realloc(c->plugins, (c->n_plugins + 1) * sizeof(*n));
        if (!n)
                return nbx_error_set(err, ENOMEM, "plugins");
        c->plugins = n;
        c->plugins[c->n_plugins++] = *p;
        *p = (nbx_plugin){0};
        return 0;
}

int nbx_config_plugins_load(const json_t *records, const nbx_config_ctx *ctx,
                            const nbx_config_source *user, nbx_config *c,
                            nbx_config_source ret_sources[NBX_MAX_PLUGINS], nbx_error **err) {
        size_t n = json_array_size(records);
        if (n > NBX_MAX_PLUGINS)
                return nbx_config_fail(user, err, "plugins", "more than %d plugins",
                                       NBX_MAX_PLUGINS);
        for (size_t i = 0; i < n; i++) {
                const json_t *rec = json_array_get(records, i);
                nbx_plugin p = {0};
                int r = check_record(rec, i, ctx, user, &p, err);
                for (size_t k = 0; r >= 0 && k < c->n_plugins; k++) {
                        _cleanup_free_ char *f = nbx_config_field_index("plugins", i);
                        if (strcmp(c->plugins[k].file, p.file) == 0)
                                r = nbx_config_fail(user, err, f, "plugin %s is listed twice",
                                                    p.origin);
                        else if (strcmp(c->plugins[k].name, p.name) == 0)
                                r = nbx_config_fail(user, err, f,
                                                    "plugins %s and %s are both named \"%s\" "
                                                    "(`nixbox %s COMMAND` would be ambiguous); "
                                                    "rename one's folder or file",
                                                    c->plugins[k].origin, p.origin, p.name, p.name);
                }
                nbx_config_source s = {.origin = p.origin,
                                       .file = p.file,
                                       .is_user = false,
                                       .v = json_object_get(rec, "value")};
                if (r >= 0)
                        r = check_settings(rec, ctx, &s, err);
                if (r >= 0)
                        r = push_plugin(c, &p, err);
                plugin_done(&p);
                if (r < 0)
                        return r;
                ret_sources[i] = s;
        }
        return 0;
}
