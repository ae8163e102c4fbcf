/* Mount specs and guest paths: both argument forms of `nixbox mount`, the spec's fields and
 * spellings, every refusal with its message, and the guest path rules the guest contract
 * promises (absolute, no "..", no control characters). */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config/base/fsutil.h"
#include "config/mountspec.h"

static void parse_ok(const char *spec, const char *src, const char *tgt, bool ro) {
        nbx_mountspec m;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_mountspec_parse(spec, &m, &err) < 0)
                fail_msg("%s: %s", spec, err->msg);
        assert_string_equal(m.source, src);
        assert_string_equal(m.target, tgt);
        assert_int_equal(m.readonly, ro);
        nbx_mountspec_done(&m);
}

static void parse_bad(const char *spec, const char *needle) {
        nbx_mountspec m = {.source = (char *)"untouched"};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_mountspec_parse(spec, &m, &err), -EINVAL);
        assert_non_null(err);
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
        if (!strstr(err->msg, needle))
                fail_msg("%s: '%s' not in '%s'", spec, needle, err->msg);
        assert_string_equal(m.source, "untouched"); /* ret not written on failure */
}

static void test_spec_forms(void **state) {
        (void)state;
        parse_ok("source=/a,target=/b", "/a", "/b", false);
        parse_ok("target=~/b,source=./a", "./a", "~/b", false);
        parse_ok("source=/a,target=/b,readonly", "/a", "/b", true);
        parse_ok("source=/a,target=/b,ro", "/a", "/b", true);
        parse_ok("src=/a,dst=/b,readonly=true", "/a", "/b", true);
        parse_ok("source=/a,destination=/b,readonly=0", "/a", "/b", false);
        parse_ok("type=bind,source=/a,target=/b,ro=1", "/a", "/b", true);
        /* a value keeps everything after the first '=' */
        parse_ok("source=/a=b,target=/x y $(z) 'q\"", "/a=b", "/x y $(z) 'q\"", false);
}

static void test_spec_refusals(void **state) {
        (void)state;
        parse_bad("", "an empty field");
        parse_bad("source=/a,,target=/b", "an empty field");
        parse_bad("source=/a,target=/b,", "an empty field");
        parse_bad("source=/a", "target=PATH is missing");
        parse_bad("target=/b,readonly", "source=PATH is missing");
        parse_bad("source=,target=/b", "source needs a path");
        parse_bad("source=/a,target", "target needs a path");
        parse_bad("source=/a,src=/c,target=/b", "source is given twice");
        parse_bad("source=/a,target=/b,ro,readonly", "readonly is given twice");
        parse_bad("source=/a,target=/b,readonly=yes", "readonly takes true or false");
        parse_bad("source=/a,target=/b,type=volume", "type volume is not supported");
        parse_bad("source=/a,target=/b,type", "type (empty) is not supported");
        parse_bad("source=/a,target=/b,bind-propagation=rshared", "unknown field");
        parse_bad("source=/a,target=/b,\x1b[31m", "unknown field \"\\x1b[31m\"");
        char *big = malloc(NBX_MOUNTSPEC_MAX + 2);
        memset(big, 'a', NBX_MOUNTSPEC_MAX + 1);
        big[NBX_MOUNTSPEC_MAX + 1] = '\0';
        parse_bad(big, "longer than");
        free(big);
}

