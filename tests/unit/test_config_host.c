/* config/config_host.c: host facts, the host's resolvers from resolv.conf, IP addresses. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/base/fsutil.h"

static void test_host_facts(void **state) {
        (void)state;
        nbx_host_facts h = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_host_facts_get(&h, &err), 0);
        assert_true(h.cores >= 1);
        assert_true(h.memory_mb >= 64);
}

static void test_ip_text(void **state) {
        (void)state;
        nbx_ip a, b;
        char buf[64];
        assert_true(nbx_ip_from_string("192.0.2.1", &a));
        assert_int_equal(a.family, AF_INET);
        assert_string_equal(nbx_ip_to_string(&a, buf, sizeof(buf)), "192.0.2.1");
        assert_true(nbx_ip_from_string("2001:DB8::1", &b));
        assert_int_equal(b.family, AF_INET6);
        assert_string_equal(nbx_ip_to_string(&b, buf, sizeof(buf)), "2001:db8::1");
        assert_false(nbx_ip_equal(&a, &b));
        nbx_ip c;
        assert_true(nbx_ip_from_string("192.0.2.1", &c));
        assert_true(nbx_ip_equal(&a, &c));
        nbx_ip untouched = a;
        assert_false(nbx_ip_from_string("dns.google", &untouched));
        assert_false(nbx_ip_from_string("192.0.2.1/24", &untouched));
        assert_false(nbx_ip_from_string("", &untouched));
        assert_true(nbx_ip_equal(&untouched, &a));
}

/* The resolvers read from resolv (and fallback) in a scratch folder, as text "a b c". */
static char *read_resolvers(const char *resolv, const char *fallback) {
        char *tmp = nbx_test_tmpdir();
        if (resolv)
                nbx_test_write(tmp, "resolv.conf", resolv);
        if (fallback)
                nbx_test_write(tmp, "resolved.conf", fallback);
        char *p = nbx_path_join(tmp, "resolv.conf"), *f = nbx_path_join(tmp, "resolved.conf");
        nbx_ip *ips = NULL;
        size_t n = 99;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_resolv_conf_read(p, f, &ips, &n, &err) < 0)
                fail_msg("%s", err->msg);
        char *out = calloc(1, 1024);
        for (size_t i = 0; i < n; i++) {
                char buf[64];
                strcat(out, i ? " " : "");
                strcat(out, nbx_ip_to_string(&ips[i], buf, sizeof(buf)));
        }
        free(ips);
        free(p);
        free(f);
        nbx_test_rmdir(tmp);
        return out;
}

static void expect_resolvers(const char *resolv, const char *fallback, const char *want) {
        char *got = read_resolvers(resolv, fallback);
        if (strcmp(got, want) != 0)
                fail_msg("expected \"%s\", got \"%s\"", want, got);
        free(got);
}

static void test_resolv_conf(void **state) {
        (void)state;
        expect_resolvers("# a comment\nnameserver 192.0.2.53\noptions edns0\n", NULL, "192.0.2.53");
        /* zone ids cannot be used, duplicates count once, words that are not addresses skip */
        expect_resolvers("nameserver fe80::1%eth0\nnameserver 198.51.100.1\n"
                         "nameserver 198.51.100.1\nnameserver dns.example\n"
                         "  nameserver   2001:db8::53\n",
                         NULL, "198.51.100.1 2001:db8::53");
        /* no file, or no nameserver: none (the caller decides whether that is an error) */
        expect_resolvers(NULL, NULL, "");
        expect_resolvers("search example.org\n", NULL, "");
}

static void test_resolv_conf_stub_fallback(void **state) {
        (void)state;
        /* only systemd-resolved's stubs: the fallback file has the real servers */
        expect_resolvers("nameserver 127.0.0.53\nnameserver 127.0.0.54\n",
                         "nameserver 203.0.113.1\n", "203.0.113.1");
        /* a real server next to the stub: no fallback */
        expect_resolvers("nameserver 127.0.0.53\nnameserver 203.0.113.9\n",
                         "nameserver 203.0.113.1\n", "127.0.0.53 203.0.113.9");
}

static void test_resolv_conf_cap(void **state) {
        (void)state;
        char text[1024] = "";
        for (int i = 1; i <= NBX_MAX_DNS + 4; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text),
                         "nameserver 192.0.2.%d\n", i);
        char *got = read_resolvers(text, NULL);
        size_t spaces = 0;
        for (const char *p = got; *p; p++)
                spaces += *p == ' ';
        assert_int_equal(spaces + 1, NBX_MAX_DNS);
        free(got);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_host_facts),
                cmocka_unit_test(test_ip_text),
                cmocka_unit_test(test_resolv_conf),
                cmocka_unit_test(test_resolv_conf_stub_fallback),
                cmocka_unit_test(test_resolv_conf_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
