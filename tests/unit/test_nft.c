/* net/nft.c without the kernel: the dnsmasq side of the allow set (one source for the nftset
 * target and the TTL rule), and input refused before anything reaches a socket.  The operations
 * themselves run against the real kernel in the network tier (tests/net/test_firewall,
 * tests/net/test_nft_kernel). */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/nft.h"

static void test_dnsmasq_side(void **state) {
        (void)state;
        char t[64];
        nbx_nft_dnsmasq_nftset(63, t);
        assert_string_equal(t, "4#inet#nixbox#allow63");
        nbx_nft_dnsmasq_nftset(0, t);
        assert_string_equal(t, "4#inet#nixbox#allow0");
        /* the set-timeout rule: min(T/4, 300 s), at least 1 s; 0 = the default timeout */
        assert_int_equal(nbx_nft_dns_ttl_cap(0), 300);
        assert_int_equal(nbx_nft_dns_ttl_cap(NBX_NFT_ALLOW_TIMEOUT_S), 300);
        assert_int_equal(nbx_nft_dns_ttl_cap(400), 100);
        assert_int_equal(nbx_nft_dns_ttl_cap(3), 1);
        assert_int_equal(nbx_nft_dns_ttl_cap(2), 1);
        /* and what it guarantees: an answer expires before half the element's lifetime */
        for (uint32_t t_s = 4; t_s < 100000; t_s = t_s * 3 / 2)
                assert_true(2 * nbx_nft_dns_ttl_cap(t_s) <= t_s / 2 + 1);
}

static void test_bad_input_never_reaches_the_kernel(void **state) {
        (void)state;
        /* a socket-less nbx_nl: any attempt to talk would crash the test */
        nbx_nl nl = {0};
        nbx_pool pool = {.base.s_addr = htonl(0xac100000)};
        nbx_slot_addr a;
        assert_int_equal(nbx_slot_addr_derive(&pool, 3, &a, NULL), 0);
        snprintf(a.tap, sizeof(a.tap), "eth0");
        nbx_net_policy p = {.mode = NBX_NET_OPEN};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_nft_slot_add(&nl, &a, &p, true, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "eth0"));
        nbx_error_free(TAKE_PTR(err));
        assert_int_equal(nbx_nft_slot_update(&nl, &a, &p, true, false, &err), -EINVAL);
        nbx_error_free(TAKE_PTR(err));
        assert_int_equal(nbx_nft_slot_del(&nl, &a, &err), -EINVAL);
        nbx_error_free(TAKE_PTR(err));
        a.slot = NBX_SLOTS;
        assert_int_equal(nbx_nft_slot_del(&nl, &a, &err), -ERANGE);
        nbx_error_free(TAKE_PTR(err));
        nbx_net_counters c;
        assert_int_equal(nbx_nft_slot_counters(&nl, NBX_SLOTS, &c, &err), -ERANGE);
        assert_non_null(strstr(err->msg, "out of range"));
        nbx_error_free(TAKE_PTR(err));
        struct in_addr *v = NULL;
        size_t n = 7;
        assert_int_equal(nbx_nft_allow_list(&nl, 1000, &v, &n, &err), -ERANGE);
        assert_null(v);
        assert_int_equal(n, 7); /* ret_ params untouched on failure */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dnsmasq_side),
                cmocka_unit_test(test_bad_input_never_reaches_the_kernel),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
