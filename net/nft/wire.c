/* nf_tables on the wire: batches, object messages, requests, the generation-guarded change and
 * what the kernel knows.  See wire.h. */
#include "wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "../../config/base/timeutil.h"

#define MSG_ROOM 16384 /* more than any single message nixbox builds */
#define GET_BUF 8192   /* one request */
/* A change is built again while other processes keep changing the ruleset in between, at once
 * the first times, then with a backoff, until this deadline. */
#define CHANGE_DEADLINE_MS 10000
#define CHANGE_QUICK_TRIES 3

NBX_DEFINE_CLEANUP(struct nftnl_table, nftnl_table_free)
NBX_DEFINE_CLEANUP(struct nftnl_chain, nftnl_chain_free)
NBX_DEFINE_CLEANUP(struct nftnl_rule, nftnl_rule_free)
NBX_DEFINE_CLEANUP(struct nftnl_set, nftnl_set_free)
NBX_DEFINE_CLEANUP(struct nftnl_set_elem, nftnl_set_elem_free)
NBX_DEFINE_CLEANUP(struct nftnl_obj, nftnl_obj_free)
NBX_DEFINE_CLEANUP(struct nftnl_gen, nftnl_gen_free)
NBX_DEFINE_CLEANUP(struct nftnl_udata_buf, nftnl_udata_buf_free)

/* ---- the batch buffer -------------------------------------------------------------------- */

void nbx_nft_batch_done(nbx_nft_batch *b) {
        free(b->buf);
        *b = (nbx_nft_batch){0};
}

int nbx_nft_batch_fail(nbx_nft_batch *b, int e) {
        if (!b->error)
                b->error = e;
        return e;
}

/* Room for the next message at b->buf + b->len; NULL after an error. */
static char *batch_room(nbx_nft_batch *b) {
        if (b->error)
                return NULL;
        if (b->sealed) {
                nbx_nft_batch_fail(b, -EINVAL); /* a message after the end: a bug */
                return NULL;
        }
        if (b->cap - b->len < MSG_ROOM) {
                size_t ncap = b->cap ? b->cap * 2 : 4 * MSG_ROOM;
                char *n = realloc(b->buf, ncap);
                if (!n) {
                        nbx_nft_batch_fail(b, -ENOMEM);
                        return NULL;
                }
                memset(n + b->cap, 0, ncap - b->cap);
                b->buf = n;
                b->cap = ncap;
        }
        return b->buf + b->len;
}

static void batch_append(nbx_nft_batch *b, struct nlmsghdr *nlh) {
        b->len += MNL_ALIGN(nlh->nlmsg_len);
        b->n_msgs++;
}

void nbx_nft_batch_start(nbx_nft_batch *b, uint16_t family, const char *table) {
        *b = (nbx_nft_batch){.family = family};
        if (snprintf(b->table, sizeof(b->table), "%s", table) >= (int)sizeof(b->table)) {
                nbx_nft_batch_fail(b, -ENAMETOOLONG);
                return;
        }
        char *p = batch_room(b);
        if (!p)
                return;
        /* Begin and end ask for no ack: kernels before 6.10 never send one for them.  The
         * generation attribute is always there (0 = no check) and filled in when sealed. */
        struct nlmsghdr *nlh = nftnl_batch_begin(p, 0);
        mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, 0);
        batch_append(b, nlh);
}

struct nlmsghdr *nbx_nft_batch_msg(nbx_nft_batch *b, uint16_t type, uint16_t flags) {
        if (!b->n_msgs) {
                nbx_nft_batch_fail(b, -EINVAL); /* not started: a bug */
                return NULL;
        }
        char *p = batch_room(b);
        if (!p)
                return NULL;
        return nftnl_nlmsg_build_hdr(p, type, b->family, flags | NLM_F_ACK, 0);
}

void nbx_nft_batch_commit(nbx_nft_batch *b, struct nlmsghdr *nlh) {
        batch_append(b, nlh);
        b->n_changes++;
}

void nbx_nft_batch_seal(nbx_nft_batch *b, uint32_t first_seq, uint32_t genid, bool dry_run) {
        if (b->error || b->sealed)
                return;
        if (!dry_run) {
                char *p = batch_room(b);
                if (!p)
                        return;
                batch_append(b, nftnl_batch_end(p, 0));
        }
        b->sealed = true;
        uint32_t seq = first_seq;
        int left = (int)b->len;
        for (struct nlmsghdr *h = (struct nlmsghdr *)b->buf; mnl_nlmsg_ok(h, left);
             h = (struct nlmsghdr *)mnl_nlmsg_next(h, &left))
                h->nlmsg_seq = seq++;
        b->first_seq = first_seq;
        b->last_seq = seq - 1;
        struct nlattr *attr;
        mnl_attr_for_each(attr, (struct nlmsghdr *)b->buf, sizeof(struct nfgenmsg)) {
                if (mnl_attr_get_type(attr) == NFNL_BATCH_GENID)
                        *(uint32_t *)mnl_attr_get_payload(attr) = htonl(genid);
        }
}

