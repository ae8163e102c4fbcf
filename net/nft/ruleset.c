/* The nixbox table, built into batches.  See ruleset.h and docs/network.md, "Egress firewall". */
#include "ruleset.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>

#include "../nft.h"
#include "rule.h"

/* ---- names -------------------------------------------------------------------------------- */

static const struct {
        const char *prefix;
        enum nbx_nft_kind kind;
} slot_objs[NBX_NFT_SLOT_OBJS] = {
        [NBX_NFT_PRE] = {"pre", NBX_NFT_CHAIN},       [NBX_NFT_IN] = {"in", NBX_NFT_CHAIN},
        [NBX_NFT_FWD] = {"fwd", NBX_NFT_CHAIN},       [NBX_NFT_TO] = {"to", NBX_NFT_CHAIN},
        [NBX_NFT_OUT] = {"out", NBX_NFT_CHAIN},       [NBX_NFT_NAT] = {"nat", NBX_NFT_CHAIN},
        [NBX_NFT_REFUSE] = {"refuse", NBX_NFT_CHAIN}, [NBX_NFT_ALLOW] = {"allow", NBX_NFT_SET},
        [NBX_NFT_PORTS] = {"ports", NBX_NFT_SET},     [NBX_NFT_REFUSED] = {"refused", NBX_NFT_OBJ},
        [NBX_NFT_SILENT] = {"silent", NBX_NFT_OBJ},
};

static const struct {
        const char *name;
        enum nbx_nft_slot_obj target; /* the slot chain an element jumps to */
} maps[NBX_NFT_MAPS] = {
        [NBX_NFT_PRE_IF] = {"pre_if", NBX_NFT_PRE}, [NBX_NFT_IN_IF] = {"in_if", NBX_NFT_IN},
        [NBX_NFT_FWD_IF] = {"fwd_if", NBX_NFT_FWD}, [NBX_NFT_TO_IF] = {"to_if", NBX_NFT_TO},
        [NBX_NFT_OUT_IF] = {"out_if", NBX_NFT_OUT}, [NBX_NFT_NAT_SRC] = {"nat_src", NBX_NFT_NAT},
};

nbx_nft_name nbx_nft_slot_obj_name(unsigned slot, enum nbx_nft_slot_obj o) {
        nbx_nft_name n;
        snprintf(n.s, sizeof(n.s), "%s%u", slot_objs[o].prefix, slot);
        return n;
}

const char *nbx_nft_map_name(enum nbx_nft_map m) {
        return maps[m].name;
}

void nbx_nft_present_mark(nbx_nft_present *p, unsigned slot, enum nbx_nft_kind kind,
                          const char *name) {
        for (int o = 0; o < NBX_NFT_SLOT_OBJS; o++)
                if (slot_objs[o].kind == kind &&
                    strcmp(nbx_nft_slot_obj_name(slot, (enum nbx_nft_slot_obj)o).s, name) == 0)
                        p->objs |= 1u << o;
        for (int m = 0; kind == NBX_NFT_SET && m < NBX_NFT_MAPS; m++)
                if (strcmp(maps[m].name, name) == 0)
                        p->maps |= 1u << m;
}

int nbx_nft_slot_check(const nbx_slot_addr *a, nbx_error **err) {
        if (a->slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "nftables: slot %u out of range (0..%u)", a->slot,
                                     NBX_SLOTS - 1);
        char want[IFNAMSIZ];
        snprintf(want, sizeof(want), "nbx%u", a->slot);
        if (strncmp(a->tap, want, IFNAMSIZ) != 0)
                return nbx_error_set(err, EINVAL,
                                     "nftables: interface name \"%.*s\" is not slot %u's TAP "
                                     "(expected %s)",
                                     (int)strnlen(a->tap, IFNAMSIZ), a->tap, a->slot, want);
        return 0;
}

const void *nbx_nft_map_key(const nbx_slot_addr *a, enum nbx_nft_map m, char buf[16],
                            uint32_t *ret_len) {
        if (m == NBX_NFT_NAT_SRC) {
                *ret_len = sizeof(a->guest_ip.s_addr);
                return &a->guest_ip.s_addr;
        }
        memset(buf, 0, IFNAMSIZ);
        memcpy(buf, a->tap, strnlen(a->tap, IFNAMSIZ - 1));
        *ret_len = IFNAMSIZ;
        return buf;
}

