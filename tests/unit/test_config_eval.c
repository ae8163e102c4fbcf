/* config/config_eval.c: nix-instantiate's output read as JSON, the real Nix evaluating
 * nix/eval-config.nix, and doctor's check of Nix — against the real nix-instantiate and against
 * stand-in nix-instantiate scripts (named so below) for the Nix versions and failures this
 * machine does not have. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/configproj.h"
#include "config/config_eval.h"
#include "config/base/fsutil.h"

static void test_parse(void **state) {
        (void)state;
        json_t *j = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_config_eval_parse("{\"user\": {}}", "c.nix", &j, &err), 0);
        assert_true(json_is_object(json_object_get(j, "user")));
        json_decref(j);
        const char *bad[][2] = {{"", "c.nix: nix-instantiate printed invalid JSON"},
                                {"{\"a\": 1, \"a\": 2}", "printed invalid JSON"},
                                {"[1]", "printed no JSON object"},
                                {"\"text\"", "printed invalid JSON"},
                                {"{\"a\": \"\\u0000\"}", "printed invalid JSON"}};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                j = NULL;
                assert_true(nbx_config_eval_parse(bad[i][0], "c.nix", &j, &err) < 0);
                assert_null(j);
                nbx_test_assert_contains(err->msg, bad[i][1]);
                nbx_error_free(err);
                err = NULL;
        }
}

static int eval(nbx_test_proj *p, const char *prog, json_t **ret, nbx_error **err) {
        char *cfg = nbx_path_join(p->dir, ".nixbox/config.nix");
        char *plugins = realpath("plugins", NULL), *nix = realpath("nix", NULL);
        nbx_config_eval_opts o = {.config_path = cfg,
                                  .plugins_dir = plugins,
                                  .nix_dir = nix,
                                  .nix_instantiate = prog};
        int r = nbx_config_eval(&o, ret, err);
        free(cfg);
        free(plugins);
        free(nix);
        return r;
}

static void test_eval_config_shape(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ name = \"x\"; plugins = [ \"aws\" ./plugins/first.nix \"nope\" ];"
                               " scripts = [ ./setup.sh ]; }");
        json_auto_t *j = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        if (eval(&p, NULL, &j, &err) < 0)
                fail_msg("%s", err->msg);
        assert_string_equal(json_string_value(json_object_get(j, "userType")), "set");
        json_t *user = json_object_get(j, "user");
        assert_string_equal(json_string_value(json_object_get(user, "name")), "x");
        /* a Nix path arrives as an absolute path string, nothing copied to the store */
        const char *script = json_string_value(json_array_get(json_object_get(user, "scripts"), 0));
        assert_non_null(script);
        assert_true(script[0] == '/' && strstr(script, "/.nixbox/setup.sh"));
        json_t *pl = json_object_get(j, "plugins");
        assert_int_equal(json_array_size(pl), 3);
        json_t *aws = json_array_get(pl, 0);
        assert_string_equal(json_string_value(json_object_get(aws, "kind")), "builtin");
        assert_true(json_is_object(json_object_get(aws, "value")));
        json_t *first = json_array_get(pl, 1);
        assert_string_equal(json_string_value(json_object_get(first, "kind")), "path");
        assert_string_equal(json_string_value(json_object_get(json_array_get(pl, 2), "error")),
                            "unknown");
        nbx_test_proj_done(&p);
}

