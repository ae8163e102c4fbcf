#include "nl.h"

#include <errno.h>
#include <linux/netlink.h>
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

/* large enough for any dump message nixbox asks for (sets of a few thousand elements) */
#define NBX_NL_RECV_BUF 65536
/* longest wait for the kernel's answer to one request or batch */
#define NBX_NL_REPLY_TIMEOUT_S 10

int nbx_nl_open(nbx_nl *ret, int bus, nbx_error **err) {
        nbx_nl nl = {.bus = bus};
        nl.sock = mnl_socket_open2(bus, SOCK_CLOEXEC);
        if (!nl.sock)
                return nbx_error_set(err, errno, "open netlink socket");
        if (mnl_socket_bind(nl.sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                int e = errno;
                mnl_socket_close(nl.sock);
                return nbx_error_set(err, e, "bind netlink socket");
        }
        /* enable extended acks so the kernel can say which attribute it rejected */
        int one = 1;
        (void)mnl_socket_setsockopt(nl.sock, NETLINK_EXT_ACK, &one, sizeof(one));
        /* never wait forever for an ack: a kernel that does not answer some message of a
         * batch (older kernels do not ack batch begin/end) must become an error, not a hang */
        struct timeval tv = {.tv_sec = NBX_NL_REPLY_TIMEOUT_S};
        if (setsockopt(mnl_socket_get_fd(nl.sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
                int e = errno;
                mnl_socket_close(nl.sock);
                return nbx_error_set(err, e, "set netlink reply timeout");
        }
        nl.portid = mnl_socket_get_portid(nl.sock);
        /* a per-socket random-ish start keeps stale replies of an earlier socket from matching */
        nl.seq = (uint32_t)(uintptr_t)nl.sock ^ (uint32_t)getpid() << 8;
        *ret = nl;
        return 0;
}

void nbx_nl_close(nbx_nl *nl) {
        if (nl->sock)
                mnl_socket_close(nl->sock);
        nl->sock = NULL;
}

struct talk_state {
        uint32_t answered; /* replies seen: acks, errors, ends of dumps */
        uint32_t expect;   /* messages of the request that ask for a reply */
        int error;         /* first kernel error (negative errno), 0 when none */
        bool interrupted;  /* a dump the kernel marked inconsistent (changed while read) */
        char ext_msg[256];
        nbx_nl_cb cb;
        void *cb_data;
};

/* The first error wins: its errno and, when the kernel sent one, its extended-ack text (the
 * attributes at attrs, len bytes). */
static void record_error(struct talk_state *s, int error, const void *attrs, size_t len) {
        if (s->error)
                return;
        s->error = error; /* already negative */
        const struct nlattr *attr;
        mnl_attr_for_each_payload(attrs, len) {
                if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
                    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
                        snprintf(s->ext_msg, sizeof(s->ext_msg), "%s", mnl_attr_get_str(attr));
        }
}

static int on_error(const struct nlmsghdr *nlh, void *data) {
        struct talk_state *s = data;
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr)))
                return MNL_CB_ERROR;
        s->answered++;
        if (e->error == 0)
                return MNL_CB_OK;
        /* extended-ack attributes follow the request (or its header, when capped) */
        size_t off = sizeof(*e);
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
                off += e->msg.nlmsg_len - sizeof(e->msg);
        size_t len = mnl_nlmsg_get_payload_len(nlh);
        bool tlvs = (nlh->nlmsg_flags & NLM_F_ACK_TLVS) && off <= len;
        record_error(s, e->error, (const char *)e + off, tlvs ? len - off : 0);
        return MNL_CB_OK;
}

static int on_data(const struct nlmsghdr *nlh, void *data) {
        struct talk_state *s = data;
        return s->cb ? s->cb(nlh, s->cb_data) : MNL_CB_OK;
}

/* The end of a dump; a dump that failed half-way ends with the (negative) errno here. */
static int on_done(const struct nlmsghdr *nlh, void *data) {
        struct talk_state *s = data;
        s->answered++;
        size_t len = mnl_nlmsg_get_payload_len(nlh);
        if (len < sizeof(int))
                return MNL_CB_OK;
        int error;
        memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
        if (error < 0)
                record_error(s, error, (const char *)mnl_nlmsg_get_payload(nlh) + sizeof(int),
                             (nlh->nlmsg_flags & NLM_F_ACK_TLVS) ? len - sizeof(int) : 0);
        return MNL_CB_OK;
}

