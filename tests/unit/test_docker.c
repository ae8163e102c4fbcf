/* net/docker.c without the kernel: the batch that puts nixbox's accept rules into Docker's
 * iptables(-nft) FORWARD policy, decoded back.  Against the real kernel (an `ip filter FORWARD`
 * chain with policy drop, iptables-nft reading the rules back): tests/net/test_slot_docker. */
#include "support/testutil.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "net/docker.h"
#include "support/nftbatch.h"

static void test_add_pair(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        nbx_docker_rules none = {.chain = "DOCKER-USER"};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_docker_batch(&b, &none, true, &err), 0);
        nbx_nft_batch_seal(&b, 1, 9, false);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "DOCKER-USER", &s);
        assert_int_equal(s.per_type[NFT_MSG_NEWRULE], 2);
        assert_int_equal(s.rules_in_chain, 2);
        assert_int_equal(s.per_type[NFT_MSG_DELRULE], 0);
        assert_true(s.all_family); /* ip, like iptables-nft */
        assert_int_equal(s.counter, 2);
        assert_int_equal(s.immediate, 2);
        assert_string_equal(s.comment, "nixbox");
        /* both at the head of the chain (as `iptables -I`): in before Docker's own rules */
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b.buf;
        int len = (int)b.len;
        unsigned seen = 0;
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE))
                        continue;
                assert_false(nlh->nlmsg_flags & NLM_F_APPEND);
                struct nftnl_rule *r = nftnl_rule_alloc();
                assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
                assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "filter");
                nftnl_rule_free(r);
                seen++;
        }
        assert_int_equal(seen, 2);
}

static void test_replace_and_remove(void **state) {
        (void)state;
        /* a half pair left behind is deleted by handle in the same batch that adds the pair */
        nbx_nft_batch b;
        nbx_docker_rules stale = {.chain = "FORWARD", .handles = {12}, .n = 1};
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        assert_int_equal(nbx_docker_batch(&b, &stale, true, &err), 0);
        nbx_nft_batch_seal(&b, 1, 0, false);
        nbx_test_batch s;
        nbx_test_batch_decode(&b, "FORWARD", &s);
        assert_int_equal(s.per_type[NFT_MSG_DELRULE], 1);
        assert_int_equal(s.per_type[NFT_MSG_NEWRULE], 2);
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b.buf;
        int len = (int)b.len;
        nlh = mnl_nlmsg_next(nlh, &len); /* the first change: the deletion */
        struct nftnl_rule *r = nftnl_rule_alloc();
        assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
        assert_int_equal(nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE), 12);
        assert_string_equal(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "FORWARD");
        nftnl_rule_free(r);
        nbx_nft_batch_done(&b);

        /* removal: only deletions; nothing at all when none is there */
        nbx_docker_rules ours = {.chain = "FORWARD", .handles = {3, 4}, .n = 2};
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        assert_int_equal(nbx_docker_batch(&b, &ours, false, &err), 0);
        assert_int_equal(nbx_nft_batch_changes(&b), 2);
        nbx_nft_batch_done(&b);
        nbx_docker_rules empty = {.chain = "FORWARD"};
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        assert_int_equal(nbx_docker_batch(&b, &empty, false, &err), 0);
        assert_int_equal(nbx_nft_batch_changes(&b), 0);
        nbx_nft_batch_done(&b);
        /* a handle of 0 would flush Docker's chain: refused */
        nbx_docker_rules zero = {.chain = "FORWARD", .handles = {0}, .n = 1};
        nbx_nft_batch_start(&b, NFPROTO_IPV4, "filter");
        assert_int_equal(nbx_docker_batch(&b, &zero, false, &err), -EINVAL);
        assert_non_null(err);
        nbx_nft_batch_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_pair),
                cmocka_unit_test(test_replace_and_remove),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
