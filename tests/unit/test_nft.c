/* net/nft.c without the kernel: names, and batches decoded back with libnftnl. */
#include "support/testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "net/nft.h"

static nbx_slot_addr slot_addr(unsigned s) {
        nbx_slot_addr a = {.slot = s, .prefix_len = 30};
        snprintf(a.tap, sizeof(a.tap), "nbx%u", s);
        a.network.s_addr = htonl(0xac100000u + 4u * s * 256u);
        a.host_ip.s_addr = htonl(ntohl(a.network.s_addr) + 1);
        a.guest_ip.s_addr = htonl(ntohl(a.network.s_addr) + 2);
        const uint8_t mac[6] = {2, 0x6e, 0x62, 0x78, 0, (uint8_t)s};
        memcpy(a.mac, mac, 6);
        return a;
}

/* What a batch holds, decoded. */
typedef struct summary {
        unsigned msgs, acked, begin, end;
        unsigned per_type[64];
        unsigned rules_in_chain; /* rules for `chain` */
        unsigned dynset, masq, reject, lookups_of_allow, cmp_total;
        bool seq_contiguous;
        char chain[32];
        char set_names[64][32];
        unsigned n_sets;
} summary;

static int count_expr(struct nftnl_expr *e, void *data) {
        summary *s = data;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        if (!strcmp(name, "dynset"))
                s->dynset++;
        else if (!strcmp(name, "masq"))
                s->masq++;
        else if (!strcmp(name, "reject"))
                s->reject++;
        else if (!strcmp(name, "cmp"))
                s->cmp_total++;
        else if (!strcmp(name, "lookup") &&
                 !strncmp(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET), "allow", 5))
                s->lookups_of_allow++;
        return 0;
}

static void decode(const nbx_nft_batch *b, const char *chain, summary *s) {
        memset(s, 0, sizeof(*s));
        snprintf(s->chain, sizeof(s->chain), "%s", chain ? chain : "");
        s->seq_contiguous = true;
        uint32_t expect_seq = b->first_seq;
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->buf;
        int len = (int)b->len;
        while (mnl_nlmsg_ok(nlh, len)) {
                s->msgs++;
                if (nlh->nlmsg_flags & NLM_F_ACK)
                        s->acked++;
                if (nlh->nlmsg_seq != expect_seq++)
                        s->seq_contiguous = false;
                if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
                        s->begin++;
                } else if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
                        s->end++;
                } else {
                        unsigned t = nlh->nlmsg_type & 0xff;
                        assert_int_equal(nlh->nlmsg_type >> 8, NFNL_SUBSYS_NFTABLES);
                        if (t < 64)
                                s->per_type[t]++;
                        if (t == NFT_MSG_NEWRULE) {
                                struct nftnl_rule *r = nftnl_rule_alloc();
                                assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
                                if (!strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), s->chain))
                                        s->rules_in_chain++;
                                nftnl_expr_foreach(r, count_expr, s);
                                nftnl_rule_free(r);
                        } else if (t == NFT_MSG_NEWSET) {
                                struct nftnl_set *st = nftnl_set_alloc();
                                assert_int_equal(nftnl_set_nlmsg_parse(nlh, st), 0);
                                if (s->n_sets < 64)
                                        snprintf(s->set_names[s->n_sets++], 32, "%s",
                                                 nftnl_set_get_str(st, NFTNL_SET_NAME));
                                nftnl_set_free(st);
                        }
                }
                nlh = mnl_nlmsg_next(nlh, &len);
        }
        assert_int_equal(len, 0); /* the buffer is exactly the messages */
}

static bool has_set(const summary *s, const char *name) {
        for (unsigned i = 0; i < s->n_sets; i++)
                if (!strcmp(s->set_names[i], name))
                        return true;
        return false;
}

static void build(nbx_nft_batch *b, unsigned slot, enum nbx_net_mode mode, bool priv, bool fresh) {
        static const uint16_t ports[] = {443, 80};
        nbx_slot_addr a = slot_addr(slot);
        nbx_net_policy p = {.mode = mode, .ports = ports, .n_ports = 2, .allow_private = priv};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_nft_batch_slot(b, 100, &a, &p, NULL, fresh, &err), 0);
        assert_null(err);
}

