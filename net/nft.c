/* The egress firewall's operations: each user-visible change is one batch built by
 * net/nft/ruleset.c and sent through net/nft/wire.c; the few reads (map keys, counters, the allow
 * set, what exists on kernels without DESTROY) parse the kernel's replies with libnftnl. */
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/chain.h>
#include <libnftnl/object.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "nft/ruleset.h"
#include "nft/wire.h"

/* the largest set nixbox reads back: the allow set's size */
#define ALLOW_MAX NBX_NFT_ALLOW_MAX
#define PROBE_TABLE "nixbox-probe"

NBX_DEFINE_CLEANUP(struct nftnl_table, nftnl_table_free)
NBX_DEFINE_CLEANUP(struct nftnl_chain, nftnl_chain_free)
NBX_DEFINE_CLEANUP(struct nftnl_set, nftnl_set_free)
NBX_DEFINE_CLEANUP(struct nftnl_obj, nftnl_obj_free)

uint32_t nbx_nft_dns_ttl_cap(uint32_t allow_timeout_s) {
        uint32_t t = allow_timeout_s ? allow_timeout_s : NBX_NFT_ALLOW_TIMEOUT_S;
        return NBX_NFT_DNS_TTL_CAP(t);
}

void nbx_nft_dnsmasq_nftset(unsigned slot, char ret[64]) {
        nbx_nft_name set = nbx_nft_slot_obj_name(slot, NBX_NFT_ALLOW);
        snprintf(ret, 64, "4#inet#%s#%s", NBX_NFT_TABLE, set.s);
}

static int check_slot_nr(unsigned slot, nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "nftables: slot %u out of range (0..%u)", slot,
                                     NBX_SLOTS - 1);
        return 0;
}

/* ---- reading the table -------------------------------------------------------------------- */

static void fill_table(struct nlmsghdr *nlh, const void *arg) {
        (void)arg;
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
        if (t && nftnl_table_set_str(t, NFTNL_TABLE_NAME, NBX_NFT_TABLE) == 0)
                nftnl_table_nlmsg_build_payload(nlh, t);
}

/* A set's elements: set names the set (filled into the request); keys collects the keys. */
struct elems {
        const char *set;
        unsigned char (*keys)[IFNAMSIZ];
        uint32_t *lens;
        size_t n, cap;
        int error;
};

static void fill_set(struct nlmsghdr *nlh, const void *arg) {
        const struct elems *st = arg;
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc();
        if (s && nftnl_set_set_str(s, NFTNL_SET_TABLE, NBX_NFT_TABLE) == 0 &&
            nftnl_set_set_str(s, NFTNL_SET_NAME, st->set) == 0)
                nftnl_set_elems_nlmsg_build_payload(nlh, s);
}

static int on_elem(struct nftnl_set_elem *e, void *data) {
        struct elems *st = data;
        uint32_t len = 0;
        const void *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
        if (!k || !len || len > IFNAMSIZ)
                return 0;
        if (st->n == st->cap) {
                size_t ncap = st->cap ? st->cap * 2 : 64;
                if (ncap > ALLOW_MAX) {
                        st->error = -E2BIG;
                        return -1;
                }
                void *nk = reallocarray(st->keys, ncap, sizeof(*st->keys));
                if (nk)
                        st->keys = nk;
                void *nl = nk ? reallocarray(st->lens, ncap, sizeof(*st->lens)) : NULL;
                if (!nl) {
                        st->error = -ENOMEM;
                        return -1;
                }
                st->lens = nl;
                st->cap = ncap;
        }
        memset(st->keys[st->n], 0, IFNAMSIZ);
        memcpy(st->keys[st->n], k, len);
        st->lens[st->n++] = len;
        return 0;
}

static int on_elems(const struct nlmsghdr *nlh, void *data) {
        struct elems *st = data;
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = nftnl_set_alloc();
        if (!s || nftnl_set_elems_nlmsg_parse(nlh, s) < 0)
                return MNL_CB_ERROR;
        (void)nftnl_set_elem_foreach(s, on_elem, st);
        return st->error ? MNL_CB_ERROR : MNL_CB_OK;
}