/* ---- the base: table, base chains, maps ---------------------------------------------------- */

enum { PRIO_RAW = -300, PRIO_FILTER = 0, PRIO_SRCNAT = 100 };

static const struct {
        const char *name;
        nbx_nft_hook hook;
} base_chains[] = {
        {"prerouting", {NF_INET_PRE_ROUTING, PRIO_RAW, "filter"}},
        {"input", {NF_INET_LOCAL_IN, PRIO_FILTER, "filter"}},
        {"forward", {NF_INET_FORWARD, PRIO_FILTER, "filter"}},
        {"output", {NF_INET_LOCAL_OUT, PRIO_FILTER, "filter"}},
        {"postrouting", {NF_INET_POST_ROUTING, PRIO_SRCNAT, "nat"}},
};
static const nbx_nft_hook guard_hook = {NF_INET_FORWARD, PRIO_FILTER, "filter"};

/* Destinations never forwarded (host order, prefix).  `always`: refused even with
 * allowPrivate — unroutable or meaningless to forward, or a cloud provider's instance metadata
 * (credentials of the host's cloud account). */
static const struct {
        uint32_t net;
        unsigned plen;
        bool always;
} blocked_nets[] = {
        {0x00000000, 8, true},   /* 0.0.0.0/8 "this network" */
        {0x7f000000, 8, true},   /* 127.0.0.0/8 loopback */
        {0xe0000000, 4, true},   /* 224.0.0.0/4 multicast */
        {0xf0000000, 4, true},   /* 240.0.0.0/4 reserved, broadcast */
        {0xa9fe0000, 16, true},  /* 169.254.0.0/16 link-local: metadata at 169.254.169.254 (AWS,
                                    GCP, Azure, OpenStack, Oracle, DigitalOcean, ...) */
        {0x646464c8, 32, true},  /* 100.100.100.200 Alibaba Cloud metadata */
        {0xa83f8110, 32, true},  /* 168.63.129.16 Azure's WireServer (extension settings) */
        {0x0a000000, 8, false},  /* 10.0.0.0/8 RFC 1918 */
        {0xac100000, 12, false}, /* 172.16.0.0/12 RFC 1918 */
        {0xc0a80000, 16, false}, /* 192.168.0.0/16 RFC 1918 */
        {0x64400000, 10, false}, /* 100.64.0.0/10 shared address space (CGNAT) */
        {0xc0000000, 24, false}, /* 192.0.0.0/24 IETF protocol assignments */
        {0xc6120000, 15, false}, /* 198.18.0.0/15 benchmarking (used by some VPNs) */
};

static void drop_slot_ifs(nbx_nft_batch *b, const char *chain, uint32_t meta_key);

/* <meta key> vmap @map, then <meta key> @slot_ifs drop for slot interfaces without an element */
static void dispatch(nbx_nft_batch *b, const char *chain, uint32_t meta_key, const char *map,
                     bool catch_all) {
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_meta(&R, meta_key, NFT_REG_1);
        nbx_nft_lookup(&R, NFT_REG_1, map, NFT_REG_VERDICT);
        nbx_nft_rule_put(b, &R, true);
        if (catch_all)
                drop_slot_ifs(b, chain, meta_key);
}

/* <meta key> @slot_ifs drop: fail closed for a slot interface whose rules are not there */
static void drop_slot_ifs(nbx_nft_batch *b, const char *chain, uint32_t meta_key) {
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_match_ifset(&R, meta_key, NBX_NFT_SLOT_IFS, false);
        nbx_nft_verdict(&R, NF_DROP, NULL);
        nbx_nft_rule_put(b, &R, true);
}

/* slot_ifs: exactly the names a slot TAP can have, nbx0 .. nbx63 (never another interface whose
 * name happens to start with "nbx") */
