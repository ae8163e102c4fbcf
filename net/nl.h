/* The one netlink helper every caller uses (rtnetlink for links/addresses/routes, nfnetlink for
 * nftables): a socket with its port id and a sequence counter, requests sent with NLM_F_ACK,
 * replies drained until the ack and checked against seq and port id; a kernel error becomes an
 * nbx_error carrying the kernel's own errno. */
#pragma once

#include <libmnl/libmnl.h>
#include <stdint.h>

#include "../config/base/error.h"

typedef struct nbx_nl {
        struct mnl_socket *sock;
        uint32_t portid;
        uint32_t seq;
        int bus; /* NETLINK_ROUTE or NETLINK_NETFILTER */
        /* NETLINK_NETFILTER: whether this socket's kernel knows nf_tables' DESTROY messages,
         * asked once (net/nft/wire.c): 0 not asked yet, 1 yes, -1 no (Linux < 6.3) */
        int nft_destroy;
} nbx_nl;

int nbx_nl_open(nbx_nl *ret, int bus, nbx_error **err);
void nbx_nl_close(nbx_nl *nl);
static inline void nbx_nl_closep(nbx_nl *nl) {
        nbx_nl_close(nl);
}
#define _cleanup_nl_ _cleanup_(nbx_nl_closep)

static inline uint32_t nbx_nl_next_seq(nbx_nl *nl) {
        return ++nl->seq;
}

/* Callback for data messages in a reply (may be NULL).  Return MNL_CB_OK / MNL_CB_STOP /
 * MNL_CB_ERROR as libmnl expects. */
typedef int (*nbx_nl_cb)(const struct nlmsghdr *nlh, void *data);

/* Send len bytes (one message or a whole nfnetlink batch) in one sendto and read the replies: one
 * per message of buf that asks for one (NLM_F_ACK: an ack or an error; NLM_F_DUMP: the dump up to
 * its NLMSG_DONE), plus any error the kernel reports for a message that asked for none (an
 * nfnetlink batch's begin message: a generation mismatch, a failed commit).  Replies whose seq is
 * outside [first_seq, last_seq] are stale and skipped.  The kernel answers a request while the
 * sendto runs, so once the expected replies are in, whatever else it said is already queued and
 * read without waiting.  The first kernel error wins and keeps the kernel's errno and its
 * extended-ack text.  A dump the kernel marks as changed while it was produced (NLM_F_DUMP_INTR)
 * is read to its end and then reported as -EAGAIN: the caller drops what it got and asks again.
 * what: context for the error message ("add slot 3 rules"). */
int nbx_nl_talk(nbx_nl *nl, const void *buf, size_t len, uint32_t first_seq, uint32_t last_seq,
                nbx_nl_cb cb, void *cb_data, const char *what, nbx_error **err);
/* nbx_nl_talk of one request, where the kernel's -answer (ENODEV: "no such link") is a result,
 * not an error: 1 then (err untouched), 0 when done, < 0 (err set) on any other failure. */
int nbx_nl_talk_unless(nbx_nl *nl, const struct nlmsghdr *nlh, int answer, nbx_nl_cb cb,
                       void *cb_data, const char *what, nbx_error **err);
