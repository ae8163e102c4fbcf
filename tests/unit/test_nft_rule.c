/* net/nft/rule.c without the kernel: rules built expression by expression, decoded back with
 * libnftnl. */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <stdio.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "net/nft/rule.h"

/* The expressions of the one rule in b, by name, in order ("meta cmp counter immediate"). */
static void rule_of(const nbx_nft_batch *b, char *ret, size_t size, uint16_t *ret_flags,
                    char *ret_comment) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
        int len = (int)b->len;
        nlh = mnl_nlmsg_next(nlh, &len); /* past begin */
        assert_true(mnl_nlmsg_ok(nlh, len));
        assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE);
        *ret_flags = nlh->nlmsg_flags;
        struct nftnl_rule *r = nftnl_rule_alloc();
        assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
        assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), b->table);
        ret[0] = '\0';
        struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
        struct nftnl_expr *e;
        while ((e = nftnl_expr_iter_next(it))) {
                strncat(ret, nftnl_expr_get_str(e, NFTNL_EXPR_NAME), size - strlen(ret) - 2);
                strcat(ret, " ");
        }
        nftnl_expr_iter_destroy(it);
        const char *c = nbx_nft_rule_comment(r);
        snprintf(ret_comment, 64, "%s", c ? c : "");
        nftnl_rule_free(r);
}

static void test_expressions(void **state) {
        (void)state;
        nbx_nft_batch b;
        char exprs[256], comment[64];
        uint16_t flags;

        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        nbx_nft_rule R = nbx_nft_rule_new(&b, "FORWARD");
        nbx_nft_match_ifprefix(&R, NFT_META_IIFNAME, "nbx");
        nbx_nft_counter(&R);
        nbx_nft_verdict(&R, NF_ACCEPT, NULL);
        nbx_nft_comment(&R, "nixbox");
        nbx_nft_rule_put(&b, &R, false);
        assert_null(R.r); /* freed by put */
        nbx_nft_batch_seal(&b, 1, 0, false);
        rule_of(&b, exprs, sizeof(exprs), &flags, comment);
        assert_string_equal(exprs, "meta cmp counter immediate ");
        assert_string_equal(comment, "nixbox");
        assert_false(flags & NLM_F_APPEND); /* at the head */
        assert_true(flags & NLM_F_ACK);
        nbx_nft_batch_done(&b);

        nbx_nft_batch_start(&b, NFPROTO_INET, "nixbox");
        R = nbx_nft_rule_new(&b, "fwd1");
        nbx_nft_match_l4proto(&R, IPPROTO_TCP);
        nbx_nft_match_ip_net(&R, 16, 0x0a000000, 8);
        nbx_nft_match_port(&R, 2, 443);
        nbx_nft_lookup(&R, NFT_REG_1, "allow1", -1);
        nbx_nft_dynset_update(&R, NFT_REG_1, "allow1");
        nbx_nft_counter_ref(&R, "refused1");
        nbx_nft_match_ct_est_rel(&R);
        nbx_nft_reject(&R, NFT_REJECT_TCP_RST, 0);
        nbx_nft_masq(&R);
        nbx_nft_verdict(&R, NFT_GOTO, "refuse1");
        nbx_nft_rule_put(&b, &R, true);
        nbx_nft_batch_seal(&b, 1, 0, false);
        rule_of(&b, exprs, sizeof(exprs), &flags, comment);
        assert_string_equal(exprs, "meta cmp meta cmp payload bitwise cmp payload cmp lookup "
                                   "dynset objref ct bitwise cmp reject masq immediate ");
        assert_true(flags & NLM_F_APPEND);
        assert_string_equal(comment, "");
        nbx_nft_batch_done(&b);
}

static void test_values(void **state) {
        (void)state;
        /* the network match masks and compares in network byte order */
        nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_INET, "nixbox");
        nbx_nft_rule R = nbx_nft_rule_new(&b, "fwd1");
        nbx_nft_match_ip_net(&R, 16, 0xac100000, 12);
        nbx_nft_rule_put(&b, &R, true);
        nbx_nft_batch_seal(&b, 1, 0, false);
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b.buf;
        int len = (int)b.len;
        nlh = mnl_nlmsg_next(nlh, &len);
        struct nftnl_rule *r = nftnl_rule_alloc();
        assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
        struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
        struct nftnl_expr *e;
        uint32_t mask = 0, net = 0, off = 0, n = 0;
        while ((e = nftnl_expr_iter_next(it))) {
                const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
                uint32_t l;
                if (!strcmp(name, "bitwise"))
                        memcpy(&mask, nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &l), 4);
                else if (!strcmp(name, "payload"))
                        off = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET);
                else if (!strcmp(name, "cmp") && n++ == 1)
                        memcpy(&net, nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &l), 4);
        }
        nftnl_expr_iter_destroy(it);
        nftnl_rule_free(r);
        assert_int_equal(ntohl(mask), 0xfff00000);
        assert_int_equal(ntohl(net), 0xac100000);
        assert_int_equal(off, 16);
        nbx_nft_batch_done(&b);
}

static void test_comment_parse(void **state) {
        (void)state;
        /* a rule without userdata, and one whose comment is not NUL-terminated, have none */
        struct nftnl_rule *r = nftnl_rule_alloc();
        assert_null(nbx_nft_rule_comment(r));
        const uint8_t bad[] = {0 /* NFTNL_UDATA_RULE_COMMENT */, 3, 'a', 'b', 'c'};
        nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, bad, sizeof(bad));
        assert_null(nbx_nft_rule_comment(r));
        nftnl_rule_free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_expressions),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_comment_parse),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