static void test_names(void **state) {
        (void)state;
        char n[32], t[64];
        nbx_nft_allow_set_name(7, n);
        assert_string_equal(n, "allow7");
        nbx_nft_dnsmasq_nftset(63, t);
        assert_string_equal(t, "4#inet#nixbox#allow63");
        assert_int_equal(nbx_nft_dns_ttl_cap(0), 300);
        assert_int_equal(nbx_nft_dns_ttl_cap(3600), 300);
        assert_int_equal(nbx_nft_dns_ttl_cap(400), 100);
        assert_int_equal(nbx_nft_dns_ttl_cap(2), 1);
}

static void test_batch_framing(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b = {0};
        build(&b, 3, NBX_NET_FILTERED, false, true);
        summary s;
        decode(&b, "fwd3", &s);
        assert_int_equal(s.begin, 1);
        assert_int_equal(s.end, 1);
        assert_int_equal(s.msgs, b.n_msgs);
        assert_int_equal(s.acked, s.msgs); /* every message, begin and end included */
        assert_true(s.seq_contiguous);
        assert_int_equal(b.first_seq, 100);
        assert_int_equal(b.last_seq, 100 + s.msgs - 1);
        assert_int_equal(s.per_type[NFT_MSG_NEWTABLE], 1);
        assert_int_equal(s.per_type[NFT_MSG_DELTABLE], 0);
        /* 4 base + 6 slot chains, each refilled (flushed) in the same batch */
        assert_int_equal(s.per_type[NFT_MSG_NEWCHAIN], 10);
        assert_int_equal(s.per_type[NFT_MSG_DELRULE], 10);
        assert_true(has_set(&s, "in_if") && has_set(&s, "nat_src"));
        assert_true(has_set(&s, "allow3") && has_set(&s, "ports3"));
        /* counters are reset on a fresh add: destroyed and created again */
        assert_int_equal(s.per_type[NFT_MSG_NEWOBJ], 2);
        assert_int_equal(s.per_type[31 /* DESTROYOBJ */], 2);
        /* 5 map elements + the ports, and the allow set flushed (fresh) */
        assert_int_equal(s.per_type[NFT_MSG_NEWSETELEM], 6);
        assert_int_equal(s.per_type[NFT_MSG_DELSETELEM], 2);
}

static void test_filtered_uses_allow_set_and_refreshes(void **state) {
        (void)state;
        _cleanup_nft_batch_ nbx_nft_batch b = {0};
        build(&b, 5, NBX_NET_FILTERED, false, true);
        summary s;
        decode(&b, "fwd5", &s);
        assert_int_equal(s.lookups_of_allow, 1);
        assert_int_equal(s.dynset, 1); /* update @allow5 { ip daddr } */
        assert_int_equal(s.masq, 1);
        assert_int_equal(s.reject, 2); /* refuse5: tcp reset + icmpx */
}

static void test_policy_selects_rules(void **state) {
        (void)state;
        summary open, open_priv, off, filtered;
        nbx_nft_batch b = {0};
        build(&b, 1, NBX_NET_OPEN, false, true);
        decode(&b, "fwd1", &open);
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_OPEN, true, true);
        decode(&b, "fwd1", &open_priv);
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_OFF, false, true);
        decode(&b, "fwd1", &off);
        nbx_nft_batch_done(&b);
        build(&b, 1, NBX_NET_FILTERED, false, false);
        decode(&b, "fwd1", &filtered);
        nbx_nft_batch_done(&b);

        /* open: 7 private ranges refused unless allowPrivate; 0/8 127/8 224/4 240/4 always */
        assert_int_equal(open.rules_in_chain - open_priv.rules_in_chain, 7);
        assert_int_equal(open.dynset + open.lookups_of_allow, 0);
        /* off: established, non-IPv4 drop, refuse: nothing else */
        assert_int_equal(off.rules_in_chain, 3);
        assert_int_equal(off.masq, 0);
        assert_true(off.rules_in_chain < open_priv.rules_in_chain);
        /* filtered refuses private ranges too (DNS rebinding), and its update keeps the allow
         * set: only the ports set is flushed, and the counters are kept */
        assert_int_equal(filtered.rules_in_chain, open.rules_in_chain);
        assert_int_equal(filtered.per_type[NFT_MSG_DELSETELEM], 1);
        assert_int_equal(filtered.per_type[31], 0);
        /* a mode change away from filtered empties the allow set */
        build(&b, 1, NBX_NET_OPEN, false, false);
        decode(&b, "fwd1", &open);
        nbx_nft_batch_done(&b);
        assert_int_equal(open.per_type[NFT_MSG_DELSETELEM], 2);
}

