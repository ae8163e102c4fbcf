/* config/config_names.c: each enum of config.h has one table, and its names go both ways. */
#include "support/testutil.h"

#include <string.h>

#include "config/config.h"

static void test_net_mode(void **state) {
        (void)state;
        const char *want[] = {"off", "filtered", "open"};
        for (enum nbx_net_mode m = NBX_NET_OFF; m <= NBX_NET_OPEN; m++) {
                assert_string_equal(nbx_net_mode_name(m), want[m]);
                enum nbx_net_mode back = NBX_NET_OPEN + 1;
                assert_int_equal(nbx_net_mode_from_name(want[m], &back, NULL), 0);
                assert_int_equal(back, m);
        }
        assert_int_equal(nbx_net_mode_table.n, 3);
        assert_string_equal(nbx_net_mode_name((enum nbx_net_mode)7), "?");
        _cleanup_error_ nbx_error *err = NULL;
        enum nbx_net_mode m = NBX_NET_OFF;
        assert_int_equal(nbx_net_mode_from_name("filterd", &m, &err), -EINVAL);
        assert_int_equal(m, NBX_NET_OFF);
        assert_string_equal(err->msg, "expected one of off, filtered, open, got \"filterd\" "
                                      "(did you mean \"filtered\"?)");
}

static void test_hypervisor(void **state) {
        (void)state;
        const char *want[] = {"auto", "cloud-hypervisor", "qemu"};
        for (enum nbx_hypervisor h = NBX_HV_AUTO; h <= NBX_HV_QEMU; h++) {
                assert_string_equal(nbx_hypervisor_name(h), want[h]);
                enum nbx_hypervisor back = NBX_HV_QEMU + 1;
                assert_int_equal(nbx_hypervisor_from_name(want[h], &back, NULL), 0);
                assert_int_equal(back, h);
        }
        _cleanup_error_ nbx_error *err = NULL;
        enum nbx_hypervisor h;
        assert_int_equal(nbx_hypervisor_from_name("xen", &h, &err), -EINVAL);
        assert_string_equal(err->msg, "expected one of auto, cloud-hypervisor, qemu, got \"xen\"");
}

static void test_accel(void **state) {
        (void)state;
        const char *want[] = {"auto", "kvm", "tcg"};
        for (enum nbx_accel a = NBX_ACCEL_AUTO; a <= NBX_ACCEL_TCG; a++) {
                assert_string_equal(nbx_accel_name(a), want[a]);
                enum nbx_accel back = NBX_ACCEL_TCG + 1;
                assert_int_equal(nbx_accel_from_name(want[a], &back, NULL), 0);
                assert_int_equal(back, a);
        }
        _cleanup_error_ nbx_error *err = NULL;
        enum nbx_accel a;
        assert_int_equal(nbx_accel_from_name("KVM ", &a, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "did you mean \"kvm\"?"));
}

static void test_hook(void **state) {
        (void)state;
        const char *want[] = {"pre-up", "post-up", "pre-down", "post-down"};
        assert_int_equal(nbx_hook_table.n, NBX_HOOK_COUNT);
        for (enum nbx_hook h = 0; h < NBX_HOOK_COUNT; h++) {
                assert_string_equal(nbx_hook_name(h), want[h]);
                enum nbx_hook back = NBX_HOOK_COUNT;
                assert_int_equal(nbx_hook_from_name(want[h], &back, NULL), 0);
                assert_int_equal(back, h);
        }
        assert_string_equal(nbx_hook_name(NBX_HOOK_COUNT), "?");
        _cleanup_error_ nbx_error *err = NULL;
        enum nbx_hook h;
        assert_int_equal(nbx_hook_from_name("postup", &h, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "did you mean \"post-up\"?"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_net_mode),
                cmocka_unit_test(test_hypervisor),
                cmocka_unit_test(test_accel),
                cmocka_unit_test(test_hook),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
