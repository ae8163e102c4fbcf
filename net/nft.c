/* The egress firewall through libnftnl + libmnl.  Layout (docs/network.md, "Egress firewall"):
 *
 *   table inet nixbox
 *     base chains (policy accept):   prerouting (raw, -300)  iifname vmap @pre_if
 *                                    input      (filter, 0)  iifname vmap @in_if
 *                                    forward    (filter, 0)  iifname vmap @fwd_if, oifname vmap
 * @to_if postrouting (nat, 100)  ip saddr vmap @nat_src each dispatch is followed by a catch-all
 * drop of "nbx*" interfaces without rules. per slot s: chains pre<s> in<s> fwd<s> to<s> nat<s>
 * refuse<s>, sets allow<s> ports<s>, counters refused<s> silent<s>, one element in each map.
 *
 * Every change is one nfnetlink batch in one sendto: the kernel applies it whole or not at all. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

/* "destroy" messages (kernel >= 6.3): delete, and count "already gone" as done.  Older uapi
 * headers do not name them. */
#ifndef NFT_MSG_DESTROYTABLE
#define NFT_MSG_DESTROYTABLE 26
#define NFT_MSG_DESTROYCHAIN 27
#define NFT_MSG_DESTROYRULE 28
#define NFT_MSG_DESTROYSET 29
#define NFT_MSG_DESTROYSETELEM 30
#define NFT_MSG_DESTROYOBJ 31
#endif

/* nftables' own datatype ids (src/datatype.h), so `nft list` prints the sets readably and
 * dnsmasq's libnftables can parse the addresses it adds. */
#define NFT_TYPE_VERDICT 1
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_IFNAME 41

#define MSG_ROOM 16384 /* more than any single message we build */
#define DEL_RETRIES 8

NBX_DEFINE_CLEANUP(struct nftnl_table, nftnl_table_free)
NBX_DEFINE_CLEANUP(struct nftnl_chain, nftnl_chain_free)
NBX_DEFINE_CLEANUP(struct nftnl_rule, nftnl_rule_free)
NBX_DEFINE_CLEANUP(struct nftnl_set, nftnl_set_free)
NBX_DEFINE_CLEANUP(struct nftnl_obj, nftnl_obj_free)
NBX_DEFINE_CLEANUP(struct nftnl_gen, nftnl_gen_free)

/* ---- names -------------------------------------------------------------------------------- */

void nbx_nft_allow_set_name(unsigned slot, char ret[32]) {
        snprintf(ret, 32, "allow%u", slot);
}

void nbx_nft_dnsmasq_nftset(unsigned slot, char ret[64]) {
        snprintf(ret, 64, "4#inet#%s#allow%u", NBX_NFT_TABLE, slot);
}

uint32_t nbx_nft_dns_ttl_cap(uint32_t allow_timeout_s) {
        if (!allow_timeout_s)
                allow_timeout_s = NBX_NFT_ALLOW_TIMEOUT_S;
        uint32_t cap = allow_timeout_s / 4;
        if (cap > 300)
                cap = 300;
        return cap ? cap : 1;
}

/* slot-local object name: "<prefix><slot>" */
typedef struct {
        char s[32];
} name_t;
static name_t sname(const char *prefix, unsigned slot) {
        name_t n;
        snprintf(n.s, sizeof(n.s), "%s%u", prefix, slot);
        return n;
}

/* ---- batch buffer ------------------------------------------------------------------------- */

void nbx_nft_batch_done(nbx_nft_batch *b) {
        free(b->buf);
        *b = (nbx_nft_batch){0};
}

static int batch_fail(nbx_nft_batch *b, int e) {
        if (!b->error)
                b->error = e;
        return e;
}

/* Room for the next message at b->buf + b->len; NULL when out of memory. */
static char *batch_room(nbx_nft_batch *b) {
        if (b->error)
                return NULL;
        if (b->cap - b->len < MSG_ROOM) {
                size_t ncap = b->cap ? b->cap * 2 : 4 * MSG_ROOM;
                char *n = realloc(b->buf, ncap);
                if (!n) {
                        batch_fail(b, -ENOMEM);
                        return NULL;
                }
                memset(n + b->cap, 0, ncap - b->cap);
                b->buf = n;
                b->cap = ncap;
        }
        return b->buf + b->len;
}

static void batch_commit(nbx_nft_batch *b, struct nlmsghdr *nlh) {
        nlh->nlmsg_flags |= NLM_F_ACK;
        b->len += MNL_ALIGN(nlh->nlmsg_len);
        b->last_seq = nlh->nlmsg_seq;
        b->n_msgs++;
}

static void batch_begin(nbx_nft_batch *b, uint32_t first_seq, uint32_t genid) {
        *b = (nbx_nft_batch){.first_seq = first_seq, .next_seq = first_seq};
        char *p = batch_room(b);
        if (!p)
                return;
        struct nlmsghdr *nlh = nftnl_batch_begin(p, b->next_seq++);
        if (genid)
                mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
        batch_commit(b, nlh);
}

static void batch_end(nbx_nft_batch *b) {
        char *p = batch_room(b);
        if (!p)
                return;
        batch_commit(b, nftnl_batch_end(p, b->next_seq++));
}

static struct nlmsghdr *msg_hdr(nbx_nft_batch *b, uint16_t type, uint16_t flags) {
        char *p = batch_room(b);
        if (!p)
                return NULL;
        return nftnl_nlmsg_build_hdr(p, type, NFPROTO_INET, flags, b->next_seq++);
}

