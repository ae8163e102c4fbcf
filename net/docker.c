/* Docker hosts: Docker sets the iptables FORWARD policy to drop.  With iptables-nft that chain is
 * `table ip filter chain FORWARD` in nf_tables, and a packet must be accepted by every base chain
 * on the forward hook, so nixbox's own verdicts alone would not let a VM's traffic through.  We
 * add two rules iptables can read back (`-i nbx+ -j ACCEPT`, `-o nbx+ -j ACCEPT`, comment
 * "nixbox") at the head of DOCKER-USER when Docker made it (Docker never touches that chain),
 * else of FORWARD.  They match only nixbox TAPs, whose traffic `inet nixbox` already filters.
 * Every change reads the chain first and is one batch guarded by the ruleset generation. */
#include "docker.h"

#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <string.h>

#include "nft/rule.h"

#define FILTER_TABLE "filter"
#define NBX_COMMENT "nixbox"

NBX_DEFINE_CLEANUP(struct nftnl_chain, nftnl_chain_free)
NBX_DEFINE_CLEANUP(struct nftnl_rule, nftnl_rule_free)

struct chain_info {
        bool exists;
        bool has_policy;
        uint32_t policy;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data) {
        struct chain_info *ci = data;
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0)
                return MNL_CB_ERROR;
        ci->exists = true;
        if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY)) {
                ci->has_policy = true;
                ci->policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY);
        }
        return MNL_CB_OK;
}

static void fill_chain(struct nlmsghdr *nlh, const void *arg) {
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (c && nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, FILTER_TABLE) == 0 &&
            nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, arg) == 0)
                nftnl_chain_nlmsg_build_payload(nlh, c);
}

/* *ret: the chain of table ip filter (exists false when it or the table is absent). */
static int get_chain(nbx_nl *nl, const char *name, struct chain_info *ret, nbx_error **err) {
        struct chain_info ci = {0};
        _cleanup_error_ nbx_error *e = NULL;
        int r = nbx_nft_get(nl, NFPROTO_IPV4, NFT_MSG_GETCHAIN, 0, fill_chain, name, chain_cb, &ci,
                            "read ip filter chain", &e);
        if (r < 0 && r != -ENOENT)
                return nbx_nft_error_move(err, &e, r);
        *ret = ci;
        return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data) {
        nbx_docker_rules *rs = data;
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0)
                return MNL_CB_ERROR;
        const char *comment = nbx_nft_rule_comment(r);
        if (comment && strcmp(comment, NBX_COMMENT) == 0 && rs->n < NBX_ARRAY_SIZE(rs->handles))
                rs->handles[rs->n++] = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
        return MNL_CB_OK;
}

static void fill_rules(struct nlmsghdr *nlh, const void *arg) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        if (r && nftnl_rule_set_str(r, NFTNL_RULE_TABLE, FILTER_TABLE) == 0 &&
            nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, arg) == 0)
                nftnl_rule_nlmsg_build_payload(nlh, r);
}

/* nixbox's rules in the chain (by their comment). */
static int scan_rules(nbx_nl *nl, const char *chain, nbx_docker_rules *ret, nbx_error **err) {
        for (int attempt = 1;; attempt++) {
                nbx_docker_rules rs = {.chain = chain};
                _cleanup_error_ nbx_error *e = NULL;
                int r = nbx_nft_get(nl, NFPROTO_IPV4, NFT_MSG_GETRULE, NLM_F_DUMP, fill_rules,
                                    chain, rule_cb, &rs, "list ip filter rules", &e);
                if (r >= 0) {
                        *ret = rs;
                        return 0;
                }
                if (r == -EAGAIN && attempt < NBX_NFT_DUMP_TRIES)
                        continue; /* the chain changed while it was read */
                return nbx_nft_error_move(err, &e, r);
        }
}

