/* net/nft/wire.c without the kernel: batch framing, sealing, object messages decoded back with
 * libnftnl, the DESTROY test hook.  Sending is exercised against the real kernel in the network
 * tier (tests/net/test_nft_kernel). */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>

#include "net/nft/wire.h"
#include "support/nftbatch.h"

static void test_framing(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        assert_int_equal(nbx_nft_batch_changes(&b), 0);
        nbx_nft_put_table(&b, NFT_MSG_NEWTABLE);
        nbx_nft_put_chain(&b, NFT_MSG_NEWCHAIN, "c", NULL);
        assert_int_equal(nbx_nft_batch_changes(&b), 2);
        nbx_nft_batch_seal(&b, 1000, 0xdeadbeef, false);
        assert_int_equal(nbx_nft_batch_changes(&b), 2);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, NULL, &s);
        assert_int_equal(s.begin, 1);
        assert_int_equal(s.end, 1);
        assert_int_equal(s.msgs, 4);
        /* kernels before 6.10 never ack begin and end: only the changes ask for an ack */
        assert_int_equal(s.acked, 2);
        const struct nlmsghdr *first = (const struct nlmsghdr *)b.buf;
        assert_false(first->nlmsg_flags & NLM_F_ACK);
        assert_true(s.seq_contiguous);
        assert_int_equal(b.first_seq, 1000);
        assert_int_equal(b.last_seq, 1003);
        assert_true(s.all_family);
        assert_true(s.has_genid);
        assert_int_equal(s.genid, 0xdeadbeef);
        /* sealing twice changes nothing; a message after the end is a build error */
        nbx_nft_batch_seal(&b, 5, 1, false);
        assert_int_equal(b.first_seq, 1000);
        nbx_nft_put_table(&b, NFT_MSG_NEWTABLE);
        assert_int_equal(b.error, -EINVAL);
}

static void test_unguarded_and_dry_run(void **state) {
        (void)state;
        nbx_nft_batch b;
        nbx_test_batch s;
        nbx_nft_batch_start(&b, NFPROTO_INET, "t");
        nbx_nft_put_table(&b, NFT_MSG_NEWTABLE);
        nbx_nft_batch_seal(&b, 1, 0, false);
        nbx_test_batch_decode(&b, NULL, &s);
        assert_true(s.has_genid);
        assert_int_equal(s.genid, 0); /* 0: the kernel checks nothing */
        nbx_nft_batch_done(&b);
        /* a dry run has no end message: the kernel checks it and throws it away */
        nbx_nft_batch_start(&b, NFPROTO_INET, "t");
        nbx_nft_put_table(&b, NFT_MSG_DESTROYTABLE);
        nbx_nft_batch_seal(&b, 1, 0, true);
        nbx_test_batch_decode(&b, NULL, &s);
        assert_int_equal(s.begin, 1);
        assert_int_equal(s.end, 0);
        assert_int_equal(s.msgs, 2);
        assert_int_equal(s.per_type[NFT_MSG_DESTROYTABLE], 1);
        assert_int_equal(nbx_nft_batch_changes(&b), 1);
        nbx_nft_batch_done(&b);
}

static void test_build_errors_stick(void **state) {
        (void)state;
        nbx_nft_batch b = {0};
        /* not started */
        assert_null(nbx_nft_batch_msg(&b, NFT_MSG_NEWTABLE, 0));
        assert_int_equal(b.error, -EINVAL);
        nbx_nft_batch_done(&b);
        /* a table name nf_tables would refuse */
        char name[NFT_TABLE_MAXNAMELEN + 8];
        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        nbx_nft_batch_start(&b, NFPROTO_INET, name);
        assert_int_equal(b.error, -ENAMETOOLONG);
        nbx_nft_put_table(&b, NFT_MSG_NEWTABLE); /* ignored after the error */
        assert_int_equal(b.error, -ENAMETOOLONG);
        assert_int_equal(b.len, 0);
        nbx_nft_batch_done(&b);
        /* handle 0 would flush the chain: refused */
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        nbx_nft_put_rule_del(&b, NFT_MSG_DELRULE, "FORWARD", 0);
        assert_int_equal(b.error, -EINVAL);
        assert_int_equal(nbx_nft_batch_fail(&b, -ENOMEM), -ENOMEM);
        assert_int_equal(b.error, -EINVAL); /* the first error sticks */
        nbx_nft_batch_done(&b);
}

