#include "support/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/strv.h"
#include "net/dnsmasq.h"
#include "net/net.h"
#include "net/nft.h"

static nbx_slot_addr slot3(void) {
        nbx_pool pool;
        nbx_slot_addr a;
        assert_int_equal(nbx_pool_parse("172.16.0.0", &pool, NULL), 0);
        assert_int_equal(nbx_slot_addr_derive(&pool, 3, &a, NULL), 0);
        return a;
}

static nbx_ip ip4(const char *s) {
        nbx_ip ip = {.family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, s, &ip.v4), 1);
        return ip;
}

static char *config_t(enum nbx_net_mode mode, const nbx_strv *domains, uint32_t timeout_s,
                      nbx_error **err) {
        nbx_slot_addr a = slot3();
        nbx_ip dns[2] = {ip4("198.51.100.53"), {.family = AF_INET6}};
        assert_int_equal(inet_pton(AF_INET6, "2001:db8::53", &dns[1].v6), 1);
        uint16_t ports[] = {80, 443};
        nbx_net_policy p = {.mode = mode,
                            .domains = domains,
                            .ports = ports,
                            .n_ports = 2,
                            .upstream_dns = dns,
                            .n_upstream_dns = 2,
                            .allow_timeout_s = timeout_s};
        char *text = NULL;
        if (nbx_dnsmasq_config(&a, &p, "/run/nixbox/slots/3", &text, err) < 0)
                return NULL;
        return text;
}

static char *config(enum nbx_net_mode mode, const nbx_strv *domains, nbx_error **err) {
        return config_t(mode, domains, 0, err);
}

static void has(const char *text, const char *line) {
        char *want = NULL;
        assert_true(asprintf(&want, "\n%s\n", line) > 0);
        if (!strstr(text, want))
                fail_msg("missing line \"%s\" in:\n%s", line, text);
        free(want);
}

static void lacks(const char *text, const char *needle) {
        if (strstr(text, needle))
                fail_msg("unexpected \"%s\" in:\n%s", needle, text);
}

static void common(const char *t) {
        has(t, "interface=nbx3");
        has(t, "except-interface=lo");
        has(t, "listen-address=172.16.12.1");
        has(t, "bind-interfaces");
        has(t, "no-resolv");
        has(t, "no-hosts");
        has(t, "dhcp-range=172.16.12.2,static,255.255.255.252,12h");
        has(t, "dhcp-host=02:6e:62:78:00:03,172.16.12.2");
        has(t, "dhcp-option=option:router,172.16.12.1");
        has(t, "dhcp-leasefile=/run/nixbox/slots/3/dnsmasq.leases");
        has(t, "log-facility=/run/nixbox/slots/3/dnsmasq.log");
}

static void test_filtered(void **state) {
        (void)state;
        nbx_strv d = {0};
        assert_int_equal(nbx_strv_push(&d, "allowed.test"), 0);
        assert_int_equal(nbx_strv_push(&d, "github.com"), 0);
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *t = config(NBX_NET_FILTERED, &d, &err);
        assert_non_null(t);
        common(t);
        has(t, "dhcp-option=option:dns-server,172.16.12.1");
        has(t, "server=/allowed.test/198.51.100.53");
        has(t, "server=/allowed.test/2001:db8::53");
        has(t, "nftset=/allowed.test/4#inet#nixbox#allow3");
        has(t, "server=/github.com/198.51.100.53");
        has(t, "nftset=/github.com/4#inet#nixbox#allow3");
        /* the target is the firewall's own (one source) */
        char target[64], line[128];
        nbx_nft_dnsmasq_nftset(3, target);
        snprintf(line, sizeof(line), "nftset=/github.com/%s", target);
        has(t, line);
        has(t, "address=/#/");
        has(t, "log-queries");
        has(t, "filter-AAAA");
        /* the set-timeout rule for the default element timeout (3600 s): min(T/4, 300) */
        has(t, "max-cache-ttl=300");
        has(t, "max-ttl=300");
        assert_int_equal(nbx_nft_dns_ttl_cap(0), 300);
        /* nothing is forwarded except the allowed suffixes */
        lacks(t, "\nserver=198");
        lacks(t, "port=0");
        nbx_strv_clear(&d);
}

