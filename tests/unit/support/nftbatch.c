#include "nftbatch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "net/nft/rule.h"

/* What one rule's expressions say, for the per-chain facts. */
struct rule_walk {
        nbx_test_batch *s;
        bool in_chain;
        uint32_t last_meta; /* key of the last meta expression (0: none) */
        bool daddr;         /* the last payload loaded the IPv4 destination */
        uint32_t mask;      /* and the bitwise mask applied to it since */
        uint32_t net;       /* the network compared with */
        bool have_net;
        bool goto_refuse;
};

static int count_expr(struct nftnl_expr *e, void *data) {
        struct rule_walk *w = data;
        nbx_test_batch *s = w->s;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        uint32_t len = 0;
        if (!strcmp(name, "dynset"))
                s->dynset++;
        else if (!strcmp(name, "masq"))
                s->masq++;
        else if (!strcmp(name, "reject"))
                s->reject++;
        else if (!strcmp(name, "counter"))
                s->counter++;
        else if (!strcmp(name, "objref"))
                s->objref++;
        else if (!strcmp(name, "meta"))
                w->last_meta = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY);
        else if (!strcmp(name, "payload")) {
                w->daddr = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) ==
                                   NFT_PAYLOAD_NETWORK_HEADER &&
                           nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 16;
                w->mask = 0xffffffffu;
                w->last_meta = 0;
        } else if (!strcmp(name, "bitwise") && w->daddr) {
                const void *m = nftnl_expr_get(e, NFTNL_EXPR_BITWISE_MASK, &len);
                if (m && len == 4)
                        memcpy(&w->mask, m, 4);
        } else if (!strcmp(name, "immediate")) {
                s->immediate++;
                const char *c = nftnl_expr_get_str(e, NFTNL_EXPR_IMM_CHAIN);
                w->goto_refuse = c && !strncmp(c, "refuse", 6);
        } else if (!strcmp(name, "cmp")) {
                s->cmp_total++;
                const void *d = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
                if (d && len == 3 && !memcmp(d, "nbx", 3))
                        s->ifprefix_cmps++;
                if (w->daddr && d && len == 4) {
                        memcpy(&w->net, d, 4);
                        w->have_net = true;
                }
                if (w->in_chain && w->last_meta == NFT_META_SKUID && d && len == 4) {
                        uint32_t uid;
                        memcpy(&uid, d, 4);
                        s->skuid_matches++;
                        s->skuid_root |= uid == 0;
                        s->skuid_1000 |= uid == 1000;
                }
        } else if (!strcmp(name, "lookup")) {
                const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
                if (!strncmp(set, "allow", 5))
                        s->lookups_of_allow++;
                if (!strcmp(set, "slot_ifs"))
                        s->lookups_of_slot_ifs++;
                if (nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS) &&
                    (nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS) & NFT_LOOKUP_F_INV))
                        s->inverted_lookups++;
        }
        return 0;
}

static void count_ifset_key(nbx_test_batch *s, const char *k, uint32_t len) {
        unsigned n;
        char canon[16];
        s->ifset_elems++;
        if (k && len == 16 && k[15] == '\0' && sscanf(k, "nbx%u", &n) == 1 && n < 64 &&
            snprintf(canon, sizeof(canon), "nbx%u", n) > 0 && !strcmp(canon, k))
                s->has_ifset_name[n] = true;
}

/* The elements of a NEWSETELEM for slot_ifs, read with libmnl (libnftnl 1.2 cannot parse back a
 * message of several elements it built itself: it numbers the list entries, the kernel does
 * not care, its own parser does). */