static void elems_done(struct elems *st) {
        free(st->keys);
        free(st->lens);
}

/* The keys of set `set` of table inet nixbox; -ENOENT (err set) when the table or set is absent. */
static int dump_elems(nbx_nl *nl, const char *set, struct elems *ret, nbx_error **err) {
        char what[96];
        snprintf(what, sizeof(what), "nftables: list set %s", set);
        for (int attempt = 1;; attempt++) {
                struct elems st = {.set = set};
                _cleanup_error_ nbx_error *e = NULL;
                int r = nbx_nft_get(nl, NFPROTO_INET, NFT_MSG_GETSETELEM, NLM_F_DUMP, fill_set, &st,
                                    on_elems, &st, what, &e);
                if (r >= 0 && st.error)
                        r = nbx_error_set(&e, st.error, "%s", what);
                if (r >= 0) {
                        *ret = st;
                        return 0;
                }
                elems_done(&st);
                if (r == -EAGAIN && attempt < NBX_NFT_DUMP_TRIES)
                        continue; /* the set changed while it was read */
                return nbx_nft_error_move(err, &e, r);
        }
}

static bool has_key(const struct elems *st, const void *key, uint32_t len) {
        for (size_t i = 0; i < st->n; i++)
                if (st->lens[i] == len && memcmp(st->keys[i], key, len) == 0)
                        return true;
        return false;
}

/* Chains, sets and counters of the table that are the slot's (dumped per family, filtered by
 * table name here: every kernel from 5.15 on answers these dumps the same way). */
struct names_scan {
        nbx_nft_present *present;
        unsigned slot;
        enum nbx_nft_kind kind;
};

static int on_named(const struct nlmsghdr *nlh, void *data) {
        struct names_scan *ns = data;
        const char *table = NULL, *name = NULL;
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = NULL;
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = NULL;
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = NULL;
        if (ns->kind == NBX_NFT_CHAIN) {
                if (!(c = nftnl_chain_alloc()) || nftnl_chain_nlmsg_parse(nlh, c) < 0)
                        return MNL_CB_ERROR;
                table = nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE);
                name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
        } else if (ns->kind == NBX_NFT_SET) {
                if (!(s = nftnl_set_alloc()) || nftnl_set_nlmsg_parse(nlh, s) < 0)
                        return MNL_CB_ERROR;
                table = nftnl_set_get_str(s, NFTNL_SET_TABLE);
                name = nftnl_set_get_str(s, NFTNL_SET_NAME);
        } else {
                if (!(o = nftnl_obj_alloc()) || nftnl_obj_nlmsg_parse(nlh, o) < 0)
                        return MNL_CB_ERROR;
                table = nftnl_obj_get_str(o, NFTNL_OBJ_TABLE);
                name = nftnl_obj_get_str(o, NFTNL_OBJ_NAME);
        }
        if (table && name && strcmp(table, NBX_NFT_TABLE) == 0)
                nbx_nft_present_mark(ns->present, ns->slot, ns->kind, name);
        return MNL_CB_OK;
}

static int scan_names(nbx_nl *nl, unsigned slot, enum nbx_nft_kind kind, nbx_nft_present *p,
                      nbx_error **err) {
        static const uint16_t get[] = {[NBX_NFT_CHAIN] = NFT_MSG_GETCHAIN,
                                       [NBX_NFT_SET] = NFT_MSG_GETSET,
                                       [NBX_NFT_OBJ] = NFT_MSG_GETOBJ};
        struct names_scan ns = {.present = p, .slot = slot, .kind = kind};
        return nbx_nft_get(nl, NFPROTO_INET, get[kind], NLM_F_DUMP, NULL, NULL, on_named, &ns,
                           "nftables: list the nixbox table", err);
}