static void test_eval_errors(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ a = ; }");
        json_t *j = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(eval(&p, NULL, &j, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        nbx_test_assert_contains(err->msg, "syntax error");
        assert_null(strstr(err->msg, "\033["));
        assert_true(strncmp(err->msg, "error: ", 7) != 0);
        nbx_error_free(err);
        err = NULL;
        /* eval-config.nix's own errors name their file and field */
        nbx_test_write(p.dir, ".nixbox/config.nix", "{ hooks.pre-up = [ (x: x) ]; }");
        assert_true(eval(&p, NULL, &j, &err) < 0);
        nbx_test_assert_contains(err->msg, "hooks.pre-up[0]: expected data, got a function");
        nbx_error_free(err);
        err = NULL;
        assert_true(eval(&p, "nix-instantiate-does-not-exist", &j, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        nbx_test_assert_contains(err->msg, "apt-get install nix-bin");
        nbx_test_proj_done(&p);
}

/* ---- nbx_config_check_nix ----------------------------------------------------------------- */

/* doctor's Nix check with PATH = dir (a folder holding a stand-in nix-instantiate) or this
 * machine's PATH (dir NULL). */
static nbx_check check_with_path(const char *dir) {
        char *saved = strdup(getenv("PATH"));
        if (dir)
                setenv("PATH", dir, 1);
        nbx_checks l = {0};
        nbx_config_check_nix(&l);
        setenv("PATH", saved, 1);
        free(saved);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.v[0].name, "nix");
        assert_true(l.v[0].required);
        return l.v[0];
}

/* A stand-in nix-instantiate: prints version for --version; for an evaluation it checks that it
 * was asked to use the dummy:// store and prints eval_out (or fails with eval_err). */
static nbx_check check_stand_in(const char *version, const char *eval_out, const char *eval_err) {
        char *tmp = nbx_test_tmpdir();
        char *script = NULL;
        assert_true(asprintf(&script,
                             "#!/bin/sh\n"
                             "# stand-in for nix-instantiate\n"
                             "if [ \"$1\" = --version ]; then echo '%s'; exit 0; fi\n"
                             "case \"$*\" in *'--eval --strict --json --store dummy://'*) ;; "
                             "*) echo 'error: not the dummy store' >&2; exit 1;; esac\n"
                             "%s\n",
                             version, eval_err ? eval_err : eval_out) > 0);
        nbx_test_write(tmp, "nix-instantiate", script);
        char *path = nbx_path_join(tmp, "nix-instantiate");
        assert_int_equal(chmod(path, 0755), 0);
        nbx_check c = check_with_path(tmp);
        free(script);
        free(path);
        nbx_test_rmdir(tmp);
        return c;
}

static void test_check_nix_real(void **state) {
        (void)state;
        nbx_check c = check_with_path(NULL);
        if (c.status != NBX_CHECK_OK)
                fail_msg("%s: %s", c.detail, c.fix);
        nbx_test_assert_contains(c.detail, "Nix 2.");
        nbx_test_assert_contains(c.detail, "/nix-instantiate)");
        assert_string_equal(c.fix, "");
}

static void test_check_nix_missing(void **state) {
        (void)state;
        char *empty = nbx_test_tmpdir();
        nbx_check c = check_with_path(empty);
        nbx_test_rmdir(empty);
        assert_int_equal(c.status, NBX_CHECK_MISSING);
        nbx_test_assert_contains(c.detail, "nix-instantiate not found in PATH");
        nbx_test_assert_contains(c.fix, "sudo apt-get install nix-bin");
}

static void test_check_nix_stand_ins(void **state) {
        (void)state;
        nbx_check c = check_stand_in("nix-instantiate (Nix) 2.3.16", "echo 1", NULL);
        assert_int_equal(c.status, NBX_CHECK_MISSING);
        nbx_test_assert_contains(c.detail, "Nix 2.3.16 at ");
        nbx_test_assert_contains(c.detail, "nixbox needs 2.4 or later");
        nbx_test_assert_contains(c.fix, "nix-bin");

        c = check_stand_in("something else", "echo 1", NULL);
        assert_int_equal(c.status, NBX_CHECK_WARN);
        nbx_test_assert_contains(c.detail, "prints an unknown version (\"something else\")");

        c = check_stand_in("nix-instantiate (Nix) 2.18.1", NULL,
                           "echo 'error: cannot open the store' >&2; exit 1");
        assert_int_equal(c.status, NBX_CHECK_MISSING);
        nbx_test_assert_contains(c.detail, "Nix 2.18.1 at ");
        nbx_test_assert_contains(c.detail, "cannot evaluate: cannot open the store");

        c = check_stand_in("nix-instantiate (Nix) 2.18.1", "echo '\"nixbox\"'", NULL);
        assert_int_equal(c.status, NBX_CHECK_OK);
        nbx_test_assert_contains(c.detail, "Nix 2.18.1 (");
}

/* Restricted mode: the configuration reads only its own folder (and nixbox's plugins), but
 * builtins.getEnv still sees nixbox's environment — in config.nix and in the files it imports. */
static void test_restricted_mode_and_getenv(void **state) {
        (void)state;
        _cleanup_free_ char *msg =
                nbx_test_config_bad("{ env.X = builtins.readFile /etc/hostname; }");
        nbx_test_assert_contains(msg, "forbidden in restricted mode");
        free(msg);
        msg = nbx_test_config_bad("{ plugins = [ /etc ]; }");
        nbx_test_assert_contains(msg, "plugins[0]");

        setenv("NBX_TEST_GETENV", "from \"the\" host ${x} \\ \n", 1);
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ network.upstreamDns = [ \"192.0.2.53\" ];"
                               "  env.A = builtins.getEnv \"NBX_TEST_GETENV\";"
                               "  env.B = (import ./more.nix).v;"
                               "  env.C = builtins.getEnv \"NBX_TEST_UNSET_VARIABLE\"; }");
        nbx_test_write(p.dir, ".nixbox/more.nix", "{ v = builtins.getEnv \"NBX_TEST_GETENV\"; }");
        nbx_config c;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_test_proj_load(&p, &c, &err) < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(c.n_env, 3);
        for (size_t i = 0; i < 2; i++)
                assert_string_equal(c.env[i].value, "from \"the\" host ${x} \\ \n");
        assert_string_equal(c.env[2].value, "");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
        unsetenv("NBX_TEST_GETENV");
}

/* config_dir: the approved copy is what is evaluated, and messages name the live .nixbox/. */
static void test_config_dir_is_evaluated(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ name = \"live\"; network.upstreamDns = [ \"192.0.2.53\" ]; }");
        char *copy = nbx_path_join(p.tmp, "approved");
        nbx_test_write(copy, "config.nix",
                       "{ name = \"approved\"; network.upstreamDns = [ \"192.0.2.53\" ]; }");
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = p.home,
                             .guest_home = "/home/t",
                             .host = &p.host,
                             .resolv_conf = p.resolv,
                             .config_dir = copy};
        nbx_config c;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_config_load(p.dir, &o, &c, &err), 0);
        assert_string_equal(c.name, "approved");
        nbx_config_done(&c);
        nbx_test_write(copy, "config.nix", "{ network.mode = \"shut\"; }");
        assert_true(nbx_config_load(p.dir, &o, &c, &err) < 0);
        char live[4200];
        snprintf(live, sizeof(live), "%s/.nixbox/config.nix", p.dir);
        nbx_test_assert_contains(err->msg, live);
        assert_null(strstr(err->msg, copy));
        free(copy);
        nbx_test_proj_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_restricted_mode_and_getenv),
                cmocka_unit_test(test_config_dir_is_evaluated),
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_eval_config_shape),
                cmocka_unit_test(test_eval_errors),
                cmocka_unit_test(test_check_nix_real),
                cmocka_unit_test(test_check_nix_missing),
                cmocka_unit_test(test_check_nix_stand_ins),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
