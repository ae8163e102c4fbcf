#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/project.h"

static void test_find_walks_up(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, ".nixbox/config.nix", "{ }\n");
        char *deep = NULL;
        assert_true(asprintf(&deep, "%s/a/b/c", dir) > 0);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_mkdir_p(deep, 0755, &err), 0);

        nbx_project p;
        assert_int_equal(nbx_project_find(deep, &p, &err), 0);
        assert_string_equal(p.root, dir);
        char *expect = NULL;
        assert_true(asprintf(&expect, "%s/.nixbox/config.nix", dir) > 0);
        assert_string_equal(p.config_path, expect);
        nbx_project_done(&p);
        free(expect);
        free(deep);
        nbx_test_rmdir(dir);
}

static void test_find_prefers_nearest(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, ".nixbox/config.nix", "{ }\n");
        nbx_test_write(dir, "inner/.nixbox/config.nix", "{ }\n");
        char *inner = nbx_path_join(dir, "inner");
        nbx_project p;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_project_find(inner, &p, &err), 0);
        assert_string_equal(p.root, inner);
        nbx_project_done(&p);
        free(inner);
        nbx_test_rmdir(dir);
}

static void test_find_fails_without_project(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        /* a .nixbox folder without config.nix is not a project */
        nbx_test_write(dir, ".nixbox/other", "x");
        nbx_project p;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_project_find(dir, &p, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_NO_PROJECT);
        assert_non_null(strstr(err->msg, "nixbox init"));
        nbx_test_rmdir(dir);
}

static void test_find_bad_start_is_usage_error(void **state) {
        (void)state;
        nbx_project p;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_project_find("/nonexistent/nixbox/dir", &p, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
}

static void test_init_creates_and_refuses_second(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_project_init(dir, getuid(), getgid(), &err), 0);

        char *cfg = NULL, *gi = NULL;
        assert_true(asprintf(&cfg, "%s/.nixbox/config.nix", dir) > 0);
        assert_true(asprintf(&gi, "%s/.nixbox/.gitignore", dir) > 0);
        char *data = NULL;
        assert_int_equal(nbx_read_file(cfg, 1 << 20, &data, NULL, &err), 0);
        assert_string_equal(data, nbx_config_template);
        free(data);
        /* nothing else: .nixbox/ is configuration, versioned whole */
        assert_int_equal(access(gi, F_OK), -1);

        /* the template names every field */
        const char *fields[] = {"plugins",
                                "name",
                                "resources.vcpus",
                                "resources.memoryMB",
                                "mounts",
                                "network.mode",
                                "network.domains",
                                "network.ports",
                                "network.upstreamDns",
                                "network.allowPrivate",
                                "nix.packages",
                                "nix.ldLibraries",
                                "scripts",
                                "env",
                                "hooks.pre-up",
                                "vm.hypervisor",
                                "vm.image",
                                "vm.accel"};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
                assert_non_null(strstr(nbx_config_template, fields[i]));

        /* second init: refused, nothing changed */
        nbx_test_write(dir, ".nixbox/config.nix", "{ name = \"mine\"; }\n");
        assert_true(nbx_project_init(dir, getuid(), getgid(), &err) < 0);
        assert_non_null(strstr(err->msg, "already exists"));
        assert_int_equal(nbx_read_file(cfg, 1 << 20, &data, NULL, NULL), 0);
        assert_string_equal(data, "{ name = \"mine\"; }\n");
        free(data);
        free(cfg);
        free(gi);
        nbx_test_rmdir(dir);
}

static void test_runtime_dir_env(void **state) {
        (void)state;
        setenv(NBX_RUNTIME_DIR_ENV, "/tmp/nbx-rt", 1);
        char *d = nbx_runtime_dir();
        assert_string_equal(d, "/tmp/nbx-rt");
        free(d);
        /* a relative setting becomes absolute (it reaches dnsmasq and other processes) */
        setenv(NBX_RUNTIME_DIR_ENV, "rel/rt", 1);
        d = nbx_runtime_dir();
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        char *expect = NULL;
        assert_true(asprintf(&expect, "%s/rel/rt", cwd) > 0);
        assert_string_equal(d, expect);
        free(expect);
        free(d);
        unsetenv(NBX_RUNTIME_DIR_ENV);
        d = nbx_runtime_dir();
        assert_string_equal(d, "/run/nixbox");
        free(d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_find_walks_up),
                cmocka_unit_test(test_find_prefers_nearest),
                cmocka_unit_test(test_find_fails_without_project),
                cmocka_unit_test(test_find_bad_start_is_usage_error),
                cmocka_unit_test(test_init_creates_and_refuses_second),
                cmocka_unit_test(test_runtime_dir_env),
        };
        return cmocka_run_group_tests_name("project", tests, NULL, NULL);
}
