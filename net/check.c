/* Host checks of what net/ owns, for `nixbox doctor`: CAP_NET_ADMIN, nf_tables, dnsmasq, IPv4
 * forwarding, Docker's FORWARD policy.  Each fills one nbx_check; none changes anything (the
 * nf_tables check sends a dry-run batch the kernel throws away). */
#include "net.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "dnsmasq.h"
#include "nft.h"

/* the oldest kernel nixbox supports (docs/network.md, "Kernel range") */
#define KERNEL_MIN_MAJOR 5
#define KERNEL_MIN_MINOR 15
#define VERSION_TIMEOUT_MS 5000

bool nbx_net_has_cap_net_admin(void) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2] = {{0}};
        if (syscall(SYS_capget, &hdr, data) < 0)
                return false;
        return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

void nbx_net_check_cap_net_admin(nbx_checks *l) {
        nbx_check *c = nbx_checks_add(l, "CAP_NET_ADMIN", false);
        if (!c)
                return;
        if (nbx_net_has_cap_net_admin())
                nbx_check_set(c, NBX_CHECK_OK, NULL, "this process may configure the network");
        else
                nbx_check_set(c, NBX_CHECK_WARN, "run them with sudo (`sudo nixbox up`)",
                              "not held: `nixbox up`, `down` and `reload` will refuse");
}

void nbx_net_check_nftables(nbx_checks *l) {
        nbx_check *c = nbx_checks_add(l, "nf_tables", true);
        if (!c)
                return;
        struct utsname u;
        unsigned major = 0, minor = 0;
        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                snprintf(u.release, sizeof(u.release), "?");
        if (!nbx_net_has_cap_net_admin()) {
                nbx_check_set(c, NBX_CHECK_WARN, "run `sudo nixbox doctor` to check it",
                              "Linux %s; asking nf_tables needs CAP_NET_ADMIN", u.release);
                return;
        }
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_support s;
        if (nbx_nft_probe(&s, &err) < 0) {
                nbx_check_set(c, NBX_CHECK_MISSING,
                              "`sudo modprobe nf_tables`; nixbox needs Linux >= 5.15 with "
                              "nf_tables for inet, nat, masquerade, reject, ct, objref and set "
                              "timeouts (docs/network.md, \"Kernel range\")",
                              "Linux %s: %s", u.release, err ? err->msg : "no answer");
                return;
        }
        const char *how = s.destroy ? "removals with DESTROY"
                                    : "no DESTROY before Linux 6.3: removals read the table first";
        if (major < KERNEL_MIN_MAJOR || (major == KERNEL_MIN_MAJOR && minor < KERNEL_MIN_MINOR))
                nbx_check_set(c, NBX_CHECK_WARN, "upgrade to Linux 5.15 or later",
                              "Linux %s accepts nixbox's rules (%s) but is older than the "
                              "supported %d.%d",
                              u.release, how, KERNEL_MIN_MAJOR, KERNEL_MIN_MINOR);
        else
                nbx_check_set(c, NBX_CHECK_OK, NULL, "Linux %s accepts every rule nixbox uses (%s)",
                              u.release, how);
}

