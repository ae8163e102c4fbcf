/* The egress firewall, programmed through libnftnl + libmnl: one table `inet nixbox`, base chains
 * that dispatch by interface name through verdict maps into per-slot regular chains, per-slot sets
 * (layout: net/nft/ruleset.h).  Every change is one atomic nfnetlink batch (net/nft/wire.h).
 * Traffic of interfaces that are not nixbox slots is never dropped by this table (base chains
 * accept by default).  Works on Linux >= 5.15: where the kernel lacks the DESTROY messages (< 6.3)
 * a change that deletes reads first what exists, guarded by the ruleset generation. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/base/error.h"
#include "net.h"
#include "nl.h"

#define NBX_NFT_TABLE "nixbox"

/* Default lifetime of an allow-set element nobody connects to (nbx_net_policy.allow_timeout_s
 * = 0).  Every new connection to an element refreshes it from the datapath. */
#define NBX_NFT_ALLOW_TIMEOUT_S 3600
/* The most addresses a slot's allow set holds: the kernel refuses more (dnsmasq's additions fail
 * and the name is refused) until elements expire.  Bounds the memory a guest can make the host
 * spend by resolving many names under an allowed domain. */
#define NBX_NFT_ALLOW_MAX 8192
/* The set-timeout rule (docs/network.md, "The allow set's timeout"): dnsmasq's max-cache-ttl and
 * max-ttl for elements that expire after t seconds are min(t / 4, 300 s), at least 1 s, so an
 * answer never outlives the element its upstream query created. */
#define NBX_NFT_DNS_TTL_CAP(t) ((t) / 4 > 300 ? 300u : (t) / 4 ? (uint32_t)((t) / 4) : 1u)
_Static_assert(2 * NBX_NFT_DNS_TTL_CAP(NBX_NFT_ALLOW_TIMEOUT_S) <= NBX_NFT_ALLOW_TIMEOUT_S / 2,
               "dnsmasq TTLs must expire well before the allow-set elements");
/* The cap for an allow set with element timeout allow_timeout_s (0 = NBX_NFT_ALLOW_TIMEOUT_S). */
uint32_t nbx_nft_dns_ttl_cap(uint32_t allow_timeout_s);
/* dnsmasq's --nftset target that feeds the slot's allow set: "4#inet#nixbox#allow<slot>". */
void nbx_nft_dnsmasq_nftset(unsigned slot, char ret[64]);

/* Install slot `a->slot` for interface a->tap with the given policy: chains, sets, map elements,
 * creating the table and base chains when absent.  One batch: all or nothing.  A slot that already
 * has rules is replaced within the same batch (flush + refill), never left open in between; its
 * allow set is emptied and its counters start from zero.  guard: also create the forwarding
 * guard (the host forwards only for slots) when it is not there; it stays until the table goes. */
int nbx_nft_slot_add(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy, bool guard,
                     nbx_error **err);
/* Replace the slot's policy atomically (mode, ports, allow-private, owner); keeps the counters,
 * and the allow set's current elements when keep_allowed and the mode is `filtered` (a reload
 * that removes a domain empties it: its addresses are refused at once).  guard as above. */
int nbx_nft_slot_update(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                        bool keep_allowed, bool guard, nbx_error **err);
/* Whether the forwarding guard is there (nixbox turned IPv4 forwarding on). */
int nbx_nft_guard_present(nbx_nl *nl, bool *ret, nbx_error **err);
/* Remove the slot's chains, sets, counters and map elements; deletes the table when no other
 * slot is left.  Already gone counts as removed. */
int nbx_nft_slot_del(nbx_nl *nl, const nbx_slot_addr *a, nbx_error **err);

/* The slot's counters (see nbx_net_counters). */
int nbx_nft_slot_counters(nbx_nl *nl, unsigned slot, nbx_net_counters *ret, nbx_error **err);
/* Current elements of the slot's allow set; *ret is malloc'd (NULL when empty). */
int nbx_nft_allow_list(nbx_nl *nl, unsigned slot, struct in_addr **ret, size_t *ret_n,
                       nbx_error **err);

/* What the kernel's nf_tables offers nixbox. */
typedef struct nbx_nft_support {
        bool destroy; /* DESTROY messages (Linux >= 6.3); else deletions read first */
} nbx_nft_support;
/* Ask the kernel, changing nothing: nf_tables answers, and it accepts one slot's complete
 * ruleset (every chain type, expression, set and map feature nixbox uses) in a dry-run batch of
 * a scratch table that is never committed.  Needs CAP_NET_ADMIN. */
int nbx_nft_probe(nbx_nft_support *ret, nbx_error **err);