static void put_table(nbx_nft_batch *b, uint16_t type, uint16_t flags) {
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
        if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, NBX_NFT_TABLE) < 0) {
                batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        struct nlmsghdr *nlh = msg_hdr(b, type, flags);
        if (!nlh)
                return;
        nftnl_table_nlmsg_build_payload(nlh, t);
        batch_commit(b, nlh);
}

/* hook < 0: regular chain */
static void put_chain(nbx_nft_batch *b, uint16_t type, const char *name, int hook, int prio,
                      const char *ctype) {
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (!c || nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NBX_NFT_TABLE) < 0 ||
            nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0) {
                batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        if (hook >= 0) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
                if (nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, ctype) < 0) {
                        batch_fail(b, -ENOMEM);
                        return;
                }
        }
        struct nlmsghdr *nlh = msg_hdr(b, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_chain_nlmsg_build_payload(nlh, c);
        batch_commit(b, nlh);
}

/* DELRULE without a handle: flush every rule of the chain */
static void put_flush_chain(nbx_nft_batch *b, const char *chain) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r || nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NBX_NFT_TABLE) < 0 ||
            nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
                batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        struct nlmsghdr *nlh = msg_hdr(b, NFT_MSG_DELRULE, 0);
        if (!nlh)
                return;
        nftnl_rule_nlmsg_build_payload(nlh, r);
        batch_commit(b, nlh);
}

static void put_obj(nbx_nft_batch *b, uint16_t type, const char *name) {
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = nftnl_obj_alloc();
        if (o) {
                nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, NBX_NFT_TABLE);
                nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
        }
        if (!o || !nftnl_obj_is_set(o, NFTNL_OBJ_TABLE) || !nftnl_obj_is_set(o, NFTNL_OBJ_NAME)) {
                batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, NFPROTO_INET);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        struct nlmsghdr *nlh = msg_hdr(b, type, type == NFT_MSG_NEWOBJ ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_obj_nlmsg_build_payload(nlh, o);
        batch_commit(b, nlh);
}

static struct nftnl_set *set_new(const char *name) {
        struct nftnl_set *s = nftnl_set_alloc();
        if (!s)
                return NULL;
        if (nftnl_set_set_str(s, NFTNL_SET_TABLE, NBX_NFT_TABLE) < 0 ||
            nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0) {
                nftnl_set_free(s);
                return NULL;
        }
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        return s;
}

/* data_type 0: plain set; NFT_TYPE_VERDICT: verdict map.  timeout_ms != 0: elements expire. */
static void put_set(nbx_nft_batch *b, const char *name, uint32_t key_type, uint32_t key_len,
                    uint32_t data_type, uint32_t flags, uint64_t timeout_ms) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(name);
        if (!s) {
                batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
        if (key_type == NFT_TYPE_IFNAME) {
                /* tell `nft list` the key is a host-order string (display only) */
                struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
                if (!ud || !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1) ||
                    nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
                                       nftnl_udata_buf_len(ud)) < 0) {
                        if (ud)
                                nftnl_udata_buf_free(ud);
                        batch_fail(b, -ENOMEM);
                        return;
                }
                nftnl_udata_buf_free(ud);
        }
        if (data_type == NFT_TYPE_VERDICT) {
                flags |= NFT_SET_MAP;
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
        }
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
        nftnl_set_set_u32(s, NFTNL_SET_ID, b->next_seq); /* unique within the batch */
        if (timeout_ms)
                nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, timeout_ms);
        struct nlmsghdr *nlh = msg_hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE);
        if (!nlh)
                return;
        nftnl_set_nlmsg_build_payload(nlh, s);
        batch_commit(b, nlh);
}

static void put_set_del(nbx_nft_batch *b, uint16_t type, const char *name) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(name);
        if (!s) {
                batch_fail(b, -ENOMEM);
                return;
        }
        struct nlmsghdr *nlh = msg_hdr(b, type, 0);
        if (!nlh)
                return;
        if (type == NFT_MSG_DELSETELEM)
                nftnl_set_elems_nlmsg_build_payload(nlh, s); /* no elements: flush */
        else
                nftnl_set_nlmsg_build_payload(nlh, s);
        batch_commit(b, nlh);
}

/* One element message: key (+ goto chain for maps, + timeout). */
static void put_elem(nbx_nft_batch *b, uint16_t type, const char *set, const void *key,
                     uint32_t key_len, const char *goto_chain, uint64_t timeout_ms) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(set);
        struct nftnl_set_elem *e = nftnl_set_elem_alloc();
        if (!s || !e) {
                if (e)
                        nftnl_set_elem_free(e);
                batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, key_len);
        if (goto_chain) {
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_GOTO);
                if (nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, goto_chain) < 0) {
                        nftnl_set_elem_free(e);
                        batch_fail(b, -ENOMEM);
                        return;
                }
        }
        if (timeout_ms)
                nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
        nftnl_set_elem_add(s, e);
        struct nlmsghdr *nlh = msg_hdr(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        batch_commit(b, nlh);
}

static void put_port_elems(nbx_nft_batch *b, const char *set, const uint16_t *ports, size_t n) {
        if (!n)
                return;
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(set);
        if (!s) {
                batch_fail(b, -ENOMEM);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                struct nftnl_set_elem *e = nftnl_set_elem_alloc();
                if (!e) {
                        batch_fail(b, -ENOMEM);
                        return;
                }
                uint16_t be = htons(ports[i]);
                nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &be, sizeof(be));
                nftnl_set_elem_add(s, e);
        }
        struct nlmsghdr *nlh = msg_hdr(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
        if (!nlh)
                return;
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        batch_commit(b, nlh);
}

