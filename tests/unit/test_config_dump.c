/* config/config_dump.c: the resolved config as JSON (`nixbox config --json`) and as text, with
 * env values masked unless asked for. */
#include "support/testutil.h"

#include <jansson.h>
#include <string.h>

#include "support/configproj.h"

static void test_json_shape(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p,
                           "{ plugins = [ \"aws\" \"claude-code\" ]; network.ports = [ 22 ];"
                           " network.domains = [ \"amazonaws.com\" ]; }",
                           &c);
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *s = NULL;
        assert_int_equal(nbx_config_to_json(&c, false, &s, &err), 0);
        json_error_t je;
        json_auto_t *j = json_loads(s, 0, &je);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "name")), "proj");
        json_t *net = json_object_get(j, "network");
        assert_int_equal(json_array_size(json_object_get(net, "ports")), 3);
        assert_string_equal(json_string_value(json_object_get(net, "mode")), "open");
        json_t *pl = json_array_get(json_object_get(j, "plugins"), 0);
        assert_string_equal(json_string_value(json_object_get(pl, "name")), "aws");
        assert_true(json_is_true(json_object_get(pl, "builtin")));
        json_t *o = json_object_get(j, "origins");
        assert_string_equal(
                json_string_value(json_array_get(json_object_get(o, "network.ports"), 2)), "user");
        assert_string_equal(
                json_string_value(json_array_get(json_object_get(o, "nix.packages"), 0)), "aws");
        assert_true(json_is_null(json_object_get(json_object_get(j, "vm"), "image")));
        assert_string_equal(json_string_value(json_object_get(pl, "command")), "aws");
        /* amazonaws.com is a shared zone: the warning is part of the result */
        json_t *w = json_object_get(j, "warnings");
        assert_int_equal(json_array_size(w), 1);
        assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "amazonaws.com"));
        /* mounts in config.nix's shape, one kind each */
        json_t *m = json_object_get(j, "mounts");
        assert_int_equal(json_array_size(m), 3);
        assert_non_null(json_string_value(json_object_get(json_array_get(m, 0), "source")));
        assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "state")),
                            "claude-code");
        assert_null(json_object_get(json_array_get(m, 1), "source"));
        assert_true(json_is_true(json_object_get(json_array_get(m, 2), "tmpfs")));
        assert_string_equal(json_string_value(json_object_get(json_array_get(m, 2), "target")),
                            "/home/tester/.claude/todos");
        assert_true(json_is_false(json_object_get(json_array_get(m, 2), "readonly")));
        _cleanup_free_ char *t = NULL;
        assert_int_equal(nbx_config_to_text(&c, false, &t, &err), 0);
        nbx_test_assert_contains(t, "sts.amazonaws.com   (aws)");
        nbx_test_assert_contains(t, "state claude-code -> /home/tester/.claude   (claude-code)");
        nbx_test_assert_contains(t, "tmpfs -> /home/tester/.claude/todos   (claude-code)");
        nbx_test_assert_contains(t, "(default)");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_env_masking(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p, "{ env = { B_TOKEN = \"secret value\"; _x1 = \"\"; }; }", &c);
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *json = NULL, *text = NULL, *shown = NULL, *shown_text = NULL;
        assert_int_equal(nbx_config_to_json(&c, false, &json, &err), 0);
        assert_null(strstr(json, "secret value"));
        assert_non_null(strstr(json, "\"B_TOKEN\": \"********\""));
        assert_int_equal(nbx_config_to_text(&c, false, &text, &err), 0);
        assert_null(strstr(text, "secret value"));
        nbx_test_assert_contains(text, "env values are masked; --show-secrets prints them");
        assert_int_equal(nbx_config_to_json(&c, true, &shown, &err), 0);
        assert_non_null(strstr(shown, "\"B_TOKEN\": \"secret value\""));
        assert_int_equal(nbx_config_to_text(&c, true, &shown_text, &err), 0);
        nbx_test_assert_contains(shown_text, "\"secret value\"   (user)");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

static void test_text_lines(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_config c;
        nbx_test_config_ok(&p,
                           "{ plugins = [ ./plugins/first.nix ]; mounts = [ { source = \"data\";"
                           " target = \"/srv\"; readonly = true; } ]; }",
                           &c);
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *t = NULL;
        assert_int_equal(nbx_config_to_text(&c, false, &t, &err), 0);
        nbx_test_assert_contains(t, "# ");
        nbx_test_assert_contains(t, "/proj/.nixbox/config.nix\n");
        nbx_test_assert_contains(t, "plugins                ./plugins/first.nix   (");
        nbx_test_assert_contains(t, "/plugins/first.nix)");
        nbx_test_assert_contains(t, "/proj/data -> /srv (read-only)   (user)");
        nbx_test_assert_contains(t, "network.mode           off   (./plugins/first.nix)");
        nbx_test_assert_contains(t, "hooks.post-up          echo first   (./plugins/first.nix)");
        nbx_test_assert_contains(t,
                                 "vm.image               (the `nixbox build` guest)   (default)");
        nbx_config_done(&c);
        nbx_test_proj_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_shape),
                cmocka_unit_test(test_env_masking),
                cmocka_unit_test(test_text_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