static void decode_new_elems(const struct nlmsghdr *nlh, nbx_test_batch *s) {
        const struct nlattr *set = NULL, *list = NULL, *a;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
                        set = a;
                if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
                        list = a;
        }
        assert_non_null(set);
        if (strcmp(mnl_attr_get_str(set), "slot_ifs") != 0 || !list)
                return;
        const struct nlattr *elem, *x, *v;
        mnl_attr_for_each_nested(elem, list) {
                mnl_attr_for_each_nested(x, elem) {
                        if (mnl_attr_get_type(x) != NFTA_SET_ELEM_KEY)
                                continue;
                        mnl_attr_for_each_nested(v, x) {
                                if (mnl_attr_get_type(v) == NFTA_DATA_VALUE)
                                        count_ifset_key(s, mnl_attr_get_payload(v),
                                                        mnl_attr_get_payload_len(v));
                        }
                }
        }
}

static void add_name(char names[][32], unsigned *n, const char *name) {
        if (name && *n < NBX_TEST_NAMES)
                snprintf(names[(*n)++], 32, "%s", name);
}

static bool is_del(unsigned t) {
        return t == NFT_MSG_DELTABLE || t == NFT_MSG_DELCHAIN || t == NFT_MSG_DELSET ||
               t == NFT_MSG_DELOBJ || (t >= NFT_MSG_DESTROYTABLE && t <= NFT_MSG_DESTROYOBJ);
}

/* The name a deleting message carries ("in_if" for an element of in_if). */
static void decode_del(const struct nlmsghdr *nlh, unsigned t, nbx_test_batch *s) {
        if (t == NFT_MSG_DELTABLE || t == NFT_MSG_DESTROYTABLE) {
                struct nftnl_table *x = nftnl_table_alloc();
                assert_int_equal(nftnl_table_nlmsg_parse(nlh, x), 0);
                add_name(s->del_names, &s->n_dels, nftnl_table_get_str(x, NFTNL_TABLE_NAME));
                nftnl_table_free(x);
        } else if (t == NFT_MSG_DELCHAIN || t == NFT_MSG_DESTROYCHAIN) {
                struct nftnl_chain *x = nftnl_chain_alloc();
                assert_int_equal(nftnl_chain_nlmsg_parse(nlh, x), 0);
                add_name(s->del_names, &s->n_dels, nftnl_chain_get_str(x, NFTNL_CHAIN_NAME));
                nftnl_chain_free(x);
        } else if (t == NFT_MSG_DELSET || t == NFT_MSG_DESTROYSET) {
                struct nftnl_set *x = nftnl_set_alloc();
                assert_int_equal(nftnl_set_nlmsg_parse(nlh, x), 0);
                add_name(s->del_names, &s->n_dels, nftnl_set_get_str(x, NFTNL_SET_NAME));
                nftnl_set_free(x);
        } else if (t == NFT_MSG_DESTROYSETELEM) {
                struct nftnl_set *x = nftnl_set_alloc();
                assert_int_equal(nftnl_set_elems_nlmsg_parse(nlh, x), 0);
                add_name(s->del_names, &s->n_dels, nftnl_set_get_str(x, NFTNL_SET_NAME));
                nftnl_set_free(x);
        } else if (t == NFT_MSG_DELOBJ || t == NFT_MSG_DESTROYOBJ) {
                struct nftnl_obj *x = nftnl_obj_alloc();
                assert_int_equal(nftnl_obj_nlmsg_parse(nlh, x), 0);
                add_name(s->del_names, &s->n_dels, nftnl_obj_get_str(x, NFTNL_OBJ_NAME));
                nftnl_obj_free(x);
        }
}

