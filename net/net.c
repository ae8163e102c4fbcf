/* A slot's network, put together: TAP (link.c), firewall (nft.c), dnsmasq (dnsmasq.c), in an
 * order that never lets a packet through before the slot's rules are in place, and undone in
 * reverse on any failure.
 *
 * Slot folder <runtime>/slots/<s>/: policy.json (what net show prints), dnsmasq.conf/.json/.pid/
 * .err/.log/.leases. */
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

/* A bring-up between its two halves: what nbx_net_up_end needs, and what it releases. */
struct nbx_net_pending {
        nbx_nl rt, nf;
        nbx_finisher fin;
        nbx_slot_addr a;
        nbx_slot_addr_text t;
        char *dir;
        enum nbx_net_mode mode;
        nbx_dnsmasq_proc dm;
};

/* Close the sockets (the netfilter one's release to the finisher) and free. */
static void pending_free(nbx_net_pending *pd) {
        finish(&pd->nf, &pd->fin);
        nbx_nl_close(&pd->rt);
        free(pd->dir);
        free(pd);
}

/* Undo what the first half did (stage 1: the rules are in; 2: the TAP too), in the order that
 * keeps the slot closed; the error says which slot. */
static int undo(nbx_net_pending *pd, int stage, nbx_error **err) {
        if (stage >= 2)
                (void)nbx_link_delete(&pd->rt, pd->a.tap, NULL); /* TAP first: fail closed */
        if (stage >= 1)
                (void)nbx_nft_slot_del(&pd->nf, &pd->a, NULL);
        (void)nbx_rm_rf(pd->dir, NULL);
        return nbx_error_wrap(err, "bring up network slot %u (%s, %s/30)", pd->a.slot, pd->a.tap,
                              pd->t.network);
}

/* Steps 0-4 of bring-up; on failure what was done is undone (stage: how far it got). */
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
        /* 1. the subnet must be ours alone */
        r = nbx_link_route_overlap_check(&pd->rt, pd->a.network, pd->a.prefix_len, NULL, err);
        if (r >= 0)
                r = nbx_mkdir_p(pd->dir, 0700, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", pd->a.slot);
        /* 2. the slot's rules, one batch, before the TAP exists: its packets meet them from the
         * first one on */
        r = nbx_nft_slot_add(&pd->nf, &pd->a, &p->policy, err);
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
        if (r >= 0 && p->policy.mode != NBX_NET_OFF) {
                r = nbx_link_ip_forward_enable(err);
                if (r >= 0)
                        r = nbx_docker_ensure(&pd->nf, err);
        }
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
        int r = derive(p->runtime_dir, &p->pool, p->slot, &pd->a, &pd->dir, err);
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
        if (r < 0)
                r = undo(pd, 2, err);
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
        _cleanup_nl_ nbx_nl rt = {0};
        nbx_nl nf = {0};
        nbx_finisher fin = NBX_FINISHER_INIT;
        r = nbx_nl_open(&rt, NETLINK_ROUTE, err);
        if (r >= 0)
                r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r >= 0)
                r = down_steps(&rt, &nf, &fin, &a, dir, true, err);
        /* the Docker accepts go with the last slot */
        uint64_t slots = 0;
        if (r >= 0)
                r = nbx_link_slots_present(&rt, &slots, err);
        if (r >= 0 && !slots)
                r = nbx_docker_remove(&nf, err);
        finish(&nf, &fin);
        return r < 0 ? nbx_error_wrap(err, "tear down network slot %u", slot) : 0;
}

int nbx_net_reload(const nbx_net_params *p, nbx_error **err) {
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
        if (r < 0)
                return nbx_error_wrap(err, "reload network slot %u", a.slot);
        nbx_nl nf = {0};
        nbx_finisher fin = NBX_FINISHER_INIT;
        r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        /* the rules first, atomically; then the DNS side follows */
        r = nbx_nft_slot_update(&nf, &a, &p->policy, err);
        if (r >= 0 && p->policy.mode != NBX_NET_OFF) {
                r = nbx_link_ip_forward_enable(err);
                if (r >= 0)
                        r = nbx_docker_ensure(&nf, err);
        }
        finish(&nf, &fin);
        if (r < 0)
                return nbx_error_wrap(err, "reload network slot %u", a.slot);
        r = nbx_net_policy_write(dir, &a, &p->policy, err);
        if (r >= 0)
                r = nbx_dnsmasq_stop(dir, err);
        if (r >= 0)
                r = nbx_dnsmasq_start(&a, &p->policy, dir, nbx_deadline_in(NBX_DNSMASQ_READY_MS),
                                      err);
        return r < 0 ? nbx_error_wrap(err, "reload network slot %u: restart dnsmasq", a.slot) : 0;
}
