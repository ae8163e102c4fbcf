/* The finisher: a detached process that waits for the kernel's slow clean-ups.  See finish.h. */
#include "finish.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../config/base/cleanup.h"
#include "../config/base/timeutil.h"
#include "link.h"

#define MAX_KEEP 4

static int cmp_int(const void *a, const void *b) {
        return *(const int *)a - *(const int *)b;
}

/* Close every descriptor from 3 up except the sorted keep[0..n). */
static void close_all_but(int *keep, size_t n) {
        qsort(keep, n, sizeof(*keep), cmp_int);
        unsigned from = 3;
        for (size_t i = 0; i < n; i++) {
                if ((unsigned)keep[i] > from)
                        (void)close_range(from, (unsigned)keep[i] - 1, 0);
                from = (unsigned)keep[i] + 1;
        }
        (void)close_range(from, ~0u, 0);
}

/* The detached process: nothing of the caller's but the kept descriptors, no terminal. */
static __attribute__((noreturn)) void finisher_main(int ifindex, int release_fd, int *keep,
                                                    size_t n) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        (void)prctl(PR_SET_NAME, "nixbox-finish");
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int fd = 0; fd < 3 && nul >= 0; fd++)
                (void)dup2(nul, fd);
        keep[n++] = release_fd;
        close_all_but(keep, n);
        if (ifindex > 0) {
                nbx_nl rt = {0};
                if (nbx_nl_open(&rt, NETLINK_ROUTE, NULL) >= 0) {
                        /* the slow part of the deletion happens in this request */
                        (void)nbx_link_delete_index(&rt, ifindex, NULL);
                        nbx_nl_close(&rt);
                }
        }
        /* hold the sockets until the caller has closed its copies (EOF), then let them go:
         * their release, and whatever the kernel waits for then, is ours */
        char c;
        while (read(release_fd, &c, 1) < 0 && errno == EINTR)
                ;
        _exit(0);
}

/* A route socket that hears of links being deleted (RTNLGRP_LINK). */
static int link_events_open(nbx_nl *ret, nbx_error **err) {
        nbx_nl nl = {.bus = NETLINK_ROUTE};
        nl.sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!nl.sock)
                return nbx_error_set(err, errno, "open a netlink socket for link events");
        if (mnl_socket_bind(nl.sock, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
                int e = errno;
                mnl_socket_close(nl.sock);
                return nbx_error_set(err, e, "listen to link events");
        }
        *ret = nl;
        return 0;
}

/* Whether the link with that index is still in the namespace (when in doubt: yes). */
static bool link_listed(nbx_nl *rt, int ifindex) {
        char buf[64] = {0};
        nbx_link_msg(buf, rt, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK)->ifi_index = ifindex;
        return nbx_nl_talk_unless(rt, (struct nlmsghdr *)buf, ENODEV, NULL, NULL, "look up a link",
                                  NULL) != 1;
}

struct unlisted {
        int ifindex;
        bool gone;
};

