/* Docker hosts: Docker sets the iptables FORWARD policy to drop.  With iptables-nft that chain is
 * `table ip filter chain FORWARD` in nf_tables, and a packet must be accepted by every base chain
 * on the forward hook, so nixbox's own verdicts alone would not let a VM's traffic through.  We
 * add two rules iptables can read back (`-i nbx+ -j ACCEPT`, `-o nbx+ -j ACCEPT`, comment
 * "nixbox") at the head of DOCKER-USER when Docker made it (Docker never touches that chain),
 * else of FORWARD.  They match only nixbox TAPs, whose traffic `inet nixbox` already filters. */
#include "net.h"

#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "nl.h"

#define NL_BUF 8192

#define FILTER_TABLE "filter"
#define NBX_COMMENT "nixbox"

NBX_DEFINE_CLEANUP(struct nftnl_chain, nftnl_chain_free)
NBX_DEFINE_CLEANUP(struct nftnl_rule, nftnl_rule_free)

struct chain_info {
        bool has_policy;
        uint32_t policy;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data) {
        struct chain_info *ci = data;
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0)
                return MNL_CB_ERROR;
        if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)) {
                ci->has_policy = true;
                ci->policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
        }
        return MNL_CB_OK;
}

/* 0 and *ret filled when the chain exists, -ENOENT when it (or the table) does not. */
static int get_chain(nbx_nl *nl, const char *name, struct chain_info *ret, nbx_error **err) {
        char buf[NL_BUF];
        uint32_t seq = nbx_nl_next_seq(nl);
        struct nlmsghdr *nlh =
                nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_IPV4, NLM_F_ACK, seq);
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (!c)
                return nbx_error_set(err, ENOMEM, "nftables chain");
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, FILTER_TABLE);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        nftnl_chain_nlmsg_build_payload(nlh, c);
        struct chain_info ci = {0};
        nbx_error *e = NULL;
        int r = nbx_nl_talk(nl, nlh, nlh->nlmsg_len, seq, seq, chain_cb, &ci,
                            "read ip filter chain", &e);
        if (r == -ENOENT) {
                nbx_error_free(e);
                return -ENOENT;
        }
        if (r < 0) {
                if (err && !*err)
                        *err = e;
                else
                        nbx_error_free(e);
                return r;
        }
        *ret = ci;
        return 0;
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

struct rule_scan {
        uint64_t handles[8];
        size_t n;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data) {
        struct rule_scan *rs = data;
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
                return MNL_CB_ERROR;
        uint32_t len = 0;
        const void *ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
        const char *comment = NULL;
        if (ud && len)
                (void)nftnl_udata_parse(ud, len, comment_cb, &comment);
        if (comment && strcmp(comment, NBX_COMMENT) == 0 && rs->n < NBX_ARRAY_SIZE(rs->handles))
                rs->handles[rs->n++] = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
        return MNL_CB_OK;
}

static int scan_rules(nbx_nl *nl, const char *chain, struct rule_scan *ret, nbx_error **err) {
        char buf[NL_BUF];
        uint32_t seq = nbx_nl_next_seq(nl);
        struct nlmsghdr *nlh =
                nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_IPV4, NLM_F_DUMP, seq);
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r)
                return nbx_error_set(err, ENOMEM, "nftables rule");
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FILTER_TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_nlmsg_build_payload(nlh, r);
        struct rule_scan rs = {0};
        int rr = nbx_nl_talk(nl, nlh, nlh->nlmsg_len, seq, seq, rule_cb, &rs,
                             "list ip filter rules", err);
        if (rr < 0)
                return rr;
        *ret = rs;
        return 0;
}

static int status_get(nbx_nl *nl, nbx_docker_status *ret, const char **ret_chain, nbx_error **err) {
        nbx_docker_status s = {0};
        struct chain_info fwd, du;
        int r = get_chain(nl, "FORWARD", &fwd, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0) {
                s.filter_forward = true;
                s.policy_drop = fwd.has_policy && fwd.policy == NF_DROP;
        }
        r = get_chain(nl, "DOCKER-USER", &du, err);
        if (r < 0 && r != -ENOENT)
                return r;
        s.docker_user = r == 0;
        const char *chain = s.docker_user ? "DOCKER-USER" : "FORWARD";
        if (s.filter_forward || s.docker_user) {
                struct rule_scan rs;
                r = scan_rules(nl, chain, &rs, err);
                if (r < 0)
                        return r;
                s.nixbox_rules = rs.n >= 2;
        }
        *ret = s;
        if (ret_chain)
                *ret_chain = chain;
        return 0;
}