static void test_del_types(void **state) {
        (void)state;
        const struct {
                enum nbx_nft_kind kind;
                uint16_t destroy, del;
        } cases[] = {
                {NBX_NFT_TABLE_KIND, NFT_MSG_DESTROYTABLE, NFT_MSG_DELTABLE},
                {NBX_NFT_CHAIN, NFT_MSG_DESTROYCHAIN, NFT_MSG_DELCHAIN},
                {NBX_NFT_SET, NFT_MSG_DESTROYSET, NFT_MSG_DELSET},
                {NBX_NFT_ELEM, NFT_MSG_DESTROYSETELEM, NFT_MSG_DELSETELEM},
                {NBX_NFT_OBJ, NFT_MSG_DESTROYOBJ, NFT_MSG_DELOBJ},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                assert_int_equal(nbx_nft_del_type(cases[i].kind, true), cases[i].destroy);
                assert_int_equal(nbx_nft_del_type(cases[i].kind, false), cases[i].del);
        }
        /* the uapi numbers of Linux 6.3 */
        assert_int_equal(NFT_MSG_DESTROYTABLE, 26);
        assert_int_equal(NFT_MSG_DESTROYOBJ, 31);
}

/* The first message of type t (after begin). */
static const struct nlmsghdr *find(const nbx_nft_batch *b, unsigned t, unsigned nth) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
        int len = (int)b->len;
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
                if (nlh->nlmsg_type >> 8 == NFNL_SUBSYS_NFTABLES && (nlh->nlmsg_type & 0xff) == t &&
                    nth-- == 0)
                        return nlh;
        fail_msg("no message of type %u", t);
        return NULL;
}

static void test_sets_and_elements(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_INET, "nixbox");
        nbx_nft_put_set(&b, &(nbx_nft_set_spec){.name = "in_if",
                                                .key_type = NBX_NFT_TYPE_IFNAME,
                                                .key_len = 16,
                                                .data_type = NBX_NFT_TYPE_VERDICT});
        nbx_nft_put_set(&b, &(nbx_nft_set_spec){.name = "allow1",
                                                .key_type = NBX_NFT_TYPE_IPADDR,
                                                .key_len = 4,
                                                .flags = NFT_SET_EVAL,
                                                .timeout_ms = 3000});
        char key[16] = "nbx1";
        nbx_nft_put_elem(&b, NFT_MSG_NEWSETELEM, "in_if", key, 16, "in1", 0);
        struct in_addr ip = {htonl(0xc6336402)};
        nbx_nft_put_elem(&b, NFT_MSG_NEWSETELEM, "allow1", &ip, 4, NULL, 5000);
        const uint16_t ports[] = {443, 80};
        nbx_nft_put_port_elems(&b, "ports1", ports, 2);
        nbx_nft_put_port_elems(&b, "ports1", ports, 0); /* nothing */
        nbx_nft_batch_seal(&b, 1, 0, false);
        assert_int_equal(b.error, 0);
        assert_int_equal(nbx_nft_batch_changes(&b), 5);

        struct nftnl_set *s = nftnl_set_alloc();
        assert_int_equal(nftnl_set_nlmsg_parse(find(&b, NFT_MSG_NEWSET, 0), s), 0);
        assert_string_equal(nftnl_set_get_str(s, NFTNL_SET_TABLE), "nixbox");
        assert_true(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_MAP);
        assert_int_equal(nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE), NFT_DATA_VERDICT);
        assert_true(nftnl_set_is_set(s, NFTNL_SET_USERDATA)); /* key byte order for `nft list` */
        nftnl_set_free(s);
        s = nftnl_set_alloc();
        assert_int_equal(nftnl_set_nlmsg_parse(find(&b, NFT_MSG_NEWSET, 1), s), 0);
        uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
        assert_true(flags & NFT_SET_TIMEOUT);
        assert_true(flags & NFT_SET_EVAL);
        assert_false(flags & NFT_SET_MAP);
        assert_int_equal(nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT), 3000);
        nftnl_set_free(s);

        /* elements: the map's jumps to its chain; the address carries its timeout; ports are in
         * network byte order */
        s = nftnl_set_alloc();
        assert_int_equal(nftnl_set_elems_nlmsg_parse(find(&b, NFT_MSG_NEWSETELEM, 0), s), 0);
        struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(s);
        struct nftnl_set_elem *e = nftnl_set_elems_iter_next(it);
        assert_int_equal(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT), (uint32_t)NFT_GOTO);
        assert_string_equal(nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN), "in1");
        nftnl_set_elems_iter_destroy(it);
        nftnl_set_free(s);
        s = nftnl_set_alloc();
        assert_int_equal(nftnl_set_elems_nlmsg_parse(find(&b, NFT_MSG_NEWSETELEM, 1), s), 0);
        it = nftnl_set_elems_iter_create(s);
        e = nftnl_set_elems_iter_next(it);
        assert_int_equal(nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_TIMEOUT), 5000);
        nftnl_set_elems_iter_destroy(it);
        nftnl_set_free(s);
        /* libnftnl numbers the elements of a list 1, 2, ... when it builds one (the kernel
         * takes any type) but parses back only lists of one: walk this one with libmnl */
        const struct nlmsghdr *nlh = find(&b, NFT_MSG_NEWSETELEM, 2);
        const struct nlattr *list, *elem, *ka, *val;
        unsigned n = 0;
        mnl_attr_for_each(list, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
                        continue;
                mnl_attr_for_each_nested(elem, list) {
                        mnl_attr_for_each_nested(ka, elem) {
                                assert_int_equal(mnl_attr_get_type(ka), NFTA_SET_ELEM_KEY);
                                mnl_attr_for_each_nested(val, ka) {
                                        assert_int_equal(mnl_attr_get_payload_len(val), 2);
                                        assert_int_equal(ntohs(mnl_attr_get_u16(val)), ports[n]);
                                }
                        }
                        n++;
                }
        }
        assert_int_equal(n, 2);
}

