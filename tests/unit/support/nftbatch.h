/* Unit-test helper: an nf_tables batch (net/nft/wire.h) decoded back with libmnl and libnftnl, so
 * tests assert on what the kernel would receive. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "net/nft/wire.h"

#define NBX_TEST_NAMES 128

typedef struct nbx_test_batch {
        unsigned msgs, acked, begin, end;
        unsigned per_type[64]; /* nf_tables message types (begin and end not counted) */
        bool seq_contiguous;   /* seqs first_seq, first_seq + 1, ... */
        bool all_family;       /* every nf_tables message has the batch's family */
        uint32_t genid;        /* NFNL_BATCH_GENID of the begin message */
        bool has_genid;
        /* rules: how many in `chain`, and their expressions by kind */
        unsigned rules_in_chain;
        unsigned dynset, masq, reject, counter, objref, lookups_of_allow, cmp_total, immediate;
        char chain[32];
        /* names the messages carry: of new sets, and of deleted (DEL and DESTROY) objects */
        char set_names[NBX_TEST_NAMES][32];
        unsigned n_sets;
        char del_names[NBX_TEST_NAMES][32];
        unsigned n_dels;
        char comment[64]; /* comment of the last rule that has one */
        /* names of new chains */
        char chain_names[NBX_TEST_NAMES][32];
        unsigned n_chains;
        /* interface names: elements of slot_ifs (bit per nbx<N>), lookups of it (all chains),
         * inverted lookups (all chains), compares of a 3-byte "nbx" prefix (all chains) */
        unsigned ifset_elems;
        bool has_ifset_name[64];
        unsigned lookups_of_slot_ifs, inverted_lookups, ifprefix_cmps;
        uint32_t allow_size; /* the size of the (last) allow set created */
        /* in `chain`: meta skuid compares, and which uids */
        unsigned skuid_matches;
        bool skuid_root, skuid_1000;
        /* in `chain`: destination networks (ip daddr & mask == net, network byte order) of
         * rules that go to a refuse chain */
        struct {
                uint32_t net, mask;
        } refused[64];
        unsigned n_refused;
} nbx_test_batch;

void nbx_test_batch_decode(const nbx_nft_batch *b, const char *chain, nbx_test_batch *s);
bool nbx_test_batch_has_set(const nbx_test_batch *s, const char *name);
bool nbx_test_batch_deletes(const nbx_test_batch *s, const char *name);
bool nbx_test_batch_has_chain(const nbx_test_batch *s, const char *name);
/* A rule of `chain` sends the destination addr (network byte order) to a refuse chain. */
bool nbx_test_batch_refuses(const nbx_test_batch *s, uint32_t addr);
