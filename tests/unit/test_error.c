#include "support/testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/base/error.h"

static int fails_with_context(nbx_error **err) {
        int r = nbx_error_set(err, ENOENT, "open %s", "/nope");
        return nbx_error_wrap(err, "step %d", 2), r;
}

static void test_set_formats_errno(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        int r = nbx_error_set(&err, ENOENT, "open %s", "/x");
        assert_int_equal(r, -ENOENT);
        assert_non_null(err);
        assert_int_equal(err->errnum, ENOENT);
        assert_int_equal(err->exit_code, NBX_EXIT_FAILURE);
        assert_string_equal(err->msg, "open /x: No such file or directory");
}

static void test_negative_errno_accepted(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_error_set(&err, -EPERM, "x"), -EPERM);
        assert_int_equal(err->errnum, EPERM);
}

static void test_zero_errno_means_plain_message(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_error_setx(&err, NBX_EXIT_CONFIG, 0, "network.mode: bad"), -EINVAL);
        assert_string_equal(err->msg, "network.mode: bad");
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
}

static void test_first_error_wins(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_error_set(&err, EIO, "first");
        nbx_error_set(&err, EPERM, "second");
        assert_int_equal(err->errnum, EIO);
        assert_string_equal(err->msg, "first: Input/output error");
}

static void test_wrap_prefixes_context(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(fails_with_context(&err), -ENOENT);
        assert_string_equal(err->msg, "step 2: open /nope: No such file or directory");
        nbx_error_append(&err, " (hint)");
        assert_string_equal(err->msg, "step 2: open /nope: No such file or directory (hint)");
        assert_int_equal(nbx_error_ret(err), -ENOENT);
}

static void test_null_err_is_allowed(void **state) {
        (void)state;
        assert_int_equal(nbx_error_set(NULL, EBUSY, "ignored"), -EBUSY);
        assert_int_equal(nbx_error_wrap(NULL, "x"), -EINVAL);
        nbx_error_free(NULL);
}

static void test_quote_escapes(void **state) {
        (void)state;
        char *q = nbx_quote("a\"b\\c\n", 80);
        assert_string_equal(q, "\"a\\\"b\\\\c\\x0a\"");
        free(q);
        q = nbx_quote("abcdef", 3);
        assert_string_equal(q, "\"abc\"...");
        free(q);
        q = nbx_quote(NULL, 3);
        assert_string_equal(q, "null");
        free(q);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quote_escapes),
                cmocka_unit_test(test_set_formats_errno),
                cmocka_unit_test(test_negative_errno_accepted),
                cmocka_unit_test(test_zero_errno_means_plain_message),
                cmocka_unit_test(test_first_error_wins),
                cmocka_unit_test(test_wrap_prefixes_context),
                cmocka_unit_test(test_null_err_is_allowed),
        };
        return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
