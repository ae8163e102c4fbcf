#include "support/testutil.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/base/fsutil.h"
#include "net/net.h"

static void ip_is(struct in_addr a, const char *expect) {
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, buf, sizeof(buf));
        assert_string_equal(buf, expect);
}

static void test_all_slots(void **state) {
        (void)state;
        nbx_pool pool;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_pool_parse("172.16.0.0", &pool, &err), 0);
        nbx_slot_addr all[NBX_SLOTS];
        for (unsigned s = 0; s < NBX_SLOTS; s++) {
                nbx_slot_addr *a = &all[s];
                assert_int_equal(nbx_slot_addr_derive(&pool, s, a, &err), 0);
                char name[IFNAMSIZ], ip[32], mac[18];
                snprintf(name, sizeof(name), "nbx%u", s);
                assert_string_equal(a->tap, name);
                assert_int_equal(a->slot, s);
                assert_int_equal(a->prefix_len, 30);
                snprintf(ip, sizeof(ip), "172.16.%u.0", 4 * s);
                ip_is(a->network, ip);
                snprintf(ip, sizeof(ip), "172.16.%u.1", 4 * s);
                ip_is(a->host_ip, ip);
                snprintf(ip, sizeof(ip), "172.16.%u.2", 4 * s);
                ip_is(a->guest_ip, ip);
                snprintf(ip, sizeof(ip), "172.16.%u.3", 4 * s);
                ip_is(a->broadcast, ip);
                snprintf(mac, sizeof(mac), "02:6e:62:78:00:%02x", s);
                assert_string_equal(a->mac_str, mac);
                assert_int_equal(a->mac[0], 0x02); /* locally administered, unicast */
                assert_int_equal(a->mac[5], s);
                assert_int_equal(a->vsock_cid, 3 + s);
                nbx_slot_addr_text t;
                nbx_slot_addr_str(a, &t);
                snprintf(ip, sizeof(ip), "172.16.%u.2", 4 * s);
                assert_string_equal(t.guest_ip, ip);
                snprintf(ip, sizeof(ip), "172.16.%u.1", 4 * s);
                assert_string_equal(t.host_ip, ip);
        }
        /* pairwise unique: names, subnets, MACs, CIDs; no slot's /30 contains another's */
        for (unsigned i = 0; i < NBX_SLOTS; i++)
                for (unsigned j = i + 1; j < NBX_SLOTS; j++) {
                        assert_string_not_equal(all[i].tap, all[j].tap);
                        assert_int_not_equal(all[i].network.s_addr, all[j].network.s_addr);
                        uint32_t ni = ntohl(all[i].network.s_addr),
                                 nj = ntohl(all[j].network.s_addr);
                        assert_int_not_equal(ni & ~3u, nj & ~3u);
                        assert_memory_not_equal(all[i].mac, all[j].mac, 6);
                        assert_int_not_equal(all[i].vsock_cid, all[j].vsock_cid);
                }
        /* guest and host are inside the /30, never network or broadcast */
        uint32_t n = ntohl(all[63].network.s_addr);
        assert_int_equal(ntohl(all[63].host_ip.s_addr), n + 1);
        assert_int_equal(ntohl(all[63].guest_ip.s_addr), n + 2);
        ip_is(all[63].network, "172.16.252.0");
}

static void test_slot_out_of_range(void **state) {
        (void)state;
        nbx_pool pool;
        nbx_slot_addr a;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_pool_parse("10.99.0.0", &pool, &err), 0);
        assert_true(nbx_slot_addr_derive(&pool, NBX_SLOTS, &a, &err) < 0);
        assert_non_null(strstr(err->msg, "out of range"));
}

static void test_pool_parse(void **state) {
        (void)state;
        nbx_pool pool;
        nbx_slot_addr a;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_pool_parse("10.213.0.0/16", &pool, &err), 0);
        assert_int_equal(nbx_slot_addr_derive(&pool, 5, &a, &err), 0);
        ip_is(a.guest_ip, "10.213.20.2");

        static const char *const bad[] = {"",
                                          "10.213.1.0",
                                          "10.213.0.1",
                                          "10.213.0.0/24",
                                          "10.213.0.0/8",
                                          "300.1.0.0",
                                          "127.5.0.0",
                                          "0.1.0.0",
                                          "224.1.0.0",
                                          "fe80::",
                                          "10.213.0.0 x",
                                          "nonsense"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                nbx_error *e = NULL;
                assert_true(nbx_pool_parse(bad[i], &pool, &e) < 0);
                assert_non_null(e);
                assert_int_equal(e->exit_code, NBX_EXIT_CONFIG);
                assert_non_null(strstr(e->msg, "address pool"));
                nbx_error_free(e);
        }
}

static void test_pool_file(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        _cleanup_error_ nbx_error *err = NULL;
        nbx_pool pool;
        /* no file: the default */
        assert_int_equal(nbx_pool_load(dir, &pool, &err), 0);
        ip_is(pool.base, NBX_POOL_DEFAULT);
        /* written by setup --pool, read back */
        nbx_pool p2;
        assert_int_equal(nbx_pool_parse("10.77.0.0", &p2, &err), 0);
        assert_int_equal(nbx_pool_save(dir, &p2, &err), 0);
        assert_int_equal(nbx_pool_load(dir, &pool, &err), 0);
        ip_is(pool.base, "10.77.0.0");
        /* NULL means: the runtime folder's setting */
        setenv("NIXBOX_RUNTIME_DIR", dir, 1);
        assert_int_equal(nbx_pool_parse(NULL, &pool, &err), 0);
        ip_is(pool.base, "10.77.0.0");
        unsetenv("NIXBOX_RUNTIME_DIR");
        /* a damaged file is an error naming the file and the command that writes it */
        nbx_test_write(dir, "pool", "10.77.1.0\n");
        assert_true(nbx_pool_load(dir, &pool, &err) < 0);
        assert_non_null(strstr(err->msg, "setup --pool"));
        assert_non_null(strstr(err->msg, "/pool"));
        nbx_test_rmdir(dir);
}

static void test_setup(void **state) {
        (void)state;
        char *base = nbx_test_tmpdir();
        _cleanup_free_ char *rt = nbx_path_join(base, "run/nixbox");
        _cleanup_error_ nbx_error *err = NULL;
        nbx_pool pool;
        /* a bad pool is a usage error and nothing is written, not even the folder */
        assert_true(nbx_net_setup(rt, "10.77.1.0", &pool, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
        assert_non_null(strstr(err->msg, "--pool"));
        assert_false(nbx_is_dir(rt));
        nbx_error_free(TAKE_PTR(err));
        /* no pool: the folder, and the default pool in effect */
        assert_int_equal(nbx_net_setup(rt, NULL, &pool, &err), 0);
        assert_true(nbx_is_dir(rt));
        ip_is(pool.base, NBX_POOL_DEFAULT);
        /* a pool: recorded, and in effect for every later command */
        assert_int_equal(nbx_net_setup(rt, "10.213.0.0/16", &pool, &err), 0);
        ip_is(pool.base, "10.213.0.0");
        nbx_pool again;
        assert_int_equal(nbx_pool_load(rt, &again, &err), 0);
        ip_is(again.base, "10.213.0.0");
        assert_int_equal(nbx_net_setup(rt, NULL, &pool, &err), 0);
        ip_is(pool.base, "10.213.0.0");
        nbx_test_rmdir(base);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_all_slots),  cmocka_unit_test(test_slot_out_of_range),
                cmocka_unit_test(test_pool_parse), cmocka_unit_test(test_pool_file),
                cmocka_unit_test(test_setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
