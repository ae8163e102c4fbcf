/* The slot's TAP: created with the TUN ioctls, configured through rtnetlink (libmnl, net/nl.h). */
#include "link.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../config/base/fsutil.h"
#include "net.h"

#define NL_BUF 8192

struct ifinfomsg *nbx_link_msg(void *buf, nbx_nl *nl, uint16_t type, uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = flags;
        nlh->nlmsg_seq = nbx_nl_next_seq(nl);
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        return ifm;
}

/* Links are looked up over rtnetlink, never with if_nametoindex: its SIOCGIFINDEX makes the
 * kernel run modprobe twice ("netdev-<name>", then "<name>") for every name that does not
 * exist, which a teardown asking about 64 slot names turned into 128 modprobes. */
bool nbx_link_exists(const char *name) {
        _cleanup_nl_ nbx_nl nl = {0};
        if (nbx_nl_open(&nl, NETLINK_ROUTE, NULL) < 0)
                return true; /* cannot tell: count it as there (nothing is reclaimed) */
        char buf[256] = {0}; /* zeroed: libmnl 1.0.4 leaves an attribute's padding as it was */
        (void)nbx_link_msg(buf, &nl, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
        struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        return nbx_nl_talk_unless(&nl, nlh, ENODEV, NULL, NULL, "look up a link", NULL) != 1;
}

static int index_cb(const struct nlmsghdr *nlh, void *data) {
        if (nlh->nlmsg_type == RTM_NEWLINK &&
            mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct ifinfomsg))
                *(int *)data = ((const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index;
        return MNL_CB_OK;
}

int nbx_link_index(nbx_nl *nl, const char *name, int *ret, nbx_error **err) {
        char buf[256] = {0}; /* zeroed: libmnl 1.0.4 leaves an attribute's padding as it was */
        (void)nbx_link_msg(buf, nl, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
        struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        char what[64];
        snprintf(what, sizeof(what), "look up %s", name);
        int idx = 0;
        int r = nbx_nl_talk_unless(nl, nlh, ENODEV, index_cb, &idx, what, err);
        if (r < 0)
                return r;
        *ret = r == 1 ? 0 : idx;
        return 0;
}

static int slot_link_cb(const struct nlmsghdr *nlh, void *data) {
        uint64_t *mask = data;
        if (nlh->nlmsg_type != RTM_NEWLINK)
                return MNL_CB_OK;
        const struct nlattr *attr;
        mnl_attr_for_each(attr, nlh, sizeof(struct ifinfomsg)) {
                if (mnl_attr_get_type(attr) != IFLA_IFNAME ||
                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
                        continue;
                const char *name = mnl_attr_get_str(attr);
                unsigned slot;
                char canonical[IFNAMSIZ];
                if (sscanf(name, "nbx%u", &slot) == 1 && slot < NBX_SLOTS &&
                    snprintf(canonical, sizeof(canonical), "nbx%u", slot) > 0 &&
                    strcmp(canonical, name) == 0)
                        *mask |= 1ull << slot;
        }
        return MNL_CB_OK;
}

int nbx_link_slots_present(nbx_nl *nl, uint64_t *ret, nbx_error **err) {
        char buf[NL_BUF];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        uint32_t seq = nlh->nlmsg_seq = nbx_nl_next_seq(nl);
        struct rtgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
        g->rtgen_family = AF_UNSPEC;
        for (int attempt = 1;; attempt++) {
                uint64_t mask = 0;
                nbx_error *e = NULL;
                int r = nbx_nl_talk(nl, nlh, nlh->nlmsg_len, seq, seq, slot_link_cb, &mask,
                                    "list the slot TAPs", &e);
                if (r >= 0) {
                        *ret = mask;
                        return 0;
                }
                if (r == -EAGAIN && attempt < 8) { /* links changed while they were listed */
                        nbx_error_free(e);
                        seq = nlh->nlmsg_seq = nbx_nl_next_seq(nl);
                        continue;
                }
                if (err && !*err)
                        *err = e;
                else
                        nbx_error_free(e);
                return r;
        }
}

int nbx_link_tap_create(const char *name, uid_t uid, gid_t gid, bool multi_queue, nbx_error **err) {
        if (strlen(name) >= IFNAMSIZ)
                return nbx_error_set(err, EINVAL, "TAP name %s too long", name);
        _cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return nbx_error_setx(err, errno == ENOENT ? NBX_EXIT_PREREQ : NBX_EXIT_FAILURE,
                                      errno, "open /dev/net/tun (load the tun module)");
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
        if (ioctl(fd, TUNSETIFF, &ifr) < 0)
                return nbx_error_setx(err, errno == EPERM ? NBX_EXIT_PERMISSION : NBX_EXIT_FAILURE,
                                      errno, "create TAP %s", name);
        if (ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0)
                return nbx_error_set(err, errno, "TAP %s: set owner %u", name, (unsigned)uid);
        if (ioctl(fd, TUNSETGROUP, (unsigned long)gid) < 0)
                return nbx_error_set(err, errno, "TAP %s: set group %u", name, (unsigned)gid);
        if (ioctl(fd, TUNSETPERSIST, 1UL) < 0)
                return nbx_error_set(err, errno, "TAP %s: make persistent", name);
        return 0; /* closing the fd leaves the persistent TAP (down, no carrier) */
}

static int ifindex_of(const char *ifname, nbx_error **err) {
        unsigned idx = if_nametoindex(ifname);
        if (!idx)
                return nbx_error_set(err, errno == ENXIO ? ENODEV : errno, "interface %s", ifname);
        return (int)idx;
}

int nbx_link_addr_add(nbx_nl *nl, const char *ifname, struct in_addr local, unsigned prefix_len,
                      struct in_addr broadcast, nbx_error **err) {
        int idx = ifindex_of(ifname, err);
        if (idx < 0)
                return idx;
        char buf[NL_BUF];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        uint32_t seq = nlh->nlmsg_seq = nbx_nl_next_seq(nl);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = (uint8_t)prefix_len;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned)idx;
        mnl_attr_put_u32(nlh, IFA_LOCAL, local.s_addr);
        mnl_attr_put_u32(nlh, IFA_ADDRESS, local.s_addr);
        mnl_attr_put_u32(nlh, IFA_BROADCAST, broadcast.s_addr);
        char what[64];
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &local, a, sizeof(a));
        snprintf(what, sizeof(what), "add address %s/%u to %s", a, prefix_len, ifname);
        return nbx_nl_talk(nl, nlh, nlh->nlmsg_len, seq, seq, NULL, NULL, what, err);
}

int nbx_link_set_up(nbx_nl *nl, const char *ifname, bool up, nbx_error **err) {
        char buf[NL_BUF] = {0}; /* the name's padding is sent too */
        struct ifinfomsg *ifm = nbx_link_msg(buf, nl, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
        uint32_t seq = nlh->nlmsg_seq;
        ifm->ifi_change = IFF_UP;
        ifm->ifi_flags = up ? IFF_UP : 0;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        char what[64];
        snprintf(what, sizeof(what), "set %s %s", ifname, up ? "up" : "down");
        return nbx_nl_talk(nl, nlh, nlh->nlmsg_len, seq, seq, NULL, NULL, what, err);
}

/* RTM_DELLINK of ifname, or (ifname NULL) of the link with index ifindex */
static int link_delete(nbx_nl *nl, const char *ifname, int ifindex, nbx_error **err) {
        char buf[NL_BUF] = {0}; /* the name's padding is sent too */
        struct ifinfomsg *ifm = nbx_link_msg(buf, nl, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
        struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
        char what[64];
        if (ifname) {
                mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
                snprintf(what, sizeof(what), "delete %s", ifname);
        } else {
                ifm->ifi_index = ifindex;
                snprintf(what, sizeof(what), "delete the link with index %d", ifindex);
        }
        int r = nbx_nl_talk_unless(nl, nlh, ENODEV, NULL, NULL, what, err); /* 1: already gone */
        return r < 0 ? r : 0;
}

int nbx_link_delete(nbx_nl *nl, const char *ifname, nbx_error **err) {
        return link_delete(nl, ifname, 0, err);
}

int nbx_link_delete_index(nbx_nl *nl, int ifindex, nbx_error **err) {
        return link_delete(nl, NULL, ifindex, err);
}

struct overlap {
        uint32_t net, mask; /* host byte order */
        unsigned skip_ifindex;
        bool found;
        char desc[128];
};

static int route_attr_cb(const struct nlattr *attr, void *data) {
        const struct nlattr **tb = data;
        int type = mnl_attr_get_type(attr);
        if (mnl_attr_type_valid(attr, RTA_MAX) < 0)
                return MNL_CB_OK;
        if ((type == RTA_DST || type == RTA_OIF || type == RTA_TABLE) &&
            mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
                return MNL_CB_OK;
        tb[type] = attr;
        return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data) {
        struct overlap *o = data;
        if (nlh->nlmsg_type != RTM_NEWROUTE)
                return MNL_CB_OK;
        const struct rtmsg *rm = mnl_nlmsg_get_payload(nlh);
        if (rm->rtm_family != AF_INET || rm->rtm_dst_len == 0)
                return MNL_CB_OK;
        const struct nlattr *tb[RTA_MAX + 1] = {0};
        mnl_attr_parse(nlh, sizeof(*rm), route_attr_cb, tb);
        uint32_t table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rm->rtm_table;
        if (table == RT_TABLE_LOCAL)
                return MNL_CB_OK;
        if (rm->rtm_type != RTN_UNICAST && rm->rtm_type != RTN_BLACKHOLE &&
            rm->rtm_type != RTN_UNREACHABLE && rm->rtm_type != RTN_PROHIBIT)
                return MNL_CB_OK;
        unsigned oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
        if (o->skip_ifindex && oif == o->skip_ifindex)
                return MNL_CB_OK;
        if (!tb[RTA_DST])
                return MNL_CB_OK;
        uint32_t dst = ntohl(mnl_attr_get_u32(tb[RTA_DST]));
        uint32_t rmask = rm->rtm_dst_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> rm->rtm_dst_len);
        uint32_t m = o->mask & rmask; /* the shorter prefix decides */
        if ((dst & m) != (o->net & m) || o->found)
                return MNL_CB_OK;
        o->found = true;
        struct in_addr d = {.s_addr = htonl(dst)};
        char a[INET_ADDRSTRLEN], ifn[IF_NAMESIZE] = "";
        inet_ntop(AF_INET, &d, a, sizeof(a));
        if (oif)
                (void)if_indextoname(oif, ifn);
        snprintf(o->desc, sizeof(o->desc), "%s/%u%s%s", a, rm->rtm_dst_len, ifn[0] ? " dev " : "",
                 ifn);
        return MNL_CB_OK;
}

int nbx_link_route_overlap_check(nbx_nl *nl, struct in_addr net, unsigned prefix_len,
                                 const char *skip_ifname, nbx_error **err) {
        char buf[NL_BUF];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        uint32_t seq = nlh->nlmsg_seq = nbx_nl_next_seq(nl);
        struct rtmsg *rm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rm));
        rm->rtm_family = AF_INET;
        struct overlap o = {
                .net = ntohl(net.s_addr),
                .mask = prefix_len >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len),
                .skip_ifindex = skip_ifname ? if_nametoindex(skip_ifname) : 0,
        };
        int r = nbx_nl_talk(nl, nlh, nlh->nlmsg_len, seq, seq, route_cb, &o, "list routes", err);
        if (r < 0)
                return r;
        if (o.found) {
                char a[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &net, a, sizeof(a));
                (void)nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                     "the slot's subnet %s/%u overlaps the route %s already on "
                                     "this host; pick another address pool with `sudo nixbox "
                                     "setup --pool A.B.0.0` (e.g. 10.213.0.0)",
                                     a, prefix_len, o.desc);
                if (err && *err)
                        (*err)->errnum = EADDRINUSE;
                return -EADDRINUSE;
        }
        return 0;
}

