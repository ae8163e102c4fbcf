/* config/config.c: nbx_config_load from a project folder to a resolved config — finding the
 * config file and nixbox's data folders, running the real nix-instantiate, resolving; every
 * rejected fixture (tests/fixtures/config/reject/NAME.nix, each with "# expect: TEXT" lines for
 * the message) goes the whole way. */
#include "support/testutil.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/configproj.h"
#include "config/base/fsutil.h"

static void test_no_project(void **state) {
        (void)state;
        char *tmp = nbx_test_tmpdir();
        nbx_config c;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_config_load(tmp, NULL, &c, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_NO_PROJECT);
        nbx_test_assert_contains(err->msg, "/.nixbox/config.nix (run `nixbox init` to create it)");
        nbx_error_free(err);
        err = NULL;
        char *gone = nbx_path_join(tmp, "gone");
        assert_true(nbx_config_load(gone, NULL, &c, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_NO_PROJECT);
        free(gone);
        nbx_test_rmdir(tmp);
}

static void test_data_folders_missing(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ }");
        nbx_config c;
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "/nonexistent/nix",
                             .host_home = p.home,
                             .guest_home = "/home/t",
                             .host = &p.host};
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_config_load(p.dir, &o, &c, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        nbx_test_assert_contains(err->msg, "nixbox's data folder /nonexistent/nix is missing");
        nbx_error_free(err);
        err = NULL;
        o = (nbx_config_opts){.plugins_dir = "/nonexistent/plugins",
                              .nix_dir = "nix",
                              .host_home = p.home,
                              .guest_home = "/home/t",
                              .host = &p.host};
        assert_true(nbx_config_load(p.dir, &o, &c, &err) < 0);
        nbx_test_assert_contains(err->msg, "/nonexistent/plugins is missing");
        nbx_test_proj_done(&p);
}

static void test_nix_error_is_a_config_error(void **state) {
        (void)state;
        _cleanup_free_ char *msg = nbx_test_config_bad("{ network.mode = \"open\" }");
        nbx_test_assert_contains(msg, "/.nixbox/config.nix");
        assert_null(strstr(msg, "\033[")); /* Nix's colours are gone */
}

static void test_default_name_from_folder(void **state) {
        (void)state;
        char *tmp = nbx_test_tmpdir();
        char *dir = nbx_path_join(tmp, "My_Project.v2");
        nbx_test_write(dir, ".nixbox/config.nix", "{ network.upstreamDns = [ \"192.0.2.1\" ]; }");
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = tmp,
                             .guest_home = "/home/t",
                             .host = &(nbx_host_facts){.cores = 2, .memory_mb = 8192}};
        nbx_config c;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_config_load(dir, &o, &c, &err), 0);
        assert_string_equal(c.name, "my-project-v2");
        nbx_config_done(&c);
        free(dir);
        nbx_test_rmdir(tmp);
}

static void test_rejected_fixtures(void **state) {
        (void)state;
        DIR *d = opendir(NBX_TEST_CONFIG_FIXTURES "/reject");
        assert_non_null(d);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name);
                if (len < 5 || strcmp(de->d_name + len - 4, ".nix") != 0)
                        continue;
                char path[PATH_MAX];
                snprintf(path, sizeof(path), NBX_TEST_CONFIG_FIXTURES "/reject/%s", de->d_name);
                _cleanup_free_ char *text = NULL;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_read_file(path, 1 << 20, &text, NULL, &err), 0);
                _cleanup_free_ char *msg = nbx_test_config_bad(text);
                /* every message names the file it is about */
                if (!strstr(msg, ".nix"))
                        fail_msg("%s: message names no file: %s", de->d_name, msg);
                size_t expects = 0;
                for (char *line = text; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        if (strncmp(line, "# expect: ", 10) == 0) {
                                expects++;
                                if (!strstr(msg, line + 10))
                                        fail_msg("%s: expected \"%s\" in: %s", de->d_name,
                                                 line + 10, msg);
                        }
                        line = nl ? nl + 1 : NULL;
                }
                if (expects == 0)
                        fail_msg("%s has no # expect: line", de->d_name);
                n++;
        }
        closedir(d);
        assert_true(n >= 60);
}

static void test_missing_nix_is_prereq(void **state) {
        (void)state;
        nbx_test_proj p;
        nbx_test_proj_init(&p, "{ }");
        nbx_config c;
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = p.home,
                             .guest_home = "/home/t",
                             .host = &p.host,
                             .nix_instantiate = "nix-instantiate-does-not-exist"};
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_config_load(p.dir, &o, &c, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        nbx_test_assert_contains(err->msg, "nix-instantiate-does-not-exist not found");
        nbx_test_proj_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_project),
                cmocka_unit_test(test_data_folders_missing),
                cmocka_unit_test(test_nix_error_is_a_config_error),
                cmocka_unit_test(test_default_name_from_folder),
                cmocka_unit_test(test_rejected_fixtures),
                cmocka_unit_test(test_missing_nix_is_prereq),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
