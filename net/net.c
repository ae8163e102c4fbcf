/* A slot's network, put together: TAP (link.c), firewall (nft.c), dnsmasq (dnsmasq.c), in an
 * order that never lets a packet through before the slot's rules are in place, and undone in
 * reverse on any failure.
 *
 * Slot folder <runtime>/slots/<s>/: policy.json (what net show prints), dnsmasq.conf/.json/.pid/
 * .err/.log/.leases. */
#include "net.h"

#include <errno.h>
#include <stdio.h>
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

static int net_up(const nbx_net_params *p, nbx_nl *rt, nbx_nl *nf, nbx_finisher *fin,
                  nbx_error **err) {
        nbx_slot_addr a;
        _cleanup_free_ char *dir = NULL;
        int r = derive(p->runtime_dir, &p->pool, p->slot, &a, &dir, err);
        if (r < 0)
                return r;
        nbx_slot_addr_text t;
        nbx_slot_addr_str(&a, &t);

        /* 0. what a crashed earlier run of this slot left behind */
        r = down_steps(rt, nf, fin, &a, dir, true, err);
        if (r < 0)
                return nbx_error_wrap(err, "clear leftovers of network slot %u", a.slot);
        /* 1. the subnet must be ours alone */
        r = nbx_link_route_overlap_check(rt, a.network, a.prefix_len, NULL, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", a.slot);
        r = nbx_mkdir_p(dir, 0700, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", a.slot);

        /* 2. the slot's rules, one batch, before the TAP exists: its packets meet them from the
         * first one on */
        r = nbx_nft_slot_add(nf, &a, &p->policy, err);
        if (r < 0)
                goto undo_files;
        /* 3. the TAP, down: nothing can flow yet; then forwarding and Docker's accepts (once
         * the TAP exists, a teardown of the last other slot keeps them) */
        r = nbx_link_tap_create(a.tap, p->tap_owner, p->tap_group, p->multi_queue, err);
        if (r < 0)
                goto undo_nft;
        r = nbx_link_ipv6_disable(a.tap, err);
        if (r >= 0)
                r = nbx_link_addr_add(rt, a.tap, a.host_ip, a.prefix_len, a.broadcast, err);
        if (r >= 0 && p->policy.mode != NBX_NET_OFF) {
                r = nbx_link_ip_forward_enable(err);
                if (r >= 0)
                        r = nbx_docker_ensure(nf, err);
        }
        if (r < 0)
                goto undo_tap;
        /* 4. dnsmasq, on the host address */
        nbx_dnsmasq_proc dm;
        r = nbx_net_policy_write(dir, &a, &p->policy, err);
        if (r >= 0)
                r = nbx_dnsmasq_spawn(&a, &p->policy, dir, &dm, err);
        if (r < 0)
                goto undo_tap;
        /* 5. dnsmasq answering */
        r = nbx_dnsmasq_wait_ready(&a, &p->policy, dir, &dm, nbx_deadline_in(NBX_DNSMASQ_READY_MS),
                                   err);
        if (r < 0)
                goto undo_tap;
        /* 6. the TAP up: the hypervisor may attach */
        r = nbx_link_set_up(rt, a.tap, true, err);
        if (r < 0)
                goto undo_dnsmasq;
        return 0;

undo_dnsmasq:
        (void)nbx_dnsmasq_stop(dir, NULL);
undo_tap:
        (void)nbx_link_delete(rt, a.tap, NULL); /* TAP first: fail closed */
undo_nft:
        (void)nbx_nft_slot_del(nf, &a, NULL);
undo_files:
        (void)nbx_rm_rf(dir, NULL);
        return nbx_error_wrap(err, "bring up network slot %u (%s, %s/30)", a.slot, a.tap,
                              t.network);
}

int nbx_net_up(const nbx_net_params *p, nbx_error **err) {
        _cleanup_nl_ nbx_nl rt = {0};
        nbx_nl nf = {0};
        nbx_finisher fin = NBX_FINISHER_INIT;
        int r = nbx_nl_open(&rt, NETLINK_ROUTE, err);
        if (r >= 0)
                r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        /* the finisher before anything changes: started on a quiet host, it costs the least
         * (every change below wakes every other slot's dnsmasq) */
        if (r >= 0)
                r = nbx_finisher_start(&fin, &rt, 0, (nbx_nl *[]){&nf}, 1, err);
        if (r < 0)
                r = nbx_error_wrap(err, "network slot %u", p->slot);
        else
                r = net_up(p, &rt, &nf, &fin, err);
        finish(&nf, &fin);
        return r;
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
