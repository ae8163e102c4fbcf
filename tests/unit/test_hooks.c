/* Hooks run through the real sh: order, working folder, environment, output, failures. */
#include "support/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "vm/hooks.h"

static char *read_all(FILE *f) {
        fflush(f);
        long n = ftell(f);
        assert_true(n >= 0);
        char *buf = calloc(1, (size_t)n + 1);
        rewind(f);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        return buf;
}

static void test_order_env_and_cwd(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_strv cmds = {0};
        /* plugin hooks come first in the list (the config orders them); we keep the order */
        assert_int_equal(nbx_strv_push(&cmds, "echo plugin >> hooks.log"), 0);
        assert_int_equal(nbx_strv_push(&cmds, "echo user1 >> hooks.log"), 0);
        assert_int_equal(nbx_strv_push(&cmds, "printf '%s|%s|%s|%s|%s\\n' \"$NIXBOX_PROJECT_DIR\" "
                                              "\"$NIXBOX_NAME\" \"$NIXBOX_SLOT\" "
                                              "\"$NIXBOX_GUEST_IP\" \"$PWD\" >> hooks.log"),
                         0);
        nbx_hook_env env = {
                .project_dir = dir, .name = "dev", .slot = 5, .guest_ip = "172.16.0.22"};
        FILE *out = tmpfile(), *errf = tmpfile();
        nbx_ui ui = {.out = out, .err = errf};
        unsigned failed = 99;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hooks_run(NBX_HOOK_PRE_UP, &cmds, &env, &ui, &failed, &err), 0);
        assert_int_equal(failed, 0);

        char *log = nbx_path_join(dir, "hooks.log");
        char *data = NULL;
        size_t len;
        assert_int_equal(nbx_read_file(log, 65536, &data, &len, &err), 0);
        char *expect = NULL;
        assert_true(asprintf(&expect, "plugin\nuser1\n%s|dev|5|172.16.0.22|%s\n", dir, dir) > 0);
        assert_string_equal(data, expect);
        char *progress = read_all(errf);
        assert_non_null(strstr(progress, "pre-up hook 1/3"));
        free(progress);
        free(expect);
        free(data);
        free(log);
        fclose(out);
        fclose(errf);
        nbx_strv_clear(&cmds);
        nbx_test_rmdir(dir);
}

static void test_failure_warns_and_continues(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_strv cmds = {0};
        assert_int_equal(nbx_strv_push(&cmds, "echo first-out; echo first-err >&2; exit 3"), 0);
        assert_int_equal(nbx_strv_push(&cmds, "kill -TERM $$"), 0);
        assert_int_equal(nbx_strv_push(&cmds, "echo second-ran"), 0);
        nbx_hook_env env = {.project_dir = dir, .name = "n", .slot = -1};
        FILE *out = tmpfile(), *errf = tmpfile();
        nbx_ui ui = {.out = out, .err = errf};
        unsigned failed = 0;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hooks_run(NBX_HOOK_POST_DOWN, &cmds, &env, &ui, &failed, &err), 0);
        assert_int_equal(failed, 2);
        char *o = read_all(out), *e = read_all(errf);
        /* the hooks' own output is visible */
        assert_non_null(strstr(o, "first-out\n"));
        assert_non_null(strstr(o, "second-ran\n"));
        assert_non_null(strstr(e, "first-err\n"));
        assert_non_null(strstr(e, "warning: post-down hook `echo first-out; echo first-err >&2; "
                                  "exit 3` failed with exit code 3; continuing"));
        assert_non_null(strstr(e, "failed with exit code 143"));
        free(o);
        free(e);
        fclose(out);
        fclose(errf);
        nbx_strv_clear(&cmds);
        nbx_test_rmdir(dir);
}

static void test_env_without_slot(void **state) {
        (void)state;
        setenv("NIXBOX_SLOT", "stale-from-parent", 1);
        nbx_hook_env env = {
                .project_dir = "/p", .name = "x", .slot = -1, .home = "/home/h", .user = "h"};
        nbx_strv v = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hooks_envp(&env, &v, &err), 0);
        assert_true(nbx_strv_contains(&v, "NIXBOX_SLOT="));
        assert_false(nbx_strv_contains(&v, "NIXBOX_SLOT=stale-from-parent"));
        assert_true(nbx_strv_contains(&v, "NIXBOX_GUEST_IP="));
        assert_true(nbx_strv_contains(&v, "NIXBOX_CONFIG_DIR="));
        assert_true(nbx_strv_contains(&v, "HOME=/home/h"));
        assert_true(nbx_strv_contains(&v, "USER=h"));
        size_t homes = 0;
        for (size_t i = 0; i < v.n; i++)
                homes += strncmp(v.v[i], "HOME=", 5) == 0;
        assert_int_equal(homes, 1);
        assert_null(v.v[v.n]);
        nbx_strv_clear(&v);
        unsetenv("NIXBOX_SLOT");
}

/* NIXBOX (plugin commands): this binary, replacing an inherited value; left alone otherwise. */
static void test_env_nixbox(void **state) {
        (void)state;
        setenv("NIXBOX", "/stale/nixbox", 1);
        nbx_hook_env env = {.project_dir = "/p",
                            .slot = 2,
                            .guest_ip = "198.51.100.2",
                            .nixbox = "/usr/bin/nixbox",
                            .config_dir = "/s/approved"};
        nbx_strv v = {0};
        assert_int_equal(nbx_hooks_envp(&env, &v, NULL), 0);
        assert_true(nbx_strv_contains(&v, "NIXBOX=/usr/bin/nixbox"));
        assert_false(nbx_strv_contains(&v, "NIXBOX=/stale/nixbox"));
        assert_true(nbx_strv_contains(&v, "NIXBOX_SLOT=2"));
        assert_true(nbx_strv_contains(&v, "NIXBOX_GUEST_IP=198.51.100.2"));
        assert_true(nbx_strv_contains(&v, "NIXBOX_CONFIG_DIR=/s/approved"));
        nbx_strv_clear(&v);
        env.nixbox = NULL;
        assert_int_equal(nbx_hooks_envp(&env, &v, NULL), 0);
        assert_true(nbx_strv_contains(&v, "NIXBOX=/stale/nixbox"));
        nbx_strv_clear(&v);
        unsetenv("NIXBOX");
}

static void test_no_hooks_is_fine(void **state) {
        (void)state;
        nbx_strv cmds = {0};
        nbx_hook_env env = {.project_dir = "/", .slot = -1};
        unsigned failed = 7;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hooks_run(NBX_HOOK_PRE_DOWN, &cmds, &env, NULL, &failed, &err), 0);
        assert_int_equal(failed, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_env_and_cwd),
                cmocka_unit_test(test_failure_warns_and_continues),
                cmocka_unit_test(test_env_without_slot),
                cmocka_unit_test(test_env_nixbox),
                cmocka_unit_test(test_no_hooks_is_fine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