static void add_slot_ifs(nbx_nft_batch *b) {
        nbx_nft_put_set(b, &(nbx_nft_set_spec){.name = NBX_NFT_SLOT_IFS,
                                               .key_type = NBX_NFT_TYPE_IFNAME,
                                               .key_len = IFNAMSIZ});
        char names[NBX_SLOTS][IFNAMSIZ];
        memset(names, 0, sizeof(names));
        for (unsigned i = 0; i < NBX_SLOTS; i++)
                snprintf(names[i], IFNAMSIZ, "nbx%u", i);
        nbx_nft_put_elems(b, NBX_NFT_SLOT_IFS, names, IFNAMSIZ, NBX_SLOTS);
}

/* guard (forward): iifname != @slot_ifs oifname != @slot_ifs counter drop.  Created only when
 * nixbox turned forwarding on: the host then routes for its slots and nothing else. */
static void add_guard(nbx_nft_batch *b) {
        nbx_nft_put_chain(b, NFT_MSG_NEWCHAIN, NBX_NFT_GUARD, &guard_hook);
        nbx_nft_put_flush_chain(b, NBX_NFT_GUARD);
        nbx_nft_rule R = nbx_nft_rule_new(b, NBX_NFT_GUARD);
        nbx_nft_match_ifset(&R, NFT_META_IIFNAME, NBX_NFT_SLOT_IFS, true);
        nbx_nft_match_ifset(&R, NFT_META_OIFNAME, NBX_NFT_SLOT_IFS, true);
        nbx_nft_counter(&R);
        nbx_nft_verdict(&R, NF_DROP, NULL);
        nbx_nft_rule_put(b, &R, true);
}

