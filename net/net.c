/* A slot's network, put together: TAP (link.c), firewall (nft.c), dnsmasq (dnsmasq.c), in an
 * order that never lets a packet through before the slot's rules are in place, and undone in
 * reverse on any failure.  What slots share on the host — the table's base, IPv4 forwarding and
 * its guard, Docker's accept rules — changes under one lock (<runtime>/net.lock), so an `up`
 * never races a `down` or `reload` on them.
 *
 * Slot folder <runtime>/slots/<s>/: policy.json (what net show prints), dnsmasq.conf/.json/.pid/
 * .err/.log(.1)/.leases. */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/base/fsutil.h"
#include "../config/base/timeutil.h"
#include "dnsmasq.h"
#include "docker.h"
#include "finish.h"
#include "info.h"
#include "link.h"
#include "nft.h"
#include "nl.h"

#define NET_LOCK "net.lock"
/* longer than any bring-up: dnsmasq's readiness is the slow part (NBX_DNSMASQ_READY_MS) */
#define NET_LOCK_TIMEOUT_MS 60000

/* The host-wide network lock; *ret_fd holds it. */
static int lock_net(const char *runtime_dir, int *ret_fd, nbx_error **err) {
        int r = nbx_mkdir_p(runtime_dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = nbx_path_join(runtime_dir, NET_LOCK);
        if (!path)
                return nbx_error_set(err, ENOMEM, "network lock");
        return nbx_lock_file(path, nbx_deadline_in(NET_LOCK_TIMEOUT_MS),
                             "another nixbox is changing the host's network", ret_fd, err);
}

static int derive(const char *runtime_dir, const nbx_pool *pool, unsigned slot,
                  nbx_slot_addr *ret_a, char **ret_dir, nbx_error **err) {
        int r = nbx_slot_addr_derive(pool, slot, ret_a, err);
        if (r < 0)
                return r;
        *ret_dir = nbx_slot_dir(runtime_dir, slot);
        return *ret_dir ? 0 : nbx_error_set(err, ENOMEM, "slot folder");
}

/* Tear down in the order that keeps the slot closed: the TAP gone first (no packet can arrive),
 * then the rules; dnsmasq is stopped meanwhile.  The finisher (net/finish.h), started here,
 * deletes the TAP — the kernel unlists it at once and frees it ~20 ms later, which nobody waits
 * for — and later takes the release of the netfilter socket.  When the TAP cannot be deleted the
 * rules stay.  Every step runs; the first error is returned. */
static int down_steps(nbx_nl *rt, nbx_nl *nf, nbx_finisher *fin, const nbx_slot_addr *a,
                      const char *slot_dir, bool remove_files, nbx_error **err) {
        int ret = 0;
        int idx = 0;
        int r = nbx_link_index(rt, a->tap, &idx, err);
        /* down first (nothing more enters; a down TAP refuses its fd's writes): the deletion
         * then skips closing it, and unlists it sooner */
        if (r >= 0 && idx > 0)
                (void)nbx_link_set_up(rt, a->tap, false, NULL);
        if (r >= 0 && idx > 0)
                r = nbx_finisher_start(fin, rt, idx, (nbx_nl *[]){nf}, 1, err);
        bool tap_gone = r >= 0;
        if (r < 0)
                ret = r;
        r = nbx_dnsmasq_stop(slot_dir, err);
        if (r < 0 && ret == 0)
                ret = r;
        if (tap_gone) {
                r = nbx_finisher_unlisted(fin, rt, err);
                tap_gone = r >= 0;
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (tap_gone) {
                r = nbx_nft_slot_del(nf, a, err);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        if (remove_files && ret == 0) {
                r = nbx_rm_rf(slot_dir, err);
                if (r < 0)
                        ret = r;
        }
        return ret;
}

/* The end of a change of the ruleset: the netfilter socket is closed here, its release (which
 * waits for the kernel to free the old ruleset) left to the finisher. */
static void finish(nbx_nl *nf, nbx_finisher *fin) {
        if (nf->sock)
                (void)nbx_finisher_start(fin, NULL, 0, (nbx_nl *[]){nf}, 1, NULL);
        nbx_nl_close(nf);
        nbx_finisher_done(fin);
}

/* Whether this change must create the forwarding guard: the mode forwards and the host does not
 * forward yet (nixbox will turn it on; a guard nixbox made earlier is still in the table). */
static int want_guard(enum nbx_net_mode mode, bool *ret, nbx_error **err) {
        bool on = true;
        if (mode != NBX_NET_OFF) {
                int r = nbx_link_ip_forward_get(&on, err);
                if (r < 0)
                        return r;
        }
        *ret = !on;
        return 0;
}

/* Forwarding on and Docker's accepts, for a mode that forwards (after the rules, guard
 * included, are in place). */
static int forwarding_on(nbx_nl *nf, enum nbx_net_mode mode, nbx_error **err) {
        if (mode == NBX_NET_OFF)
                return 0;
        int r = nbx_link_ip_forward_set(true, err);
        return r < 0 ? r : nbx_docker_ensure(nf, err);
}

/* After a slot is gone: what the last slot takes with it — Docker's accepts, and forwarding
 * when nixbox had turned it on (its guard went with the table). */
static int last_slot_gone(nbx_nl *rt, nbx_nl *nf, bool guarded, nbx_error **err) {
        uint64_t slots = 0;
        int r = nbx_link_slots_present(rt, &slots, err);
        if (r < 0 || slots)
                return r;
        r = nbx_docker_remove(nf, err);
        bool guard_left = false;
        if (r >= 0 && guarded)
                r = nbx_nft_guard_present(nf, &guard_left, err);
        if (r >= 0 && guarded && !guard_left)
                r = nbx_link_ip_forward_set(false, err);
        return r;
}

/* A bring-up between its two halves: what nbx_net_up_end needs, and what it releases. */
struct nbx_net_pending {
        nbx_nl rt, nf;
        nbx_finisher fin;
        nbx_slot_addr a;
        nbx_slot_addr_text t;
        char *runtime_dir;
        char *dir;
        enum nbx_net_mode mode;
        bool guard; /* this bring-up created the forwarding guard */
        nbx_dnsmasq_proc dm;
};

/* Close the sockets (the netfilter one's release to the finisher) and free. */
static void pending_free(nbx_net_pending *pd) {
        finish(&pd->nf, &pd->fin);
        nbx_nl_close(&pd->rt);
        free(pd->runtime_dir);
        free(pd->dir);
        free(pd);
}

/* Undo what the first half did (stage 1: the rules are in; 2: the TAP too, and forwarding may
 * be on), in the order that keeps the slot closed; the error says which slot.  The caller holds
 * the network lock. */
static int undo(nbx_net_pending *pd, int stage, nbx_error **err) {
        if (stage >= 2)
                (void)nbx_link_delete(&pd->rt, pd->a.tap, NULL); /* TAP first: fail closed */
        if (stage >= 1) {
                (void)nbx_nft_slot_del(&pd->nf, &pd->a, NULL);
                /* forwarding back off (and Docker's accepts gone) if it was ours */
                (void)last_slot_gone(&pd->rt, &pd->nf, pd->guard, NULL);
        }
        (void)nbx_rm_rf(pd->dir, NULL);
        return nbx_error_wrap(err, "bring up network slot %u (%s, %s/30)", pd->a.slot, pd->a.tap,
                              pd->t.network);
}

/* Steps 0-4 of bring-up, under the network lock; on failure what was done is undone. */
static int up_first_half(const nbx_net_params *p, nbx_net_pending *pd, nbx_error **err) {
        /* 0. what a crashed earlier run of this slot left behind: bring-up makes the slot folder
         * before anything else and teardown removes it last, so without it and without a TAP
         * there is nothing (and nothing of the other slots is read) */
        int idx = 0;
        int r = nbx_link_index(&pd->rt, pd->a.tap, &idx, err);
        if (r >= 0 && (idx > 0 || nbx_is_dir(pd->dir)))
                r = down_steps(&pd->rt, &pd->nf, &pd->fin, &pd->a, pd->dir, true, err);
        if (r < 0)
                return nbx_error_wrap(err, "clear leftovers of network slot %u", pd->a.slot);
        /* 1. the subnet must be ours alone; the slot folder (dnsmasq, once it runs as nobody,
         * reopens its log there: 0711) */
        r = nbx_link_route_overlap_check(&pd->rt, pd->a.network, pd->a.prefix_len, NULL, err);
        if (r >= 0)
                r = nbx_mkdir_p(pd->dir, 0711, err);
        if (r >= 0)
                r = want_guard(p->policy.mode, &pd->guard, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", pd->a.slot);
        /* 2. the slot's rules (with the guard, before forwarding goes on), one batch, before
         * the TAP exists: its packets meet them from the first one on */
        r = nbx_nft_slot_add(&pd->nf, &pd->a, &p->policy, pd->guard, err);
        if (r < 0)
                return undo(pd, 0, err);
        /* 3. the TAP, IPv6 off, up, then its address: its routes and address appear in one go,
         * so the other slots' dnsmasqs (which hear of every address and route change) wake up
         * once for this bring-up, not twice.  Up without an address or a hypervisor nothing
         * flows, and the rules are there.  Then forwarding and Docker's accepts (once the TAP
         * exists, a teardown of the last other slot keeps them). */
        r = nbx_link_tap_create(pd->a.tap, p->tap_owner, p->tap_group, p->multi_queue, err);
        if (r < 0)
                return undo(pd, 1, err);
        r = nbx_link_ipv6_disable(pd->a.tap, err);
        if (r >= 0)
                r = nbx_link_set_up(&pd->rt, pd->a.tap, true, err);
        if (r >= 0)
                r = nbx_link_addr_add(&pd->rt, pd->a.tap, pd->a.host_ip, pd->a.prefix_len,
                                      pd->a.broadcast, err);
        if (r >= 0)
                r = forwarding_on(&pd->nf, p->policy.mode, err);
        /* 4. dnsmasq, started on the host address: it answers a few ms later */
        if (r >= 0)
                r = nbx_net_policy_write(pd->dir, &pd->a, &p->policy, err);
        if (r >= 0)
                r = nbx_dnsmasq_spawn(&pd->a, &p->policy, pd->dir, &pd->dm, err);
        return r < 0 ? undo(pd, 2, err) : 0;
}

int nbx_net_up_begin(const nbx_net_params *p, nbx_net_pending **ret, nbx_error **err) {
        nbx_net_pending *pd = calloc(1, sizeof(*pd));
        if (!pd)
                return nbx_error_set(err, ENOMEM, "network slot %u", p->slot);
        pd->fin = (nbx_finisher)NBX_FINISHER_INIT;
        pd->mode = p->policy.mode;
        pd->runtime_dir = strdup(p->runtime_dir);
        int r = pd->runtime_dir ? 0 : nbx_error_set(err, ENOMEM, "network slot %u", p->slot);
        if (r >= 0)
                r = derive(p->runtime_dir, &p->pool, p->slot, &pd->a, &pd->dir, err);
        if (r >= 0) {
                nbx_slot_addr_str(&pd->a, &pd->t);
                r = nbx_nl_open(&pd->rt, NETLINK_ROUTE, err);
        }
        if (r >= 0)
                r = nbx_nl_open(&pd->nf, NETLINK_NETFILTER, err);
        /* the finisher before anything changes: started on a quiet host, it costs the least
         * (every change below wakes every other slot's dnsmasq) */
        if (r >= 0)
                r = nbx_finisher_start(&pd->fin, &pd->rt, 0, (nbx_nl *[]){&pd->nf}, 1, err);
        /* what slots share (guard, forwarding, Docker's accepts) changes under the lock; the
         * second half only waits for dnsmasq and needs it again only to undo */
        _cleanup_close_ int lock = -1;
        if (r >= 0)
                r = lock_net(p->runtime_dir, &lock, err);
        if (r < 0)
                nbx_error_wrap(err, "network slot %u", p->slot);
        else
                r = up_first_half(p, pd, err);
        if (r < 0) {
                pending_free(pd);
                return r;
        }
        *ret = pd;
        return 0;
}

int nbx_net_up_end(nbx_net_pending *pd, nbx_error **err) {
        /* 5. dnsmasq answering (it is stopped when it does not): the hypervisor may attach */
        nbx_net_policy mode_only = {.mode = pd->mode};
        int r = nbx_dnsmasq_wait_ready(&pd->a, &mode_only, pd->dir, &pd->dm,
                                       nbx_deadline_in(NBX_DNSMASQ_READY_MS), err);
        if (r < 0) {
                /* undone under the lock (what slots share may change); without it when it
                 * cannot be had, which the error then says */
                _cleanup_close_ int lock = -1;
                bool locked = lock_net(pd->runtime_dir, &lock, NULL) >= 0;
                r = undo(pd, 2, err);
                if (!locked)
                        nbx_error_wrap(err, "undone without the network lock (%s/%s)",
                                       pd->runtime_dir, NET_LOCK);
        }
        pending_free(pd);
        return r;
}

void nbx_net_up_drop(nbx_net_pending *pd) {
        if (pd)
                pending_free(pd);
}

int nbx_net_up(const nbx_net_params *p, nbx_error **err) {
        nbx_net_pending *pd;
        int r = nbx_net_up_begin(p, &pd, err);
        return r < 0 ? r : nbx_net_up_end(pd, err);
}

int nbx_net_down(const char *runtime_dir, const nbx_pool *pool, unsigned slot, nbx_error **err) {
        nbx_slot_addr a;
        _cleanup_free_ char *dir = NULL;
        int r = derive(runtime_dir, pool, slot, &a, &dir, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        _cleanup_nl_ nbx_nl rt = {0};
        nbx_nl nf = {0};
        nbx_finisher fin = NBX_FINISHER_INIT;
        bool guarded = false;
        r = lock_net(runtime_dir, &lock, err);
        if (r >= 0)
                r = nbx_nl_open(&rt, NETLINK_ROUTE, err);
        if (r >= 0)
                r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r >= 0)
                r = nbx_nft_guard_present(&nf, &guarded, err);
        if (r >= 0)
                r = down_steps(&rt, &nf, &fin, &a, dir, true, err);
        if (r >= 0)
                r = last_slot_gone(&rt, &nf, guarded, err);
        finish(&nf, &fin);
        return r < 0 ? nbx_error_wrap(err, "tear down network slot %u", slot) : 0;
}

/* Whether the allow set may keep its addresses across a reload: filtered before and after, and
 * every domain allowed before still allowed (a removed domain's addresses go at once). */
static bool keeps_allowed(const char *dir, const nbx_net_policy *p) {
        if (p->mode != NBX_NET_FILTERED)
                return false;
        nbx_net_info old = {0};
        if (nbx_net_policy_read(dir, &old, NULL) < 0)
                return false;
        bool keep = old.mode == NBX_NET_FILTERED;
        for (size_t i = 0; keep && i < old.domains.n; i++)
                keep = p->domains && nbx_strv_contains(p->domains, old.domains.v[i]);
        nbx_net_info_done(&old);
        return keep;
}

static int net_reload(const nbx_net_params *p, nbx_error **err) {
        nbx_slot_addr a;
        _cleanup_free_ char *dir = NULL;
        int r = derive(p->runtime_dir, &p->pool, p->slot, &a, &dir, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *pol = nbx_path_join(dir, NBX_NET_POLICY_FILE);
        if (!pol)
                return nbx_error_set(err, ENOMEM, "slot policy");
        if (!nbx_is_file(pol) || !nbx_link_exists(a.tap))
                return nbx_error_setx(err, NBX_EXIT_NOT_RUNNING, ENOENT,
                                      "network slot %u is not up", a.slot);
        /* check the new dnsmasq config before anything changes */
        _cleanup_free_ char *text = NULL;
        r = nbx_dnsmasq_config(&a, &p->policy, dir, &text, err);
        bool guard = false;
        if (r >= 0)
                r = want_guard(p->policy.mode, &guard, err);
        if (r < 0)
                return nbx_error_wrap(err, "reload network slot %u", a.slot);
        nbx_nl nf = {0};
        nbx_finisher fin = NBX_FINISHER_INIT;
        r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        /* the rules first, atomically; then the DNS side follows */
        r = nbx_nft_slot_update(&nf, &a, &p->policy, keeps_allowed(dir, &p->policy), guard, err);
        if (r >= 0)
                r = forwarding_on(&nf, p->policy.mode, err);
        finish(&nf, &fin);
        if (r < 0)
                return nbx_error_wrap(err, "reload network slot %u", a.slot);
        r = nbx_net_policy_write(dir, &a, &p->policy, err);
        if (r >= 0)
                r = nbx_dnsmasq_stop(dir, err);
        if (r >= 0)
                r = nbx_dnsmasq_log_rotate(dir, false, err);
        if (r >= 0)
                r = nbx_dnsmasq_start(&a, &p->policy, dir, nbx_deadline_in(NBX_DNSMASQ_READY_MS),
                                      err);
        return r < 0 ? nbx_error_wrap(err, "reload network slot %u: restart dnsmasq", a.slot) : 0;
}

int nbx_net_reload(const nbx_net_params *p, nbx_error **err) {
        _cleanup_close_ int lock = -1;
        int r = lock_net(p->runtime_dir, &lock, err);
        return r < 0 ? nbx_error_wrap(err, "reload network slot %u", p->slot) : net_reload(p, err);
}
