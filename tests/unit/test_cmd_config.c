/* cmd/config.c end to end: the real `nixbox config` binary ($NIXBOX_BUILD/nixbox, default
 * build/) on the fixture projects in tests/fixtures/config/projects, with the real
 * nix-instantiate. */
#include "support/testutil.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "config/base/timeutil.h"

#define PROJECTS "tests/fixtures/config/projects"

extern char **environ;

typedef struct result {
        int code;
        char *out, *err;
} result;

static char *home_dir; /* an empty HOME: no plugin needs anything in it (no ~/.claude) */

static void run(result *r, const char *project, const char *a1, const char *a2, const char *a3) {
        char bin[PATH_MAX], proj[PATH_MAX];
        nbx_test_nixbox_path(bin);
        snprintf(proj, sizeof(proj), PROJECTS "/%s", project);
        char *argv[8] = {bin, "-C", proj, (char *)a1, (char *)a2, (char *)a3, NULL};
        nbx_strv env = {0};
        for (char **e = environ; *e; e++)
                if (strncmp(*e, "HOME=", 5) != 0 && strncmp(*e, "SUDO_", 5) != 0)
                        assert_int_equal(nbx_strv_push(&env, *e), 0);
        assert_true(nbx_strv_pushf(&env, "HOME=%s", home_dir) >= 0);
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.envp = env.v;
        int status = 0;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_run_capture(argv, &so, nbx_now_ms() + 60000, &status, &r->out, &r->err, &err) < 0)
                fail_msg("running %s: %s", bin, err->msg);
        r->code = nbx_status_code(status);
        nbx_strv_clear(&env);
}

static void result_done(result *r) {
        free(r->out);
        free(r->err);
}

static json_t *run_json(const char *project) {
        result r;
        run(&r, project, "config", "--json", NULL);
        if (r.code != 0)
                fail_msg("nixbox config --json on %s exited %d: %s", project, r.code, r.err);
        json_error_t je;
        json_t *j = json_loads(r.out, 0, &je);
        if (!j)
                fail_msg("invalid JSON (%s): %s", je.text, r.out);
        result_done(&r);
        return j;
}

static const char *str_at(json_t *j, const char *a, const char *b) {
        json_t *v = json_object_get(j, a);
        if (b)
                v = json_object_get(v, b);
        assert_true(json_is_string(v));
        return json_string_value(v);
}

static json_int_t int_at(json_t *j, const char *a, const char *b) {
        json_t *v = json_object_get(json_object_get(j, a), b);
        assert_true(json_is_integer(v));
        return json_integer_value(v);
}

/* list of strings at j.a.b equals want (NULL-terminated) */
static void assert_strs(json_t *list, const char *const *want) {
        size_t n = 0;
        for (; want[n]; n++) {
                json_t *v = json_array_get(list, n);
                if (!json_is_string(v) || strcmp(json_string_value(v), want[n]) != 0)
                        fail_msg("element %zu: expected %s, got %s", n, want[n],
                                 json_is_string(v) ? json_string_value(v) : "(not a string)");
        }
        assert_int_equal(json_array_size(list), n);
}

static bool has_str(json_t *list, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (json_is_string(v) &&
                                           strcmp(json_string_value(v), s) == 0) return true;
        return false;
}