/* Messages of buf the kernel answers when all goes well. */
static uint32_t replies_expected(const void *buf, size_t len) {
        uint32_t n = 0;
        int left = (int)len;
        for (const struct nlmsghdr *h = buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
                if (h->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP))
                        n++;
        return n;
}

int nbx_nl_talk(nbx_nl *nl, const void *buf, size_t len, uint32_t first_seq, uint32_t last_seq,
                nbx_nl_cb cb, void *cb_data, const char *what, nbx_error **err) {
        struct talk_state s = {.expect = replies_expected(buf, len), .cb = cb, .cb_data = cb_data};
        mnl_cb_t ctl[NLMSG_MIN_TYPE] = {0};
        ctl[NLMSG_ERROR] = on_error;
        ctl[NLMSG_DONE] = on_done;

        if (mnl_socket_sendto(nl->sock, buf, len) < 0)
                return nbx_error_set(err, errno, "%s: send netlink request", what);

        static_assert(NBX_NL_RECV_BUF >= 8192, "netlink buffer");
        char rbuf[NBX_NL_RECV_BUF];
        for (;;) {
                /* Until every expected reply is in, wait for the next (a dump is produced while
                 * it is read); after that, or after an error (an aborted batch is answered with
                 * one error only), take only what is already queued. */
                bool drain = s.error || s.answered >= s.expect;
                ssize_t n =
                        drain ? recv(mnl_socket_get_fd(nl->sock), rbuf, sizeof(rbuf), MSG_DONTWAIT)
                              : mnl_socket_recvfrom(nl->sock, rbuf, sizeof(rbuf));
                if (n < 0 && drain && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return nbx_error_set(err, ETIMEDOUT,
                                             "%s: the kernel did not answer within %d s", what,
                                             NBX_NL_REPLY_TIMEOUT_S);
                if (n < 0)
                        return nbx_error_set(err, errno, "%s: read netlink reply", what);
                /* mnl_cb_run2 checks seq per message; a batch spans several seqs, so check the
                 * port id here and the seq range below via seq = 0 (no check) */
                const struct nlmsghdr *h = (const struct nlmsghdr *)rbuf;
                if (h->nlmsg_pid != nl->portid && h->nlmsg_pid != 0)
                        continue;
                if (h->nlmsg_seq && (h->nlmsg_seq < first_seq || h->nlmsg_seq > last_seq))
                        continue; /* stale reply to an earlier request on this socket */
                /* a dump that changed while it was produced: read it to its end all the same
                 * (libmnl would stop at the mark and leave the rest), then say so */
                int left = (int)n;
                for (struct nlmsghdr *m = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(m, left);
                     m = mnl_nlmsg_next(m, &left))
                        if (m->nlmsg_flags & NLM_F_DUMP_INTR) {
                                s.interrupted = true;
                                m->nlmsg_flags &= (uint16_t)~NLM_F_DUMP_INTR;
                        }
                int r = mnl_cb_run2(rbuf, (size_t)n, 0, nl->portid, on_data, &s, ctl,
                                    NBX_ARRAY_SIZE(ctl));
                if (r < 0 && !s.error)
                        return nbx_error_set(err, errno ? errno : EPROTO, "%s: bad netlink reply",
                                             what);
        }
        if (s.error) {
                if (s.ext_msg[0])
                        return nbx_error_set(err, -s.error, "%s (kernel: %s)", what, s.ext_msg);
                return nbx_error_set(err, -s.error, "%s", what);
        }
        if (s.interrupted)
                return nbx_error_set(err, EAGAIN,
                                     "%s: the kernel's data changed while it was read (read it "
                                     "again)",
                                     what);
        return 0;
}

int nbx_nl_talk_unless(nbx_nl *nl, const struct nlmsghdr *nlh, int answer, nbx_nl_cb cb,
                       void *cb_data, const char *what, nbx_error **err) {
        _cleanup_error_ nbx_error *e = NULL;
        int r = nbx_nl_talk(nl, nlh, nlh->nlmsg_len, nlh->nlmsg_seq, nlh->nlmsg_seq, cb, cb_data,
                            what, &e);
        if (r == -answer)
                return 1;
        if (r < 0 && err && !*err)
                *err = TAKE_PTR(e);
        return r < 0 ? r : 0;
}
