/* net/check.c: the host checks `nixbox doctor` shows for the network.  What needs no privilege
 * runs here (the capability, forwarding, dnsmasq with the real binary and with stand-ins printing
 * other versions, every check without CAP_NET_ADMIN); the nf_tables dry run and the Docker chain
 * run against the real kernel in a namespace in tests/net/test_nft_kernel. */
#include "support/testutil.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "net/net.h"

/* CAP_NET_ADMIN in the effective set, as /proc/self/status tells it */
static bool proc_says_net_admin(void) {
        FILE *f = fopen("/proc/self/status", "re");
        assert_non_null(f);
        char line[256];
        unsigned long long eff = 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "CapEff: %llx", &eff) == 1)
                        break;
        fclose(f);
        return (eff >> CAP_NET_ADMIN) & 1;
}

static const nbx_check *only(const nbx_checks *l, const char *name) {
        assert_int_equal(l->n, 1);
        assert_string_equal(l->v[0].name, name);
        return &l->v[0];
}

static void test_cap_net_admin(void **state) {
        (void)state;
        assert_int_equal(nbx_net_has_cap_net_admin(), proc_says_net_admin());
        nbx_checks l = {0};
        nbx_net_check_cap_net_admin(&l);
        const nbx_check *c = only(&l, "CAP_NET_ADMIN");
        assert_false(c->required); /* doctor itself runs without it */
        if (nbx_net_has_cap_net_admin()) {
                assert_int_equal(c->status, NBX_CHECK_OK);
        } else {
                assert_int_equal(c->status, NBX_CHECK_WARN);
                assert_non_null(strstr(c->fix, "sudo"));
        }
}

static void test_forwarding(void **state) {
        (void)state;
        char v = 0;
        int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, &v, 1), 1);
        close(fd);
        nbx_checks l = {0};
        nbx_net_check_forwarding(&l);
        const nbx_check *c = only(&l, "IPv4 forwarding");
        if (v == '1') {
                assert_int_equal(c->status, NBX_CHECK_OK);
                assert_string_equal(c->detail, "net.ipv4.ip_forward = 1");
        } else {
                assert_int_equal(c->status, NBX_CHECK_WARN);
                assert_non_null(strstr(c->detail, "ip_forward = 0"));
                assert_true(c->fix[0]);
        }
}

/* PATH holding only dir, where dnsmasq (when given) is a stand-in printing `version_text` */
static void dnsmasq_standin(const char *dir, const char *version_text) {
        char script[512];
        snprintf(script, sizeof(script), "#!/bin/sh\nprintf '%%s\\n' '%s'\n", version_text);
        nbx_test_write(dir, "dnsmasq", script);
        _cleanup_free_ char *path = nbx_path_join(dir, "dnsmasq");
        assert_int_equal(chmod(path, 0755), 0);
}

static void test_dnsmasq(void **state) {
        (void)state;
        const char *saved = getenv("PATH");
        _cleanup_free_ char *old_path = strdup(saved ? saved : "/usr/bin:/bin");
        /* the real one, when this machine has it (Debian 12: 2.89 or 2.90 with nftset) */
        _cleanup_free_ char *real = nbx_find_program("dnsmasq");
        if (real) {
                nbx_checks l = {0};
                nbx_net_check_dnsmasq(&l);
                const nbx_check *c = only(&l, "dnsmasq");
                print_message("real dnsmasq: %s %s\n", nbx_check_status_name(c->status), c->detail);
                assert_int_equal(c->status, NBX_CHECK_OK);
                assert_non_null(strstr(c->detail, "nftset"));
        }
        char *dir = nbx_test_tmpdir();
        assert_int_equal(setenv("PATH", dir, 1), 0);
        struct {
                const char *text;
                enum nbx_check_status status;
                const char *detail;
        } cases[] = {
                {NULL, NBX_CHECK_MISSING, "not found"},
                {"Dnsmasq version 2.86  Copyright (c) 2000-2021 Simon Kelley\nCompile time "
                 "options: IPv6 GNU-getopt ipset auth",
                 NBX_CHECK_MISSING, "dnsmasq 2.86 without nftset"},
                {"Dnsmasq version 2.89  Copyright\nCompile time options: IPv6 ipset no-nftset",
                 NBX_CHECK_MISSING, "without nftset"},
                {"Dnsmasq version 2.90  Copyright\nCompile time options: IPv6 ipset nftset auth",
                 NBX_CHECK_OK, "dnsmasq 2.90, nftset"},
                {"something else entirely", NBX_CHECK_MISSING, "dnsmasq --version"},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                if (cases[i].text)
                        dnsmasq_standin(dir, cases[i].text);
                nbx_checks l = {0};
                nbx_net_check_dnsmasq(&l);
                const nbx_check *c = only(&l, "dnsmasq");
                assert_true(c->required);
                if (c->status != cases[i].status || !strstr(c->detail, cases[i].detail))
                        fail_msg("case %zu: %s %s", i, nbx_check_status_name(c->status), c->detail);
                if (c->status != NBX_CHECK_OK)
                        assert_non_null(strstr(c->fix, "dnsmasq"));
        }
        assert_int_equal(setenv("PATH", old_path, 1), 0);
        nbx_test_rmdir(dir);
}

/* Without CAP_NET_ADMIN (dropped in a child): the checks that need it say so, and ask nothing. */
static void test_without_cap_net_admin(void **state) {
        (void)state;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
                struct __user_cap_data_struct data[2];
                if (syscall(SYS_capget, &hdr, data) < 0)
                        _exit(10);
                data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
                if (syscall(SYS_capset, &hdr, data) < 0 || nbx_net_has_cap_net_admin())
                        _exit(11);
                nbx_checks l = {0};
                nbx_net_check_cap_net_admin(&l);
                nbx_net_check_nftables(&l);
                nbx_net_check_docker(&l);
                if (l.n != 3)
                        _exit(12);
                for (size_t i = 0; i < l.n; i++)
                        if (l.v[i].status != NBX_CHECK_WARN || !strstr(l.v[i].fix, "sudo"))
                                _exit(13 + (int)i);
                if (!strstr(l.v[1].detail, "needs CAP_NET_ADMIN") ||
                    !strstr(l.v[2].detail, "needs CAP_NET_ADMIN"))
                        _exit(20);
                /* nf_tables is required, but unknown is not missing: doctor does not fail */
                if (!l.v[1].required || nbx_checks_failed(&l))
                        _exit(21);
                _exit(0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_full_list(void **state) {
        (void)state;
        nbx_checks l = {0};
        for (int i = 0; i < NBX_MAX_CHECKS; i++)
                assert_non_null(nbx_checks_add(&l, "filler", false));
        nbx_net_check_cap_net_admin(&l);
        nbx_net_check_forwarding(&l);
        nbx_net_check_dnsmasq(&l);
        nbx_net_check_nftables(&l);
        nbx_net_check_docker(&l);
        assert_int_equal(l.n, NBX_MAX_CHECKS);
        for (size_t i = 0; i < l.n; i++)
                assert_string_equal(l.v[i].name, "filler");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cap_net_admin), cmocka_unit_test(test_forwarding),
                cmocka_unit_test(test_dnsmasq),       cmocka_unit_test(test_without_cap_net_admin),
                cmocka_unit_test(test_full_list),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