/* ---- messages ---------------------------------------------------------------------------- */

uint16_t nbx_nft_del_type(enum nbx_nft_kind kind, bool destroy) {
        switch (kind) {
        case NBX_NFT_TABLE_KIND:
                return destroy ? NFT_MSG_DESTROYTABLE : NFT_MSG_DELTABLE;
        case NBX_NFT_CHAIN:
                return destroy ? NFT_MSG_DESTROYCHAIN : NFT_MSG_DELCHAIN;
        case NBX_NFT_SET:
                return destroy ? NFT_MSG_DESTROYSET : NFT_MSG_DELSET;
        case NBX_NFT_ELEM:
                return destroy ? NFT_MSG_DESTROYSETELEM : NFT_MSG_DELSETELEM;
        case NBX_NFT_OBJ:
                return destroy ? NFT_MSG_DESTROYOBJ : NFT_MSG_DELOBJ;
        }
        return NFT_MSG_MAX; /* unreachable: the kernel refuses it */
}

static bool is_new(uint16_t type) {
        return type == NFT_MSG_NEWTABLE || type == NFT_MSG_NEWCHAIN || type == NFT_MSG_NEWSET ||
               type == NFT_MSG_NEWSETELEM || type == NFT_MSG_NEWOBJ || type == NFT_MSG_NEWRULE;
}

void nbx_nft_put_table(nbx_nft_batch *b, uint16_t type) {
        _cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
        if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, b->table) < 0) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, b->family);
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, type, is_new(type) ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_table_nlmsg_build_payload(nlh, t);
        nbx_nft_batch_commit(b, nlh);
}

void nbx_nft_put_chain(nbx_nft_batch *b, uint16_t type, const char *name,
                       const nbx_nft_hook *hook) {
        _cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
        if (!c || nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->table) < 0 ||
            nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0 ||
            (hook && nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, hook->type) < 0)) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, b->family);
        if (hook) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook->hooknum);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, hook->prio);
                nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
        }
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, type, is_new(type) ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_chain_nlmsg_build_payload(nlh, c);
        nbx_nft_batch_commit(b, nlh);
}

static void put_rule_ref(nbx_nft_batch *b, uint16_t type, const char *chain, uint64_t handle) {
        _cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
        if (!r || nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table) < 0 ||
            nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, b->family);
        if (handle)
                nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, type, 0);
        if (!nlh)
                return;
        nftnl_rule_nlmsg_build_payload(nlh, r);
        nbx_nft_batch_commit(b, nlh);
}

void nbx_nft_put_flush_chain(nbx_nft_batch *b, const char *chain) {
        put_rule_ref(b, NFT_MSG_DELRULE, chain, 0);
}

void nbx_nft_put_rule_del(nbx_nft_batch *b, uint16_t type, const char *chain, uint64_t handle) {
        if (!handle) {
                nbx_nft_batch_fail(b, -EINVAL); /* handle 0 would flush the chain */
                return;
        }
        put_rule_ref(b, type, chain, handle);
}

static struct nftnl_set *set_new(const nbx_nft_batch *b, const char *name) {
        struct nftnl_set *s = nftnl_set_alloc();
        if (!s)
                return NULL;
        if (nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table) < 0 ||
            nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0) {
                nftnl_set_free(s);
                return NULL;
        }
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, b->family);
        return s;
}

/* tell `nft list` the key is a host-order string (display only) */
static int set_ifname_udata(struct nftnl_set *s) {
        _cleanup_(nftnl_udata_buf_freep) struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);
        if (!ud || !nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1) ||
            nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
                               nftnl_udata_buf_len(ud)) < 0)
                return -ENOMEM;
        return 0;
}

void nbx_nft_put_set(nbx_nft_batch *b, const nbx_nft_set_spec *spec) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(b, spec->name);
        if (!s || (spec->key_type == NBX_NFT_TYPE_IFNAME && set_ifname_udata(s) < 0)) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        uint32_t flags = spec->flags;
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, spec->key_type);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, spec->key_len);
        if (spec->data_type == NBX_NFT_TYPE_VERDICT) {
                flags |= NFT_SET_MAP;
                nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
                nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
        }
        if (spec->timeout_ms) {
                flags |= NFT_SET_TIMEOUT;
                nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, spec->timeout_ms);
        }
        if (spec->size)
                nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, spec->size);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
        nftnl_set_set_u32(s, NFTNL_SET_ID, b->n_msgs); /* unique within the batch */
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE);
        if (!nlh)
                return;
        nftnl_set_nlmsg_build_payload(nlh, s);
        nbx_nft_batch_commit(b, nlh);
}

