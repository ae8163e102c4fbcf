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
#include <string.h>

#include "net/nft/rule.h"

static int count_expr(struct nftnl_expr *e, void *data) {
        nbx_test_batch *s = data;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
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
        else if (!strcmp(name, "immediate"))
                s->immediate++;
        else if (!strcmp(name, "cmp"))
                s->cmp_total++;
        else if (!strcmp(name, "lookup") &&
                 !strncmp(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET), "allow", 5))
                s->lookups_of_allow++;
        return 0;
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
                if (!strcmp(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), s->chain))
                        s->rules_in_chain++;
                nftnl_expr_foreach(r, count_expr, s);
                const char *c = nbx_nft_rule_comment(r);
                if (c)
                        snprintf(s->comment, sizeof(s->comment), "%s", c);
                nftnl_rule_free(r);
        } else if (t == NFT_MSG_NEWSET) {
                struct nftnl_set *st = nftnl_set_alloc();
                assert_int_equal(nftnl_set_nlmsg_parse(nlh, st), 0);
                add_name(s->set_names, &s->n_sets, nftnl_set_get_str(st, NFTNL_SET_NAME));
                nftnl_set_free(st);
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
