/* net/info.c: the slot's policy record written and read back typed, damaged records refused,
 * the JSON of `nixbox net show --json`, and "not running" as a typed error.  The parts read from
 * the kernel (counters, allow set) and dnsmasq are exercised in tests/net/test_slot_modes. */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "config/base/fsutil.h"
#include "net/info.h"
#include "net/net.h"

static nbx_ip ip(int family, const char *s) {
        nbx_ip v = {.family = family};
        assert_int_equal(inet_pton(family, s, family == AF_INET ? (void *)&v.v4 : (void *)&v.v6),
                         1);
        return v;
}

static void test_record_round_trip(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_pool pool = {.base.s_addr = htonl(0x0a630000)};
        nbx_slot_addr a;
        assert_int_equal(nbx_slot_addr_derive(&pool, 9, &a, NULL), 0);
        nbx_strv doms = {0};
        assert_int_equal(nbx_strv_push(&doms, "allowed.test"), 0);
        assert_int_equal(nbx_strv_push(&doms, "github.com"), 0);
        const uint16_t ports[] = {443, 80, 65535};
        const nbx_ip dns[] = {ip(AF_INET, "198.51.100.53"), ip(AF_INET6, "2001:db8::53")};
        nbx_net_policy p = {.mode = NBX_NET_FILTERED,
                            .domains = &doms,
                            .ports = ports,
                            .n_ports = 3,
                            .upstream_dns = dns,
                            .n_upstream_dns = 2,
                            .allow_private = true};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_net_policy_write(dir, &a, &p, &err), 0);

        nbx_net_info info = {.addr = a};
        assert_int_equal(nbx_net_policy_read(dir, &info, &err), 0);
        assert_int_equal(info.mode, NBX_NET_FILTERED);
        assert_true(info.allow_private);
        assert_int_equal(info.domains.n, 2);
        assert_string_equal(info.domains.v[1], "github.com");
        assert_int_equal(info.n_ports, 3);
        assert_int_equal(info.ports[0], 443);
        assert_int_equal(info.ports[2], 65535);
        assert_int_equal(info.n_upstream_dns, 2);
        assert_int_equal(info.upstream_dns[0].family, AF_INET);
        assert_memory_equal(&info.upstream_dns[0].v4, &dns[0].v4, 4);
        assert_int_equal(info.upstream_dns[1].family, AF_INET6);
        assert_memory_equal(&info.upstream_dns[1].v6, &dns[1].v6, 16);
        nbx_net_info_done(&info);
        nbx_strv_clear(&doms);
        nbx_test_rmdir(dir);
}

static void test_damaged_records(void **state) {
        (void)state;
        const char *bad[] = {
                "not json",
                "[]",
                "{\"mode\": \"wide-open\", \"domains\": [], \"ports\": []}",
                "{\"mode\": \"open\", \"ports\": []}",
                "{\"mode\": \"open\", \"domains\": [], \"ports\": [0]}",
                "{\"mode\": \"open\", \"domains\": [], \"ports\": [65536]}",
                "{\"mode\": \"open\", \"domains\": [], \"ports\": [\"443\"]}",
                "{\"mode\": \"open\", \"domains\": [1], \"ports\": []}",
                "{\"mode\": \"open\", \"domains\": [], \"ports\": [], \"upstream_dns\": [\"x\"]}",
                "{\"mode\": \"open\", \"domains\": [], \"ports\": [], \"allow_private\": 1}",
        };
        char *dir = nbx_test_tmpdir();
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                nbx_test_write(dir, NBX_NET_POLICY_FILE, bad[i]);
                nbx_net_info info = {0};
                _cleanup_error_ nbx_error *err = NULL;
                if (nbx_net_policy_read(dir, &info, &err) != -EBADMSG)
                        fail_msg("record #%zu accepted: %s", i, bad[i]);
                assert_non_null(strstr(err->msg, "is damaged"));
                nbx_net_info_done(&info);
        }
        /* more ports than a policy may have */
        char many[1024] = "{\"mode\": \"filtered\", \"domains\": [], \"ports\": [1";
        for (int i = 2; i <= NBX_MAX_PORTS + 1; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), ", %d", i);
        strcat(many, "]}");
        nbx_test_write(dir, NBX_NET_POLICY_FILE, many);
        nbx_net_info info = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_net_policy_read(dir, &info, &err), -EBADMSG);
        nbx_net_info_done(&info);
        nbx_test_rmdir(dir);
}