static void decode_msg(const struct nlmsghdr *nlh, uint16_t family, nbx_test_batch *s) {
        unsigned t = nlh->nlmsg_type & 0xff;
        assert_int_equal(nlh->nlmsg_type >> 8, NFNL_SUBSYS_NFTABLES);
        const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
        if (g->nfgen_family != family)
                s->all_family = false;
        if (t < 64)
                s->per_type[t]++;
        if (t == NFT_MSG_NEWRULE) {
                struct nftnl_rule *r = nftnl_rule_alloc();
                assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
                struct rule_walk w = {.s = s};
                w.in_chain = !strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), s->chain);
                if (w.in_chain)
                        s->rules_in_chain++;
                nftnl_expr_foreach(r, count_expr, &w);
                if (w.in_chain && w.have_net && w.goto_refuse &&
                    s->n_refused < sizeof(s->refused) / sizeof(s->refused[0])) {
                        s->refused[s->n_refused].net = w.net;
                        s->refused[s->n_refused++].mask = w.mask;
                }
                const char *c = nbx_nft_rule_comment(r);
                if (c)
                        snprintf(s->comment, sizeof(s->comment), "%s", c);
                nftnl_rule_free(r);
        } else if (t == NFT_MSG_NEWSET) {
                struct nftnl_set *st = nftnl_set_alloc();
                assert_int_equal(nftnl_set_nlmsg_parse(nlh, st), 0);
                const char *name = nftnl_set_get_str(st, NFTNL_SET_NAME);
                add_name(s->set_names, &s->n_sets, name);
                if (!strncmp(name, "allow", 5))
                        s->allow_size = nftnl_set_is_set(st, NFTNL_SET_DESC_SIZE)
                                                ? nftnl_set_get_u32(st, NFTNL_SET_DESC_SIZE)
                                                : 0;
                nftnl_set_free(st);
        } else if (t == NFT_MSG_NEWCHAIN) {
                struct nftnl_chain *c = nftnl_chain_alloc();
                assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
                add_name(s->chain_names, &s->n_chains, nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
                nftnl_chain_free(c);
        } else if (t == NFT_MSG_NEWSETELEM) {
                decode_new_elems(nlh, s);
        } else if (t == NFT_MSG_DELSETELEM) {
                /* a flush (no elements) is not a deletion of an object */
                struct nftnl_set *x = nftnl_set_alloc();
                assert_int_equal(nftnl_set_elems_nlmsg_parse(nlh, x), 0);
                struct nftnl_set_elems_iter *it = nftnl_set_elems_iter_create(x);
                if (it && nftnl_set_elems_iter_cur(it))
                        add_name(s->del_names, &s->n_dels, nftnl_set_get_str(x, NFTNL_SET_NAME));
                if (it)
                        nftnl_set_elems_iter_destroy(it);
                nftnl_set_free(x);
        } else if (is_del(t)) {
                decode_del(nlh, t, s);
        }
}

void nbx_test_batch_decode(const nbx_nft_batch *b, const char *chain, nbx_test_batch *s) {
        memset(s, 0, sizeof(*s));
        snprintf(s->chain, sizeof(s->chain), "%s", chain ? chain : "");
        s->seq_contiguous = true;
        s->all_family = true;
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
                        const struct nlattr *attr;
                        mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
                                if (mnl_attr_get_type(attr) == NFNL_BATCH_GENID) {
                                        s->has_genid = true;
                                        s->genid = ntohl(mnl_attr_get_u32(attr));
                                }
                        }
                } else if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
                        s->end++;
                } else {
                        decode_msg(nlh, b->family, s);
                }
                nlh = mnl_nlmsg_next(nlh, &len);
        }
        assert_int_equal(len, 0); /* the buffer is exactly the messages */
}

bool nbx_test_batch_has_set(const nbx_test_batch *s, const char *name) {
        for (unsigned i = 0; i < s->n_sets; i++)
                if (!strcmp(s->set_names[i], name))
                        return true;
        return false;
}

bool nbx_test_batch_deletes(const nbx_test_batch *s, const char *name) {
        for (unsigned i = 0; i < s->n_dels; i++)
                if (!strcmp(s->del_names[i], name))
                        return true;
        return false;
}

bool nbx_test_batch_has_chain(const nbx_test_batch *s, const char *name) {
        for (unsigned i = 0; i < s->n_chains; i++)
                if (!strcmp(s->chain_names[i], name))
                        return true;
        return false;
}

bool nbx_test_batch_refuses(const nbx_test_batch *s, uint32_t addr) {
        for (unsigned i = 0; i < s->n_refused; i++)
                if ((addr & s->refused[i].mask) == s->refused[i].net)
                        return true;
        return false;
}
