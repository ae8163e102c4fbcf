/* The real binary's command line: help, usage errors, exit codes, init, setup. */
#include "support/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cli.h"
#include "config/base/fsutil.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
static const char *const no_color[] = {"NO_COLOR=1", NULL};

static void test_help_lists_every_command(void **state) {
        (void)state;
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("--help"), no_color), 0);
        for (size_t i = 0; i < nbx_n_commands; i++) {
                char needle[64];
                snprintf(needle, sizeof(needle), "\n  %s ", nbx_commands[i].name);
                if (!strstr(r.out, needle))
                        fail_msg("--help does not list %s", nbx_commands[i].name);
        }
        assert_non_null(strstr(r.out, "exit codes"));
        nbx_test_result_done(&r);
}

static void test_help_command_and_command_help(void **state) {
        (void)state;
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("help", "up"), no_color), 0);
        assert_non_null(strstr(r.out, "usage: nixbox up"));
        assert_non_null(strstr(r.out, "CAP_NET_ADMIN"));
        nbx_test_result_done(&r);
        for (size_t i = 0; i < nbx_n_commands; i++) {
                const char *name = nbx_commands[i].name;
                assert_int_equal(nbx_test_nixbox(&r, ARGS(name, "--help"), no_color), 0);
                if (!strstr(r.out, "usage: nixbox"))
                        fail_msg("%s --help printed no usage: %s", name, r.out);
                nbx_test_result_done(&r);
        }
}

static void test_unknown_command_exits_2_with_hint(void **state) {
        (void)state;
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("stauts"), no_color), NBX_EXIT_USAGE);
        assert_non_null(strstr(r.err, "did you mean 'status'"));
        assert_string_equal(r.out, "");
        nbx_test_result_done(&r);
        assert_int_equal(nbx_test_nixbox(&r, ARGS("--bogus"), no_color), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
        /* no command at all: overview on stderr, usage exit */
        assert_int_equal(nbx_test_nixbox(&r, (const char *const[]){NULL}, no_color),
                         NBX_EXIT_USAGE);
        assert_non_null(strstr(r.err, "usage: nixbox"));
        nbx_test_result_done(&r);
}

static void test_no_colour_without_tty(void **state) {
        (void)state;
        nbx_test_result r;
        /* stderr is a pipe here: no escape codes even without NO_COLOR */
        nbx_test_nixbox(&r, ARGS("frob"), NULL);
        assert_null(strchr(r.err, '\033'));
        nbx_test_result_done(&r);
}

static void test_init_twice_changes_nothing(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("init", dir), no_color), 0);
        nbx_test_result_done(&r);
        char *cfg = NULL;
        assert_true(asprintf(&cfg, "%s/.nixbox/config.nix", dir) > 0);
        assert_true(nbx_is_file(cfg));
        nbx_test_write(dir, ".nixbox/config.nix", "{ name = \"kept\"; }\n");
        assert_int_not_equal(nbx_test_nixbox(&r, ARGS("init", dir), no_color), 0);
        assert_non_null(strstr(r.err, "already exists"));
        nbx_test_result_done(&r);
        char *data = NULL;
        assert_int_equal(nbx_read_file(cfg, 4096, &data, NULL, NULL), 0);
        assert_string_equal(data, "{ name = \"kept\"; }\n");
        free(data);
        /* -C DIR works for init as well */
        char *other = nbx_path_join(dir, "sub");
        assert_int_equal(mkdir(other, 0755), 0);
        assert_int_equal(nbx_test_nixbox(&r, ARGS("-C", other, "init"), no_color), 0);
        nbx_test_result_done(&r);
        free(other);
        free(cfg);
        nbx_test_rmdir(dir);
}

static void test_no_project_exit_code(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("-C", dir, "config"), no_color),
                         NBX_EXIT_NO_PROJECT);
        assert_non_null(strstr(r.err, "nixbox init"));
        nbx_test_result_done(&r);
        nbx_test_rmdir(dir);
}

static void test_setup_pool_validated_before_writing(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *rt_env = NULL;
        assert_true(asprintf(&rt_env, "NIXBOX_RUNTIME_DIR=%s/rt", dir) > 0);
        const char *env[] = {rt_env, "NO_COLOR=1", NULL};
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("setup", "--pool", "10.1.2.0"), env),
                         NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
        char *rt = nbx_path_join(dir, "rt");
        assert_false(nbx_is_dir(rt)); /* bad input changed nothing */
        assert_int_equal(nbx_test_nixbox(&r, ARGS("setup", "--pool", "10.1.0.0"), env), 0);
        assert_non_null(strstr(r.out, "10.1.0.0/16"));
        nbx_test_result_done(&r);
        assert_true(nbx_is_dir(rt));
        free(rt);
        free(rt_env);
        nbx_test_rmdir(dir);
}

static void test_version(void **state) {
        (void)state;
        nbx_test_result r;
        assert_int_equal(nbx_test_nixbox(&r, ARGS("version"), no_color), 0);
        assert_non_null(strstr(r.out, "nixbox "));
        nbx_test_result_done(&r);
        assert_int_equal(nbx_test_nixbox(&r, ARGS("version", "x"), no_color), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_help_lists_every_command),
                cmocka_unit_test(test_help_command_and_command_help),
                cmocka_unit_test(test_unknown_command_exits_2_with_hint),
                cmocka_unit_test(test_no_colour_without_tty),
                cmocka_unit_test(test_init_twice_changes_nothing),
                cmocka_unit_test(test_no_project_exit_code),
                cmocka_unit_test(test_setup_pool_validated_before_writing),
                cmocka_unit_test(test_version),
        };
        return cmocka_run_group_tests_name("cmd", tests, NULL, NULL);
}