/* ---- rules -------------------------------------------------------------------------------- */

/* A rule under construction; an allocation failure sticks and is reported by rule_put. */
typedef struct rule {
        struct nftnl_rule *r;
        bool fail;
} rule;

static rule rule_new(const char *chain) {
        rule R = {.r = nftnl_rule_alloc()};
        if (!R.r || nftnl_rule_set_str(R.r, NFTNL_RULE_TABLE, NBX_NFT_TABLE) < 0 ||
            nftnl_rule_set_str(R.r, NFTNL_RULE_CHAIN, chain) < 0)
                R.fail = true;
        else
                nftnl_rule_set_u32(R.r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        return R;
}

static struct nftnl_expr *expr(rule *R, const char *name) {
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

static void e_meta(rule *R, uint32_t key, uint32_t dreg) {
        struct nftnl_expr *e = expr(R, "meta");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void e_cmp(rule *R, uint32_t sreg, uint32_t op, const void *data, uint32_t len) {
        struct nftnl_expr *e = expr(R, "cmp");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_payload(rule *R, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg) {
        struct nftnl_expr *e = expr(R, "payload");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static void e_bitwise(rule *R, uint32_t reg, const void *mask, uint32_t len) {
        struct nftnl_expr *e = expr(R, "bitwise");
        if (!e)
                return;
        uint8_t zero[16] = {0};
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

/* dreg NFT_REG_VERDICT: verdict map */
static void e_lookup(rule *R, uint32_t sreg, const char *set, int dreg) {
        struct nftnl_expr *e = expr(R, "lookup");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set) < 0)
                R->fail = true;
        if (dreg >= 0)
                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
}

static void e_verdict(rule *R, int verdict, const char *chain) {
        struct nftnl_expr *e = expr(R, "immediate");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
        if (chain && nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain) < 0)
                R->fail = true;
}

static void e_counter(rule *R, const char *name) {
        struct nftnl_expr *e = expr(R, "objref");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name) < 0)
                R->fail = true;
}

static void e_reject(rule *R, uint32_t type, uint8_t code) {
        struct nftnl_expr *e = expr(R, "reject");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
        nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

/* update @set { <sreg> }: refresh the element's timeout */
static void e_dynset_update(rule *R, uint32_t sreg, const char *set) {
        struct nftnl_expr *e = expr(R, "dynset");
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
        nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
        if (nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set) < 0)
                R->fail = true;
}

static void e_masq(rule *R) {
        (void)expr(R, "masq");
}

/* match helpers */
static void m_nfproto(rule *R, uint8_t proto) {
        e_meta(R, NFT_META_NFPROTO, NFT_REG_1);
        e_cmp(R, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}
static void m_l4proto(rule *R, uint8_t proto) {
        e_meta(R, NFT_META_L4PROTO, NFT_REG_1);
        e_cmp(R, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}
/* interface name prefix (no trailing NUL compared): "nbx*" */
static void m_ifprefix(rule *R, uint32_t key, const char *prefix) {
        e_meta(R, key, NFT_REG_1);
        e_cmp(R, NFT_REG_1, NFT_CMP_EQ, prefix, (uint32_t)strlen(prefix));
}
static void m_ip(rule *R, uint32_t off, struct in_addr addr) {
        m_nfproto(R, NFPROTO_IPV4);
        e_payload(R, NFT_PAYLOAD_NETWORK_HEADER, off, 4, NFT_REG_1);
        e_cmp(R, NFT_REG_1, NFT_CMP_EQ, &addr.s_addr, 4);
}
static void m_ip_net(rule *R, uint32_t off, uint32_t net_host, unsigned plen) {
        uint32_t mask = htonl(plen ? ~0u << (32 - plen) : 0);
        uint32_t net = htonl(net_host) & mask;
        m_nfproto(R, NFPROTO_IPV4);
        e_payload(R, NFT_PAYLOAD_NETWORK_HEADER, off, 4, NFT_REG_1);
        e_bitwise(R, NFT_REG_1, &mask, 4);
        e_cmp(R, NFT_REG_1, NFT_CMP_EQ, &net, 4);
}
static void m_port(rule *R, uint32_t off, uint16_t port) {
        uint16_t be = htons(port);
        e_payload(R, NFT_PAYLOAD_TRANSPORT_HEADER, off, 2, NFT_REG_1);
        e_cmp(R, NFT_REG_1, NFT_CMP_EQ, &be, 2);
}
static void m_ct_est_rel(rule *R) {
        uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
        uint32_t zero = 0;
        struct nftnl_expr *e = expr(R, "ct");
        if (e) {
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
                nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
        }
        e_bitwise(R, NFT_REG_1, &mask, 4);
        e_cmp(R, NFT_REG_1, NFT_CMP_NEQ, &zero, 4);
}

static void rule_put(nbx_nft_batch *b, rule *R) {
        if (R->fail) {
                batch_fail(b, -ENOMEM);
        } else {
                struct nlmsghdr *nlh = msg_hdr(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
                if (nlh) {
                        nftnl_rule_nlmsg_build_payload(nlh, R->r);
                        batch_commit(b, nlh);
                }
        }
        if (R->r)
                nftnl_rule_free(R->r);
        R->r = NULL;
}

/* ---- the ruleset -------------------------------------------------------------------------- */

enum { PRIO_RAW = -300, PRIO_FILTER = 0, PRIO_SRCNAT = 100 };

static const struct {
        const char *name;
        int hook, prio;
        const char *type;
} base_chains[] = {
        {"prerouting", NF_INET_PRE_ROUTING, PRIO_RAW, "filter"},
        {"input", NF_INET_LOCAL_IN, PRIO_FILTER, "filter"},
        {"forward", NF_INET_FORWARD, PRIO_FILTER, "filter"},
        {"postrouting", NF_INET_POST_ROUTING, PRIO_SRCNAT, "nat"},
};

/* Destinations never forwarded (host order, prefix).  `always`: refused even with
 * allowPrivate (unroutable or meaningless to forward). */
static const struct {
        uint32_t net;
        unsigned plen;
        bool always;
} blocked_nets[] = {
        {0x00000000, 8, true},   /* 0.0.0.0/8 "this network" */
        {0x7f000000, 8, true},   /* 127.0.0.0/8 loopback */
        {0xe0000000, 4, true},   /* 224.0.0.0/4 multicast */
        {0xf0000000, 4, true},   /* 240.0.0.0/4 reserved, broadcast */
        {0x0a000000, 8, false},  /* 10.0.0.0/8 RFC 1918 */
        {0xac100000, 12, false}, /* 172.16.0.0/12 RFC 1918 */
        {0xc0a80000, 16, false}, /* 192.168.0.0/16 RFC 1918 */
        {0x64400000, 10, false}, /* 100.64.0.0/10 shared address space (CGNAT) */
        {0xa9fe0000, 16, false}, /* 169.254.0.0/16 link-local, cloud metadata */
        {0xc0000000, 24, false}, /* 192.0.0.0/24 IETF protocol assignments */
        {0xc6120000, 15, false}, /* 198.18.0.0/15 benchmarking (used by some VPNs) */
};

static void add_base(nbx_nft_batch *b) {
        put_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE);
        for (size_t i = 0; i < NBX_ARRAY_SIZE(base_chains); i++)
                put_chain(b, NFT_MSG_NEWCHAIN, base_chains[i].name, base_chains[i].hook,
                          base_chains[i].prio, base_chains[i].type);
        put_set(b, "pre_if", NFT_TYPE_IFNAME, IFNAMSIZ, NFT_TYPE_VERDICT, 0, 0);
        put_set(b, "in_if", NFT_TYPE_IFNAME, IFNAMSIZ, NFT_TYPE_VERDICT, 0, 0);
        put_set(b, "fwd_if", NFT_TYPE_IFNAME, IFNAMSIZ, NFT_TYPE_VERDICT, 0, 0);
        put_set(b, "to_if", NFT_TYPE_IFNAME, IFNAMSIZ, NFT_TYPE_VERDICT, 0, 0);
        put_set(b, "nat_src", NFT_TYPE_IPADDR, 4, NFT_TYPE_VERDICT, 0, 0);

        /* The base chains hold no per-slot content; they are refilled with the same rules in
         * every batch so a half-created table from an older version is corrected too. */
        for (size_t i = 0; i < NBX_ARRAY_SIZE(base_chains); i++)
                put_flush_chain(b, base_chains[i].name);
        rule R;
        /* prerouting: iifname vmap @pre_if; iifname "nbx*" drop */
        R = rule_new("prerouting");
        e_meta(&R, NFT_META_IIFNAME, NFT_REG_1);
        e_lookup(&R, NFT_REG_1, "pre_if", NFT_REG_VERDICT);
        rule_put(b, &R);
        R = rule_new("prerouting");
        m_ifprefix(&R, NFT_META_IIFNAME, "nbx");
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        /* input */
        R = rule_new("input");
        e_meta(&R, NFT_META_IIFNAME, NFT_REG_1);
        e_lookup(&R, NFT_REG_1, "in_if", NFT_REG_VERDICT);
        rule_put(b, &R);
        R = rule_new("input");
        m_ifprefix(&R, NFT_META_IIFNAME, "nbx");
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        /* forward: from a slot, then to a slot */
        R = rule_new("forward");
        e_meta(&R, NFT_META_IIFNAME, NFT_REG_1);
        e_lookup(&R, NFT_REG_1, "fwd_if", NFT_REG_VERDICT);
        rule_put(b, &R);
        R = rule_new("forward");
        e_meta(&R, NFT_META_OIFNAME, NFT_REG_1);
        e_lookup(&R, NFT_REG_1, "to_if", NFT_REG_VERDICT);
        rule_put(b, &R);
        R = rule_new("forward");
        m_ifprefix(&R, NFT_META_IIFNAME, "nbx");
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        R = rule_new("forward");
        m_ifprefix(&R, NFT_META_OIFNAME, "nbx");
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        /* postrouting (nat): iifname is empty here, so dispatch by the (enforced) source */
        R = rule_new("postrouting");
        m_nfproto(&R, NFPROTO_IPV4);
        e_payload(&R, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
        e_lookup(&R, NFT_REG_1, "nat_src", NFT_REG_VERDICT);
        rule_put(b, &R);
}

typedef struct slot_names {
        name_t pre, in, fwd, to, nat, refuse, allow, ports, refused, silent;
} slot_names;

static slot_names names_of(unsigned s) {
        return (slot_names){.pre = sname("pre", s),
                            .in = sname("in", s),
                            .fwd = sname("fwd", s),
                            .to = sname("to", s),
                            .nat = sname("nat", s),
                            .refuse = sname("refuse", s),
                            .allow = sname("allow", s),
                            .ports = sname("ports", s),
                            .refused = sname("refused", s),
                            .silent = sname("silent", s)};
}

static void ifkey(const char *tap, char key[IFNAMSIZ]) {
        memset(key, 0, IFNAMSIZ);
        memcpy(key, tap, strnlen(tap, IFNAMSIZ - 1));
}

static void add_slot_rules(nbx_nft_batch *b, const nbx_slot_addr *a, const nbx_net_policy *p,
                           const slot_names *n) {
        rule R;
        struct in_addr any = {0}, bcast = {.s_addr = INADDR_BROADCAST};
        const uint8_t v6 = NFPROTO_IPV6;

        /* pre<s>: source enforcement, before conntrack sees the packet.  Positive matches
         * accept; everything else is dropped silently and counted. */
        R = rule_new(n->pre.s);
        e_meta(&R, NFT_META_NFPROTO, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_EQ, &v6, 1);
        e_counter(&R, n->silent.s);
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        uint16_t ether = ARPHRD_ETHER;
        R = rule_new(n->pre.s);
        e_meta(&R, NFT_META_IIFTYPE, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_EQ, &ether, sizeof(ether));
        e_payload(&R, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_EQ, a->mac, 6);
        m_ip(&R, 12, a->guest_ip);
        e_verdict(&R, NF_ACCEPT, NULL);
        rule_put(b, &R);
        /* DHCP before the guest has its address: 0.0.0.0:68 -> 67 */
        R = rule_new(n->pre.s);
        e_meta(&R, NFT_META_IIFTYPE, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_EQ, &ether, sizeof(ether));
        e_payload(&R, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_EQ, a->mac, 6);
        m_ip(&R, 12, any);
        m_l4proto(&R, IPPROTO_UDP);
        m_port(&R, 0, 68);
        m_port(&R, 2, 67);
        e_verdict(&R, NF_ACCEPT, NULL);
        rule_put(b, &R);
        R = rule_new(n->pre.s);
        e_counter(&R, n->silent.s);
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);

        /* refuse<s>: count, then fail at once */
        R = rule_new(n->refuse.s);
        e_counter(&R, n->refused.s);
        rule_put(b, &R);
        R = rule_new(n->refuse.s);
        m_l4proto(&R, IPPROTO_TCP);
        e_reject(&R, NFT_REJECT_TCP_RST, 0);
        rule_put(b, &R);
        R = rule_new(n->refuse.s);
        e_reject(&R, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
        rule_put(b, &R);

        /* in<s>: guest -> host.  Only DHCP and DNS to its own gateway. */
        R = rule_new(n->in.s);
        m_ct_est_rel(&R);
        e_verdict(&R, NF_ACCEPT, NULL);
        rule_put(b, &R);
        R = rule_new(n->in.s);
        e_meta(&R, NFT_META_NFPROTO, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_NEQ, &(uint8_t){NFPROTO_IPV4}, 1);
        e_counter(&R, n->silent.s);
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        const struct in_addr dhcp_dst[] = {a->host_ip, bcast};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(dhcp_dst); i++) {
                R = rule_new(n->in.s);
                m_ip(&R, 16, dhcp_dst[i]);
                m_l4proto(&R, IPPROTO_UDP);
                m_port(&R, 2, 67);
                e_verdict(&R, NF_ACCEPT, NULL);
                rule_put(b, &R);
        }
        const uint8_t dns_proto[] = {IPPROTO_UDP, IPPROTO_TCP};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(dns_proto); i++) {
                R = rule_new(n->in.s);
                m_ip(&R, 16, a->host_ip);
                m_l4proto(&R, dns_proto[i]);
                m_port(&R, 2, 53);
                e_verdict(&R, NF_ACCEPT, NULL);
                rule_put(b, &R);
        }
        R = rule_new(n->in.s);
        e_verdict(&R, NFT_GOTO, n->refuse.s);
        rule_put(b, &R);

        /* fwd<s>: guest -> elsewhere */
        R = rule_new(n->fwd.s);
        m_ct_est_rel(&R);
        e_verdict(&R, NF_ACCEPT, NULL);
        rule_put(b, &R);
        R = rule_new(n->fwd.s);
        e_meta(&R, NFT_META_NFPROTO, NFT_REG_1);
        e_cmp(&R, NFT_REG_1, NFT_CMP_NEQ, &(uint8_t){NFPROTO_IPV4}, 1);
        e_counter(&R, n->silent.s);
        e_verdict(&R, NF_DROP, NULL);
        rule_put(b, &R);
        if (p->mode != NBX_NET_OFF) {
                /* never another slot: by interface and by the pool's /16 */
                R = rule_new(n->fwd.s);
                m_ifprefix(&R, NFT_META_OIFNAME, "nbx");
                e_verdict(&R, NFT_GOTO, n->refuse.s);
                rule_put(b, &R);
                R = rule_new(n->fwd.s);
                m_ip_net(&R, 16, ntohl(a->network.s_addr), 16);
                e_verdict(&R, NFT_GOTO, n->refuse.s);
                rule_put(b, &R);
                for (size_t i = 0; i < NBX_ARRAY_SIZE(blocked_nets); i++) {
                        if (p->allow_private && !blocked_nets[i].always)
                                continue;
                        R = rule_new(n->fwd.s);
                        m_ip_net(&R, 16, blocked_nets[i].net, blocked_nets[i].plen);
                        e_verdict(&R, NFT_GOTO, n->refuse.s);
                        rule_put(b, &R);
                }
                R = rule_new(n->fwd.s);
                if (p->mode == NBX_NET_FILTERED) {
                        /* tcp dport @ports<s> ip daddr @allow<s> update @allow<s> { ip daddr } */
                        m_l4proto(&R, IPPROTO_TCP);
                        e_payload(&R, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
                        e_lookup(&R, NFT_REG_1, n->ports.s, -1);
                        m_nfproto(&R, NFPROTO_IPV4);
                        e_payload(&R, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
                        e_lookup(&R, NFT_REG_1, n->allow.s, -1);
                        e_dynset_update(&R, NFT_REG_1, n->allow.s);
                }
                e_verdict(&R, NF_ACCEPT, NULL);
                rule_put(b, &R);
        }
        R = rule_new(n->fwd.s);
        e_verdict(&R, NFT_GOTO, n->refuse.s);
        rule_put(b, &R);

        /* to<s>: elsewhere -> guest: only replies */
        R = rule_new(n->to.s);
        m_ct_est_rel(&R);
        e_verdict(&R, NF_ACCEPT, NULL);
        rule_put(b, &R);
        R = rule_new(n->to.s);
        e_verdict(&R, NFT_GOTO, n->refuse.s);
        rule_put(b, &R);

        /* nat<s>: masquerade what fwd<s> let out (never towards another slot) */
        if (p->mode != NBX_NET_OFF) {
                R = rule_new(n->nat.s);
                e_meta(&R, NFT_META_OIFNAME, NFT_REG_1);
                e_cmp(&R, NFT_REG_1, NFT_CMP_NEQ, "nbx", 3);
                e_masq(&R);
                rule_put(b, &R);
        }
}

static int check_slot(const nbx_slot_addr *a, nbx_error **err) {
        if (a->slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "nftables: slot %u out of range (0..%u)", a->slot,
                                     NBX_SLOTS - 1);
        size_t l = strnlen(a->tap, IFNAMSIZ);
        if (l < 4 || l >= IFNAMSIZ || strncmp(a->tap, "nbx", 3) != 0)
                return nbx_error_set(err, EINVAL,
                                     "nftables: interface name \"%.*s\" is not a nixbox slot "
                                     "(expected nbx<slot>)",
                                     (int)strnlen(a->tap, IFNAMSIZ), a->tap);
        return 0;
}

int nbx_nft_batch_slot(nbx_nft_batch *b, uint32_t first_seq, const nbx_slot_addr *a,
                       const nbx_net_policy *p, const nbx_nft_opts *opts, bool fresh,
                       nbx_error **err) {
        int r = check_slot(a, err);
        if (r < 0)
                return r;
        if (p->mode != NBX_NET_OFF && p->mode != NBX_NET_FILTERED && p->mode != NBX_NET_OPEN)
                return nbx_error_set(err, EINVAL, "nftables: unknown network mode %d",
                                     (int)p->mode);
        if (p->n_ports > NBX_MAX_PORTS)
                return nbx_error_set(err, E2BIG, "nftables: %zu ports (at most %d)", p->n_ports,
                                     NBX_MAX_PORTS);
        for (size_t i = 0; i < p->n_ports; i++)
                if (!p->ports[i])
                        return nbx_error_set(err, EINVAL, "nftables: port 0 is not a port");
        uint64_t timeout_ms = (uint64_t)(opts && opts->allow_timeout_s ? opts->allow_timeout_s
                                                                       : NBX_NFT_ALLOW_TIMEOUT_S) *
                              1000;
        slot_names n = names_of(a->slot);
        char key[IFNAMSIZ];
        ifkey(a->tap, key);

        batch_begin(b, first_seq, 0);
        add_base(b);
        const char *chains[] = {n.pre.s, n.in.s, n.fwd.s, n.to.s, n.nat.s, n.refuse.s};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(chains); i++) {
                put_chain(b, NFT_MSG_NEWCHAIN, chains[i], -1, 0, NULL);
                put_flush_chain(b, chains[i]);
        }
        if (fresh) {
                /* rules referencing the counters are flushed above, so they can be replaced */
                put_obj(b, NFT_MSG_DESTROYOBJ, n.refused.s);
                put_obj(b, NFT_MSG_DESTROYOBJ, n.silent.s);
        }
        put_obj(b, NFT_MSG_NEWOBJ, n.refused.s);
        put_obj(b, NFT_MSG_NEWOBJ, n.silent.s);
        put_set(b, n.allow.s, NFT_TYPE_IPADDR, 4, 0, NFT_SET_TIMEOUT | NFT_SET_EVAL, timeout_ms);
        put_set(b, n.ports.s, NFT_TYPE_INET_SERVICE, 2, 0, 0, 0);
        put_set_del(b, NFT_MSG_DELSETELEM, n.ports.s);
        if (fresh || p->mode != NBX_NET_FILTERED)
                put_set_del(b, NFT_MSG_DELSETELEM, n.allow.s);
        if (p->mode == NBX_NET_FILTERED)
                put_port_elems(b, n.ports.s, p->ports, p->n_ports);
        add_slot_rules(b, a, p, &n);
        put_elem(b, NFT_MSG_NEWSETELEM, "pre_if", key, IFNAMSIZ, n.pre.s, 0);
        put_elem(b, NFT_MSG_NEWSETELEM, "in_if", key, IFNAMSIZ, n.in.s, 0);
        put_elem(b, NFT_MSG_NEWSETELEM, "fwd_if", key, IFNAMSIZ, n.fwd.s, 0);
        put_elem(b, NFT_MSG_NEWSETELEM, "to_if", key, IFNAMSIZ, n.to.s, 0);
        put_elem(b, NFT_MSG_NEWSETELEM, "nat_src", &a->guest_ip.s_addr, 4, n.nat.s, 0);
        batch_end(b);
        if (b->error)
                return nbx_error_set(err, b->error, "nftables: build slot %u batch", a->slot);
        return 0;
}

int nbx_nft_batch_slot_del(nbx_nft_batch *b, uint32_t first_seq, const nbx_slot_addr *a,
                           bool whole_table, uint32_t genid, nbx_error **err) {
        int r = check_slot(a, err);
        if (r < 0)
                return r;
        batch_begin(b, first_seq, genid);
        if (whole_table) {
                put_table(b, NFT_MSG_DESTROYTABLE, 0);
        } else {
                slot_names n = names_of(a->slot);
                char key[IFNAMSIZ];
                ifkey(a->tap, key);
                /* references first (map elements, then the chains that jump to refuse<s>) */
                put_elem(b, NFT_MSG_DESTROYSETELEM, "pre_if", key, IFNAMSIZ, NULL, 0);
                put_elem(b, NFT_MSG_DESTROYSETELEM, "in_if", key, IFNAMSIZ, NULL, 0);
                put_elem(b, NFT_MSG_DESTROYSETELEM, "fwd_if", key, IFNAMSIZ, NULL, 0);
                put_elem(b, NFT_MSG_DESTROYSETELEM, "to_if", key, IFNAMSIZ, NULL, 0);
                put_elem(b, NFT_MSG_DESTROYSETELEM, "nat_src", &a->guest_ip.s_addr, 4, NULL, 0);
                const char *chains[] = {n.pre.s, n.in.s, n.fwd.s, n.to.s, n.nat.s, n.refuse.s};
                for (size_t i = 0; i < NBX_ARRAY_SIZE(chains); i++)
                        put_chain(b, NFT_MSG_DESTROYCHAIN, chains[i], -1, 0, NULL);
                put_set_del(b, NFT_MSG_DESTROYSET, n.allow.s);
                put_set_del(b, NFT_MSG_DESTROYSET, n.ports.s);
                put_obj(b, NFT_MSG_DESTROYOBJ, n.refused.s);
                put_obj(b, NFT_MSG_DESTROYOBJ, n.silent.s);
        }
        batch_end(b);
        if (b->error)
                return nbx_error_set(err, b->error, "nftables: build slot %u removal", a->slot);
        return 0;
}

/* ---- talking to the kernel ---------------------------------------------------------------- */

static int send_batch(nbx_nl *nl, nbx_nft_batch *b, const char *what, nbx_error **err) {
        /* the batch was built with seqs starting at nl->seq + 1; keep the socket's counter */
        nl->seq = b->last_seq;
        return nbx_nl_talk(nl, b->buf, b->len, b->first_seq, b->last_seq, NULL, NULL, what, err);
}

static int slot_apply(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *p,
                      const nbx_nft_opts *opts, bool fresh, nbx_error **err) {
        _cleanup_nft_batch_ nbx_nft_batch b = {0};
        int r = nbx_nft_batch_slot(&b, nl->seq + 1, a, p, opts, fresh, err);
        if (r < 0)
                return r;
        char what[96];
        snprintf(what, sizeof(what), "nftables: %s slot %u rules", fresh ? "install" : "update",
                 a->slot);
        return send_batch(nl, &b, what, err);
}

int nbx_nft_slot_add_opts(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                          const nbx_nft_opts *opts, nbx_error **err) {
        return slot_apply(nl, a, policy, opts, true, err);
}
int nbx_nft_slot_add(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                     nbx_error **err) {
        return slot_apply(nl, a, policy, NULL, true, err);
}
int nbx_nft_slot_update_opts(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                             const nbx_nft_opts *opts, nbx_error **err) {
        return slot_apply(nl, a, policy, opts, false, err);
}
int nbx_nft_slot_update(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                        nbx_error **err) {
        return slot_apply(nl, a, policy, NULL, false, err);
}

/* A GET request (dump or single object) built by fill; replies go to cb. */
static int nft_get(nbx_nl *nl, uint16_t type, uint16_t flags,
                   void (*fill)(struct nlmsghdr *nlh, const void *arg), const void *arg,
                   nbx_nl_cb cb, void *data, const char *what, nbx_error **err) {
        char buf[8192];
        uint32_t seq = nbx_nl_next_seq(nl);
        struct nlmsghdr *nlh =
                nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags | NLM_F_ACK, seq);
        if (fill)
                fill(nlh, arg);
        return nbx_nl_talk(nl, buf, nlh->nlmsg_len, seq, seq, cb, data, what, err);
}

static int on_gen(const struct nlmsghdr *nlh, void *data) {
        _cleanup_(nftnl_gen_freep) struct nftnl_gen *g = nftnl_gen_alloc();
        if (!g || nftnl_gen_nlmsg_parse(nlh, g) < 0)
                return MNL_CB_ERROR;
        *(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
        return MNL_CB_OK;
}

static void fill_set(struct nlmsghdr *nlh, const void *arg) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(arg);
        if (s)
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
}

struct elems {
        nbx_strv *keys; /* "ifname" or dotted quad */
        bool ipv4;
        int error;
};

static int on_elem(struct nftnl_set_elem *e, void *data) {
        struct elems *st = data;
        uint32_t len = 0;
        const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        char txt[INET_ADDRSTRLEN + IFNAMSIZ];
        if (!k || !len)
                return 0;
        if (st->ipv4) {
                if (len != 4 || !inet_ntop(AF_INET, k, txt, sizeof(txt)))
                        return 0;
        } else {
                snprintf(txt, sizeof(txt), "%.*s", (int)strnlen(k, len), (const char *)k);
        }
        if (nbx_strv_push(st->keys, txt) < 0) {
                st->error = -ENOMEM;
                return -1;
        }
        return 0;
}

static int on_elems(const struct nlmsghdr *nlh, void *data) {
        struct elems *st = data;
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc();
        if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
                return MNL_CB_ERROR;
        (void)nftnl_set_elem_foreach(s, on_elem, st);
        return st->error ? MNL_CB_ERROR : MNL_CB_OK;
}

static int dump_elems(nbx_nl *nl, const char *set, bool ipv4, nbx_strv *ret, nbx_error **err) {
        _cleanup_strv_ nbx_strv keys = {0};
        struct elems st = {.keys = &keys, .ipv4 = ipv4};
        char what[96];
        snprintf(what, sizeof(what), "nftables: list set %s", set);
        int r = nft_get(nl, NFT_MSG_GETSETELEM, NLM_F_DUMP, fill_set, set, on_elems, &st, what,
                        err);
        if (r < 0)
                return r;
        if (st.error)
                return nbx_error_set(err, st.error, "%s", what);
        *ret = keys;
        keys = (nbx_strv){0};
        return 0;
}

int nbx_nft_slot_del(nbx_nl *nl, const nbx_slot_addr *a, nbx_error **err) {
        int r = check_slot(a, err);
        if (r < 0)
                return r;
        for (int attempt = 0;; attempt++) {
                _cleanup_error_ nbx_error *e = NULL;
                uint32_t genid = 0;
                r = nft_get(nl, NFT_MSG_GETGEN, 0, NULL, NULL, on_gen, &genid,
                            "nftables: read ruleset generation", err);
                if (r < 0)
                        return r;
                /* which slots does the table still serve? (the input map has one key per slot) */
                _cleanup_strv_ nbx_strv slots = {0};
                bool whole = false;
                r = dump_elems(nl, "in_if", false, &slots, &e);
                if (r == -ENOENT) {
                        whole = true; /* no table (destroy is a no-op) or no map: remove it */
                } else if (r < 0) {
                        return nbx_error_set(err, -r, "%s", e->msg);
                } else {
                        whole = slots.n == 0 || (slots.n == 1 && strcmp(slots.v[0], a->tap) == 0);
                }
                _cleanup_nft_batch_ nbx_nft_batch b = {0};
                r = nbx_nft_batch_slot_del(&b, nl->seq + 1, a, whole, genid, err);
                if (r < 0)
                        return r;
                char what[96];
                snprintf(what, sizeof(what), "nftables: remove slot %u rules", a->slot);
                nbx_error_free(e);
                e = NULL;
                r = send_batch(nl, &b, what, &e);
                if (r == -ERESTART && attempt < DEL_RETRIES)
                        continue; /* the ruleset changed between reading and writing */
                if (r < 0)
                        return nbx_error_set(err, -r, "%s", e->msg);
                return 0;
        }
}

int nbx_nft_allow_list(nbx_nl *nl, unsigned slot, nbx_strv *ret, nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "nftables: slot %u out of range", slot);
        name_t n = sname("allow", slot);
        return dump_elems(nl, n.s, true, ret, err);
}

int nbx_nft_allow_add(nbx_nl *nl, unsigned slot, struct in_addr addr, uint32_t timeout_s,
                      nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "nftables: slot %u out of range", slot);
        name_t n = sname("allow", slot);
        _cleanup_nft_batch_ nbx_nft_batch b = {0};
        batch_begin(&b, nl->seq + 1, 0);
        put_elem(&b, NFT_MSG_NEWSETELEM, n.s, &addr.s_addr, 4, NULL, (uint64_t)timeout_s * 1000);
        batch_end(&b);
        if (b.error)
                return nbx_error_set(err, b.error, "nftables: build allow-set element");
        char what[96], txt[INET_ADDRSTRLEN];
        snprintf(what, sizeof(what), "nftables: add %s to %s",
                 inet_ntop(AF_INET, &addr, txt, sizeof(txt)) ? txt : "?", n.s);
        return send_batch(nl, &b, what, err);
}