/* The status, and (ret_rules non-NULL) nixbox's rules in the chain they belong in. */
static int status_get(nbx_nl *nl, nbx_docker_status *ret, nbx_docker_rules *ret_rules,
                      nbx_error **err) {
        nbx_docker_status s = {0};
        struct chain_info fwd, du;
        int r = get_chain(nl, "FORWARD", &fwd, err);
        if (r >= 0)
                r = get_chain(nl, "DOCKER-USER", &du, err);
        if (r < 0)
                return r;
        s.filter_forward = fwd.exists;
        s.policy_drop = fwd.exists && fwd.has_policy && fwd.policy == NF_DROP;
        s.docker_user = du.exists;
        nbx_docker_rules rs = {.chain = s.docker_user ? "DOCKER-USER" : "FORWARD"};
        if (s.filter_forward || s.docker_user) {
                r = scan_rules(nl, rs.chain, &rs, err);
                if (r < 0)
                        return r;
                s.nixbox_rules = rs.n == 2;
        }
        *ret = s;
        if (ret_rules)
                *ret_rules = rs;
        return 0;
}

int nbx_net_docker_check(nbx_docker_status *ret, nbx_error **err) {
        _cleanup_nl_ nbx_nl nl = {0};
        int r = nbx_nl_open(&nl, NETLINK_NETFILTER, err);
        if (r >= 0)
                r = status_get(&nl, ret, NULL, err);
        return r < 0 ? nbx_error_wrap(err, "check the iptables FORWARD chain") : 0;
}

/* iif/oifname "nbx*" counter accept comment "nixbox" — the expressions iptables-nft emits for
 * `-i nbx+ -j ACCEPT` (a 3-byte compare is the prefix), so `iptables -L` keeps working */
static void put_accept(nbx_nft_batch *b, const char *chain, bool in) {
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_match_ifprefix(&R, in ? NFT_META_IIFNAME : NFT_META_OIFNAME, "nbx");
        nbx_nft_counter(&R);
        nbx_nft_verdict(&R, NF_ACCEPT, NULL);
        nbx_nft_comment(&R, NBX_COMMENT);
        nbx_nft_rule_put(b, &R, false); /* at the head of the chain */
}

int nbx_docker_batch(nbx_nft_batch *b, const nbx_docker_rules *stale, bool add, nbx_error **err) {
        for (size_t i = 0; i < stale->n; i++)
                nbx_nft_put_rule_del(b, NFT_MSG_DELRULE, stale->chain, stale->handles[i]);
        if (add) {
                /* each goes to the head: the outgoing one ends up first, as iptables -I would */
                put_accept(b, stale->chain, true);
                put_accept(b, stale->chain, false);
        }
        if (b->error)
                return nbx_error_set(err, b->error, "build the nixbox accept rules");
        return 0;
}

/* ensure: when FORWARD drops, exactly our pair in the right chain (a half pair left behind is
 * replaced in the same batch); nothing to do otherwise. */
static int build_ensure(nbx_nl *nl, nbx_nft_batch *b, void *data, nbx_error **err) {
        (void)data;
        nbx_docker_status s;
        nbx_docker_rules rs;
        int r = status_get(nl, &s, &rs, err);
        if (r < 0 || !s.policy_drop || s.nixbox_rules)
                return r;
        return nbx_docker_batch(b, &rs, true, err);
}

int nbx_docker_ensure(nbx_nl *nl, nbx_error **err) {
        int r = nbx_nft_change(nl, NFPROTO_IPV4, FILTER_TABLE, build_ensure, NULL,
                               "accept nixbox TAPs in ip filter", err);
        return r < 0 ? nbx_error_wrap(err, "Docker FORWARD policy drop") : 0;
}

/* remove: our rules from both chains they may be in */
static int build_remove(nbx_nl *nl, nbx_nft_batch *b, void *data, nbx_error **err) {
        (void)data;
        static const char *const chains[] = {"DOCKER-USER", "FORWARD"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(chains); i++) {
                struct chain_info ci;
                nbx_docker_rules rs;
                int r = get_chain(nl, chains[i], &ci, err);
                if (r >= 0 && ci.exists)
                        r = scan_rules(nl, chains[i], &rs, err);
                if (r < 0)
                        return r;
                if (ci.exists && (r = nbx_docker_batch(b, &rs, false, err)) < 0)
                        return r;
        }
        return 0;
}

int nbx_docker_remove(nbx_nl *nl, nbx_error **err) {
        int r = nbx_nft_change(nl, NFPROTO_IPV4, FILTER_TABLE, build_remove, NULL,
                               "remove nixbox accept rules", err);
        return r < 0 ? nbx_error_wrap(err, "Docker FORWARD policy") : 0;
}