static int on_link_event(const struct nlmsghdr *nlh, void *data) {
        struct unlisted *u = data;
        if (nlh->nlmsg_type == RTM_DELLINK &&
            mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct ifinfomsg) &&
            ((const struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index == u->ifindex)
                u->gone = true;
        return MNL_CB_OK;
}

/* The finisher's pid from its parent's word (-1: it could not be started). */
static pid_t read_pid(int fd) {
        pid_t pid = -1;
        ssize_t n;
        while ((n = read(fd, &pid, sizeof(pid))) < 0 && errno == EINTR)
                ;
        return n == (ssize_t)sizeof(pid) ? pid : -1;
}

/* Until the kernel announces that link ifindex is deleted (the finisher's request is then past
 * the unlisting), at most until deadline_ms: 0, or -ETIMEDOUT; -ESRCH at once when the finisher
 * could not be started.  A missed announcement (the link went before we listened, or the
 * socket's buffer overflowed) is made up for by asking whether the link still exists, after an
 * overflow and every 50 ms. */
static int wait_unlisted(nbx_finisher *f, nbx_nl *rt, uint64_t deadline_ms) {
        struct unlisted u = {.ifindex = f->ifindex};
        int fd = mnl_socket_get_fd(f->events.sock);
        char buf[8192];
        while (!u.gone) {
                uint64_t now = nbx_now_ms();
                if (now >= deadline_ms)
                        return -ETIMEDOUT;
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                                      {.fd = f->pid <= 0 ? f->pid_fd : -1, .events = POLLIN}};
                int wait = deadline_ms - now < 50 ? (int)(deadline_ms - now) : 50;
                int n = poll(p, 2, wait);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n == 0) {
                        u.gone = !link_listed(rt, u.ifindex);
                        continue;
                }
                if (p[1].revents && (f->pid = read_pid(f->pid_fd)) <= 0)
                        return -ESRCH;
                ssize_t len;
                while ((len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
                        (void)mnl_cb_run(buf, (size_t)len, 0, 0, on_link_event, &u);
                if (len < 0 && errno == ENOBUFS) /* announcements were dropped: ask */
                        u.gone = !link_listed(rt, u.ifindex);
        }
        return 0;
}

int nbx_finisher_start(nbx_finisher *f, nbx_nl *rt, int ifindex, nbx_nl *const *keep, size_t n_keep,
                       nbx_error **err) {
        if (f->release_fd >= 0) /* one finisher a bring-up or teardown: it holds the sockets */
                return ifindex > 0 ? nbx_link_delete_index(rt, ifindex, err) : 0;
        if (n_keep > MAX_KEEP)
                return nbx_error_set(err, E2BIG, "finisher: too many sockets");
        int keep_fds[MAX_KEEP + 1];
        for (size_t i = 0; i < n_keep; i++)
                keep_fds[i] = mnl_socket_get_fd(keep[i]->sock);
        /* listen before the request goes out, so its announcement cannot be missed */
        nbx_nl events = {0};
        if (ifindex > 0 && link_events_open(&events, NULL) < 0)
                return nbx_link_delete_index(rt, ifindex, err); /* cannot tell when: do it here */
        int pfd[2] = {-1, -1}, pidp[2] = {-1, -1};
        pid_t helper = -1;
        if (pipe2(pfd, O_CLOEXEC) == 0 && pipe2(pidp, O_CLOEXEC) == 0)
                helper = fork();
        if (helper == 0) {
                /* the helper: a session of its own, the finisher (which init adopts once the
                 * helper is gone), its pid to the caller, and gone */
                (void)setsid();
                pid_t gc = fork();
                if (gc == 0)
                        finisher_main(ifindex, pfd[0], keep_fds, n_keep);
                (void)!write(pidp[1], &gc, sizeof(gc));
                _exit(gc > 0 ? 0 : 1);
        }
        for (int i = 0; i < 2; i++)
                if (i == 1 || helper < 0)
                        if (pidp[i] >= 0)
                                close(pidp[i]);
        if (pfd[0] >= 0)
                close(pfd[0]);
        if (helper < 0) { /* no process: do the work here */
                if (pfd[1] >= 0)
                        close(pfd[1]);
                nbx_nl_close(&events);
                return ifindex > 0 ? nbx_link_delete_index(rt, ifindex, err) : 0;
        }
        /* not waiting for the helper: it is reaped by nbx_finisher_done */
        *f = (nbx_finisher){.helper = helper,
                            .pid_fd = pidp[0],
                            .release_fd = pfd[1],
                            .ifindex = ifindex,
                            .events = events};
        return 0;
}

pid_t nbx_finisher_pid(nbx_finisher *f) {
        if (f->pid == 0 && f->pid_fd >= 0)
                f->pid = read_pid(f->pid_fd);
        return f->pid > 0 ? f->pid : 0;
}

int nbx_finisher_unlisted(nbx_finisher *f, nbx_nl *rt, nbx_error **err) {
        if (f->ifindex <= 0)
                return 0;
        int r = wait_unlisted(f, rt, nbx_deadline_in(NBX_FINISH_UNLIST_MS));
        int idx = f->ifindex;
        f->ifindex = 0;
        nbx_nl_close(&f->events);
        /* not heard of in time, or no finisher: make sure here */
        return r < 0 ? nbx_link_delete_index(rt, idx, err) : 0;
}

void nbx_finisher_done(nbx_finisher *f) {
        nbx_nl_close(&f->events);
        if (f->release_fd >= 0)
                close(f->release_fd);
        if (f->helper > 0)
                while (waitpid(f->helper, NULL, 0) < 0 && errno == EINTR)
                        ;
        if (f->pid_fd >= 0)
                close(f->pid_fd);
        *f = (nbx_finisher)NBX_FINISHER_INIT;
}
