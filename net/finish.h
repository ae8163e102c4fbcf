/* Internal to net/: the kernel's slow clean-ups, finished by a detached process so that `up` and
 * `down` do not wait for them (docs/decisions/0011-teardown-finished-detached.md).
 *
 * Two waits protect nothing nixbox relies on:
 *   - deleting a TAP (RTM_DELLINK): the kernel unlists the device at once (its name is free, no
 *     packet reaches it), then waits for RCU grace periods before it frees it (~20 ms here) — and
 *     the request returns only after that;
 *   - the release of a netfilter netlink socket after a ruleset change: the kernel first waits
 *     until the previous ruleset's objects are freed (an RCU grace period, 10-30 ms), although
 *     the change is in force since its batch was acked.  Closing the socket, or exiting, waits.
 * The finisher is a process of its own session with no descriptors but the sockets handed to it:
 * it deletes the link and holds the last copies of the sockets until the caller is done, so the
 * waits happen there. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "../config/base/error.h"
#include "nl.h"

typedef struct nbx_finisher {
        pid_t helper;   /* the finisher's parent, gone at once: reaped by nbx_finisher_done */
        int pid_fd;     /* where the helper writes the finisher's pid */
        pid_t pid;      /* the finisher (not our child), once read; 0: not yet */
        int release_fd; /* closing it lets the finisher exit; -1: none started */
        int ifindex;    /* the link it deletes, until the kernel has unlisted it; 0: none */
        nbx_nl events;  /* hears of links deleted, while ifindex is set */
} nbx_finisher;
#define NBX_FINISHER_INIT                                                                          \
        { .helper = 0, .pid_fd = -1, .pid = 0, .release_fd = -1 }

/* Start the finisher (once: a started one is left as it is).  It keeps copies of the n_keep
 * sockets in keep and, when ifindex > 0, deletes that link: the caller may do other work, then
 * must call nbx_finisher_unlisted before it relies on the link being gone.  When no process can
 * be started, the link is deleted here and now and nothing is kept: never an error for lack of a
 * process.  Errors: deleting the link failed (the kernel's errno; a link already gone counts as
 * deleted). */
int nbx_finisher_start(nbx_finisher *f, nbx_nl *rt, int ifindex, nbx_nl *const *keep, size_t n_keep,
                       nbx_error **err);
/* Until the link the finisher deletes is gone from the namespace: the kernel's announcement, at
 * most NBX_FINISH_UNLIST_MS; when it does not come, or no finisher could be started after all, it
 * is deleted here.  0 at once when there is none. */
int nbx_finisher_unlisted(nbx_finisher *f, nbx_nl *rt, nbx_error **err);
/* The finisher's pid, 0 when it could not be started (waits for its parent's word: a fork). */
pid_t nbx_finisher_pid(nbx_finisher *f);
/* The caller has closed its own copies of the kept sockets (or is about to exit): the finisher
 * may release them and exit; its parent is reaped.  Idempotent. */
void nbx_finisher_done(nbx_finisher *f);

/* How long the caller waits for the kernel to unlist the link the finisher deletes. */
#define NBX_FINISH_UNLIST_MS 5000