static int write_sysctl(const char *path, const char *value, nbx_error **err) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return nbx_error_set(err, errno, "open %s", path);
        char cur[16] = "";
        ssize_t n = read(fd, cur, sizeof(cur) - 1);
        if (n > 0 && strncmp(cur, value, strlen(value)) == 0 && cur[strlen(value)] == '\n')
                return 0;
        if (pwrite(fd, value, strlen(value), 0) < 0)
                return nbx_error_set(err, errno, "write %s", path);
        return 0;
}

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

int nbx_link_ip_forward_get(bool *ret, nbx_error **err) {
        _cleanup_close_ int fd = open(IP_FORWARD, O_RDONLY | O_CLOEXEC);
        char v = 0;
        if (fd < 0 || read(fd, &v, 1) != 1)
                return nbx_error_set(err, fd < 0 ? errno : EIO, "read " IP_FORWARD);
        *ret = v != '0';
        return 0;
}

int nbx_link_ip_forward_set(bool on, nbx_error **err) {
        return write_sysctl(IP_FORWARD, on ? "1" : "0", err);
}

int nbx_link_ipv6_disable(const char *ifname, nbx_error **err) {
        char path[128];
        snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifname);
        if (access("/proc/sys/net/ipv6", F_OK) < 0)
                return 0; /* kernel without IPv6 */
        return write_sysctl(path, "1", err);
}
