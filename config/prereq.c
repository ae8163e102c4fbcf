#include "prereq.h"

#include <fcntl.h>
#include <libnftnl/common.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../net/nl.h"
#include "base/proc.h"

bool nbx_prereq_has_cap_net_admin(void) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2] = {{0}};
        if (syscall(SYS_capget, &hdr, data) < 0)
                return false;
        return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

int nbx_prereq_ip_forward(const char *proc_path) {
        _cleanup_close_ int fd =
                open(proc_path ? proc_path : "/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char c = 0;
        if (read(fd, &c, 1) != 1)
                return -EIO;
        return c == '1';
}

char *nbx_prereq_find_virtiofsd(void) {
        static const char *const places[] = {"virtiofsd", "/usr/libexec/virtiofsd",
                                             "/usr/lib/qemu/virtiofsd"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(places); i++) {
                char *p = nbx_find_program(places[i]);
                if (p)
                        return p;
        }
        return NULL;
}

int nbx_prereq_nftables(nbx_error **err) {
        _cleanup_nl_ nbx_nl nl = {0};
        int r = nbx_nl_open(&nl, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        char buf[256];
        uint32_t seq = nbx_nl_next_seq(&nl);
        struct nlmsghdr *nlh =
                nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
        return nbx_nl_talk(&nl, nlh, nlh->nlmsg_len, seq, seq, NULL, NULL,
                           "query nf_tables generation", err);
}

/* Does /dev/kvm answer the basic ioctls?  Whether it can really run a guest is the hypervisor
 * layer's probe (vm/hv.c); doctor only needs a quick look. */
static void check_kvm(nbx_check *c) {
        snprintf(c->name, sizeof(c->name), "%s", "KVM");
        c->required = false;
        _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                c->status = NBX_CHECK_WARN;
                snprintf(c->detail, sizeof(c->detail),
                         "/dev/kvm: %s; VMs will run under TCG "
                         "(software emulation, much slower)",
                         strerror(errno));
                snprintf(c->fix, sizeof(c->fix),
                         "enable virtualisation in the firmware, `modprobe kvm_intel` (or "
                         "kvm_amd), and add yourself to the kvm group");
                return;
        }
        int version = ioctl(fd, KVM_GET_API_VERSION, 0);
        _cleanup_close_ int vm = ioctl(fd, KVM_CREATE_VM, 0);
        if (version != KVM_API_VERSION || vm < 0) {
                c->status = NBX_CHECK_WARN;
                snprintf(c->detail, sizeof(c->detail),
                         "/dev/kvm exists but cannot create a VM; VMs will run under TCG");
                snprintf(c->fix, sizeof(c->fix),
                         "on a nested host, enable nested virtualisation on the outer host");
                return;
        }
        c->status = NBX_CHECK_OK;
        snprintf(c->detail, sizeof(c->detail), "/dev/kvm (API %d)", version);
}

static void check_program(nbx_check *c, const char *name, const char *const *candidates,
                          const char *fix, bool required) {
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->required = required;
        for (size_t i = 0; candidates[i]; i++) {
                _cleanup_free_ char *p = nbx_find_program(candidates[i]);
                if (p) {
                        c->status = NBX_CHECK_OK;
                        snprintf(c->detail, sizeof(c->detail), "%s", p);
                        return;
                }
        }
        c->status = required ? NBX_CHECK_MISSING : NBX_CHECK_WARN;
        snprintf(c->detail, sizeof(c->detail), "%s not found in PATH", candidates[0]);
        snprintf(c->fix, sizeof(c->fix), "%s", fix);
}

#define PROGS(...) ((const char *const[]){__VA_ARGS__, NULL})

void nbx_prereq_run(nbx_check checks[NBX_MAX_CHECKS], size_t *ret_n) {
        size_t n = 0;
        memset(checks, 0, sizeof(nbx_check) * NBX_MAX_CHECKS);

        check_kvm(&checks[n++]);

        nbx_check *c = &checks[n++];
        snprintf(c->name, sizeof(c->name), "%s", "nf_tables (netlink)");
        c->required = true;
        nbx_error *err = NULL;
        if (nbx_prereq_nftables(&err) == 0) {
                c->status = NBX_CHECK_OK;
                snprintf(c->detail, sizeof(c->detail), "kernel answers nf_tables requests");
        } else {
                c->status = NBX_CHECK_MISSING;
                snprintf(c->detail, sizeof(c->detail), "%s", err ? err->msg : "no answer");
                snprintf(c->fix, sizeof(c->fix),
                         "`modprobe nf_tables` (kernel >= 5.10 with CONFIG_NF_TABLES_INET)");
        }
        nbx_error_free(err);

        check_program(&checks[n++], "dnsmasq", PROGS("dnsmasq"),
                      "sudo apt-get install dnsmasq-base", true);

        c = &checks[n++];
        snprintf(c->name, sizeof(c->name), "%s", "virtiofsd");
        c->required = true;
        _cleanup_free_ char *vfs = nbx_prereq_find_virtiofsd();
        if (vfs) {
                c->status = NBX_CHECK_OK;
                snprintf(c->detail, sizeof(c->detail), "%s", vfs);
        } else {
                c->status = NBX_CHECK_MISSING;
                snprintf(c->detail, sizeof(c->detail), "virtiofsd not found");
                snprintf(c->fix, sizeof(c->fix),
                         "sudo apt-get install qemu-system-x86 (Debian 12 ships "
                         "/usr/lib/qemu/virtiofsd) or the virtiofsd package");
        }

        check_program(&checks[n++], "hypervisor", PROGS("cloud-hypervisor", "qemu-system-x86_64"),
                      "sudo apt-get install qemu-system-x86 (or install cloud-hypervisor)", true);
        check_program(&checks[n++], "nix", PROGS("nix-instantiate"), "sudo apt-get install nix-bin",
                      true);
        check_program(&checks[n++], "mke2fs", PROGS("mke2fs"), "sudo apt-get install e2fsprogs",
                      true);
        check_program(&checks[n++], "ssh", PROGS("ssh"), "sudo apt-get install openssh-client",
                      true);
        check_program(&checks[n++], "ssh-keygen", PROGS("ssh-keygen"),
                      "sudo apt-get install openssh-client", true);

        c = &checks[n++];
        snprintf(c->name, sizeof(c->name), "%s", "CAP_NET_ADMIN");
        c->required = false; /* needed by up/down only; doctor itself runs without it */
        if (nbx_prereq_has_cap_net_admin()) {
                c->status = NBX_CHECK_OK;
                snprintf(c->detail, sizeof(c->detail), "this process may configure the network");
        } else {
                c->status = NBX_CHECK_WARN;
                snprintf(c->detail, sizeof(c->detail),
                         "not held: `nixbox up` and `nixbox down` will refuse");
                snprintf(c->fix, sizeof(c->fix), "run `sudo nixbox up` / `sudo nixbox down`");
        }

        c = &checks[n++];
        snprintf(c->name, sizeof(c->name), "%s", "IPv4 forwarding");
        c->required = false;
        int fwd = nbx_prereq_ip_forward(NULL);
        if (fwd == 1) {
                c->status = NBX_CHECK_OK;
                snprintf(c->detail, sizeof(c->detail), "net.ipv4.ip_forward = 1");
        } else {
                c->status = NBX_CHECK_WARN;
                snprintf(c->detail, sizeof(c->detail),
                         fwd == 0 ? "net.ipv4.ip_forward = 0: `nixbox up` turns it on for "
                                    "filtered/open VMs"
                                  : "cannot read net.ipv4.ip_forward");
                snprintf(c->fix, sizeof(c->fix),
                         "nothing to do, or `sudo sysctl -w "
                         "net.ipv4.ip_forward=1` to set it yourself");
        }
        *ret_n = n;
}
