/* Internal to net/: the one way nixbox speaks nf_tables.  A change is one nfnetlink batch in one
 * contiguous buffer (begin, messages, end), sent in one sendto, applied by the kernel whole or not
 * at all; requests (GET, dumps) are single messages.  Everything goes through the netlink helper
 * net/nl.h, so kernel errors keep their errno and extended-ack text.
 *
 * Building never fails at the call site: the first error (out of memory) sticks in the batch and
 * is reported when it is sent.  Messages are numbered when the batch is sent, so a builder may read
 * the ruleset (with requests on the same socket) while it builds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>

#include "../../config/base/error.h"
#include "../nl.h"

/* "destroy" messages (Linux >= 6.3): delete, and "already gone" is success.  Debian 12's uapi
 * headers (6.1) do not name them. */
#ifndef NFT_MSG_DESTROYTABLE
#define NFT_MSG_DESTROYTABLE 26
#define NFT_MSG_DESTROYCHAIN 27
#define NFT_MSG_DESTROYRULE 28
#define NFT_MSG_DESTROYSET 29
#define NFT_MSG_DESTROYSETELEM 30
#define NFT_MSG_DESTROYOBJ 31
#endif

/* nftables' own datatype ids (nftables src/datatype.h), so `nft list` prints sets readably and
 * dnsmasq's libnftables can parse the addresses it adds. */
#define NBX_NFT_TYPE_VERDICT 1
#define NBX_NFT_TYPE_IPADDR 7
#define NBX_NFT_TYPE_INET_SERVICE 13
#define NBX_NFT_TYPE_IFNAME 41

typedef struct nbx_nft_batch {
        char *buf;
        size_t len, cap;
        uint16_t family; /* NFPROTO_INET, NFPROTO_IPV4, ...: of every message */
        char table[NFT_TABLE_MAXNAMELEN];
        unsigned n_msgs;              /* begin and end included */
        unsigned n_changes;           /* messages besides begin and end */
        uint32_t first_seq, last_seq; /* set by nbx_nft_batch_seal */
        bool sealed;
        int error; /* first build error (negative errno) */
} nbx_nft_batch;

/* A batch for objects of table `table` in `family`: the begin message. */
void nbx_nft_batch_start(nbx_nft_batch *b, uint16_t family, const char *table);
void nbx_nft_batch_done(nbx_nft_batch *b);
static inline void nbx_nft_batch_donep(nbx_nft_batch *b) {
        nbx_nft_batch_done(b);
}
#define _cleanup_nft_batch_ _cleanup_(nbx_nft_batch_donep)
/* Messages besides begin and end. */
static inline unsigned nbx_nft_batch_changes(const nbx_nft_batch *b) {
        return b->n_changes;
}
/* Record a build error (the first one sticks); returns e. */
int nbx_nft_batch_fail(nbx_nft_batch *b, int e);
/* A message header at the end of the batch (the family is the batch's; NLM_F_ACK is added);
 * NULL after an error.  Fill its payload, then nbx_nft_batch_commit. */
struct nlmsghdr *nbx_nft_batch_msg(nbx_nft_batch *b, uint16_t type, uint16_t flags);
void nbx_nft_batch_commit(nbx_nft_batch *b, struct nlmsghdr *nlh);
/* Close the batch for sending: the end message (unless dry_run: a batch without an end is
 * checked by the kernel message by message, then thrown away), seqs first_seq.. in order, and
 * the ruleset generation it was built against (0 = any; else the kernel refuses it with ERESTART
 * when the ruleset changed since). */
void nbx_nft_batch_seal(nbx_nft_batch *b, uint32_t first_seq, uint32_t genid, bool dry_run);

/* ---- messages ---------------------------------------------------------------------------- */

/* The kinds of nf_tables object nixbox deletes, and the message that deletes one: DESTROY when
 * the kernel knows it (absent = done), else DEL (the caller deletes only what exists). */
enum nbx_nft_kind { NBX_NFT_TABLE_KIND, NBX_NFT_CHAIN, NBX_NFT_SET, NBX_NFT_ELEM, NBX_NFT_OBJ };
uint16_t nbx_nft_del_type(enum nbx_nft_kind kind, bool destroy);

/* NEWTABLE (create when absent) or a delete of the batch's table. */
void nbx_nft_put_table(nbx_nft_batch *b, uint16_t type);
/* A chain; hook NULL: a regular chain.  Base chains get policy accept. */
typedef struct nbx_nft_hook {
        uint32_t hooknum;
        int32_t prio;
        const char *type; /* "filter", "nat" */
} nbx_nft_hook;
void nbx_nft_put_chain(nbx_nft_batch *b, uint16_t type, const char *name, const nbx_nft_hook *hook);
/* Every rule of the chain (DELRULE without a handle). */
void nbx_nft_put_flush_chain(nbx_nft_batch *b, const char *chain);
/* One rule by handle. */
void nbx_nft_put_rule_del(nbx_nft_batch *b, uint16_t type, const char *chain, uint64_t handle);
/* A set: key of key_type (NBX_NFT_TYPE_*) and key_len bytes; data_type NBX_NFT_TYPE_VERDICT makes
 * it a verdict map (0: a plain set); timeout_ms != 0: elements expire (flags NFT_SET_TIMEOUT);
 * size != 0: the kernel refuses elements beyond it (also ones the datapath or dnsmasq add). */