static void add_base(nbx_nft_batch *b, bool guard) {
        nbx_nft_put_table(b, NFT_MSG_NEWTABLE);
        add_slot_ifs(b);
        for (size_t i = 0; i < NBX_ARRAY_SIZE(base_chains); i++)
                nbx_nft_put_chain(b, NFT_MSG_NEWCHAIN, base_chains[i].name, &base_chains[i].hook);
        for (int m = 0; m < NBX_NFT_MAPS; m++) {
                bool by_ip = m == NBX_NFT_NAT_SRC;
                nbx_nft_put_set(
                        b, &(nbx_nft_set_spec){
                                   .name = maps[m].name,
                                   .key_type = by_ip ? NBX_NFT_TYPE_IPADDR : NBX_NFT_TYPE_IFNAME,
                                   .key_len = by_ip ? 4 : IFNAMSIZ,
                                   .data_type = NBX_NFT_TYPE_VERDICT,
                           });
        }
        /* The base chains hold no per-slot content; they are refilled with the same rules in
         * every batch so a half-created table from an older version is corrected too. */
        for (size_t i = 0; i < NBX_ARRAY_SIZE(base_chains); i++)
                nbx_nft_put_flush_chain(b, base_chains[i].name);
        dispatch(b, "prerouting", NFT_META_IIFNAME, "pre_if", true);
        dispatch(b, "input", NFT_META_IIFNAME, "in_if", true);
        /* forward: from a slot, then to a slot, then the catch-alls of both directions */
        dispatch(b, "forward", NFT_META_IIFNAME, "fwd_if", false);
        dispatch(b, "forward", NFT_META_OIFNAME, "to_if", false);
        drop_slot_ifs(b, "forward", NFT_META_IIFNAME);
        drop_slot_ifs(b, "forward", NFT_META_OIFNAME);
        /* output: what this host's own processes send into a slot */
        dispatch(b, "output", NFT_META_OIFNAME, "out_if", true);
        /* postrouting (nat): iifname is empty here, so dispatch by the (enforced) source */
        nbx_nft_rule R = nbx_nft_rule_new(b, "postrouting");
        nbx_nft_match_nfproto(&R, NFPROTO_IPV4);
        nbx_nft_payload(&R, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
        nbx_nft_lookup(&R, NFT_REG_1, "nat_src", NFT_REG_VERDICT);
        nbx_nft_rule_put(b, &R, true);
        if (guard)
                add_guard(b);
}

/* ---- one slot's rules --------------------------------------------------------------------- */

typedef struct slot_names {
        nbx_nft_name n[NBX_NFT_SLOT_OBJS];
} slot_names;

static slot_names names_of(unsigned slot) {
        slot_names s;
        for (int o = 0; o < NBX_NFT_SLOT_OBJS; o++)
                s.n[o] = nbx_nft_slot_obj_name(slot, (enum nbx_nft_slot_obj)o);
        return s;
}
#define NAME(o) (n->n[(o)].s)

/* a rule: "<verdict>" in chain with nothing but a counter (NULL: none) before it */
static void add_final(nbx_nft_batch *b, const char *chain, const char *counter, int verdict,
                      const char *target) {
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        if (counter)
                nbx_nft_counter_ref(&R, counter);
        nbx_nft_verdict(&R, verdict, target);
        nbx_nft_rule_put(b, &R, true);
}

/* ct state established,related accept; meta nfproto != ipv4 counter silent<s> drop */
static void add_replies_then_v4_only(nbx_nft_batch *b, const char *chain, const slot_names *n) {
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_match_ct_est_rel(&R);
        nbx_nft_verdict(&R, NF_ACCEPT, NULL);
        nbx_nft_rule_put(b, &R, true);
        R = nbx_nft_rule_new(b, chain);
        nbx_nft_meta(&R, NFT_META_NFPROTO, NFT_REG_1);
        nbx_nft_cmp(&R, NFT_REG_1, NFT_CMP_NEQ, &(uint8_t){NFPROTO_IPV4}, 1);
        nbx_nft_counter_ref(&R, NAME(NBX_NFT_SILENT));
        nbx_nft_verdict(&R, NF_DROP, NULL);
        nbx_nft_rule_put(b, &R, true);
}

/* pre<s>: source enforcement, before conntrack sees the packet.  Positive matches accept;
 * everything else is dropped silently and counted. */
static void add_pre(nbx_nft_batch *b, const nbx_slot_addr *a, const slot_names *n) {
        const char *chain = NAME(NBX_NFT_PRE);
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_meta(&R, NFT_META_NFPROTO, NFT_REG_1);
        nbx_nft_cmp(&R, NFT_REG_1, NFT_CMP_EQ, &(uint8_t){NFPROTO_IPV6}, 1);
        nbx_nft_counter_ref(&R, NAME(NBX_NFT_SILENT));
        nbx_nft_verdict(&R, NF_DROP, NULL);
        nbx_nft_rule_put(b, &R, true);
        /* the guest's MAC and address; and DHCP before it has its address: 0.0.0.0:68 -> 67 */
        const struct in_addr sources[] = {a->guest_ip, {0}};
        uint16_t ether = ARPHRD_ETHER;
        for (size_t i = 0; i < NBX_ARRAY_SIZE(sources); i++) {
                R = nbx_nft_rule_new(b, chain);
                nbx_nft_meta(&R, NFT_META_IIFTYPE, NFT_REG_1);
                nbx_nft_cmp(&R, NFT_REG_1, NFT_CMP_EQ, &ether, sizeof(ether));
                nbx_nft_payload(&R, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1);
                nbx_nft_cmp(&R, NFT_REG_1, NFT_CMP_EQ, a->mac, 6);
                nbx_nft_match_ip(&R, 12, sources[i]);
                if (sources[i].s_addr == 0) {
                        nbx_nft_match_l4proto(&R, IPPROTO_UDP);
                        nbx_nft_match_port(&R, 0, 68);
                        nbx_nft_match_port(&R, 2, 67);
                }
                nbx_nft_verdict(&R, NF_ACCEPT, NULL);
                nbx_nft_rule_put(b, &R, true);
        }
        add_final(b, chain, NAME(NBX_NFT_SILENT), NF_DROP, NULL);
}

/* refuse<s>: count, then fail at once (TCP reset, else ICMP admin-prohibited) */
static void add_refuse(nbx_nft_batch *b, const slot_names *n) {
        const char *chain = NAME(NBX_NFT_REFUSE);
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_counter_ref(&R, NAME(NBX_NFT_REFUSED));
        nbx_nft_rule_put(b, &R, true);
        R = nbx_nft_rule_new(b, chain);
        nbx_nft_match_l4proto(&R, IPPROTO_TCP);
        nbx_nft_reject(&R, NFT_REJECT_TCP_RST, 0);
        nbx_nft_rule_put(b, &R, true);
        R = nbx_nft_rule_new(b, chain);
        nbx_nft_reject(&R, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
        nbx_nft_rule_put(b, &R, true);
}

/* in<s>: guest -> host.  Only DHCP and DNS to its own gateway. */
static void add_in(nbx_nft_batch *b, const nbx_slot_addr *a, const slot_names *n) {
        const char *chain = NAME(NBX_NFT_IN);
        add_replies_then_v4_only(b, chain, n);
        const struct {
                struct in_addr dst;
                uint8_t proto;
                uint16_t port;
        } allowed[] = {
                {a->host_ip, IPPROTO_UDP, 67},
                {{INADDR_BROADCAST}, IPPROTO_UDP, 67},
                {a->host_ip, IPPROTO_UDP, 53},
                {a->host_ip, IPPROTO_TCP, 53},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(allowed); i++) {
                nbx_nft_rule R = nbx_nft_rule_new(b, chain);
                nbx_nft_match_ip(&R, 16, allowed[i].dst);
                nbx_nft_match_l4proto(&R, allowed[i].proto);
                nbx_nft_match_port(&R, 2, allowed[i].port);
                nbx_nft_verdict(&R, NF_ACCEPT, NULL);
                nbx_nft_rule_put(b, &R, true);
        }
        add_final(b, chain, NULL, NFT_GOTO, NAME(NBX_NFT_REFUSE));
}

/* fwd<s>: guest -> elsewhere, by the mode */
static void add_fwd(nbx_nft_batch *b, const nbx_slot_addr *a, const nbx_net_policy *p,
                    const slot_names *n) {
        const char *chain = NAME(NBX_NFT_FWD), *refuse = NAME(NBX_NFT_REFUSE);
        add_replies_then_v4_only(b, chain, n);
        if (p->mode != NBX_NET_OFF) {
                /* never another slot: by interface and by the pool's /16 */
                nbx_nft_rule R = nbx_nft_rule_new(b, chain);
                nbx_nft_match_ifset(&R, NFT_META_OIFNAME, NBX_NFT_SLOT_IFS, false);
                nbx_nft_verdict(&R, NFT_GOTO, refuse);
                nbx_nft_rule_put(b, &R, true);
                R = nbx_nft_rule_new(b, chain);
                nbx_nft_match_ip_net(&R, 16, ntohl(a->network.s_addr), 16);
                nbx_nft_verdict(&R, NFT_GOTO, refuse);
                nbx_nft_rule_put(b, &R, true);
                for (size_t i = 0; i < NBX_ARRAY_SIZE(blocked_nets); i++) {
                        if (p->allow_private && !blocked_nets[i].always)
                                continue;
                        R = nbx_nft_rule_new(b, chain);
                        nbx_nft_match_ip_net(&R, 16, blocked_nets[i].net, blocked_nets[i].plen);
                        nbx_nft_verdict(&R, NFT_GOTO, refuse);
                        nbx_nft_rule_put(b, &R, true);
                }
                R = nbx_nft_rule_new(b, chain);
                if (p->mode == NBX_NET_FILTERED) {
                        /* tcp dport @ports<s> ip daddr @allow<s> update @allow<s> { ip daddr } */
                        nbx_nft_match_l4proto(&R, IPPROTO_TCP);
                        nbx_nft_payload(&R, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
                        nbx_nft_lookup(&R, NFT_REG_1, NAME(NBX_NFT_PORTS), -1);
                        nbx_nft_match_nfproto(&R, NFPROTO_IPV4);
                        nbx_nft_payload(&R, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1);
                        nbx_nft_lookup(&R, NFT_REG_1, NAME(NBX_NFT_ALLOW), -1);
                        nbx_nft_dynset_update(&R, NFT_REG_1, NAME(NBX_NFT_ALLOW));
                }
                nbx_nft_verdict(&R, NF_ACCEPT, NULL);
                nbx_nft_rule_put(b, &R, true);
        }
        add_final(b, chain, NULL, NFT_GOTO, refuse);
}

/* out<s>: this host's processes -> guest.  Replies, and what the kernel itself sends (TCP resets
 * of refused connections are `related`; ICMP errors need CAP_NET_RAW or the kernel); new
 * connections only from root and from the VM's owner. */
static void add_out(nbx_nft_batch *b, const nbx_net_policy *p, const slot_names *n) {
        const char *chain = NAME(NBX_NFT_OUT);
        nbx_nft_rule R = nbx_nft_rule_new(b, chain);
        nbx_nft_match_ct_est_rel(&R);
        nbx_nft_verdict(&R, NF_ACCEPT, NULL);
        nbx_nft_rule_put(b, &R, true);
        static const uint8_t icmp_errors[] = {3 /* unreachable */, 11 /* time exceeded */,
                                              12 /* parameter problem */};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(icmp_errors); i++) {
                R = nbx_nft_rule_new(b, chain);
                nbx_nft_match_icmp_type(&R, icmp_errors[i]);
                nbx_nft_verdict(&R, NF_ACCEPT, NULL);
                nbx_nft_rule_put(b, &R, true);
        }
        const uint32_t uids[] = {0, (uint32_t)p->owner_uid};
        for (size_t i = 0; i < (p->owner_uid ? 2u : 1u); i++) {
                R = nbx_nft_rule_new(b, chain);
                nbx_nft_match_skuid(&R, uids[i]);
                nbx_nft_verdict(&R, NF_ACCEPT, NULL);
                nbx_nft_rule_put(b, &R, true);
        }
        add_final(b, chain, NULL, NFT_GOTO, NAME(NBX_NFT_REFUSE));
}

static void add_slot_rules(nbx_nft_batch *b, const nbx_slot_addr *a, const nbx_net_policy *p,
                           const slot_names *n) {
        add_pre(b, a, n);
        add_refuse(b, n);
        add_in(b, a, n);
        add_fwd(b, a, p, n);
        add_out(b, p, n);
        /* to<s>: elsewhere -> guest: only replies */
        nbx_nft_rule R = nbx_nft_rule_new(b, NAME(NBX_NFT_TO));
        nbx_nft_match_ct_est_rel(&R);
        nbx_nft_verdict(&R, NF_ACCEPT, NULL);
        nbx_nft_rule_put(b, &R, true);
        add_final(b, NAME(NBX_NFT_TO), NULL, NFT_GOTO, NAME(NBX_NFT_REFUSE));
        /* nat<s>: masquerade what fwd<s> let out (never towards another slot) */
        if (p->mode != NBX_NET_OFF) {
                R = nbx_nft_rule_new(b, NAME(NBX_NFT_NAT));
                nbx_nft_match_ifset(&R, NFT_META_OIFNAME, NBX_NFT_SLOT_IFS, true);
                nbx_nft_masq(&R);
                nbx_nft_rule_put(b, &R, true);
        }
}

/* ---- the batches -------------------------------------------------------------------------- */

static int check_policy(const nbx_net_policy *p, nbx_error **err) {
        if (p->mode != NBX_NET_OFF && p->mode != NBX_NET_FILTERED && p->mode != NBX_NET_OPEN)
                return nbx_error_set(err, EINVAL, "nftables: unknown network mode %d",
                                     (int)p->mode);
        if (p->n_ports > NBX_MAX_PORTS)
                return nbx_error_set(err, E2BIG, "nftables: %zu ports (at most %d)", p->n_ports,
                                     NBX_MAX_PORTS);
        for (size_t i = 0; i < p->n_ports; i++)
                if (!p->ports[i])
                        return nbx_error_set(err, EINVAL, "nftables: port 0 is not a port");
        return 0;
}

/* Delete slot object o: DESTROY when present is NULL, else DEL when it exists. */
static void del_obj(nbx_nft_batch *b, const slot_names *n, enum nbx_nft_slot_obj o,
                    const nbx_nft_present *present) {
        if (present && !(present->objs & (1u << o)))
                return;
        uint16_t type = nbx_nft_del_type(slot_objs[o].kind, !present);
        switch (slot_objs[o].kind) {
        case NBX_NFT_CHAIN:
                nbx_nft_put_chain(b, type, NAME(o), NULL);
                break;
        case NBX_NFT_SET:
                nbx_nft_put_set_del(b, type, NAME(o));
                break;
        default:
                nbx_nft_put_counter(b, type, NAME(o));
                break;
        }
}

int nbx_nft_batch_slot(nbx_nft_batch *b, const nbx_slot_addr *a, const nbx_net_policy *p,
                       const nbx_nft_slot_opts *opts, const nbx_nft_present *present,
                       nbx_error **err) {
        int r = nbx_nft_slot_check(a, err);
        if (r >= 0)
                r = check_policy(p, err);
        if (r < 0)
                return r;
        uint32_t timeout_s = p->allow_timeout_s ? p->allow_timeout_s : NBX_NFT_ALLOW_TIMEOUT_S;
        slot_names names = names_of(a->slot);
        const slot_names *n = &names;

        add_base(b, opts->guard);
        for (int o = NBX_NFT_PRE; o <= NBX_NFT_REFUSE; o++) {
                nbx_nft_put_chain(b, NFT_MSG_NEWCHAIN, NAME(o), NULL);
                nbx_nft_put_flush_chain(b, NAME(o));
        }
        if (opts->fresh) {
                /* the rules that use the counters are flushed above, so they can be replaced */
                del_obj(b, n, NBX_NFT_REFUSED, present);
                del_obj(b, n, NBX_NFT_SILENT, present);
        }
        nbx_nft_put_counter(b, NFT_MSG_NEWOBJ, NAME(NBX_NFT_REFUSED));
        nbx_nft_put_counter(b, NFT_MSG_NEWOBJ, NAME(NBX_NFT_SILENT));
        nbx_nft_put_set(b, &(nbx_nft_set_spec){.name = NAME(NBX_NFT_ALLOW),
                                               .key_type = NBX_NFT_TYPE_IPADDR,
                                               .key_len = 4,
                                               .flags = NFT_SET_EVAL,
                                               .timeout_ms = (uint64_t)timeout_s * 1000,
                                               .size = NBX_NFT_ALLOW_MAX});
        nbx_nft_put_set(b, &(nbx_nft_set_spec){.name = NAME(NBX_NFT_PORTS),
                                               .key_type = NBX_NFT_TYPE_INET_SERVICE,
                                               .key_len = 2});
        nbx_nft_put_set_del(b, NFT_MSG_DELSETELEM, NAME(NBX_NFT_PORTS));
        if (opts->fresh || !opts->keep_allowed || p->mode != NBX_NET_FILTERED)
                nbx_nft_put_set_del(b, NFT_MSG_DELSETELEM, NAME(NBX_NFT_ALLOW));
        if (p->mode == NBX_NET_FILTERED)
                nbx_nft_put_port_elems(b, NAME(NBX_NFT_PORTS), p->ports, p->n_ports);
        add_slot_rules(b, a, p, n);
        for (int m = 0; m < NBX_NFT_MAPS; m++) {
                char buf[IFNAMSIZ];
                uint32_t len;
                const void *key = nbx_nft_map_key(a, (enum nbx_nft_map)m, buf, &len);
                nbx_nft_put_elem(b, NFT_MSG_NEWSETELEM, maps[m].name, key, len,
                                 NAME(maps[m].target), 0);
        }
        if (b->error)
                return nbx_error_set(err, b->error, "nftables: build slot %u batch", a->slot);
        return 0;
}

int nbx_nft_batch_slot_del(nbx_nft_batch *b, const nbx_slot_addr *a, bool whole_table,
                           const nbx_nft_present *present, nbx_error **err) {
        int r = nbx_nft_slot_check(a, err);
        if (r < 0)
                return r;
        if (present && !present->table)
                return 0; /* nothing of nixbox left */
        if (whole_table) {
                nbx_nft_put_table(b, nbx_nft_del_type(NBX_NFT_TABLE_KIND, !present));
        } else {
                slot_names names = names_of(a->slot);
                /* references first: the map elements, then the chains (refuse<s> last) */
                for (int m = 0; m < NBX_NFT_MAPS; m++) {
                        if (present && !(present->elems & (1u << m)))
                                continue;
                        char buf[IFNAMSIZ];
                        uint32_t len;
                        const void *key = nbx_nft_map_key(a, (enum nbx_nft_map)m, buf, &len);
                        nbx_nft_put_elem(b, nbx_nft_del_type(NBX_NFT_ELEM, !present), maps[m].name,
                                         key, len, NULL, 0);
                }
                for (int o = 0; o < NBX_NFT_SLOT_OBJS; o++)
                        del_obj(b, &names, (enum nbx_nft_slot_obj)o, present);
        }
        if (b->error)
                return nbx_error_set(err, b->error, "nftables: build slot %u removal", a->slot);
        return 0;
}