int nbx_net_docker_check(nbx_docker_status *ret, nbx_error **err) {
        _cleanup_nl_ nbx_nl nl = {0};
        int r = nbx_nl_open(&nl, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        r = status_get(&nl, ret, NULL, err);
        return r < 0 ? nbx_error_wrap(err, "check the iptables FORWARD chain") : 0;
}

static struct nftnl_rule *accept_rule(const char *chain, bool in) {
        struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r)
                return NULL;
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FILTER_TABLE);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
        struct nftnl_expr *e = nftnl_expr_alloc("meta");
        if (!e)
                goto fail;
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, in ? NFT_META_IIFNAME : NFT_META_OIFNAME);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
        /* a 3-byte compare is the interface prefix "nbx" (iptables shows it as nbx+) */
        e = nftnl_expr_alloc("cmp");
        if (!e)
                goto fail;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, "nbx", 3);
        nftnl_rule_add_expr(r, e);
        e = nftnl_expr_alloc("counter");
        if (!e)
                goto fail;
        nftnl_rule_add_expr(r, e);
        e = nftnl_expr_alloc("immediate");
        if (!e)
                goto fail;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
        nftnl_rule_add_expr(r, e);
        struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
        if (!ud)
                goto fail;
        nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, NBX_COMMENT);
        nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud),
                            nftnl_udata_buf_len(ud));
        nftnl_udata_buf_free(ud);
        return r;
fail:
        nftnl_rule_free(r);
        return NULL;
}

/* One batch: begin, the messages built by fill(), end. */
static int send_batch(nbx_nl *nl, const char *chain, bool add, const struct rule_scan *del,
                      const char *what, nbx_error **err) {
        char buf[NL_BUF * 2];
        struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof(buf));
        nftnl_batch_begin(mnl_nlmsg_batch_current(b), nbx_nl_next_seq(nl));
        mnl_nlmsg_batch_next(b);
        uint32_t first = nl->seq + 1, last = first;
        size_t n = add ? 2 : del->n;
        for (size_t i = 0; i < n; i++) {
                last = nbx_nl_next_seq(nl);
                struct nftnl_rule *r;
                if (add) {
                        r = accept_rule(chain, i == 0);
                } else {
                        r = nftnl_rule_alloc();
                        if (r) {
                                nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FILTER_TABLE);
                                nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
                                nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, del->handles[i]);
                        }
                }
                if (!r) {
                        mnl_nlmsg_batch_stop(b);
                        return nbx_error_set(err, ENOMEM, "%s", what);
                }
                struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(
                        mnl_nlmsg_batch_current(b), add ? NFT_MSG_NEWRULE : NFT_MSG_DELRULE,
                        NFPROTO_IPV4, (add ? NLM_F_CREATE : 0) | NLM_F_ACK, last);
                nftnl_rule_nlmsg_build_payload(nlh, r);
                nftnl_rule_free(r);
                mnl_nlmsg_batch_next(b);
        }
        nftnl_batch_end(mnl_nlmsg_batch_current(b), nbx_nl_next_seq(nl));
        mnl_nlmsg_batch_next(b);
        int r = nbx_nl_talk(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), first, last, NULL,
                            NULL, what, err);
        mnl_nlmsg_batch_stop(b);
        return r;
}

int nbx_net_docker_ensure(nbx_error **err) {
        _cleanup_nl_ nbx_nl nl = {0};
        int r = nbx_nl_open(&nl, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        nbx_docker_status s;
        const char *chain;
        r = status_get(&nl, &s, &chain, err);
        if (r < 0)
                return nbx_error_wrap(err, "check the iptables FORWARD chain");
        if (!s.policy_drop || s.nixbox_rules)
                return 0;
        struct rule_scan old;
        r = scan_rules(&nl, chain, &old, err); /* a half pair left behind: replace it */
        if (r < 0)
                return r;
        if (old.n > 0 &&
            send_batch(&nl, chain, false, &old, "remove old nixbox accept rules", err) < 0)
                return nbx_error_wrap(err, "Docker FORWARD policy");
        r = send_batch(&nl, chain, true, NULL, "accept nixbox TAPs in ip filter", err);
        return r < 0 ? nbx_error_wrap(err, "Docker FORWARD policy drop") : 0;
}

int nbx_net_docker_remove(nbx_error **err) {
        _cleanup_nl_ nbx_nl nl = {0};
        int r = nbx_nl_open(&nl, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        static const char *const chains[] = {"DOCKER-USER", "FORWARD"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(chains); i++) {
                struct chain_info ci;
                r = get_chain(&nl, chains[i], &ci, err);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                struct rule_scan rs;
                r = scan_rules(&nl, chains[i], &rs, err);
                if (r < 0)
                        return r;
                if (rs.n > 0 &&
                    (r = send_batch(&nl, chains[i], false, &rs, "remove nixbox accept rules",
                                    err)) < 0 &&
                    r != -ENOENT)
                        return r;
        }
        return 0;
}
