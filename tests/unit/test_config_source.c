/* config/config_source.c: errors and warnings about a config source all have one shape, "FIELD:
 * MESSAGE (FILE)", with the plugin named when a plugin is the source. */
#include "support/testutil.h"

#include <string.h>

#include "config/config_source.h"

static const nbx_config_source user = {
        .origin = "user", .file = "/p/.nixbox/config.nix", .is_user = true};
static const nbx_config_source plugin = {.origin = "./tools.nix", .file = "/p/.nixbox/tools.nix"};

static void test_fail_shapes(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_config_fail(&user, &err, "name", "bad %d", 7), -EINVAL);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        assert_string_equal(err->msg, "name: bad 7 (/p/.nixbox/config.nix)");
        nbx_error_free(err);
        err = NULL;
        assert_int_equal(nbx_config_fail(&plugin, &err, NULL, "whole file"), -EINVAL);
        assert_string_equal(err->msg, "whole file (plugin ./tools.nix: /p/.nixbox/tools.nix)");
}

static void expect_type_message(const char *json, const char *want) {
        json_error_t je;
        json_t *v = json_loads(json, JSON_DECODE_ANY, &je);
        assert_non_null(v);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_config_fail_type(&user, &err, "f", "an integer", v), -EINVAL);
        if (!strstr(err->msg, want))
                fail_msg("expected \"%s\" in: %s", want, err->msg);
        json_decref(v);
}

static void test_fail_type_describes_the_value(void **state) {
        (void)state;
        expect_type_message("\"four\"", "f: expected an integer, got a string \"four\" (");
        expect_type_message("4.5", "got a float 4.5");
        expect_type_message("true", "got a boolean true");
        expect_type_message("[1, 2]", "got a list (");
        expect_type_message("{}", "got an attribute set (");
        expect_type_message("null", "got null (");
        /* a string is quoted and cut: control characters cannot reach the terminal */
        expect_type_message("\"a\\u001b[31mb\"", "\"a\\x1b[31mb\"");
}

static void test_fail_wrap(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        (void)nbx_error_set(&err, 0, "inner problem");
        assert_int_equal(nbx_config_fail_wrap(&plugin, &err, "network.domains[2]"), -EINVAL);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        assert_string_equal(err->msg, "network.domains[2]: inner problem (plugin ./tools.nix: "
                                      "/p/.nixbox/tools.nix)");
        nbx_error_free(err);
        /* no error to wrap still leaves one (a caller that forgot cannot fail silently) */
        err = NULL;
        assert_true(nbx_config_fail_wrap(&user, &err, "x") < 0);
        assert_non_null(err);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
}

static void test_warn(void **state) {
        (void)state;
        _cleanup_strv_ nbx_strv w = {0};
        assert_int_equal(nbx_config_warn(&plugin, &w, "network.domains[0]", "risky", NULL), 0);
        assert_int_equal(w.n, 1);
        assert_string_equal(w.v[0],
                            "network.domains[0]: risky (plugin ./tools.nix: /p/.nixbox/tools.nix)");
}

static void test_field_names(void **state) {
        (void)state;
        _cleanup_free_ char *a = nbx_config_field("network", "domains");
        _cleanup_free_ char *b = nbx_config_field("", "name");
        _cleanup_free_ char *c = nbx_config_field_index("network.domains", 3);
        assert_string_equal(a, "network.domains");
        assert_string_equal(b, "name");
        assert_string_equal(c, "network.domains[3]");
        assert_string_equal(nbx_config_nix_type("set"), "an attribute set");
        assert_string_equal(nbx_config_nix_type("lambda"), "a function");
        assert_string_equal(nbx_config_nix_type("weird"), "weird");
        assert_string_equal(nbx_config_nix_type(NULL), "something else");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fail_shapes),
                cmocka_unit_test(test_fail_type_describes_the_value),
                cmocka_unit_test(test_fail_wrap),
                cmocka_unit_test(test_warn),
                cmocka_unit_test(test_field_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