static void test_destroy_hook(void **state) {
        (void)state;
        /* NIXBOX_NFT_NO_DESTROY=1 answers without asking: a socket-less nbx_nl proves it */
        nbx_nl nl = {0};
        bool destroy = true;
        assert_int_equal(setenv("NIXBOX_NFT_NO_DESTROY", "1", 1), 0);
        assert_int_equal(nbx_nft_knows_destroy(&nl, &destroy, NULL), 0);
        assert_false(destroy);
        assert_int_equal(nl.nft_destroy, -1);
        assert_int_equal(unsetenv("NIXBOX_NFT_NO_DESTROY"), 0);
        /* an answer learnt earlier on this socket is used again */
        nl.nft_destroy = 1;
        assert_int_equal(nbx_nft_knows_destroy(&nl, &destroy, NULL), 0);
        assert_true(destroy);
}

static void test_error_move(void **state) {
        (void)state;
        nbx_error *e = NULL, *err = NULL;
        nbx_error_set(&e, EIO, "inner");
        assert_int_equal(nbx_nft_error_move(&err, &e, -EIO), -EIO);
        assert_null(e);
        assert_string_equal(err->msg, "inner: Input/output error");
        /* the caller's own error is kept; a NULL err drops nothing into nowhere */
        nbx_error_set(&e, EPERM, "second");
        assert_int_equal(nbx_nft_error_move(&err, &e, -EPERM), -EPERM);
        assert_non_null(e);
        assert_string_equal(err->msg, "inner: Input/output error");
        assert_int_equal(nbx_nft_error_move(NULL, &e, -EPERM), -EPERM);
        nbx_error_free(e);
        nbx_error_free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_framing),
                cmocka_unit_test(test_unguarded_and_dry_run),
                cmocka_unit_test(test_build_errors_stick),
                cmocka_unit_test(test_del_types),
                cmocka_unit_test(test_sets_and_elements),
                cmocka_unit_test(test_destroy_hook),
                cmocka_unit_test(test_error_move),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
