/* config/domain.c: domain names normalized before they reach dnsmasq and the firewall. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/domain.h"

static void ok(const char *in, const char *want) {
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *out = NULL;
        int r = nbx_domain_normalize(in, &out, &err);
        if (r < 0)
                fail_msg("%s rejected: %s", in, err ? err->msg : "?");
        assert_string_equal(out, want);
}

static void bad(const char *in, const char *why) {
        _cleanup_error_ nbx_error *err = NULL;
        char *out = NULL;
        assert_true(nbx_domain_normalize(in, &out, &err) < 0);
        assert_null(out);
        assert_non_null(err);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        if (!strstr(err->msg, why))
                fail_msg("message for %s lacks \"%s\": %s", in, why, err->msg);
}

static void test_lowercase_and_wildcard(void **state) {
        (void)state;
        ok("GitHub.com", "github.com");
        ok("*.example.org", "example.org");
        ok("example.org.", "example.org");
        ok("a-b.c0.io", "a-b.c0.io");
        ok("localhost", "localhost");
}

static void test_idn_to_punycode(void **state) {
        (void)state;
        ok("bücher.de", "xn--bcher-kva.de");
        ok("*.MÜNCHEN.de", "xn--mnchen-3ya.de");
        ok("xn--bcher-kva.de", "xn--bcher-kva.de");
}

static void test_rejects_dnsmasq_metacharacters(void **state) {
        (void)state;
        bad("evil.com/#/1.2.3.4", "contains '/'");
        bad("evil.com#x", "contains '#'");
        bad("a b.com", "a space");
        bad("a\tb.com", "a tab");
        bad("a.com\n", "a newline");
        bad("a\x01.com", "control character 0x01");
        bad("a.com\x7f", "control character 0x7f");
}

static void test_rejects_bad_shapes(void **state) {
        (void)state;
        bad("", "empty");
        bad(".", "empty");
        bad("a..com", "empty label");
        bad(".a.com", "empty label");
        bad("-a.com", "starts or ends with '-'");
        bad("a-.com", "starts or ends with '-'");
        bad("a_b.com", "contains '_'");
        bad("a.*.com", "'*' is only allowed");
        bad("*", "'*' is only allowed");
        bad("1.2.3.4", "looks like an IP address");
        bad("a.com:443", "contains ':'");
        bad("bad\xff.com", "internationalized");
}

static void test_length_limits(void **state) {
        (void)state;
        char label[80];
        memset(label, 'a', 63);
        strcpy(label + 63, ".com");
        ok(label, label); /* 63 is fine */
        memset(label, 'a', 64);
        strcpy(label + 64, ".com");
        bad(label, "label longer than 63");

        /* 253 in total is fine, 254 is not */
        char name[300];
        size_t n = 0;
        while (n + 64 <= 253) {
                memset(name + n, 'b', 63);
                name[n + 63] = '.';
                n += 64;
        }
        memset(name + n, 'c', 253 - n);
        name[253] = '\0';
        ok(name, name);
        name[253] = 'c';
        name[254] = '\0';
        bad(name, "longer than 253");

        char *huge = malloc(5000);
        memset(huge, 'x', 4999);
        huge[4999] = '\0';
        bad(huge, "longer than 1024");
        free(huge);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lowercase_and_wildcard),
                cmocka_unit_test(test_idn_to_punycode),
                cmocka_unit_test(test_rejects_dnsmasq_metacharacters),
                cmocka_unit_test(test_rejects_bad_shapes),
                cmocka_unit_test(test_length_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