static void test_no_plugins(void **state) {
        (void)state;
        json_t *j = run_json("no-plugins");
        nbx_host_facts h;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_host_facts_get(&h, &err), 0);
        assert_string_equal(str_at(j, "name", NULL), "no-plugins");
        assert_int_equal(json_array_size(json_object_get(j, "plugins")), 0);
        assert_int_equal(int_at(j, "resources", "vcpus"), h.cores);
        json_int_t mem = int_at(j, "resources", "memoryMB");
        assert_true(mem <= (json_int_t)h.memory_mb);
        assert_true(mem >= (json_int_t)(h.memory_mb < 4096 ? h.memory_mb : 4096));
        json_t *net = json_object_get(j, "network");
        assert_string_equal(str_at(net, "mode", NULL), "open");
        assert_strs(json_object_get(net, "domains"), (const char *[]){"nixos.org", NULL});
        assert_int_equal(json_array_size(json_object_get(net, "ports")), 2);
        assert_int_equal(json_integer_value(json_array_get(json_object_get(net, "ports"), 0)), 80);
        assert_int_equal(json_integer_value(json_array_get(json_object_get(net, "ports"), 1)), 443);
        assert_strs(json_object_get(net, "upstreamDns"), (const char *[]){"192.0.2.53", NULL});
        assert_true(json_is_false(json_object_get(net, "allowPrivate")));
        json_t *m = json_array_get(json_object_get(j, "mounts"), 0);
        char *real = realpath(PROJECTS "/no-plugins", NULL);
        assert_string_equal(str_at(m, "source", NULL), real);
        free(real);
        const char *t = str_at(m, "target", NULL);
        assert_true(strncmp(t, "/home/", 6) == 0);
        assert_non_null(strstr(t, "/workspace"));
        json_t *o = json_object_get(j, "origins");
        assert_string_equal(str_at(o, "name", NULL), "default");
        assert_string_equal(str_at(o, "network.mode", NULL), "default");
        assert_strs(json_object_get(o, "mounts"), (const char *[]){"default", NULL});
        assert_string_equal(str_at(j, "vm", "hypervisor"), "auto");
        assert_string_equal(str_at(j, "vm", "accel"), "auto");
        assert_true(json_is_null(json_object_get(json_object_get(j, "vm"), "image")));
        json_decref(j);
}

/* The six built-in plugins, with an empty home folder (a user who never ran any of them). */
static void test_builtin_plugins(void **state) {
        (void)state;
        json_t *j = run_json("builtin-plugins");
        json_t *pl = json_object_get(j, "plugins");
        assert_int_equal(json_array_size(pl), 6);
        assert_string_equal(str_at(json_array_get(pl, 0), "name", NULL), "claude-code");
        assert_string_equal(str_at(json_array_get(pl, 2), "name", NULL), "scala-sbt");
        assert_string_equal(str_at(json_array_get(pl, 5), "command", NULL), "opencode");
        assert_true(json_is_true(json_object_get(json_array_get(pl, 1), "builtin")));
        assert_non_null(
                strstr(str_at(json_array_get(pl, 1), "file", NULL), "plugins/aws/default.nix"));
        json_t *net = json_object_get(j, "network");
        assert_string_equal(str_at(net, "mode", NULL), "filtered");
        json_t *d = json_object_get(net, "domains");
        const char *want[] = {"nixos.org",       "anthropic.com",
                              "claude.ai",       "claude.com",
                              "sentry.io",       "sts.amazonaws.com",
                              "repo1.maven.org", "generativelanguage.googleapis.com",
                              "api.openai.com",  "chatgpt.com",
                              "models.dev",      "opencode.ai"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(want); i++)
                if (!has_str(d, want[i]))
                        fail_msg("domain %s missing", want[i]);
        json_t *pk = json_object_get(json_object_get(j, "nix"), "packages");
        assert_strs(pk, (const char *[]){"claude-code", "awscli2", "sbt", "scala", "scala-cli",
                                         "gemini-cli", "codex", "opencode", NULL});
        json_t *o = json_object_get(j, "origins");
        assert_strs(json_object_get(o, "nix.packages"),
                    (const char *[]){"claude-code", "aws", "scala-sbt", "scala-sbt", "scala-sbt",
                                     "gemini", "codex", "opencode", NULL});
        /* the plugins' mounts join the default workspace mount instead of replacing it: each
         * agent's own state folder, and claude-code's RAM folder */
        json_t *mounts = json_object_get(j, "mounts");
        assert_int_equal(json_array_size(mounts), 6);
        assert_non_null(strstr(str_at(json_array_get(mounts, 0), "target", NULL), "/workspace"));
        assert_string_equal(str_at(json_array_get(mounts, 1), "state", NULL), "claude-code");
        assert_non_null(strstr(str_at(json_array_get(mounts, 1), "target", NULL), "/.claude"));
        assert_true(json_is_true(json_object_get(json_array_get(mounts, 2), "tmpfs")));
        assert_string_equal(str_at(json_array_get(mounts, 3), "state", NULL), "gemini");
        assert_string_equal(str_at(json_array_get(mounts, 4), "state", NULL), "codex");
        assert_non_null(strstr(str_at(json_array_get(mounts, 5), "target", NULL),
                               "/.local/share/opencode"));
        assert_strs(json_object_get(o, "mounts"),
                    (const char *[]){"default", "claude-code", "claude-code", "gemini", "codex",
                                     "opencode", NULL});
        /* none of them allows a shared zone */
        assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
        json_decref(j);
}