static void test_from_args(void **state) {
        (void)state;
        nbx_mountspec m;
        _cleanup_error_ nbx_error *err = NULL;
        char *two[] = {"./src", "~/dst"};
        assert_int_equal(nbx_mountspec_from_args(two, 2, false, &m, &err), 0);
        assert_string_equal(m.source, "./src");
        assert_string_equal(m.target, "~/dst");
        assert_false(m.readonly);
        nbx_mountspec_done(&m);
        assert_int_equal(nbx_mountspec_from_args(two, 2, true, &m, &err), 0);
        assert_true(m.readonly);
        nbx_mountspec_done(&m);
        /* one argument is a spec; --readonly and the spec's readonly add up */
        char *one[] = {"source=/a,target=/b"};
        assert_int_equal(nbx_mountspec_from_args(one, 1, true, &m, &err), 0);
        assert_true(m.readonly);
        nbx_mountspec_done(&m);
        char *spec_ro[] = {"source=/a,target=/b,ro"};
        assert_int_equal(nbx_mountspec_from_args(spec_ro, 1, false, &m, &err), 0);
        assert_true(m.readonly);
        nbx_mountspec_done(&m);
        /* a path alone, three arguments, none, an empty one */
        char *path[] = {"/a"};
        assert_int_equal(nbx_mountspec_from_args(path, 1, false, &m, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "expected SOURCE TARGET"));
        nbx_error_free(err), err = NULL;
        char *three[] = {"/a", "/b", "/c"};
        assert_int_equal(nbx_mountspec_from_args(three, 3, false, &m, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "got 3 arguments"));
        nbx_error_free(err), err = NULL;
        assert_int_equal(nbx_mountspec_from_args(NULL, 0, false, &m, &err), -EINVAL);
        nbx_error_free(err), err = NULL;
        char *empty[] = {"/a", ""};
        assert_int_equal(nbx_mountspec_from_args(empty, 2, false, &m, &err), -EINVAL);
        assert_string_equal(err->msg, "TARGET is empty");
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
}

static void guest_ok(const char *in, const char *want) {
        char *out = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_mountspec_guest_path(in, "/home/alice", &out, &err) < 0)
                fail_msg("%s: %s", in, err->msg);
        assert_string_equal(out, want);
        free(out);
}

static void guest_bad(const char *in, const char *needle) {
        char *out = (char *)"untouched";
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_mountspec_guest_path(in, "/home/alice", &out, &err) < 0);
        assert_string_equal(out, "untouched");
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
        if (!strstr(err->msg, needle))
                fail_msg("%s: '%s' not in '%s'", in, needle, err->msg);
}

static void test_guest_paths(void **state) {
        (void)state;
        guest_ok("/data", "/data");
        guest_ok("//data//x/", "/data/x");
        guest_ok("~", "/home/alice");
        guest_ok("~/", "/home/alice");
        guest_ok("~/w s/$(touch x)/`id`/'q\"", "/home/alice/w s/$(touch x)/`id`/'q\"");
        guest_ok("/a.b/.c", "/a.b/.c");
        guest_ok("/ü/ñ", "/ü/ñ"); /* UTF-8 is kept */
        guest_bad("data", "expected an absolute path");
        guest_bad("", "expected an absolute path");
        guest_bad("~bob/x", "not ~user");
        guest_bad("/", "root folder");
        guest_bad("///", "root folder");
        guest_bad("/a/../b", "\"..\" is not allowed");
        guest_bad("/a/b..c", "\"..\" is not allowed"); /* the guest refuses it anywhere */
        guest_bad("/a...", "\"..\" is not allowed");
        guest_bad("/a/./b", "a \".\" component");
        guest_bad("/a\nb", "control character");
        guest_bad("/a\tb", "control character");
        guest_bad("/a\x7f", "control character");
        guest_bad("/a\rb", "control character");
        char big[NBX_GUEST_PATH_MAX + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[0] = '/';
        big[sizeof(big) - 1] = '\0';
        guest_bad(big, "longer than 1024 bytes");
        /* ~ expansion past the limit */
        big[NBX_GUEST_PATH_MAX - 4] = '\0';
        big[0] = '~';
        big[1] = '/';
        guest_bad(big, "longer than 1024 bytes");
}

static void test_path_within(void **state) {
        (void)state;
        assert_true(nbx_path_within("/a/b", "/a/b"));
        assert_true(nbx_path_within("/a/b/c", "/a/b"));
        assert_true(nbx_path_within("/a/b/c", "/a/b/"));
        assert_true(nbx_path_within("/a", "/"));
        assert_true(nbx_path_within("/", "/"));
        assert_false(nbx_path_within("/a/bc", "/a/b"));
        assert_false(nbx_path_within("/a", "/a/b"));
        assert_false(nbx_path_within("/b", "/a"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_forms),  cmocka_unit_test(test_spec_refusals),
                cmocka_unit_test(test_from_args),   cmocka_unit_test(test_guest_paths),
                cmocka_unit_test(test_path_within),
        };
        return cmocka_run_group_tests_name("mountspec", tests, NULL, NULL);
}
