/* The egress firewall, programmed through libnftnl + libmnl: one table `inet nixbox`, base chains
 * that dispatch by interface name through verdict maps into per-slot regular chains, per-slot sets.
 * Every call is one atomic nfnetlink batch.  Traffic of interfaces that are not nixbox slots is
 * never dropped by this table (base chains accept by default). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../config/base/error.h"
#include "net.h"
#include "nl.h"

#define NBX_NFT_TABLE "nixbox"

/* Install slot `a->slot` for interface a->tap with the given policy: chains, sets, map elements,
 * creating the table and base chains when absent.  One batch: all or nothing.  A slot that already
 * has rules is replaced within the same batch (flush + refill), never left open in between. */
int nbx_nft_slot_add(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                     nbx_error **err);
/* Replace the slot's policy atomically (mode, ports, allow-private); keeps the allow set's
 * current elements when the mode stays `filtered`. */
int nbx_nft_slot_update(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                        nbx_error **err);
/* Remove the slot's chains, sets and map elements; deletes the table when no slot is left.
 * Already gone counts as removed. */
int nbx_nft_slot_del(nbx_nl *nl, const nbx_slot_addr *a, nbx_error **err);

/* Name of the per-slot set dnsmasq's --nftset feeds (filtered mode): "allow<slot>", in table
 * "inet nixbox".  Its elements carry a timeout (NBX_NFT_ALLOW_TIMEOUT_S). */
#define NBX_NFT_ALLOW_TIMEOUT_S 3600
void nbx_nft_allow_set_name(unsigned slot, char ret[32]);

/* dropped_* counts everything the slot's rules stopped: refusals (TCP reset / ICMP
 * admin-prohibited, counter "refused<slot>") plus silent drops (spoofed source IP or MAC, IPv6;
 * counter "silent<slot>").  silent_* is the silent part alone. */
typedef struct nbx_nft_counters {
        uint64_t dropped_packets, dropped_bytes;
        uint64_t silent_packets, silent_bytes;
} nbx_nft_counters;
int nbx_nft_slot_counters(nbx_nl *nl, unsigned slot, nbx_nft_counters *ret, nbx_error **err);
/* Current elements of the slot's allow set, as dotted quads. */
int nbx_nft_allow_list(nbx_nl *nl, unsigned slot, nbx_strv *ret, nbx_error **err);
/* Add an element (used by tests and by `reload` to keep addresses); timeout_s 0 = set default. */
int nbx_nft_allow_add(nbx_nl *nl, unsigned slot, struct in_addr addr, uint32_t timeout_s,
                      nbx_error **err);

/* ---- additions (see docs/network.md, "Egress firewall") ------------------------------------ */

/* Options of a slot's rules.  allow_timeout_s: default timeout of the allow set's elements
 * (0 = NBX_NFT_ALLOW_TIMEOUT_S).  Every new connection the guest opens to an element refreshes
 * it to this value from the datapath; dnsmasq's re-add of an existing element does not (kernel
 * 6.18 refreshes only when the add carries an explicit timeout, and dnsmasq sends none). */
typedef struct nbx_nft_opts {
        uint32_t allow_timeout_s;
} nbx_nft_opts;
int nbx_nft_slot_add_opts(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                          const nbx_nft_opts *opts, nbx_error **err);
int nbx_nft_slot_update_opts(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                             const nbx_nft_opts *opts, nbx_error **err);

/* The value for dnsmasq's --max-cache-ttl and --max-ttl that goes with an allow-set timeout
 * (the set-timeout rule: max(max-cache-ttl, max-ttl) <= timeout / 4, and at most 300 s). */
uint32_t nbx_nft_dns_ttl_cap(uint32_t allow_timeout_s);
/* dnsmasq's --nftset target for the slot: "4#inet#nixbox#allow<slot>". */
void nbx_nft_dnsmasq_nftset(unsigned slot, char ret[64]);

/* Batch construction, exposed for unit tests: one nfnetlink batch in one contiguous buffer.
 * Every message (begin and end included) carries NLM_F_ACK; seqs run first_seq..last_seq. */
typedef struct nbx_nft_batch {
        char *buf;
        size_t len, cap;
        uint32_t first_seq, last_seq, next_seq;
        unsigned n_msgs;
        int error; /* first build error (negative errno) */
} nbx_nft_batch;
void nbx_nft_batch_done(nbx_nft_batch *b);
static inline void nbx_nft_batch_donep(nbx_nft_batch *b) {
        nbx_nft_batch_done(b);
}
#define _cleanup_nft_batch_ _cleanup_(nbx_nft_batch_donep)
/* Build the batch that installs (fresh = add: allow set emptied, counters reset) or replaces
 * (fresh = false: update, allow set kept when mode is filtered) a slot. */
int nbx_nft_batch_slot(nbx_nft_batch *b, uint32_t first_seq, const nbx_slot_addr *a,
                       const nbx_net_policy *policy, const nbx_nft_opts *opts, bool fresh,
                       nbx_error **err);
/* Build the batch that removes a slot (whole_table: the table with everything in it).  genid != 0
 * makes the kernel refuse the batch (ERESTART) when the ruleset changed since genid was read. */
int nbx_nft_batch_slot_del(nbx_nft_batch *b, uint32_t first_seq, const nbx_slot_addr *a,
                           bool whole_table, uint32_t genid, nbx_error **err);