static void test_path_plugin(void **state) {
        (void)state;
        json_t *j = run_json("path-plugin");
        json_t *pl = json_object_get(j, "plugins");
        assert_string_equal(str_at(json_array_get(pl, 0), "name", NULL), "./tools.nix");
        assert_string_equal(str_at(json_array_get(pl, 1), "name", NULL), "./folder-plugin");
        assert_true(json_is_false(json_object_get(json_array_get(pl, 0), "builtin")));
        assert_non_null(
                strstr(str_at(json_array_get(pl, 1), "file", NULL), "/folder-plugin/default.nix"));
        json_t *net = json_object_get(j, "network");
        assert_string_equal(str_at(net, "mode", NULL), "filtered");
        json_t *o = json_object_get(j, "origins");
        assert_string_equal(str_at(o, "network.mode", NULL), "./folder-plugin");
        assert_strs(json_object_get(net, "domains"),
                    (const char *[]){"nixos.org", "tools.example", "example.org", NULL});
        assert_strs(json_object_get(o, "network.domains"),
                    (const char *[]){"default", "./tools.nix", "user", NULL});
        assert_int_equal(json_integer_value(json_array_get(json_object_get(net, "ports"), 2)), 22);
        assert_strs(json_object_get(json_object_get(j, "nix"), "ldLibraries"),
                    (const char *[]){"zlib", NULL});
        json_t *scripts = json_object_get(j, "scripts");
        assert_int_equal(json_array_size(scripts), 1);
        assert_non_null(strstr(json_string_value(json_array_get(scripts, 0)), "/tools-setup.sh"));
        assert_strs(json_object_get(json_object_get(j, "hooks"), "post-up"),
                    (const char *[]){"echo tools ready", NULL});
        json_decref(j);
}

static void test_overrides(void **state) {
        (void)state;
        json_t *j = run_json("overrides");
        json_t *o = json_object_get(j, "origins");
        assert_string_equal(str_at(j, "name", NULL), "override-test");
        assert_string_equal(str_at(o, "name", NULL), "user");
        assert_int_equal(int_at(j, "resources", "vcpus"), 1);
        assert_int_equal(int_at(j, "resources", "memoryMB"), 512);
        /* the user's mounts replace the default workspace mount */
        json_t *mounts = json_object_get(j, "mounts");
        assert_int_equal(json_array_size(mounts), 1);
        assert_string_equal(str_at(json_array_get(mounts, 0), "target", NULL), "/srv/data");
        assert_true(json_is_true(json_object_get(json_array_get(mounts, 0), "readonly")));
        json_t *net = json_object_get(j, "network");
        assert_string_equal(str_at(net, "mode", NULL), "filtered"); /* user over ./open.nix */
        assert_string_equal(str_at(o, "network.mode", NULL), "user");
        assert_true(json_is_true(json_object_get(net, "allowPrivate")));
        assert_string_equal(str_at(o, "network.allowPrivate", NULL), "./open.nix");
        assert_strs(json_object_get(net, "domains"),
                    (const char *[]){"nixos.org", "sts.amazonaws.com", "github.com",
                                     "amazonaws.com", NULL});
        json_t *ports = json_object_get(net, "ports");
        assert_int_equal(json_array_size(ports), 3);
        assert_int_equal(json_integer_value(json_array_get(ports, 2)), 2222);
        assert_strs(json_object_get(net, "upstreamDns"),
                    (const char *[]){"192.0.2.53", "2001:db8::53", NULL});
        assert_string_equal(str_at(j, "vm", "accel"), "tcg");
        assert_string_equal(str_at(j, "vm", "hypervisor"), "qemu");
        assert_string_equal(str_at(o, "vm.hypervisor", NULL), "./open.nix");
        assert_strs(json_object_get(json_object_get(j, "hooks"), "post-up"),
                    (const char *[]){"echo plugin", "echo user", NULL});
        assert_string_equal(str_at(j, "env", "API_TOKEN"), "********");
        assert_string_equal(str_at(o, "env", "API_TOKEN"), "user");
        json_decref(j);

        /* --show-secrets, the global --json, and the readable form */
        result r;
        run(&r, "overrides", "--json", "config", "--show-secrets");
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "\"API_TOKEN\": \"s3cret-value\""));
        result_done(&r);
        run(&r, "overrides", "config", NULL, NULL);
        assert_int_equal(r.code, 0);
        assert_null(strstr(r.out, "s3cret-value"));
        assert_non_null(strstr(r.out, "network.mode"));
        assert_non_null(strstr(r.out, "filtered   (user)"));
        assert_non_null(strstr(r.out, "qemu   (./open.nix)"));
        assert_non_null(strstr(r.out, "sts.amazonaws.com   (aws)"));
        result_done(&r);
}