static void test_ttl_follows_the_set_timeout(void **state) {
        (void)state;
        nbx_strv d = {0};
        assert_int_equal(nbx_strv_push(&d, "allowed.test"), 0);
        const struct {
                uint32_t timeout_s;
                const char *cache, *ttl;
        } cases[] = {
                {40, "max-cache-ttl=10", "max-ttl=10"},
                {3, "max-cache-ttl=1", "max-ttl=1"},
                {86400, "max-cache-ttl=300", "max-ttl=300"},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                _cleanup_free_ char *t = config_t(NBX_NET_FILTERED, &d, cases[i].timeout_s, &err);
                assert_non_null(t);
                has(t, cases[i].cache);
                has(t, cases[i].ttl);
        }
        nbx_strv_clear(&d);
}

static void test_filtered_no_domains(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *t = config(NBX_NET_FILTERED, NULL, &err);
        assert_non_null(t);
        has(t, "address=/#/");
        lacks(t, "server=");
        lacks(t, "nftset=");
}

static void test_open(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *t = config(NBX_NET_OPEN, NULL, &err);
        assert_non_null(t);
        common(t);
        has(t, "server=198.51.100.53");
        has(t, "server=2001:db8::53");
        has(t, "dhcp-option=option:dns-server,172.16.12.1");
        lacks(t, "address=/#/");
        lacks(t, "nftset=");
        lacks(t, "port=0");
}

static void test_off(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *t = config(NBX_NET_OFF, NULL, &err);
        assert_non_null(t);
        common(t);
        has(t, "port=0");
        has(t, "dhcp-option=option:dns-server");
        lacks(t, "server=");
        lacks(t, "nftset=");
        lacks(t, "dns-server,172");
}

static void test_needs_upstream(void **state) {
        (void)state;
        nbx_slot_addr a = slot3();
        nbx_net_policy p = {.mode = NBX_NET_OPEN};
        char *t = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_dnsmasq_config(&a, &p, "/x", &t, &err) < 0);
        assert_null(t);
        assert_non_null(strstr(err->msg, "upstreamDns"));
}