static void test_not_running(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        _cleanup_error_ nbx_error *err = NULL;
        nbx_net_info info;
        /* no slot held by the project */
        assert_int_equal(nbx_net_info_for_project(rt, "/projects/p", &info, &err), -ENOENT);
        assert_int_equal(err->exit_code, NBX_EXIT_NOT_RUNNING);
        assert_non_null(strstr(err->msg, "/projects/p holds no network slot"));
        assert_non_null(strstr(err->msg, "sudo nixbox up"));
        nbx_error_free(TAKE_PTR(err));
        /* a slot without its policy record (down, or never up) */
        nbx_pool pool = {.base.s_addr = htonl(0xac100000)};
        assert_int_equal(nbx_net_info_get(rt, &pool, 4, &info, &err), -ENOENT);
        assert_int_equal(err->exit_code, NBX_EXIT_NOT_RUNNING);
        assert_non_null(strstr(err->msg, "network slot 4 is not up"));
        nbx_test_rmdir(rt);
}

static void test_json(void **state) {
        (void)state;
        nbx_pool pool = {.base.s_addr = htonl(0xac100000)};
        nbx_net_info i = {.mode = NBX_NET_FILTERED, .n_ports = 2, .dnsmasq_pid = 4242};
        assert_int_equal(nbx_slot_addr_derive(&pool, 1, &i.addr, NULL), 0);
        i.ports[0] = 443;
        i.ports[1] = 80;
        i.upstream_dns[i.n_upstream_dns++] = ip(AF_INET6, "2001:db8::1");
        assert_int_equal(nbx_strv_push(&i.domains, "allowed.test"), 0);
        assert_int_equal(nbx_strv_push(&i.denied_names, "other.test"), 0);
        i.allowed = calloc(2, sizeof(*i.allowed));
        i.n_allowed = 2;
        i.allowed[0].s_addr = htonl(0xc6336402);
        i.allowed[1].s_addr = htonl(0xcb00710a);
        i.counters = (nbx_net_counters){.dropped_packets = 7,
                                        .dropped_bytes = 420,
                                        .silent_packets = 2,
                                        .silent_bytes = 120};
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *text = NULL;
        assert_int_equal(nbx_net_info_json(&i, &text, &err), 0);
        nbx_net_info_done(&i);

        json_auto_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        json_int_t slot, pid, dp, db, sp;
        const char *tap, *guest, *host, *mac, *mode;
        int priv;
        json_t *ports, *allowed, *doms, *denied, *dns;
        assert_int_equal(json_unpack(j,
                                     "{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:o, "
                                     "s:I, s:I, s:I, s:o, s:I}",
                                     "slot", &slot, "tap", &tap, "guest_ip", &guest, "host_ip",
                                     &host, "mac", &mac, "mode", &mode, "allow_private", &priv,
                                     "ports", &ports, "allowed_addresses", &allowed, "domains",
                                     &doms, "upstream_dns", &dns, "dropped_packets", &dp,
                                     "dropped_bytes", &db, "silent_packets", &sp, "denied_names",
                                     &denied, "dnsmasq_pid", &pid),
                         0);
        assert_int_equal(slot, 1);
        assert_string_equal(tap, "nbx1");
        assert_string_equal(guest, "172.16.4.2");
        assert_string_equal(host, "172.16.4.1");
        assert_string_equal(mac, "02:6e:62:78:00:01");
        assert_string_equal(mode, "filtered");
        assert_false(priv);
        /* ports are numbers, as the library holds them */
        assert_int_equal(json_array_size(ports), 2);
        assert_true(json_is_integer(json_array_get(ports, 0)));
        assert_int_equal(json_integer_value(json_array_get(ports, 1)), 80);
        assert_string_equal(json_string_value(json_array_get(allowed, 0)), "198.51.100.2");
        assert_string_equal(json_string_value(json_array_get(allowed, 1)), "203.0.113.10");
        assert_string_equal(json_string_value(json_array_get(doms, 0)), "allowed.test");
        assert_string_equal(json_string_value(json_array_get(dns, 0)), "2001:db8::1");
        assert_string_equal(json_string_value(json_array_get(denied, 0)), "other.test");
        assert_int_equal(dp, 7);
        assert_int_equal(db, 420);
        assert_int_equal(sp, 2);
        assert_int_equal(pid, 4242);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_record_round_trip),
                cmocka_unit_test(test_damaged_records),
                cmocka_unit_test(test_not_running),
                cmocka_unit_test(test_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
