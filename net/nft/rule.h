/* Internal to net/: nf_tables rules, one expression at a time (libnftnl), for the batch of
 * net/nft/wire.h.  An allocation failure sticks in the rule and is reported when it is put into
 * the batch, so rule-building code stays a straight list of expressions. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

struct nftnl_rule;

typedef struct nbx_nft_rule {
        struct nftnl_rule *r;
        bool fail;
} nbx_nft_rule;

/* A rule for `chain` of the batch's table and family. */
nbx_nft_rule nbx_nft_rule_new(const nbx_nft_batch *b, const char *chain);
/* NEWRULE: appended to the chain (append) or put at its head.  Frees the rule. */
void nbx_nft_rule_put(nbx_nft_batch *b, nbx_nft_rule *R, bool append);

/* ---- expressions ------------------------------------------------------------------------- */
void nbx_nft_meta(nbx_nft_rule *R, uint32_t key, uint32_t dreg);
void nbx_nft_cmp(nbx_nft_rule *R, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
void nbx_nft_payload(nbx_nft_rule *R, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);
/* reg = (reg & mask) ^ 0 */
void nbx_nft_bitwise(nbx_nft_rule *R, uint32_t reg, const void *mask, uint32_t len);
/* dreg < 0: a set lookup (match); NFT_REG_VERDICT: a verdict map */
void nbx_nft_lookup(nbx_nft_rule *R, uint32_t sreg, const char *set, int dreg);
/* accept / drop, or NFT_GOTO / NFT_JUMP with a chain */
void nbx_nft_verdict(nbx_nft_rule *R, int verdict, const char *chain);
/* counter (anonymous, in the rule) */
void nbx_nft_counter(nbx_nft_rule *R);
/* counter name=<name> (a named counter object of the table) */
void nbx_nft_counter_ref(nbx_nft_rule *R, const char *name);
void nbx_nft_reject(nbx_nft_rule *R, uint32_t type, uint8_t code);
/* update @set { <sreg> }: refresh the element's timeout */
void nbx_nft_dynset_update(nbx_nft_rule *R, uint32_t sreg, const char *set);
void nbx_nft_masq(nbx_nft_rule *R);
/* comment "<text>" (rule userdata, as nft and iptables-nft write it) */
void nbx_nft_comment(nbx_nft_rule *R, const char *text);

/* ---- matches (built from the expressions above, in register 1) ---------------------------- */
void nbx_nft_match_nfproto(nbx_nft_rule *R, uint8_t proto);
void nbx_nft_match_l4proto(nbx_nft_rule *R, uint8_t proto);
/* interface name prefix, no trailing NUL compared: "nbx" matches nbx* (iptables' nbx+) */
void nbx_nft_match_ifprefix(nbx_nft_rule *R, uint32_t meta_key, const char *prefix);
/* interface name (meta_key NFT_META_IIFNAME / OIFNAME) in the named set; negate: not in it */
void nbx_nft_match_ifset(nbx_nft_rule *R, uint32_t meta_key, const char *set, bool negate);
/* the packet's socket belongs to uid (packets without a socket never match) */
void nbx_nft_match_skuid(nbx_nft_rule *R, uint32_t uid);
/* an ICMP (IPv4) message of this type */
void nbx_nft_match_icmp_type(nbx_nft_rule *R, uint8_t type);
/* IPv4 header address at offset off (12 source, 16 destination) */
void nbx_nft_match_ip(nbx_nft_rule *R, uint32_t off, struct in_addr addr);
void nbx_nft_match_ip_net(nbx_nft_rule *R, uint32_t off, uint32_t net_host, unsigned plen);
/* transport header port at offset off (0 source, 2 destination) */
void nbx_nft_match_port(nbx_nft_rule *R, uint32_t off, uint16_t port);
/* ct state established,related */
void nbx_nft_match_ct_est_rel(nbx_nft_rule *R);

/* The comment of a rule as the kernel returned it (NULL when none). */
const char *nbx_nft_rule_comment(const struct nftnl_rule *r);
