/* config/config_plugins.c: eval-config.nix's plugin records (fed as JSON, no Nix) become
 * nbx_plugin entries and sources for the merge, or errors at plugins[i] of the user's file. */
#include "support/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_plugins.h"

#define FIXTURES "tests/fixtures/config"

typedef struct env {
        char *config_dir, *plugins_dir, *config_path;
        nbx_config_ctx ctx;
        nbx_config_source user;
} env;

static int setup(void **state) {
        env *e = calloc(1, sizeof(*e));
        e->config_dir = realpath(FIXTURES, NULL);
        e->plugins_dir = realpath("plugins", NULL);
        assert_true(asprintf(&e->config_path, "%s/config.nix", e->config_dir) > 0);
        e->ctx = (nbx_config_ctx){.config_dir = e->config_dir,
                                  .config_path = e->config_path,
                                  .plugins_dir = e->plugins_dir};
        e->user = (nbx_config_source){.origin = "user", .file = e->config_path, .is_user = true};
        *state = e;
        return 0;
}

static int teardown(void **state) {
        env *e = *state;
        free(e->config_dir);
        free(e->plugins_dir);
        free(e->config_path);
        free(e);
        return 0;
}

/* A found plugin's record: spec, kind, file (relative to the repository), its settings. */
static json_t *found(const char *spec, const char *kind, const char *file, const char *value) {
        char *abs = realpath(file, NULL);
        assert_non_null(abs);
        json_error_t je;
        json_t *v = json_loads(value, JSON_DECODE_ANY, &je);
        assert_non_null(v);
        json_t *r = json_pack("{s:i, s:s, s:s, s:s, s:n, s:s, s:o}", "index", 0, "spec", spec,
                              "kind", kind, "file", abs, "error", "valueType",
                              json_is_object(v) ? "set" : "list", "value", v);
        free(abs);
        return r;
}

static json_t *records(json_t *first, ...) {
        json_t *a = json_array();
        va_list ap;
        va_start(ap, first);
        for (json_t *r = first; r; r = va_arg(ap, json_t *))
                json_array_append_new(a, r);
        va_end(ap);
        return a;
}

static int load(env *e, json_t *recs, nbx_config *c, nbx_config_source *src, nbx_error **err) {
        *c = (nbx_config){0};
        int r = nbx_config_plugins_load(recs, &e->ctx, &e->user, c, src, err);
        json_decref(recs);
        return r;
}