static void test_hostile_domains_rejected(void **state) {
        (void)state;
        static const char *const hostile[] = {
                "evil.com/#/1.2.3.4",
                "evil.com\naddress=/#/1.2.3.4",
                "evil.com\nserver=1.2.3.4",
                "evil.com#",
                "#",
                "evil com",
                " evil.com",
                "evil.com\t",
                "evil.com\r",
                "/evil.com",
                "evil.com/",
                "",
                "..",
                "-evil.com",
                "evil..com",
                "EVIL.com", /* not normalized: the config layer lowercases */
                "*.evil.com",
                "evil.com.",
                "1.2.3.4",
                "evil.com\\",
                "ev\"il.com",
                "evil.com\x01",
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(hostile); i++) {
                nbx_strv d = {0};
                assert_int_equal(nbx_strv_push(&d, "good.test"), 0);
                assert_int_equal(nbx_strv_push(&d, hostile[i]), 0);
                nbx_error *err = NULL;
                char *t = config(NBX_NET_FILTERED, &d, &err);
                if (t)
                        fail_msg("hostile domain #%zu accepted:\n%s", i, t);
                assert_non_null(err);
                assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
                assert_non_null(strstr(err->msg, "network.domains"));
                nbx_error_free(err);
                nbx_strv_clear(&d);

                err = NULL;
                assert_true(nbx_dnsmasq_domain_check(hostile[i], &err) < 0);
                nbx_error_free(err);
        }
        /* a long but valid name passes; one over 253 characters does not */
        char name[300];
        memset(name, 0, sizeof(name));
        for (int i = 0; i < 4; i++)
                strcat(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.");
        strcat(name, "test");
        assert_int_equal(strlen(name), 256);
        assert_true(nbx_dnsmasq_domain_check(name, NULL) < 0);
        assert_int_equal(nbx_dnsmasq_domain_check(name + 8, NULL), 0);
}

static void test_too_many_domains(void **state) {
        (void)state;
        nbx_strv d = {0};
        for (int i = 0; i <= NBX_MAX_DOMAINS; i++)
                assert_int_equal(nbx_strv_pushf(&d, "d%d.test", i), 0);
        _cleanup_error_ nbx_error *err = NULL;
        assert_null(config(NBX_NET_FILTERED, &d, &err));
        assert_non_null(strstr(err->msg, "at most"));
        nbx_strv_clear(&d);
}

static void test_denied_parse(void **state) {
        (void)state;
        const char *log = "Nov 23 14:16:52 dnsmasq[2415]: started, version 2.90 cachesize 150\n"
                          "Nov 23 14:16:53 dnsmasq[2415]: query[A] other.test from 172.16.12.2\n"
                          "Nov 23 14:16:53 dnsmasq[2415]: config other.test is NXDOMAIN\n"
                          "Nov 23 14:16:53 dnsmasq[2415]: query[A] allowed.test from 172.16.12.2\n"
                          "Nov 23 14:16:53 dnsmasq[2415]: forwarded allowed.test to 198.51.100.53\n"
                          "Nov 23 14:16:53 dnsmasq[2415]: reply allowed.test is 198.51.100.10\n"
                          "Nov 23 14:16:54 dnsmasq[2415]: reply missing.allowed.test is NXDOMAIN\n"
                          "Nov 23 14:16:54 dnsmasq[2415]: config a.tunnel.test is NXDOMAIN\n"
                          "Nov 23 14:16:55 dnsmasq[2415]: config other.test is NXDOMAIN\n"
                          "Nov 23 14:16:55 dnsmasq[2415]: config b.tunnel.test is NXDOMAIN";
        nbx_strv v = {0};
        assert_int_equal(nbx_dnsmasq_denied_parse(log, 10, &v, NULL), 0);
        assert_int_equal(v.n, 3);
        assert_string_equal(v.v[0], "a.tunnel.test");
        assert_string_equal(v.v[1], "other.test"); /* moved to its latest position */
        assert_string_equal(v.v[2], "b.tunnel.test");
        nbx_strv_clear(&v);
        assert_int_equal(nbx_dnsmasq_denied_parse(log, 2, &v, NULL), 0);
        assert_int_equal(v.n, 2);
        assert_string_equal(v.v[0], "other.test");
        nbx_strv_clear(&v);
        assert_int_equal(nbx_dnsmasq_denied_parse("", 5, &v, NULL), 0);
        assert_int_equal(v.n, 0);
        /* names longer than a domain and lines that only look alike are not names */
        char long_line[400];
        snprintf(long_line, sizeof(long_line),
                 "x dnsmasq[1]: config %0300d is NXDOMAIN\n"
                 "x dnsmasq[1]: config  is NXDOMAIN\n"
                 "]: config is NXDOMAIN\n",
                 7);
        assert_int_equal(nbx_dnsmasq_denied_parse(long_line, 5, &v, NULL), 0);
        assert_int_equal(v.n, 0);
        /* the guest chose the name: control bytes and broken UTF-8 never reach a terminal */
        assert_int_equal(nbx_dnsmasq_denied_parse("x dnsmasq[1]: config a\x1b[31m\xff.test is "
                                                  "NXDOMAIN\n",
                                                  5, &v, NULL),
                         0);
        assert_int_equal(v.n, 1);
        assert_string_equal(v.v[0], "a\\x1b[31m\\xff.test");
        nbx_strv_clear(&v);
}

/* A query log over the size a rotation keeps: its tail moves to dnsmasq.log.1, the log starts
 * empty, and the refused names of both parts are still found. */
static void test_log_rotate(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *log = nbx_path_join(dir, NBX_DNSMASQ_LOG);
        char *old = nbx_path_join(dir, NBX_DNSMASQ_LOG ".1");
        FILE *f = fopen(log, "w");
        assert_non_null(f);
        int lines = 0;
        for (long written = 0; written < 2 * NBX_DNSMASQ_LOG_KEEP; lines++)
                written += fprintf(
                        f, "Nov 23 14:16:53 dnsmasq[2415]: config n%d.test is NXDOMAIN\n", lines);
        fclose(f);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_dnsmasq_log_rotate(dir, false, &err), 0);
        struct stat st;
        assert_int_equal(stat(log, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(stat(old, &st), 0);
        assert_true(st.st_size > 0 && st.st_size <= NBX_DNSMASQ_LOG_KEEP);
        assert_int_equal(st.st_mode & 0777, 0600);
        f = fopen(log, "a");
        fprintf(f, "Nov 23 14:16:54 dnsmasq[2415]: config after.test is NXDOMAIN\n");
        fclose(f);
        nbx_strv v = {0};
        assert_int_equal(nbx_dnsmasq_denied(dir, 3, &v, &err), 0);
        assert_int_equal(v.n, 3);
        char want[32];
        snprintf(want, sizeof(want), "n%d.test", lines - 1);
        assert_string_equal(v.v[1], want); /* the newest of the rotated part */
        assert_string_equal(v.v[2], "after.test");
        nbx_strv_clear(&v);
        /* small logs stay as they are; a missing one is fine */
        assert_int_equal(nbx_dnsmasq_log_rotate(dir, false, &err), 0);
        assert_int_equal(stat(log, &st), 0);
        assert_true(st.st_size > 0);
        assert_int_equal(unlink(log), 0);
        assert_int_equal(nbx_dnsmasq_log_rotate(dir, true, &err), 0);
        free(log);
        free(old);
        nbx_test_rmdir(dir);
}

static void test_build_parse(void **state) {
        (void)state;
        nbx_dnsmasq_build b;
        _cleanup_error_ nbx_error *err = NULL;
        /* Debian 12's dnsmasq-base (2.89/2.90), as it prints itself */
        assert_int_equal(nbx_dnsmasq_build_parse(
                                 "Dnsmasq version 2.90  Copyright (c) 2000-2024 Simon Kelley\n"
                                 "Compile time options: IPv6 GNU-getopt DBus no-UBus i18n IDN2 "
                                 "DHCP DHCPv6 no-Lua TFTP conntrack ipset nftset auth cryptohash "
                                 "DNSSEC loop-detect inotify dumpfile\n\nThis software comes "
                                 "with ABSOLUTELY NO WARRANTY.\n",
                                 &b, &err),
                         0);
        assert_int_equal(b.major, 2);
        assert_int_equal(b.minor, 90);
        assert_true(b.nftset);
        assert_int_equal(nbx_dnsmasq_build_parse("Dnsmasq version 2.86  Copyright\nCompile time "
                                                 "options: IPv6 ipset no-nftset auth\n",
                                                 &b, &err),
                         0);
        assert_int_equal(b.minor, 86);
        assert_false(b.nftset);
        assert_int_equal(nbx_dnsmasq_build_parse("Compile time options: nftset\n", &b, &err),
                         -EBADMSG);
        assert_non_null(strstr(err->msg, "dnsmasq --version"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_filtered),
                cmocka_unit_test(test_ttl_follows_the_set_timeout),
                cmocka_unit_test(test_filtered_no_domains),
                cmocka_unit_test(test_open),
                cmocka_unit_test(test_off),
                cmocka_unit_test(test_needs_upstream),
                cmocka_unit_test(test_hostile_domains_rejected),
                cmocka_unit_test(test_too_many_domains),
                cmocka_unit_test(test_denied_parse),
                cmocka_unit_test(test_log_rotate),
                cmocka_unit_test(test_build_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
