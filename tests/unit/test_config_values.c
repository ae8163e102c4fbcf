/* config/config_values.c: each kind of value accepted in its typed form or refused with a message
 * naming the field and the bad value. */
#include "support/testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config_values.h"
#include "config/base/fsutil.h"

static const nbx_config_source src = {.origin = "user", .file = "/p/config.nix", .is_user = true};

static void assert_msg(nbx_error *err, const char *want) {
        assert_non_null(err);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        if (!strstr(err->msg, want))
                fail_msg("expected \"%s\" in: %s", want, err->msg);
}

static void test_name(void **state) {
        (void)state;
        _cleanup_free_ char *n = NULL;
        assert_int_equal(nbx_config_value_name(&src, "name", "My-VM-2", &n, NULL), 0);
        assert_string_equal(n, "my-vm-2");
        const char *bad[] = {"",        "-lead", "under_score",
                             "dot.ted", "a b",   "abcdefghijklmnopqrstuvwxyz0123456"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                char *out = NULL;
                assert_int_equal(nbx_config_value_name(&src, "name", bad[i], &out, &err), -EINVAL);
                assert_null(out);
                assert_msg(err, "name: expected 1-32 characters of a-z, 0-9 and '-'");
        }
}

static void test_attr_path(void **state) {
        (void)state;
        const char *good[] = {"jq", "python3Packages.requests", "gcc_12", "libc++",
                              "stdenv.cc.cc.lib"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(good); i++) {
                _cleanup_free_ char *v = NULL;
                assert_int_equal(nbx_config_value_attr_path(&src, "p", good[i], &v, NULL), 0);
                assert_string_equal(v, good[i]);
        }
        const char *bad[] = {"", ".jq", "jq.", "a..b", "a b", "a;b", "$(x)"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                char *v = NULL;
                assert_int_equal(
                        nbx_config_value_attr_path(&src, "nix.packages[0]", bad[i], &v, &err),
                        -EINVAL);
                assert_msg(err, "nix.packages[0]: expected a nixpkgs attribute path");
        }
}

static void test_env_name(void **state) {
        (void)state;
        assert_int_equal(nbx_config_value_env_name(&src, "env.A", "_x1", NULL), 0);
        assert_int_equal(nbx_config_value_env_name(&src, "env.A", "PATH_EXTRA", NULL), 0);
        const char *bad[] = {"", "1A", "A-B", "A B", "A=B"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_config_value_env_name(&src, "env.X", bad[i], &err), -EINVAL);
                assert_msg(err, "env.X: expected a variable name");
        }
}

static void test_host_path(void **state) {
        (void)state;
        char *tmp = nbx_test_tmpdir();
        nbx_test_write(tmp, "proj/data/.keep", "");
        nbx_test_write(tmp, "home/.claude/x", "");
        char *proj = nbx_path_join(tmp, "proj"), *home = nbx_path_join(tmp, "home");
        char *rproj = realpath(proj, NULL), *rhome = realpath(home, NULL);
        nbx_config_ctx ctx = {.project_dir = rproj, .host_home = rhome};
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        assert_int_equal(nbx_config_value_host_path(&src, &ctx, "f", "data/", &a, NULL), 0);
        assert_true(strncmp(a, rproj, strlen(rproj)) == 0 &&
                    strcmp(a + strlen(rproj), "/data") == 0);
        assert_int_equal(nbx_config_value_host_path(&src, &ctx, "f", "~/.claude", &b, NULL), 0);
        assert_true(strncmp(b, rhome, strlen(rhome)) == 0);
        assert_int_equal(nbx_config_value_host_path(&src, &ctx, "f", "~", &c, NULL), 0);
        assert_string_equal(c, rhome);
        /* a link inside the project (the guest could have planted it) is refused, wherever it
         * points: ~ here */
        char *lnk = nbx_path_join(proj, "planted");
        assert_int_equal(symlink(rhome, lnk), 0);
        free(lnk);
        struct {
                const char *in, *want;
        } bad[] = {{"", "f: empty path"},
                   {"missing", "does not exist"},
                   {"planted", "goes through a symbolic link inside the project folder"},
                   {"planted/.claude", "goes through a symbolic link inside the project folder"},
                   {"~root/x", "only ~ and ~/... are supported (not ~user)"}};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                char *out = NULL;
                assert_int_equal(nbx_config_value_host_path(&src, &ctx, "f", bad[i].in, &out, &err),
                                 -EINVAL);
                assert_null(out);
                assert_msg(err, bad[i].want);
        }
        free(proj);
        free(home);
        free(rproj);
        free(rhome);
        nbx_test_rmdir(tmp);
}