/* Whether table inet nixbox exists. */
static int table_exists(nbx_nl *nl, bool *ret, nbx_error **err) {
        _cleanup_error_ nbx_error *e = NULL;
        int r = nbx_nft_get(nl, NFPROTO_INET, NFT_MSG_GETTABLE, 0, fill_table, NULL, NULL, NULL,
                            "nftables: look for table inet " NBX_NFT_TABLE, &e);
        if (r < 0 && r != -ENOENT)
                return nbx_nft_error_move(err, &e, r);
        *ret = r == 0;
        return 0;
}

/* ---- changes ------------------------------------------------------------------------------ */

struct slot_change {
        const nbx_slot_addr *a;
        const nbx_net_policy *policy;
        nbx_nft_slot_opts opts;
        bool destroy; /* the kernel knows DESTROY */
};

/* Install or replace.  Only a fresh install deletes something (the slot's old counters): on a
 * kernel without DESTROY it reads first which of them exist. */
static int build_slot(nbx_nl *nl, nbx_nft_batch *b, void *data, nbx_error **err) {
        struct slot_change *c = data;
        nbx_nft_present present = {0};
        bool read_first = c->opts.fresh && !c->destroy;
        if (read_first) {
                int r = table_exists(nl, &present.table, err);
                if (r >= 0 && present.table)
                        r = scan_names(nl, c->a->slot, NBX_NFT_OBJ, &present, err);
                if (r < 0)
                        return r;
        }
        return nbx_nft_batch_slot(b, c->a, c->policy, &c->opts, read_first ? &present : NULL, err);
}

static int slot_apply(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *p,
                      const nbx_nft_slot_opts *opts, nbx_error **err) {
        int r = nbx_nft_slot_check(a, err);
        if (r < 0)
                return r;
        bool fresh = opts->fresh;
        struct slot_change c = {.a = a, .policy = p, .opts = *opts};
        if (fresh && (r = nbx_nft_knows_destroy(nl, &c.destroy, err)) < 0)
                return r;
        char what[96];
        snprintf(what, sizeof(what), "nftables: %s slot %u rules", fresh ? "install" : "update",
                 a->slot);
        if (fresh && !c.destroy) /* reads first: guarded by the generation */
                return nbx_nft_change(nl, NFPROTO_INET, NBX_NFT_TABLE, build_slot, &c, what, err);
        _cleanup_nft_batch_ nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_INET, NBX_NFT_TABLE);
        r = build_slot(nl, &b, &c, err);
        if (r < 0)
                return nbx_error_wrap(err, "%s", what);
        return nbx_nft_batch_send(nl, &b, 0, what, err);
}

int nbx_nft_slot_add(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy, bool guard,
                     nbx_error **err) {
        return slot_apply(nl, a, policy, &(nbx_nft_slot_opts){.fresh = true, .guard = guard}, err);
}

int nbx_nft_slot_update(nbx_nl *nl, const nbx_slot_addr *a, const nbx_net_policy *policy,
                        bool keep_allowed, bool guard, nbx_error **err) {
        return slot_apply(nl, a, policy,
                          &(nbx_nft_slot_opts){.keep_allowed = keep_allowed, .guard = guard}, err);
}

static void fill_guard(struct nlmsghdr *nlh, const void *arg) {
        (void)arg;
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (c && nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NBX_NFT_TABLE) == 0 &&
            nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, NBX_NFT_GUARD) == 0)
                nftnl_chain_nlmsg_build_payload(nlh, c);
}

int nbx_nft_guard_present(nbx_nl *nl, bool *ret, nbx_error **err) {
        _cleanup_error_ nbx_error *e = NULL;
        int r = nbx_nft_get(nl, NFPROTO_INET, NFT_MSG_GETCHAIN, 0, fill_guard, NULL, NULL, NULL,
                            "nftables: look for the forwarding guard", &e);
        if (r < 0 && r != -ENOENT)
                return nbx_nft_error_move(err, &e, r);
        *ret = r == 0;
        return 0;
}

