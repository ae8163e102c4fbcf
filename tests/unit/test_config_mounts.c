/* config/config_mounts.c: the three kinds of `mounts` entries (a host folder, a state folder of
 * the project's own, a RAM folder), each checked into its typed form or refused with a message
 * naming the field; fed the JSON nix/eval-config.nix would return. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "support/configproj.h"
#include "config/config_mounts.h"
#include "config/base/fsutil.h"

typedef struct env {
        char *tmp, *home;
        nbx_config_ctx ctx;
} env;

static int setup(void **state) {
        env *e = calloc(1, sizeof(*e));
        e->tmp = nbx_test_tmpdir();
        nbx_test_write(e->tmp, "home/data/.keep", "");
        e->home = nbx_path_join(e->tmp, "home");
        e->ctx = (nbx_config_ctx){.project_dir = e->tmp,
                                  .config_path = "/p/.nixbox/config.nix",
                                  .config_dir = "/p/.nixbox",
                                  .host_home = e->home,
                                  .guest_home = "/home/u"};
        *state = e;
        return 0;
}

static int teardown(void **state) {
        env *e = *state;
        free(e->home);
        nbx_test_rmdir(e->tmp);
        free(e);
        return 0;
}

/* Merge the mounts list json from source origin into c. */
static int merge(env *e, const char *origin, const char *json, nbx_config *c, nbx_error **err) {
        json_error_t je;
        json_auto_t *v = json_loads(json, 0, &je);
        if (!v)
                fail_msg("test JSON: %s: %s", je.text, json);
        nbx_config_source s = {.origin = origin,
                               .file = strcmp(origin, "user") == 0 ? "/p/.nixbox/config.nix"
                                                                   : "/plugins/x/default.nix",
                               .is_user = strcmp(origin, "user") == 0,
                               .v = v};
        return nbx_config_mounts_merge(&e->ctx, &s, v, c, err);
}

static void bad(env *e, const char *json, const char *want) {
        nbx_config c = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(merge(e, "user", json, &c, &err), -EINVAL);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        if (!strstr(err->msg, want))
                fail_msg("expected \"%s\" in: %s", want, err->msg);
        nbx_config_mounts_done(&c);
}