static void fill_obj(struct nlmsghdr *nlh, const void *arg) {
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = nftnl_obj_alloc();
        if (!o)
                return;
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, NBX_NFT_TABLE);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, arg);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nftnl_obj_nlmsg_build_payload(nlh, o);
}

static int on_obj(const struct nlmsghdr *nlh, void *data) {
        uint64_t *v = data;
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = nftnl_obj_alloc();
        if (!o || nftnl_obj_nlmsg_parse(nlh, o) < 0)
                return MNL_CB_ERROR;
        v[0] = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
        v[1] = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
        return MNL_CB_OK;
}

int nbx_nft_slot_counters(nbx_nl *nl, unsigned slot, nbx_nft_counters *ret, nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "nftables: slot %u out of range", slot);
        name_t refused = sname("refused", slot), silent = sname("silent", slot);
        uint64_t vr[2] = {0}, vs[2] = {0};
        int r = nft_get(nl, NFT_MSG_GETOBJ, 0, fill_obj, refused.s, on_obj, vr,
                        "nftables: read refusal counter", err);
        if (r < 0)
                return r;
        r = nft_get(nl, NFT_MSG_GETOBJ, 0, fill_obj, silent.s, on_obj, vs,
                    "nftables: read drop counter", err);
        if (r < 0)
                return r;
        *ret = (nbx_nft_counters){.dropped_packets = vr[0] + vs[0],
                                  .dropped_bytes = vr[1] + vs[1],
                                  .silent_packets = vs[0],
                                  .silent_bytes = vs[1]};
        return 0;
}