typedef struct nbx_nft_set_spec {
        const char *name;
        uint32_t key_type, key_len;
        uint32_t data_type;
        uint32_t flags;
        uint64_t timeout_ms;
        uint32_t size;
} nbx_nft_set_spec;
void nbx_nft_put_set(nbx_nft_batch *b, const nbx_nft_set_spec *spec);
/* DELSET/DESTROYSET of a set; DELSETELEM without elements: every element of the set. */
void nbx_nft_put_set_del(nbx_nft_batch *b, uint16_t type, const char *name);
/* One element: key (+ goto chain for a verdict map, + a timeout). */
void nbx_nft_put_elem(nbx_nft_batch *b, uint16_t type, const char *set, const void *key,
                      uint32_t key_len, const char *goto_chain, uint64_t timeout_ms);
/* n elements of a plain set, keys of key_len bytes each one after the other, one message. */
void nbx_nft_put_elems(nbx_nft_batch *b, const char *set, const void *keys, uint32_t key_len,
                       size_t n);
/* Elements of an inet_service set (host-order ports), one message. */
#define NBX_NFT_PORT_ELEMS_MAX 64
void nbx_nft_put_port_elems(nbx_nft_batch *b, const char *set, const uint16_t *ports, size_t n);
/* A named counter: NEWOBJ (create when absent) or a delete. */
void nbx_nft_put_counter(nbx_nft_batch *b, uint16_t type, const char *name);

/* ---- talking to the kernel --------------------------------------------------------------- */

/* Hand a local error *e to the caller's err (when it holds none yet); returns r. */
static inline int nbx_nft_error_move(nbx_error **err, nbx_error **e, int r) {
        if (err && !*err)
                *err = TAKE_PTR(*e);
        return r;
}

/* Seal b with the socket's next seqs and the generation, send it, wait for the kernel's verdict. */
int nbx_nft_batch_send(nbx_nl *nl, nbx_nft_batch *b, uint32_t genid, const char *what,
                       nbx_error **err);
/* Let the kernel check b message by message and throw it away (no end message): nothing changes,
 * whatever b holds.  The first message it refuses is the error. */
int nbx_nft_batch_try(nbx_nl *nl, nbx_nft_batch *b, const char *what, nbx_error **err);

/* One request (a GET of one object, or a dump with NLM_F_DUMP) of `type` in `family`; fill (may
 * be NULL) writes its payload; data messages of the reply go to cb.  A dump that changed while it
 * was read is -EAGAIN (net/nl.h): its reader starts over, at most NBX_NFT_DUMP_TRIES times. */
#define NBX_NFT_DUMP_TRIES 8
typedef void (*nbx_nft_fill_fn)(struct nlmsghdr *nlh, const void *arg);
int nbx_nft_get(nbx_nl *nl, uint16_t family, uint16_t type, uint16_t flags, nbx_nft_fill_fn fill,
                const void *arg, nbx_nl_cb cb, void *data, const char *what, nbx_error **err);
/* The ruleset's generation id (changes with every committed batch of any process). */
int nbx_nft_genid(nbx_nl *nl, uint32_t *ret, nbx_error **err);

/* One user-visible change that depends on what the ruleset holds: read the generation, let build
 * read what it needs and fill the batch (started for family/table), send it guarded by that
 * generation; when another process changed the ruleset in between (the kernel refuses the batch
 * with ERESTART, or a read of build returns -EAGAIN), read and build again.  A build that adds
 * no message means there is nothing to do.  build sets err when it fails. */
typedef int (*nbx_nft_build_fn)(nbx_nl *nl, nbx_nft_batch *b, void *data, nbx_error **err);
int nbx_nft_change(nbx_nl *nl, uint16_t family, const char *table, nbx_nft_build_fn build,
                   void *data, const char *what, nbx_error **err);

/* Whether the kernel knows the DESTROY messages: yes on Linux >= 6.3 (by its release, without
 * asking: a dry run costs the kernel an RCU grace period, 10-30 ms); an older kernel is asked once
 * per socket with a dry run (a batch without an end: the kernel answers and throws it away), as a
 * distribution may have backported them.  The environment variable NIXBOX_NFT_NO_DESTROY=1
 * answers "no" without asking: the test hook that runs the path of older kernels on a new one. */
int nbx_nft_knows_destroy(nbx_nl *nl, bool *ret, nbx_error **err);