/* What of the slot exists, on a kernel without DESTROY; *ret_other: another slot's element is
 * in in_if (the table serves others). */
static int read_present(nbx_nl *nl, const nbx_slot_addr *a, nbx_nft_present *p, bool *ret_other,
                        nbx_error **err) {
        int r = table_exists(nl, &p->table, err);
        if (r < 0 || !p->table)
                return r;
        const enum nbx_nft_kind kinds[] = {NBX_NFT_CHAIN, NBX_NFT_SET, NBX_NFT_OBJ};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(kinds); i++)
                if ((r = scan_names(nl, a->slot, kinds[i], p, err)) < 0)
                        return r;
        for (int m = 0; m < NBX_NFT_MAPS; m++) {
                if (!(p->maps & (1u << m)))
                        continue;
                struct elems st;
                r = dump_elems(nl, nbx_nft_map_name((enum nbx_nft_map)m), &st, err);
                if (r < 0)
                        return r;
                char buf[IFNAMSIZ];
                uint32_t len;
                const void *key = nbx_nft_map_key(a, (enum nbx_nft_map)m, buf, &len);
                if (has_key(&st, key, len))
                        p->elems |= 1u << m;
                if (m == NBX_NFT_IN_IF)
                        *ret_other = st.n > (has_key(&st, key, len) ? 1u : 0u);
                elems_done(&st);
        }
        return 0;
}

static int build_del(nbx_nl *nl, nbx_nft_batch *b, void *data, nbx_error **err) {
        struct slot_change *c = data;
        bool other = false;
        if (!c->destroy) {
                nbx_nft_present present = {0};
                int r = read_present(nl, c->a, &present, &other, err);
                if (r < 0)
                        return r;
                return nbx_nft_batch_slot_del(b, c->a, !other, &present, err);
        }
        /* which slots does the table still serve? (the input map has one key per slot) */
        struct elems st;
        _cleanup_error_ nbx_error *e = NULL;
        int r = dump_elems(nl, nbx_nft_map_name(NBX_NFT_IN_IF), &st, &e);
        if (r < 0 && r != -ENOENT)
                return nbx_nft_error_move(err, &e, r);
        if (r == 0) {
                char buf[IFNAMSIZ];
                uint32_t len;
                const void *key = nbx_nft_map_key(c->a, NBX_NFT_IN_IF, buf, &len);
                other = st.n > (has_key(&st, key, len) ? 1u : 0u);
                elems_done(&st);
        }
        /* no table or no map: destroying the whole table is right (and a no-op when absent) */
        return nbx_nft_batch_slot_del(b, c->a, !other, NULL, err);
}

int nbx_nft_slot_del(nbx_nl *nl, const nbx_slot_addr *a, nbx_error **err) {
        int r = nbx_nft_slot_check(a, err);
        if (r < 0)
                return r;
        struct slot_change c = {.a = a};
        r = nbx_nft_knows_destroy(nl, &c.destroy, err);
        if (r < 0)
                return r;
        char what[96];
        snprintf(what, sizeof(what), "nftables: remove slot %u rules", a->slot);
        return nbx_nft_change(nl, NFPROTO_INET, NBX_NFT_TABLE, build_del, &c, what, err);
}

/* ---- reading a slot ----------------------------------------------------------------------- */