void nbx_net_check_dnsmasq(nbx_checks *l) {
        static const char fix[] = "sudo apt-get install dnsmasq-base (2.87 or later, built with "
                                  "nftset)";
        nbx_check *c = nbx_checks_add(l, "dnsmasq", true);
        if (!c)
                return;
        _cleanup_free_ char *prog = nbx_find_program("dnsmasq");
        if (!prog) {
                nbx_check_set(c, NBX_CHECK_MISSING, fix, "dnsmasq not found in PATH");
                return;
        }
        char *argv[] = {prog, "--version", NULL};
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        o.stderr_fd = -1;
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        int status = 0;
        nbx_dnsmasq_build b;
        if (nbx_run_capture(argv, &o, nbx_deadline_in(VERSION_TIMEOUT_MS), &status, &out, NULL,
                            &err) < 0 ||
            nbx_dnsmasq_build_parse(out, &b, &err) < 0) {
                nbx_check_set(c, NBX_CHECK_MISSING, fix, "%s --version: %s", prog,
                              err ? err->msg : "failed");
                return;
        }
        if (b.major < NBX_DNSMASQ_MIN_MAJOR ||
            (b.major == NBX_DNSMASQ_MIN_MAJOR && b.minor < NBX_DNSMASQ_MIN_MINOR) || !b.nftset) {
                nbx_check_set(c, NBX_CHECK_MISSING, fix,
                              "%s is dnsmasq %u.%u%s: filtered mode needs %d.%d or later with "
                              "nftset",
                              prog, b.major, b.minor, b.nftset ? "" : " without nftset",
                              NBX_DNSMASQ_MIN_MAJOR, NBX_DNSMASQ_MIN_MINOR);
                return;
        }
        nbx_check_set(c, NBX_CHECK_OK, NULL, "%s (dnsmasq %u.%u, nftset)", prog, b.major, b.minor);
}

/* nixbox's forwarding guard is in the table (asking needs CAP_NET_ADMIN; false when it cannot
 * be asked). */
static bool guarded(void) {
        _cleanup_nl_ nbx_nl nl = {0};
        bool present = false;
        return nbx_net_has_cap_net_admin() && nbx_nl_open(&nl, NETLINK_NETFILTER, NULL) >= 0 &&
               nbx_nft_guard_present(&nl, &present, NULL) >= 0 && present;
}

void nbx_net_check_forwarding(nbx_checks *l) {
        nbx_check *c = nbx_checks_add(l, "IPv4 forwarding", false);
        if (!c)
                return;
        _cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
        char v = 0;
        if (fd < 0 || read(fd, &v, 1) != 1 || (v != '0' && v != '1'))
                nbx_check_set(c, NBX_CHECK_WARN, "check that /proc/sys is mounted",
                              "cannot read net.ipv4.ip_forward");
        else if (v == '1' && guarded())
                nbx_check_set(c, NBX_CHECK_OK, NULL,
                              "net.ipv4.ip_forward = 1, turned on by nixbox: the host forwards "
                              "only for its VMs (the guard), and forwarding goes off again with "
                              "the last VM");
        else if (v == '1')
                nbx_check_set(c, NBX_CHECK_OK, NULL, "net.ipv4.ip_forward = 1");
        else
                nbx_check_set(c, NBX_CHECK_WARN,
                              "nothing to do, or `sudo sysctl -w net.ipv4.ip_forward=1` to set it "
                              "yourself",
                              "net.ipv4.ip_forward = 0: `nixbox up` turns it on for filtered and "
                              "open VMs, and lets the host forward nothing but their traffic");
}

void nbx_net_check_docker(nbx_checks *l) {
        nbx_check *c = nbx_checks_add(l, "iptables FORWARD", false);
        if (!c)
                return;
        if (!nbx_net_has_cap_net_admin()) {
                nbx_check_set(c, NBX_CHECK_WARN, "run `sudo nixbox doctor` to check it",
                              "reading the ruleset needs CAP_NET_ADMIN");
                return;
        }
        _cleanup_error_ nbx_error *err = NULL;
        nbx_docker_status d;
        if (nbx_net_docker_check(&d, &err) < 0)
                nbx_check_set(c, NBX_CHECK_WARN, "run `sudo nixbox doctor` again", "%s",
                              err ? err->msg : "cannot read the ruleset");
        else if (!d.filter_forward || !d.policy_drop)
                nbx_check_set(c, NBX_CHECK_OK, NULL, "%s",
                              d.filter_forward ? "policy accept" : "no iptables FORWARD chain");
        else if (d.nixbox_rules)
                nbx_check_set(c, NBX_CHECK_OK, NULL,
                              "policy drop (Docker?); nixbox's accept rules for nbx* are in place");
        else
                nbx_check_set(c, NBX_CHECK_OK, NULL,
                              "policy drop (Docker?); `nixbox up` adds accept rules for nbx* "
                              "interfaces, the last `down` removes them");
}