void nbx_nft_put_set_del(nbx_nft_batch *b, uint16_t type, const char *name) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(b, name);
        if (!s) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, type, 0);
        if (!nlh)
                return;
        if (type == NFT_MSG_DELSETELEM || type == NFT_MSG_DESTROYSETELEM)
                nftnl_set_elems_nlmsg_build_payload(nlh, s); /* no elements: all of them */
        else
                nftnl_set_nlmsg_build_payload(nlh, s);
        nbx_nft_batch_commit(b, nlh);
}

/* Hand e to s (nftnl_set_elem_add takes it). */
static void set_take_elem(struct nftnl_set *s, struct nftnl_set_elem **e) {
        nftnl_set_elem_add(s, *e);
        *e = NULL;
}

void nbx_nft_put_elem(nbx_nft_batch *b, uint16_t type, const char *set, const void *key,
                      uint32_t key_len, const char *goto_chain, uint64_t timeout_ms) {
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(b, set);
        _cleanup_(nftnl_set_elem_freep) struct nftnl_set_elem *e = nftnl_set_elem_alloc();
        if (!s || !e || nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, key_len) < 0 ||
            (goto_chain && nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, goto_chain) < 0)) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        if (goto_chain)
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_GOTO);
        if (timeout_ms)
                nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout_ms);
        set_take_elem(s, &e);
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, type, is_new(type) ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        nbx_nft_batch_commit(b, nlh);
}

void nbx_nft_put_elems(nbx_nft_batch *b, const char *set, const void *keys, uint32_t key_len,
                       size_t n) {
        if (!n)
                return;
        _cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(b, set);
        if (!s) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_(nftnl_set_elem_freep) struct nftnl_set_elem *e = nftnl_set_elem_alloc();
                if (!e || nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY,
                                             (const char *)keys + i * key_len, key_len) < 0) {
                        nbx_nft_batch_fail(b, -ENOMEM);
                        return;
                }
                set_take_elem(s, &e);
        }
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE);
        if (!nlh)
                return;
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        nbx_nft_batch_commit(b, nlh);
}

void nbx_nft_put_port_elems(nbx_nft_batch *b, const char *set, const uint16_t *ports, size_t n) {
        uint16_t be[NBX_NFT_PORT_ELEMS_MAX];
        if (n > NBX_NFT_PORT_ELEMS_MAX) {
                nbx_nft_batch_fail(b, -E2BIG);
                return;
        }
        for (size_t i = 0; i < n; i++)
                be[i] = htons(ports[i]);
        nbx_nft_put_elems(b, set, be, sizeof(be[0]), n);
}

void nbx_nft_put_counter(nbx_nft_batch *b, uint16_t type, const char *name) {
        _cleanup_(nftnl_obj_freep) struct nftnl_obj *o = nftnl_obj_alloc();
        if (o) { /* libnftnl 1.2 returns nothing: a failure shows as an unset attribute */
                nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, b->table);
                nftnl_obj_set_str(o, NFTNL_OBJ_NAME, name);
        }
        if (!o || !nftnl_obj_is_set(o, NFTNL_OBJ_TABLE) || !nftnl_obj_is_set(o, NFTNL_OBJ_NAME)) {
                nbx_nft_batch_fail(b, -ENOMEM);
                return;
        }
        nftnl_obj_set_u32(o, NFTNL_OBJ_FAMILY, b->family);
        nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
        struct nlmsghdr *nlh = nbx_nft_batch_msg(b, type, is_new(type) ? NLM_F_CREATE : 0);
        if (!nlh)
                return;
        nftnl_obj_nlmsg_build_payload(nlh, o);
        nbx_nft_batch_commit(b, nlh);
}

/* ---- talking to the kernel --------------------------------------------------------------- */

static int batch_talk(nbx_nl *nl, nbx_nft_batch *b, uint32_t genid, bool dry_run, const char *what,
                      nbx_error **err) {
        nbx_nft_batch_seal(b, nl->seq + 1, genid, dry_run);
        if (b->error)
                return nbx_error_set(err, b->error, "%s: build the nftables batch", what);
        nl->seq = b->last_seq;
        return nbx_nl_talk(nl, b->buf, b->len, b->first_seq, b->last_seq, NULL, NULL, what, err);
}

int nbx_nft_batch_send(nbx_nl *nl, nbx_nft_batch *b, uint32_t genid, const char *what,
                       nbx_error **err) {
        return batch_talk(nl, b, genid, false, what, err);
}

int nbx_nft_batch_try(nbx_nl *nl, nbx_nft_batch *b, const char *what, nbx_error **err) {
        return batch_talk(nl, b, 0, true, what, err);
}