int nbx_nft_allow_list(nbx_nl *nl, unsigned slot, struct in_addr **ret, size_t *ret_n,
                       nbx_error **err) {
        int r = check_slot_nr(slot, err);
        if (r < 0)
                return r;
        struct elems st;
        r = dump_elems(nl, nbx_nft_slot_obj_name(slot, NBX_NFT_ALLOW).s, &st, err);
        if (r < 0)
                return r;
        _cleanup_free_ struct in_addr *v = st.n ? calloc(st.n, sizeof(*v)) : NULL;
        if (st.n && !v) {
                elems_done(&st);
                return nbx_error_set(err, ENOMEM, "nftables: allow set of slot %u", slot);
        }
        size_t n = 0;
        for (size_t i = 0; i < st.n; i++) {
                if (st.lens[i] != sizeof(in_addr_t))
                        continue;
                memcpy(&v[n].s_addr, st.keys[i], sizeof(in_addr_t));
                n++;
        }
        elems_done(&st);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

static void fill_obj(struct nlmsghdr *nlh, const void *arg) {
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = nftnl_obj_alloc();
        if (!o)
                return;
        /* libnftnl 1.2 returns nothing here: an allocation failure shows as an unset name */
        nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, NBX_NFT_TABLE);
        nftnl_obj_set_str(o, NFTNL_OBJ_NAME, arg);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        nftnl_obj_nlmsg_build_payload(nlh, o);
}

static int on_obj(const struct nlmsghdr *nlh, void *data) {
        uint64_t *v = data;
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = nftnl_obj_alloc();
        if (!o || nftnl_obj_nlmsg_parse(nlh, o) < 0)
                return MNL_CB_ERROR;
        v[0] = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS);
        v[1] = nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES);
        return MNL_CB_OK;
}

int nbx_nft_slot_counters(nbx_nl *nl, unsigned slot, nbx_net_counters *ret, nbx_error **err) {
        int r = check_slot_nr(slot, err);
        if (r < 0)
                return r;
        nbx_nft_name refused = nbx_nft_slot_obj_name(slot, NBX_NFT_REFUSED);
        nbx_nft_name silent = nbx_nft_slot_obj_name(slot, NBX_NFT_SILENT);
        uint64_t vr[2] = {0}, vs[2] = {0};
        r = nbx_nft_get(nl, NFPROTO_INET, NFT_MSG_GETOBJ, 0, fill_obj, refused.s, on_obj, vr,
                        "nftables: read the refusal counter", err);
        if (r >= 0)
                r = nbx_nft_get(nl, NFPROTO_INET, NFT_MSG_GETOBJ, 0, fill_obj, silent.s, on_obj, vs,
                                "nftables: read the drop counter", err);
        if (r < 0)
                return r;
        *ret = (nbx_net_counters){.dropped_packets = vr[0] + vs[0],
                                  .dropped_bytes = vr[1] + vs[1],
                                  .silent_packets = vs[0],
                                  .silent_bytes = vs[1]};
        return 0;
}

/* ---- what the kernel offers --------------------------------------------------------------- */

int nbx_nft_probe(nbx_nft_support *ret, nbx_error **err) {
        _cleanup_nl_ nbx_nl nl = {0};
        int r = nbx_nl_open(&nl, NETLINK_NETFILTER, err);
        uint32_t genid;
        if (r >= 0)
                r = nbx_nft_genid(&nl, &genid, err);
        nbx_nft_support s = {0};
        if (r >= 0)
                r = nbx_nft_knows_destroy(&nl, &s.destroy, err);
        if (r < 0)
                return r;
        /* one filtered slot, the mode that uses every feature, into a scratch table */
        nbx_slot_addr a;
        nbx_pool pool = {.base.s_addr = htonl(0xac100000)};
        r = nbx_slot_addr_derive(&pool, 0, &a, err);
        if (r < 0)
                return r;
        static const uint16_t ports[] = {443};
        nbx_net_policy p = {
                .mode = NBX_NET_FILTERED, .ports = ports, .n_ports = 1, .owner_uid = 1000};
        nbx_nft_present none = {0};
        _cleanup_nft_batch_ nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_INET, PROBE_TABLE);
        r = nbx_nft_batch_slot(&b, &a, &p, &(nbx_nft_slot_opts){.fresh = true, .guard = true},
                               s.destroy ? NULL : &none, err);
        if (r >= 0)
                r = nbx_nft_batch_try(&nl, &b, "nftables: dry run of a slot's rules", err);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}