static void test_slots_do_not_share_objects(void **state) {
        (void)state;
        summary s;
        _cleanup_nft_batch_ nbx_nft_batch b = {0};
        build(&b, 2, NBX_NET_OPEN, false, true);
        decode(&b, "fwd9", &s);
        assert_int_equal(s.rules_in_chain, 0); /* nothing of slot 9 in slot 2's batch */
        assert_false(has_set(&s, "allow9"));
}

static void test_del_batches(void **state) {
        (void)state;
        nbx_slot_addr a = slot_addr(4);
        summary s;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nft_batch b = {0};
        assert_int_equal(nbx_nft_batch_slot_del(&b, 7, &a, false, 42, &err), 0);
        decode(&b, "", &s);
        assert_int_equal(s.per_type[30 /* DESTROYSETELEM */], 5);
        assert_int_equal(s.per_type[27 /* DESTROYCHAIN */], 6);
        assert_int_equal(s.per_type[29 /* DESTROYSET */], 2);
        assert_int_equal(s.per_type[31 /* DESTROYOBJ */], 2);
        assert_int_equal(s.per_type[26 /* DESTROYTABLE */], 0);
        /* the generation id rides on the batch begin message */
        const struct nlmsghdr *begin = (const struct nlmsghdr *)b.buf;
        const struct nlattr *attr;
        uint32_t genid = 0;
        mnl_attr_for_each(attr, begin, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(attr) == NFNL_BATCH_GENID)
                        genid = ntohl(mnl_attr_get_u32(attr));
        }
        assert_int_equal(genid, 42);
        nbx_nft_batch_done(&b);
        assert_int_equal(nbx_nft_batch_slot_del(&b, 7, &a, true, 0, &err), 0);
        decode(&b, "", &s);
        assert_int_equal(s.msgs, 3);
        assert_int_equal(s.per_type[26], 1);
        nbx_nft_batch_done(&b);
}

static void test_rejects_bad_input(void **state) {
        (void)state;
        nbx_nft_batch b = {0};
        nbx_net_policy p = {.mode = NBX_NET_OPEN};
        nbx_slot_addr a = slot_addr(64);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_nft_batch_slot(&b, 1, &a, &p, NULL, true, &err), -ERANGE);
        nbx_error_free(err);
        err = NULL;
        a = slot_addr(1);
        snprintf(a.tap, sizeof(a.tap), "eth0");
        assert_int_equal(nbx_nft_batch_slot(&b, 1, &a, &p, NULL, true, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "not a nixbox slot"));
        nbx_error_free(err);
        err = NULL;
        a = slot_addr(1);
        uint16_t zero = 0;
        p = (nbx_net_policy){.mode = NBX_NET_FILTERED, .ports = &zero, .n_ports = 1};
        assert_int_equal(nbx_nft_batch_slot(&b, 1, &a, &p, NULL, true, &err), -EINVAL);
        nbx_nft_batch_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_batch_framing),
                cmocka_unit_test(test_filtered_uses_allow_set_and_refreshes),
                cmocka_unit_test(test_policy_selects_rules),
                cmocka_unit_test(test_slots_do_not_share_objects),
                cmocka_unit_test(test_del_batches),
                cmocka_unit_test(test_rejects_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
