/* net/link.c, the parts that only read: whether links exist and their index, asked over rtnetlink
 * (never with if_nametoindex, whose ioctl runs modprobe for every absent name), in this namespace.
 * Creating and configuring TAPs runs in the network tier. */
#include "support/testutil.h"

#include <net/if.h>
#include <stdio.h>

#include "net/link.h"
#include "net/net.h"

static void test_exists(void **state) {
        (void)state;
        assert_true(nbx_link_exists("lo"));
        assert_false(nbx_link_exists("nbxt-absent"));
        assert_false(nbx_link_exists("nbx64x"));
}

static void test_index(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_nl_ nbx_nl nl = {0};
        assert_int_equal(nbx_nl_open(&nl, NETLINK_ROUTE, &err), 0);
        int idx = -1;
        assert_int_equal(nbx_link_index(&nl, "lo", &idx, &err), 0);
        assert_int_equal((unsigned)idx, if_nametoindex("lo"));
        /* absent: 0, not an error */
        idx = -1;
        assert_int_equal(nbx_link_index(&nl, "nbxt-absent", &idx, &err), 0);
        assert_int_equal(idx, 0);
        assert_null(err);
}

static void test_slots_present(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_nl_ nbx_nl nl = {0};
        assert_int_equal(nbx_nl_open(&nl, NETLINK_ROUTE, &err), 0);
        uint64_t mask = ~0ull;
        assert_int_equal(nbx_link_slots_present(&nl, &mask, &err), 0);
        /* the same answer as asking name by name (whatever VMs this namespace has) */
        for (unsigned s = 0; s < NBX_SLOTS; s++) {
                char name[IFNAMSIZ];
                snprintf(name, sizeof(name), "nbx%u", s);
                assert_int_equal((mask >> s) & 1, nbx_link_exists(name));
        }
        /* twice on one socket */
        uint64_t again;
        assert_int_equal(nbx_link_slots_present(&nl, &again, &err), 0);
        assert_int_equal(again, mask);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exists),
                cmocka_unit_test(test_index),
                cmocka_unit_test(test_slots_present),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
