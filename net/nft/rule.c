/* nf_tables rules through libnftnl.  See rule.h. */
#include "rule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <string.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

NBX_DEFINE_CLEANUP(struct nftnl_udata_buf, nftnl_udata_buf_free)

nbx_nft_rule nbx_nft_rule_new(const nbx_nft_batch *b, const char *chain) {
        nbx_nft_rule R = {.r = nftnl_rule_alloc()};
        if (!R.r || nftnl_rule_set_str(R.r, NFTNL_RULE_TABLE, b->table) < 0 ||
            nftnl_rule_set_str(R.r, NFTNL_RULE_CHAIN, chain) < 0)
                R.fail = true;
        else
                nftnl_rule_set_u32(R.r, NFTNL_RULE_FAMILY, b->family);
        return R;
}

void nbx_nft_rule_put(nbx_nft_batch *b, nbx_nft_rule *R, bool append) {
        if (R->fail) {
                nbx_nft_batch_fail(b, -ENOMEM);
        } else {
                struct nlmsghdr *nlh = nbx_nft_batch_msg(
                        b, NFT_MSG_NEWRULE, NLM_F_CREATE | (append ? NLM_F_APPEND : 0));
                if (nlh) {
                        nftnl_rule_nlmsg_build_payload(nlh, R->r);
                        nbx_nft_batch_commit(b, nlh);
                }
        }
        if (R->r)
                nftnl_rule_free(R->r);
        R->r = NULL;
}

static struct nftnl_expr *expr(nbx_nft_rule *R, const char *name) {
        if (R->fail || !R->r)
                return NULL;
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e) {
                R->fail = true;
                return NULL;
        }
        nftnl_rule_add_expr(R->r, e);
        return e;
}

void nbx_nft_meta(nbx_nft_rule *R, uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = expr(R, "meta");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

void nbx_nft_cmp(nbx_nft_rule *R, uint32_t sreg, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = expr(R, "cmp");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        if (nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0)
                R->fail = true;
}

void nbx_nft_payload(nbx_nft_rule *R, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = expr(R, "payload");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

void nbx_nft_bitwise(nbx_nft_rule *R, uint32_t reg, const void *mask, uint32_t len) {
        struct nftnl_expr *e = expr(R, "bitwise");
        if (!e)
                return;
        static const uint8_t zero[16];
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        if (len > sizeof(zero) || nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len) < 0 ||
            nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len) < 0)
                R->fail = true;
}

static void lookup(nbx_nft_rule *R, uint32_t sreg, const char *set, int dreg, bool negate) {
        struct nftnl_expr *e = expr(R, "lookup");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set) < 0)
                R->fail = true;
        if (dreg >= 0)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
        if (negate)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

void nbx_nft_lookup(nbx_nft_rule *R, uint32_t sreg, const char *set, int dreg) {
        lookup(R, sreg, set, dreg, false);
}

void nbx_nft_verdict(nbx_nft_rule *R, int verdict, const char *chain) {
        struct nftnl_expr *e = expr(R, "immediate");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
        if (chain && nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain) < 0)
                R->fail = true;
}

void nbx_nft_counter(nbx_nft_rule *R) {
        (void)expr(R, "counter");
}

void nbx_nft_counter_ref(nbx_nft_rule *R, const char *name) {
        struct nftnl_expr *e = expr(R, "objref");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name) < 0)
                R->fail = true;
}

void nbx_nft_reject(nbx_nft_rule *R, uint32_t type, uint8_t code) {
        struct nftnl_expr *e = expr(R, "reject");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
        nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

void nbx_nft_dynset_update(nbx_nft_rule *R, uint32_t sreg, const char *set) {
        struct nftnl_expr *e = expr(R, "dynset");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set) < 0)
                R->fail = true;
}

void nbx_nft_masq(nbx_nft_rule *R) {
        (void)expr(R, "masq");
}

void nbx_nft_comment(nbx_nft_rule *R, const char *text) {
        if (R->fail || !R->r)
                return;
        _cleanup_(nftnl_udata_buf_freep) struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(256);
        if (!ud || !nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, text) ||
            nftnl_rule_set_data(R->r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
                                nftnl_udata_buf_len(ud)) < 0)
                R->fail = true;
}

static int comment_cb(const struct nftnl_udata *attr, void *data) {
        const char **comment = data;
        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT) {
                const char *v = nftnl_udata_get(attr);
                uint8_t len = nftnl_udata_len(attr);
                if (len > 0 && v[len - 1] == '\0')
                        *comment = v;
        }
        return 0;
}

const char *nbx_nft_rule_comment(const struct nftnl_rule *r) {
        uint32_t len = 0;
        const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
        const char *comment = NULL;
        if (ud && len)
                (void)nftnl_udata_parse(ud, len, comment_cb, &comment);
        return comment;
}

/* ---- matches ----------------------------------------------------------------------------- */

void nbx_nft_match_nfproto(nbx_nft_rule *R, uint8_t proto) {
        nbx_nft_meta(R, NFT_META_NFPROTO, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}

void nbx_nft_match_l4proto(nbx_nft_rule *R, uint8_t proto) {
        nbx_nft_meta(R, NFT_META_L4PROTO, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}

void nbx_nft_match_ifprefix(nbx_nft_rule *R, uint32_t meta_key, const char *prefix) {
        nbx_nft_meta(R, meta_key, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, prefix, (uint32_t)strlen(prefix));
}

void nbx_nft_match_ifset(nbx_nft_rule *R, uint32_t meta_key, const char *set, bool negate) {
        nbx_nft_meta(R, meta_key, NFT_REG_1);
        lookup(R, NFT_REG_1, set, -1, negate);
}

void nbx_nft_match_skuid(nbx_nft_rule *R, uint32_t uid) {
        nbx_nft_meta(R, NFT_META_SKUID, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &uid, sizeof(uid));
}

void nbx_nft_match_icmp_type(nbx_nft_rule *R, uint8_t type) {
        nbx_nft_match_l4proto(R, IPPROTO_ICMP);
        nbx_nft_payload(R, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &type, 1);
}

void nbx_nft_match_ip(nbx_nft_rule *R, uint32_t off, struct in_addr addr) {
        nbx_nft_match_nfproto(R, NFPROTO_IPV4);
        nbx_nft_payload(R, NFT_PAYLOAD_NETWORK_HEADER, off, 4, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &addr.s_addr, 4);
}

void nbx_nft_match_ip_net(nbx_nft_rule *R, uint32_t off, uint32_t net_host, unsigned plen) {
        uint32_t mask = htonl(plen ? ~0u << (32 - plen) : 0);
        uint32_t net = htonl(net_host) & mask;
        nbx_nft_match_nfproto(R, NFPROTO_IPV4);
        nbx_nft_payload(R, NFT_PAYLOAD_NETWORK_HEADER, off, 4, NFT_REG_1);
        nbx_nft_bitwise(R, NFT_REG_1, &mask, 4);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &net, 4);
}

void nbx_nft_match_port(nbx_nft_rule *R, uint32_t off, uint16_t port) {
        uint16_t be = htons(port);
        nbx_nft_payload(R, NFT_PAYLOAD_TRANSPORT_HEADER, off, 2, NFT_REG_1);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_EQ, &be, 2);
}

void nbx_nft_match_ct_est_rel(nbx_nft_rule *R) {
        uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
        uint32_t zero = 0;
        struct nftnl_expr *e = expr(R, "ct");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        }
        nbx_nft_bitwise(R, NFT_REG_1, &mask, 4);
        nbx_nft_cmp(R, NFT_REG_1, NFT_CMP_NEQ, &zero, 4);
}