int nbx_nft_get(nbx_nl *nl, uint16_t family, uint16_t type, uint16_t flags, nbx_nft_fill_fn fill,
                const void *arg, nbx_nl_cb cb, void *data, const char *what, nbx_error **err) {
        char buf[GET_BUF] = {0}; /* libmnl 1.0.4 leaves attribute padding as it was */
        uint32_t seq = nbx_nl_next_seq(nl);
        struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, type, family, flags | NLM_F_ACK, seq);
        if (fill)
                fill(nlh, arg);
        return nbx_nl_talk(nl, buf, nlh->nlmsg_len, seq, seq, cb, data, what, err);
}

static int on_gen(const struct nlmsghdr *nlh, void *data) {
        _cleanup_(nftnl_gen_freep) struct nftnl_gen *g = nftnl_gen_alloc();
        if (!g || nftnl_gen_nlmsg_parse(nlh, g) < 0)
                return MNL_CB_ERROR;
        *(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
        return MNL_CB_OK;
}

int nbx_nft_genid(nbx_nl *nl, uint32_t *ret, nbx_error **err) {
        uint32_t genid = 0;
        int r = nbx_nft_get(nl, NFPROTO_UNSPEC, NFT_MSG_GETGEN, 0, NULL, NULL, on_gen, &genid,
                            "nftables: read the ruleset generation", err);
        if (r < 0)
                return r;
        *ret = genid;
        return 0;
}

int nbx_nft_change(nbx_nl *nl, uint16_t family, const char *table, nbx_nft_build_fn build,
                   void *data, const char *what, nbx_error **err) {
        uint64_t deadline = nbx_deadline_in(CHANGE_DEADLINE_MS);
        nbx_backoff backoff = NBX_BACKOFF_INIT;
        for (int attempt = 1;; attempt++) {
                uint32_t genid;
                int r = nbx_nft_genid(nl, &genid, err);
                if (r < 0)
                        return nbx_error_wrap(err, "%s", what);
                _cleanup_nft_batch_ nbx_nft_batch b;
                nbx_nft_batch_start(&b, family, table);
                _cleanup_error_ nbx_error *e = NULL;
                r = build(nl, &b, data, &e);
                if (r >= 0 && !b.error && nbx_nft_batch_changes(&b) == 0)
                        return 0; /* nothing to change */
                if (r >= 0)
                        r = nbx_nft_batch_send(nl, &b, genid, what, &e);
                else
                        nbx_error_wrap(&e, "%s", what);
                /* the ruleset changed between reading and writing (ERESTART), or while build
                 * read it (EAGAIN) */
                bool changed = r == -ERESTART || r == -EAGAIN;
                if (changed &&
                    (attempt <= CHANGE_QUICK_TRIES || nbx_backoff_sleep(&backoff, deadline)))
                        continue;
                if (changed)
                        nbx_error_append(&e, " (the ruleset kept changing: %d tries in %d s)",
                                         attempt, CHANGE_DEADLINE_MS / 1000);
                return r < 0 ? nbx_nft_error_move(err, &e, r) : 0;
        }
}

/* Whether the running kernel is Linux 6.3 or later, which brought the DESTROY messages. */
static bool kernel_has_destroy(void) {
        struct utsname u;
        unsigned major = 0, minor = 0;
        if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
                return false;
        return major > 6 || (major == 6 && minor >= 3);
}

int nbx_nft_knows_destroy(nbx_nl *nl, bool *ret, nbx_error **err) {
        const char *hook = getenv("NIXBOX_NFT_NO_DESTROY");
        if (hook && strcmp(hook, "1") == 0)
                nl->nft_destroy = -1;
        if (!nl->nft_destroy && kernel_has_destroy())
                nl->nft_destroy =
                        1; /* no dry run: an aborted batch waits for an RCU grace period */
        if (!nl->nft_destroy) {
                /* An older kernel may have them backported: destroying a table that cannot exist,
                 * in a batch the kernel throws away, is acked by a kernel that knows the message;
                 * one that does not refuses the unknown type with EINVAL. */
                _cleanup_nft_batch_ nbx_nft_batch b;
                nbx_nft_batch_start(&b, NFPROTO_INET, "nixbox-probe");
                nbx_nft_put_table(&b, NFT_MSG_DESTROYTABLE);
                _cleanup_error_ nbx_error *e = NULL;
                int r = nbx_nft_batch_try(nl, &b, "nftables: does the kernel know DESTROY", &e);
                if (r < 0 && r != -EINVAL)
                        return nbx_nft_error_move(err, &e, r);
                nl->nft_destroy = r == 0 ? 1 : -1;
        }
        *ret = nl->nft_destroy > 0;
        return 0;
}
