/* net/nl.c against the kernel, with requests any user may send and that change nothing: a
 * dump of this namespace's links (read only), and a request the kernel refuses, whose errno and
 * extended-ack text must survive.  Batches run in the network tier. */
#include "support/testutil.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

#include "net/nl.h"

struct links {
        unsigned n;
        bool lo;
};

static int on_link(const struct nlmsghdr *nlh, void *data) {
        struct links *l = data;
        if (nlh->nlmsg_type != RTM_NEWLINK)
                return MNL_CB_OK;
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        l->n++;
        if (ifi->ifi_flags & IFF_LOOPBACK)
                l->lo = true;
        return MNL_CB_OK;
}

/* A request header in buf with the socket's next seq, and its family header of size hdr. */
static struct nlmsghdr *request(nbx_nl *nl, char *buf, uint16_t type, uint16_t flags, size_t hdr,
                                void **ret_hdr) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = nbx_nl_next_seq(nl);
        *ret_hdr = mnl_nlmsg_put_extra_header(nlh, hdr);
        return nlh;
}

static int talk(nbx_nl *nl, struct nlmsghdr *nlh, nbx_nl_cb cb, void *data, const char *what,
                nbx_error **err) {
        return nbx_nl_talk(nl, nlh, nlh->nlmsg_len, nlh->nlmsg_seq, nlh->nlmsg_seq, cb, data, what,
                           err);
}

static void test_dump(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_nl_ nbx_nl nl = {0};
        assert_int_equal(nbx_nl_open(&nl, NETLINK_ROUTE, &err), 0);
        assert_true(nl.portid != 0);
        char buf[256];
        struct rtgenmsg *g;
        struct nlmsghdr *nlh = request(&nl, buf, RTM_GETLINK, NLM_F_DUMP, sizeof(*g), (void **)&g);
        g->rtgen_family = AF_UNSPEC;
        struct links l = {0};
        /* the dump ends with NLMSG_DONE: one expected reply, however many messages it holds */
        assert_int_equal(talk(&nl, nlh, on_link, &l, "list links", &err), 0);
        assert_null(err);
        assert_true(l.n >= 1);
        assert_true(l.lo);
        /* twice on the same socket: sequence numbers move on, nothing stale is taken */
        struct links again = {0};
        nlh->nlmsg_seq = nbx_nl_next_seq(&nl);
        assert_int_equal(talk(&nl, nlh, on_link, &again, "list links", &err), 0);
        assert_int_equal(again.n, l.n);
}

static void test_kernel_error(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_nl_ nbx_nl nl = {0};
        assert_int_equal(nbx_nl_open(&nl, NETLINK_ROUTE, &err), 0);
        /* the link with an index nobody has: the kernel's own ENODEV, kept */
        char buf[256];
        struct ifinfomsg *ifi;
        struct nlmsghdr *nlh =
                request(&nl, buf, RTM_GETLINK, NLM_F_ACK, sizeof(*ifi), (void **)&ifi);
        ifi->ifi_index = 0x7ffffff0;
        int r = talk(&nl, nlh, NULL, NULL, "read link 0x7ffffff0", &err);
        assert_int_equal(r, -ENODEV);
        assert_int_equal(err->errnum, ENODEV);
        assert_non_null(strstr(err->msg, "read link 0x7ffffff0"));
        nbx_error_free(TAKE_PTR(err));
        /* with strict checking, an address dump with a prefix length in its header is refused
         * and the kernel says why in an extended ack: its text reaches the error */
        int one = 1;
        assert_int_equal(mnl_socket_setsockopt(nl.sock, NETLINK_GET_STRICT_CHK, &one, sizeof(one)),
                         0);
        struct ifaddrmsg *ifa;
        nlh = request(&nl, buf, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa), (void **)&ifa);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = 8;
        r = talk(&nl, nlh, NULL, NULL, "list addresses", &err);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err->msg, "list addresses (kernel: "));
        print_message("kernel said: %s\n", err->msg);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dump),
                cmocka_unit_test(test_kernel_error),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