static void test_builtin_and_path_plugins(void **state) {
        env *e = *state;
        nbx_config c;
        nbx_config_source src[NBX_MAX_PLUGINS];
        json_t *recs = records(
                found("aws", "builtin", "plugins/aws/default.nix", "{\"name\": \"a\"}"),
                found(FIXTURES "/plugins/first.nix", "path", FIXTURES "/plugins/first.nix", "{}"),
                found(FIXTURES "/plugins/folder", "path", FIXTURES "/plugins/folder/default.nix",
                      "{}"),
                NULL);
        /* eval-config.nix gives a path plugin's spec as an absolute path */
        char *abs = realpath(FIXTURES "/plugins/first.nix", NULL);
        json_object_set_new(json_array_get(recs, 1), "spec", json_string(abs));
        free(abs);
        abs = realpath(FIXTURES "/plugins/folder", NULL);
        json_object_set_new(json_array_get(recs, 2), "spec", json_string(abs));
        free(abs);
        json_incref(recs);
        _cleanup_error_ nbx_error *err = NULL;
        if (load(e, recs, &c, src, &err) < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(c.n_plugins, 3);
        assert_string_equal(c.plugins[0].origin, "aws");
        assert_true(c.plugins[0].builtin);
        assert_non_null(strstr(c.plugins[0].dir, "/plugins/aws"));
        assert_string_equal(c.plugins[1].origin, "./plugins/first.nix"); /* relative to config */
        assert_false(c.plugins[1].builtin);
        assert_non_null(strstr(c.plugins[1].file, "/plugins/first.nix"));
        assert_string_equal(c.plugins[2].origin, "./plugins/folder");
        assert_non_null(strstr(c.plugins[2].file, "/plugins/folder/default.nix"));
        assert_true(strlen(c.plugins[2].dir) > 7 &&
                    strcmp(c.plugins[2].dir + strlen(c.plugins[2].dir) - 7, "/folder") == 0);
        /* the names `nixbox NAME COMMAND` uses: a built-in's name, a folder's name, a file's
         * name without .nix; only folders have commands */
        assert_string_equal(c.plugins[0].name, "aws");
        assert_true(c.plugins[0].folder);
        assert_string_equal(c.plugins[1].name, "first");
        assert_false(c.plugins[1].folder);
        assert_string_equal(c.plugins[2].name, "folder");
        assert_true(c.plugins[2].folder);
        /* the sources the merge reads: the plugin's settings, named by origin and file */
        assert_string_equal(src[0].origin, "aws");
        assert_string_equal(src[0].file, c.plugins[0].file);
        assert_false(src[0].is_user);
        assert_string_equal(json_string_value(json_object_get(src[0].v, "name")), "a");
        json_decref(recs);
        nbx_config_done(&c);
}

static void bad(env *e, json_t *recs, int exit_code, const char *want) {
        nbx_config c;
        nbx_config_source src[NBX_MAX_PLUGINS];
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(load(e, recs, &c, src, &err) < 0);
        assert_non_null(err);
        assert_int_equal(err->exit_code, exit_code);
        if (!strstr(err->msg, want))
                fail_msg("expected \"%s\" in: %s", want, err->msg);
        nbx_config_done(&c);
}

static json_t *lookup_error(const char *error, const char *spec, const char *file) {
        json_t *r = json_pack("{s:i, s:s, s:s?, s:s, s:s?}", "index", 0, "error", error, "spec",
                              spec, "kind", "builtin", "file", file);
        if (!spec)
                json_object_set_new(r, "valueType", json_string("int"));
        return r;
}

static void test_lookup_errors(void **state) {
        env *e = *state;
        bad(e, records(lookup_error("type", NULL, NULL), NULL), NBX_EXIT_CONFIG,
            "plugins[0]: expected a plugin name (\"aws\") or path (./my-plugin.nix), got an "
            "integer");
        bad(e, records(lookup_error("unknown", "awss", NULL), NULL), NBX_EXIT_CONFIG,
            "plugins[0]: unknown built-in plugin \"awss\"; did you mean \"aws\"? (built-in "
            "plugins: aws, claude-code, codex, gemini, opencode, scala-sbt;");
        bad(e, records(lookup_error("unknown", "zzzzzz", NULL), NULL), NBX_EXIT_CONFIG,
            "unknown built-in plugin \"zzzzzz\" (built-in plugins: aws, claude-code, codex, "
            "gemini, opencode, scala-sbt; a "
            "plugin of your own is a path such as ./my-plugin.nix)");
        bad(e, records(lookup_error("missing", "./nope.nix", "/x/nope.nix"), NULL), NBX_EXIT_CONFIG,
            "plugins[0]: plugin \"./nope.nix\" not found: /x/nope.nix does not "
            "exist");
        /* the user's file is named: the error is in the list there */
        bad(e, records(lookup_error("unknown", "x", NULL), NULL), NBX_EXIT_CONFIG,
            "/fixtures/config/config.nix)");
}

static void test_records_nixbox_did_not_write(void **state) {
        env *e = *state;
        /* eval-config.nix never writes these: a broken installation, not the user's mistake */
        bad(e, records(json_pack("{s:s}", "spec", "aws"), NULL), NBX_EXIT_FAILURE,
            "plugins[0]: unexpected record from nixbox's eval-config.nix");
        bad(e, records(json_string("aws"), NULL), NBX_EXIT_FAILURE, "unexpected record");
        json_t *r = found("aws", "builtin", "plugins/aws/default.nix", "{}");
        json_object_set_new(r, "kind", json_string("remote"));
        bad(e, records(r, NULL), NBX_EXIT_FAILURE, "unexpected record");
        r = found("aws", "builtin", "plugins/aws/default.nix", "{}");
        json_object_set_new(r, "file", json_string("/nonexistent/default.nix"));
        bad(e, records(r, NULL), NBX_EXIT_CONFIG, "plugin aws: /nonexistent/default.nix");
}

static void test_plugin_settings(void **state) {
        env *e = *state;
        bad(e, records(found("aws", "builtin", "plugins/aws/default.nix", "[1]"), NULL),
            NBX_EXIT_CONFIG, "a plugin is an attribute set, this file is a list (plugin aws:");
        bad(e,
            records(found("aws", "builtin", "plugins/aws/default.nix", "{\"env\": {\"A\": \"1\"}}"),
                    NULL),
            NBX_EXIT_CONFIG, "env: plugin aws may not set env: secrets reach the guest only");
        bad(e,
            records(found("aws", "builtin", "plugins/aws/default.nix", "{\"plugins\": []}"), NULL),
            NBX_EXIT_CONFIG, "plugins: a plugin cannot name other plugins");
        bad(e,
            records(found("aws", "builtin", "plugins/aws/default.nix",
                          "{\"network\": {\"domian\": []}}"),
                    NULL),
            NBX_EXIT_CONFIG,
            "network.domian: unknown setting; did you mean network.domains? "
            "(plugin aws:");
}

/* A folder given by its default.nix is the folder plugin; a file without .nix keeps its name. */
static void test_names(void **state) {
        env *e = *state;
        nbx_config c;
        nbx_config_source src[NBX_MAX_PLUGINS];
        json_t *recs = records(found("./plugins/folder/default.nix", "path",
                                     FIXTURES "/plugins/folder/default.nix", "{}"),
                               found("./plugins/plugin-script.sh", "path",
                                     FIXTURES "/plugins/plugin-script.sh", "{}"),
                               NULL);
        _cleanup_error_ nbx_error *err = NULL;
        if (load(e, recs, &c, src, &err) < 0)
                fail_msg("%s", err->msg);
        assert_string_equal(c.plugins[0].name, "folder");
        assert_true(c.plugins[0].folder);
        assert_string_equal(c.plugins[1].name, "plugin-script.sh");
        assert_false(c.plugins[1].folder);
        nbx_config_done(&c);
        /* two plugins of one name: `nixbox aws login` would be ambiguous */
        bad(e,
            records(found("aws", "builtin", "plugins/aws/default.nix", "{}"),
                    found("./plugins/same-name/aws", "path",
                          FIXTURES "/plugins/same-name/aws/default.nix", "{}"),
                    NULL),
            NBX_EXIT_CONFIG,
            "plugins[1]: plugins aws and ./plugins/same-name/aws are both named \"aws\" (`nixbox "
            "aws COMMAND` would be ambiguous); rename one's folder or file");
}

static void test_listed_twice_and_too_many(void **state) {
        env *e = *state;
        bad(e,
            records(found("aws", "builtin", "plugins/aws/default.nix", "{}"),
                    found("aws", "builtin", "plugins/aws/default.nix", "{}"), NULL),
            NBX_EXIT_CONFIG, "plugins[1]: plugin aws is listed twice");
        json_t *many = json_array();
        for (int i = 0; i <= NBX_MAX_PLUGINS; i++)
                json_array_append_new(many,
                                      found("aws", "builtin", "plugins/aws/default.nix", "{}"));
        bad(e, many, NBX_EXIT_CONFIG, "plugins: more than 32 plugins");
        /* no records at all: no plugins */
        nbx_config c;
        nbx_config_source src[NBX_MAX_PLUGINS];
        assert_int_equal(load(e, NULL, &c, src, NULL), 0);
        assert_int_equal(c.n_plugins, 0);
        nbx_config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_builtin_and_path_plugins),
                cmocka_unit_test(test_lookup_errors),
                cmocka_unit_test(test_records_nixbox_did_not_write),
                cmocka_unit_test(test_plugin_settings),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_listed_twice_and_too_many),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
