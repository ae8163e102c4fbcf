/* The egress firewall, programmed through libnftnl + libmnl: one table `inet nixbox`, base chains
 * that dispatch by interface name through verdict maps into per-slot regular chains, per-slot sets.
 * Every call is one atomic nfnetlink batch.  Traffic of interfaces that are not nixbox slots is
 * never dropped by this table (base chains accept by default). */
#pragma once

#include <stdint.h>

#include "../config/error.h"
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

typedef struct nbx_nft_counters {
        uint64_t dropped_packets, dropped_bytes;
} nbx_nft_counters;
int nbx_nft_slot_counters(nbx_nl *nl, unsigned slot, nbx_nft_counters *ret, nbx_error **err);
/* Current elements of the slot's allow set, as dotted quads. */
int nbx_nft_allow_list(nbx_nl *nl, unsigned slot, nbx_strv *ret, nbx_error **err);
/* Add an element (used by tests and by `reload` to keep addresses); timeout_s 0 = set default. */
int nbx_nft_allow_add(nbx_nl *nl, unsigned slot, struct in_addr addr, uint32_t timeout_s,
                      nbx_error **err);