static void test_guest_path(void **state) {
        (void)state;
        nbx_config_ctx ctx = {.guest_home = "/home/tester"};
        struct {
                const char *in, *want;
        } good[] = {{"/src//app/", "/src/app"},
                    {"~", "/home/tester"},
                    {"~/host-home", "/home/tester/host-home"},
                    {"//a///b", "/a/b"}};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(good); i++) {
                _cleanup_free_ char *out = NULL;
                assert_int_equal(
                        nbx_config_value_guest_path(&src, &ctx, "t", good[i].in, &out, NULL), 0);
                assert_string_equal(out, good[i].want);
        }
        struct {
                const char *in, *want;
        } bad[] = {{"relative", "expected an absolute path or ~/..., got \"relative\""},
                   {"/a/../etc", "\"..\" is not allowed in a guest path"},
                   {"/a/./b", "a \".\" component is not allowed"},
                   {"/", "cannot mount over the guest's root folder"},
                   {"///", "cannot mount over the guest's root folder"},
                   {"/a\nb", "contains a control character"},
                   {"~bob", "not ~user"}};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                char *out = NULL;
                assert_int_equal(
                        nbx_config_value_guest_path(&src, &ctx, "t", bad[i].in, &out, &err),
                        -EINVAL);
                assert_null(out);
                assert_msg(err, bad[i].want);
        }
        char long_path[NBX_MAX_GUEST_PATH + 8];
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';
        _cleanup_error_ nbx_error *err = NULL;
        char *out = NULL;
        assert_int_equal(nbx_config_value_guest_path(&src, &ctx, "t", long_path, &out, &err),
                         -EINVAL);
        assert_msg(err, "path longer than 1024 bytes");
}

static void test_port(void **state) {
        (void)state;
        const json_int_t good[] = {1, 22, 65535};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(good); i++) {
                json_auto_t *v = json_integer(good[i]);
                uint16_t p = 0;
                assert_int_equal(nbx_config_value_port(&src, "p", v, &p, NULL), 0);
                assert_int_equal(p, good[i]);
        }
        const json_int_t bad[] = {0, -1, 65536, (json_int_t)1 << 40};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                json_auto_t *v = json_integer(bad[i]);
                uint16_t p = 7;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_config_value_port(&src, "network.ports[0]", v, &p, &err),
                                 -EINVAL);
                assert_int_equal(p, 7);
                assert_msg(err, "network.ports[0]: expected a TCP port 1..65535");
        }
}

static void test_ip(void **state) {
        (void)state;
        nbx_ip ip;
        assert_int_equal(nbx_config_value_ip(&src, "d", "2620:fe::fe", &ip, NULL), 0);
        assert_int_equal(ip.family, AF_INET6);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(
                nbx_config_value_ip(&src, "network.upstreamDns[0]", "dns.google", &ip, &err),
                -EINVAL);
        assert_msg(err, "network.upstreamDns[0]: expected an IPv4 or IPv6 address, got "
                        "\"dns.google\"");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name),       cmocka_unit_test(test_attr_path),
                cmocka_unit_test(test_env_name),   cmocka_unit_test(test_host_path),
                cmocka_unit_test(test_guest_path), cmocka_unit_test(test_port),
                cmocka_unit_test(test_ip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