static void broken(const char *project, const char *field, const char *what) {
        result r;
        run(&r, project, "config", "--json", NULL);
        assert_int_equal(r.code, NBX_EXIT_CONFIG);
        assert_string_equal(r.out, ""); /* nothing printed as a result */
        char file[PATH_MAX];
        snprintf(file, sizeof(file), "%s/.nixbox/config.nix", project);
        if (!strstr(r.err, file) || !strstr(r.err, field) || !strstr(r.err, what))
                fail_msg("%s: expected file, \"%s\" and \"%s\" in: %s", project, field, what,
                         r.err);
        result_done(&r);
}

static void test_broken_configs(void **state) {
        (void)state;
        broken("broken-syntax", "config.nix:4", "syntax error");
        broken("broken-type", "resources.vcpus", "expected an integer, got a string \"four\"");
        broken("broken-unknown-key", "network.domian", "did you mean network.domains?");
        broken("broken-domain", "network.domains[0]", "\"evil.com/#/1.2.3.4\" is not a valid");
}

static void test_warnings_printed(void **state) {
        (void)state;
        /* the user allows amazonaws.com, which holds shared suffixes: accepted, with a warning
         * on stderr, in the text and the JSON form alike */
        result r;
        run(&r, "overrides", "config", NULL, NULL);
        assert_int_equal(r.code, 0);
        if (!strstr(r.err, "warning: network.domains[1]: \"amazonaws.com\" holds shared suffixes "
                           "such as \"s3.amazonaws.com\"") ||
            !strstr(r.err, "overrides/.nixbox/config.nix)"))
                fail_msg("no warning for amazonaws.com on stderr: %s", r.err);
        assert_null(strstr(r.out, "warning"));
        result_done(&r);
        json_t *j = run_json("overrides");
        json_t *w = json_object_get(j, "warnings");
        assert_int_equal(json_array_size(w), 1);
        assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "amazonaws.com"));
        json_decref(j);
        /* no warning where there is nothing to warn about (the built-in plugins name hosts) */
        run(&r, "builtin-plugins", "config", NULL, NULL);
        assert_int_equal(r.code, 0);
        assert_null(strstr(r.err, "warning"));
        result_done(&r);
        run(&r, "no-plugins", "config", NULL, NULL);
        assert_int_equal(r.code, 0);
        assert_null(strstr(r.err, "warning"));
        result_done(&r);
}

static void test_usage(void **state) {
        (void)state;
        result r;
        run(&r, "no-plugins", "config", "--bogus", NULL);
        assert_int_equal(r.code, NBX_EXIT_USAGE);
        result_done(&r);
}

static int setup(void **state) {
        (void)state;
        home_dir = nbx_test_tmpdir();
        return 0;
}

static int teardown(void **state) {
        (void)state;
        nbx_test_rmdir(home_dir);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_plugins),     cmocka_unit_test(test_builtin_plugins),
                cmocka_unit_test(test_path_plugin),    cmocka_unit_test(test_overrides),
                cmocka_unit_test(test_broken_configs), cmocka_unit_test(test_warnings_printed),
                cmocka_unit_test(test_usage),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
