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
#include <string.h>

#include "../config/base/fsutil.h"
#include "../config/base/timeutil.h"
#include "dnsmasq.h"
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

/* Tear down in the order that keeps the slot closed: TAP gone first (no packet can arrive), then
 * dnsmasq, then the rules.  When the TAP cannot be deleted the rules stay.  Every step runs; the
 * first error is returned. */
static int down_steps(nbx_nl *rt, nbx_nl *nf, const nbx_slot_addr *a, const char *slot_dir,
                      bool remove_files, nbx_error **err) {
        int ret = 0;
        int r = nbx_link_delete(rt, a->tap, err);
        bool tap_gone = r >= 0;
        if (r < 0 && ret == 0)
                ret = r;
        r = nbx_dnsmasq_stop(slot_dir, err);
        if (r < 0 && ret == 0)
                ret = r;
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
static int forwarding_on(enum nbx_net_mode mode, nbx_error **err) {
        if (mode == NBX_NET_OFF)
                return 0;
        int r = nbx_link_ip_forward_set(true, err);
        return r < 0 ? r : nbx_net_docker_ensure(err);
}

/* After a slot is gone: what the last slot takes with it — Docker's accepts, and forwarding
 * when nixbox had turned it on (its guard went with the table). */
static int last_slot_gone(nbx_nl *rt, nbx_nl *nf, bool guarded, nbx_error **err) {
        uint64_t slots = 0;
        int r = nbx_link_slots_present(rt, &slots, err);
        if (r < 0 || slots)
                return r;
        r = nbx_net_docker_remove(err);
        bool guard_left = false;
        if (r >= 0 && guarded)
                r = nbx_nft_guard_present(nf, &guard_left, err);
        if (r >= 0 && guarded && !guard_left)
                r = nbx_link_ip_forward_set(false, err);
        return r;
}

static int net_up(const nbx_net_params *p, nbx_error **err) {
        nbx_slot_addr a;
        _cleanup_free_ char *dir = NULL;
        int r = derive(p->runtime_dir, &p->pool, p->slot, &a, &dir, err);
        if (r < 0)
                return r;
        nbx_slot_addr_text t;
        nbx_slot_addr_str(&a, &t);
        _cleanup_nl_ nbx_nl rt = {0};
        _cleanup_nl_ nbx_nl nf = {0};
        r = nbx_nl_open(&rt, NETLINK_ROUTE, err);
        if (r >= 0)
                r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", a.slot);

        /* 0. what a crashed earlier run of this slot left behind */
        r = down_steps(&rt, &nf, &a, dir, true, err);
        if (r < 0)
                return nbx_error_wrap(err, "clear leftovers of network slot %u", a.slot);
        /* 1. the subnet must be ours alone */
        r = nbx_link_route_overlap_check(&rt, a.network, a.prefix_len, NULL, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", a.slot);
        /* the slot folder: dnsmasq, once it runs as nobody, reopens its log here (0711) */
        r = nbx_mkdir_p(dir, 0711, err);
        bool guard = false;
        if (r >= 0)
                r = want_guard(p->policy.mode, &guard, err);
        if (r < 0)
                return nbx_error_wrap(err, "network slot %u", a.slot);

        /* 2. the TAP, down: nothing can flow yet */
        r = nbx_link_tap_create(a.tap, p->tap_owner, p->tap_group, p->multi_queue, err);
        if (r < 0)
                goto undo_files;
        r = nbx_link_ipv6_disable(a.tap, err);
        if (r >= 0)
                r = nbx_link_addr_add(&rt, a.tap, a.host_ip, a.prefix_len, a.broadcast, err);
        if (r < 0)
                goto undo_tap;
        /* 3. the slot's rules, one batch (with the guard before forwarding goes on) */
        r = nbx_nft_slot_add(&nf, &a, &p->policy, guard, err);
        if (r < 0)
                goto undo_tap;
        r = forwarding_on(p->policy.mode, err);
        if (r < 0)
                goto undo_nft;
        /* 4. dnsmasq, answering */
        r = nbx_net_policy_write(dir, &a, &p->policy, err);
        if (r < 0)
                goto undo_nft;
        r = nbx_dnsmasq_start(&a, &p->policy, dir, nbx_deadline_in(NBX_DNSMASQ_READY_MS), err);
        if (r < 0)
                goto undo_nft;
        /* 5. the TAP up: the hypervisor may attach */
        r = nbx_link_set_up(&rt, a.tap, true, err);
        if (r < 0)
                goto undo_dnsmasq;
        return 0;

undo_dnsmasq:
        (void)nbx_dnsmasq_stop(dir, NULL);
undo_nft:
        (void)nbx_link_delete(&rt, a.tap, NULL); /* TAP first: fail closed */
        (void)nbx_nft_slot_del(&nf, &a, NULL);
        (void)last_slot_gone(&rt, &nf, guard, NULL); /* forwarding back off if it was ours */
        goto undo_files;
undo_tap:
        (void)nbx_link_delete(&rt, a.tap, NULL);
undo_files:
        (void)nbx_rm_rf(dir, NULL);
        return nbx_error_wrap(err, "bring up network slot %u (%s, %s/30)", a.slot, a.tap,
                              t.network);
}

int nbx_net_up(const nbx_net_params *p, nbx_error **err) {
        _cleanup_close_ int lock = -1;
        int r = lock_net(p->runtime_dir, &lock, err);
        return r < 0 ? nbx_error_wrap(err, "network slot %u", p->slot) : net_up(p, err);
}

int nbx_net_down(const char *runtime_dir, const nbx_pool *pool, unsigned slot, nbx_error **err) {
        nbx_slot_addr a;
        _cleanup_free_ char *dir = NULL;
        int r = derive(runtime_dir, pool, slot, &a, &dir, err);
        if (r < 0)
                return r;
        _cleanup_close_ int lock = -1;
        _cleanup_nl_ nbx_nl rt = {0};
        _cleanup_nl_ nbx_nl nf = {0};
        bool guarded = false;
        r = lock_net(runtime_dir, &lock, err);
        if (r >= 0)
                r = nbx_nl_open(&rt, NETLINK_ROUTE, err);
        if (r >= 0)
                r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r >= 0)
                r = nbx_nft_guard_present(&nf, &guarded, err);
        if (r >= 0)
                r = down_steps(&rt, &nf, &a, dir, true, err);
        if (r >= 0)
                r = last_slot_gone(&rt, &nf, guarded, err);
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
        _cleanup_nl_ nbx_nl nf = {0};
        r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r < 0)
                return r;
        /* the rules first, atomically; then the DNS side follows */
        r = nbx_nft_slot_update(&nf, &a, &p->policy, keeps_allowed(dir, &p->policy), guard, err);
        if (r >= 0)
                r = forwarding_on(p->policy.mode, err);
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
