#include "support/testutil.h"

#include <string.h>

#include "cmd/cli.h"

#define ARGV(...) ((char *[]){"nixbox", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"nixbox", __VA_ARGS__}) / sizeof(char *)))

static void test_global_options(void **state) {
        (void)state;
        nbx_cli_args a;
        _cleanup_error_ nbx_error *err = NULL;
        char **argv = ARGV("-C", "/p", "--json", "-q", "status", "--json");
        assert_int_equal(nbx_cli_parse_global(7, argv, &a, &err), 0);
        assert_string_equal(a.project_dir, "/p");
        assert_true(a.json);
        assert_true(a.quiet);
        assert_int_equal(a.command_index, 5);
        assert_string_equal(argv[a.command_index], "status");
}

static void test_attached_directory_forms(void **state) {
        (void)state;
        nbx_cli_args a;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_cli_parse_global(3, ARGV("-C/x", "up"), &a, &err), 0);
        assert_string_equal(a.project_dir, "/x");
        assert_int_equal(nbx_cli_parse_global(3, ARGV("--directory=/y", "up"), &a, &err), 0);
        assert_string_equal(a.project_dir, "/y");
}

static void test_missing_directory_is_usage_error(void **state) {
        (void)state;
        nbx_cli_args a;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_cli_parse_global(2, ARGV("-C"), &a, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
}

static void test_unknown_global_option(void **state) {
        (void)state;
        nbx_cli_args a;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_cli_parse_global(3, ARGV("--frobnicate", "up"), &a, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
        assert_non_null(strstr(err->msg, "--frobnicate"));
}

static void test_command_args_untouched(void **state) {
        (void)state;
        nbx_cli_args a;
        _cleanup_error_ nbx_error *err = NULL;
        /* options after the command belong to the command (run passes them to the guest) */
        char **argv = ARGV("run", "ls", "-C", "--help");
        assert_int_equal(nbx_cli_parse_global(5, argv, &a, &err), 0);
        assert_int_equal(a.command_index, 1);
        assert_null(a.project_dir);
        assert_false(a.help);
}

static void test_help_and_version(void **state) {
        (void)state;
        nbx_cli_args a;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_cli_parse_global(2, ARGV("--help"), &a, &err), 0);
        assert_true(a.help);
        assert_int_equal(a.command_index, 2);
        assert_int_equal(nbx_cli_parse_global(2, ARGV("-V"), &a, &err), 0);
        assert_true(a.version);
}

static void test_wants_help_stops_at_double_dash(void **state) {
        (void)state;
        assert_true(nbx_cli_wants_help(3, ARGV("up", "--help")));
        assert_true(nbx_cli_wants_help(2, ARGV("-h")));
        assert_false(nbx_cli_wants_help(4, ARGV("run", "--", "--help")));
        assert_false(nbx_cli_wants_help(2, ARGV("up")));
}

static void test_every_command_in_table(void **state) {
        (void)state;
        const char *names[] = {"init",    "up",     "down",   "shell",   "run",   "mount",
                               "unmount", "status", "config", "doctor",  "setup", "build",
                               "update",  "logs",   "reload", "version", "help",  "net"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                const nbx_command *c = nbx_cli_lookup(names[i]);
                assert_non_null(c);
                assert_non_null(c->fn);
                assert_non_null(strstr(c->usage, "usage: nixbox"));
        }
        assert_null(nbx_cli_lookup("frob"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_global_options),
                cmocka_unit_test(test_attached_directory_forms),
                cmocka_unit_test(test_missing_directory_is_usage_error),
                cmocka_unit_test(test_unknown_global_option),
                cmocka_unit_test(test_command_args_untouched),
                cmocka_unit_test(test_help_and_version),
                cmocka_unit_test(test_wants_help_stops_at_double_dash),
                cmocka_unit_test(test_every_command_in_table),
        };
        return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