static void test_three_kinds(void **state) {
        env *e = *state;
        nbx_config c = {0};
        _cleanup_error_ nbx_error *err = NULL;
        int r = merge(e, "user",
                      "[{\"source\": \"~/data\", \"target\": \"/data\", \"readonly\": true},"
                      " {\"state\": \"claude-code\", \"target\": \"~/.claude\"},"
                      " {\"tmpfs\": true, \"target\": \"~/.claude//todos/\"}]",
                      &c, &err);
        if (r < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(c.n_mounts, 3);
        assert_int_equal(c.mounts[0].kind, NBX_MOUNT_HOST);
        assert_non_null(strstr(c.mounts[0].source, "/home/data"));
        assert_null(c.mounts[0].state);
        assert_true(c.mounts[0].readonly);
        assert_int_equal(c.mounts[1].kind, NBX_MOUNT_STATE);
        assert_null(c.mounts[1].source); /* vm/ places it: ~/.local/state/nixbox/<id>/state/ */
        assert_string_equal(c.mounts[1].state, "claude-code");
        assert_string_equal(c.mounts[1].target, "/home/u/.claude");
        assert_false(c.mounts[1].readonly);
        assert_int_equal(c.mounts[2].kind, NBX_MOUNT_TMPFS);
        assert_null(c.mounts[2].source);
        assert_null(c.mounts[2].state);
        assert_string_equal(c.mounts[2].target, "/home/u/.claude/todos"); /* normalized */
        assert_string_equal(c.mounts[2].origin, "user");
        nbx_config_mounts_done(&c);
}

static void test_exactly_one_kind(void **state) {
        env *e = *state;
        bad(e, "[{\"target\": \"/x\"}]", "mounts[0]: a mount has exactly one of source");
        bad(e, "[{\"target\": \"/x\"}]", "this one has none");
        bad(e, "[{\"tmpfs\": false, \"target\": \"/x\"}]", "this one has none");
        bad(e, "[{\"source\": \"~/data\", \"state\": \"s\", \"target\": \"/x\"}]",
            "this one has several");
        bad(e, "[{\"state\": \"s\", \"tmpfs\": true, \"target\": \"/x\"}]", "this one has several");
        bad(e, "[{\"tmpfs\": true, \"target\": \"/x\", \"readonly\": true}]",
            "mounts[0]: a tmpfs starts empty");
}

static void test_state_names(void **state) {
        env *e = *state;
        const char *names[] = {"",
                               "../x",
                               "a/b",
                               ".hidden",
                               "-x",
                               "x y",
                               "caf\xc3\xa9",
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(names); i++) {
                _cleanup_free_ char *json = NULL;
                assert_true(asprintf(&json, "[{\"state\": \"%s\", \"target\": \"/x\"}]", names[i]) >
                            0);
                bad(e, json, "mounts[0].state: expected a folder name");
        }
        nbx_config c = {0};
        assert_int_equal(
                merge(e, "user", "[{\"state\": \"A.b_c-9\", \"target\": \"/x\"}]", &c, NULL), 0);
        assert_string_equal(c.mounts[0].state, "A.b_c-9");
        nbx_config_mounts_done(&c);
}

static void test_targets_and_state_folders_unique(void **state) {
        env *e = *state;
        bad(e,
            "[{\"state\": \"s\", \"target\": \"~/x\"},"
            " {\"tmpfs\": true, \"target\": \"/home/u/x/\"}]",
            "mounts[1].target: /home/u/x is already a mount target (of state s, from user)");
        bad(e,
            "[{\"tmpfs\": true, \"target\": \"/t\"},"
            " {\"source\": \"~/data\", \"target\": \"/t\"}]",
            "is already a mount target (of a tmpfs, from user)");
        bad(e,
            "[{\"state\": \"s\", \"target\": \"/a\"},"
            " {\"state\": \"s\", \"target\": \"/b\"}]",
            "mounts[1].state: state folder \"s\" is already mounted at /a");
        /* across sources: a plugin's target cannot be taken by the user */
        nbx_config c = {0};
        assert_int_equal(merge(e, "claude-code", "[{\"state\": \"c\", \"target\": \"~/.claude\"}]",
                               &c, NULL),
                         0);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(
                merge(e, "user", "[{\"tmpfs\": true, \"target\": \"~/.claude\"}]", &c, &err),
                -EINVAL);
        nbx_test_assert_contains(err->msg, "(of state c, from claude-code)");
        assert_int_equal(c.n_mounts, 1); /* the refused entry is not added */
        nbx_config_mounts_done(&c);
}

static void test_host_source_checked(void **state) {
        env *e = *state;
        bad(e, "[{\"source\": \"~/nope\", \"target\": \"/x\"}]", "mounts[0].source: \"~/nope\"");
        nbx_test_write(e->home, "file", "x");
        bad(e, "[{\"source\": \"~/file\", \"target\": \"/x\"}]", "is not a directory");
        bad(e, "[{\"state\": \"s\", \"target\": \"relative\"}]",
            "mounts[0].target: expected an absolute path");
}

static void test_cap_and_default(void **state) {
        env *e = *state;
        nbx_config c = {0};
        assert_int_equal(nbx_config_mounts_default(&e->ctx, &c, NULL), 0);
        assert_int_equal(c.mounts[0].kind, NBX_MOUNT_HOST);
        assert_string_equal(c.mounts[0].source, e->tmp);
        assert_string_equal(c.mounts[0].target, "/home/u/workspace");
        assert_string_equal(c.mounts[0].origin, "default");
        /* up to NBX_MAX_MOUNTS in all, whatever their kind */
        for (int i = 1; i < NBX_MAX_MOUNTS; i++) {
                char json[96];
                snprintf(json, sizeof(json), "[{\"tmpfs\": true, \"target\": \"/t%d\"}]", i);
                assert_int_equal(merge(e, "user", json, &c, NULL), 0);
        }
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(merge(e, "user", "[{\"state\": \"s\", \"target\": \"/last\"}]", &c, &err),
                         -EINVAL);
        nbx_test_assert_contains(err->msg, "more than 32 mounts");
        assert_int_equal(c.n_mounts, NBX_MAX_MOUNTS);
        nbx_config_mounts_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_three_kinds),
                cmocka_unit_test(test_exactly_one_kind),
                cmocka_unit_test(test_state_names),
                cmocka_unit_test(test_targets_and_state_folders_unique),
                cmocka_unit_test(test_host_source_checked),
                cmocka_unit_test(test_cap_and_default),
        };
        return cmocka_run_group_tests_name("config_mounts", tests, setup, teardown);
}
