/* Internal to net/: the layout of table `inet nixbox` (docs/network.md, "Egress firewall") and the
 * batches that install, replace and remove one slot.  Pure construction: nothing here talks to
 * the kernel (net/nft.c does), so the unit tests decode these batches byte for byte.
 *
 *   base chains (policy accept):  prerouting (filter, raw -300)   iifname vmap @pre_if
 *                                 input      (filter, 0)          iifname vmap @in_if
 *                                 forward    (filter, 0)          iifname vmap @fwd_if,
 *                                                                 oifname vmap @to_if
 *                                 output     (filter, 0)          oifname vmap @out_if
 *                                 postrouting (nat, srcnat 100)   ip saddr vmap @nat_src
 *   each dispatch followed by a drop of slot interfaces (set slot_ifs: exactly nbx0..nbx63)
 *   without rules; per slot s: chains pre<s> in<s> fwd<s> to<s> out<s> nat<s> refuse<s>, sets
 *   allow<s> ports<s>, counters refused<s> silent<s>, one element in each map.  When nixbox
 *   turned IPv4 forwarding on: base chain guard (forward) drops what neither enters nor leaves
 *   a slot interface. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../../config/base/error.h"
#include "../net.h"
#include "wire.h"

/* What one slot owns besides its map elements, in the order a removal deletes them: chains
 * first (their rules hold the references to the sets and counters), refuse<s> last of them (the
 * other chains jump to it). */
enum nbx_nft_slot_obj {
        NBX_NFT_PRE,
        NBX_NFT_IN,
        NBX_NFT_FWD,
        NBX_NFT_TO,
        NBX_NFT_OUT,
        NBX_NFT_NAT,
        NBX_NFT_REFUSE,
        NBX_NFT_ALLOW,
        NBX_NFT_PORTS,
        NBX_NFT_REFUSED,
        NBX_NFT_SILENT,
        NBX_NFT_SLOT_OBJS
};
/* The maps that dispatch into a slot's chains: keyed by the TAP name, nat_src by the guest
 * address (postrouting has no input interface). */
enum nbx_nft_map {
        NBX_NFT_PRE_IF,
        NBX_NFT_IN_IF,
        NBX_NFT_FWD_IF,
        NBX_NFT_TO_IF,
        NBX_NFT_OUT_IF,
        NBX_NFT_NAT_SRC,
        NBX_NFT_MAPS
};

typedef struct nbx_nft_name {
        char s[32];
} nbx_nft_name;
/* "fwd3", "allow3", ... */
nbx_nft_name nbx_nft_slot_obj_name(unsigned slot, enum nbx_nft_slot_obj o);
const char *nbx_nft_map_name(enum nbx_nft_map m);

/* What of a slot exists, read from the kernel before a change on a kernel without DESTROY (so
 * that the change deletes only what exists).  NULL where one is taken: the kernel knows DESTROY
 * and nothing needs reading. */
typedef struct nbx_nft_present {
        bool table;     /* table inet nixbox */
        uint32_t objs;  /* bit o: slot object o */
        uint32_t maps;  /* bit m: map m (the set itself) */
        uint32_t elems; /* bit m: map m holds the slot's element */
} nbx_nft_present;
/* Record a chain, set or counter named `name` of the table if it is one of slot's objects (or,
 * for sets, one of the maps). */
void nbx_nft_present_mark(nbx_nft_present *p, unsigned slot, enum nbx_nft_kind kind,
                          const char *name);

/* The slot's address is one nixbox gives out: slot in range, TAP "nbx<slot>". */
int nbx_nft_slot_check(const nbx_slot_addr *a, nbx_error **err);
/* The key of the slot's element in map m (TAP name padded to IFNAMSIZ, or the guest address). */
const void *nbx_nft_map_key(const nbx_slot_addr *a, enum nbx_nft_map m, char buf[16],
                            uint32_t *ret_len);

/* The set of slot interface names and the chain of the forwarding guard. */
#define NBX_NFT_SLOT_IFS "slot_ifs"
#define NBX_NFT_GUARD "guard"

/* Add to a started batch: install or replace the slot, creating the table, base chains, maps and
 * slot_ifs when absent and refilling the base chains.  present: see above (only the counters are
 * read from it). */
typedef struct nbx_nft_slot_opts {
        bool fresh;        /* install: the allow set emptied, the counters reset */
        bool keep_allowed; /* replace: the allow set's elements kept (only while filtered) */
        bool guard;        /* create the forwarding guard (kept once there, until the table goes) */
} nbx_nft_slot_opts;
int nbx_nft_batch_slot(nbx_nft_batch *b, const nbx_slot_addr *a, const nbx_net_policy *policy,
                       const nbx_nft_slot_opts *o, const nbx_nft_present *present, nbx_error **err);
/* Add to a started batch: remove the slot (whole_table: the table with everything in it). */
int nbx_nft_batch_slot_del(nbx_nft_batch *b, const nbx_slot_addr *a, bool whole_table,
                           const nbx_nft_present *present, nbx_error **err);
