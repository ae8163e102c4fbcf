/* The network layer's public face: one slot per VM (TAP, addresses, MAC, vsock CID), its nftables
 * chains and sets, and its dnsmasq.  Every function needs CAP_NET_ADMIN in the network namespace
 * it runs in; tests run it inside namespaces they create. */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/check.h"
#include "../config/base/error.h"

#define NBX_SLOTS 64

/* Host-wide address pool: a /16 (default 172.16.0.0/16); slot s uses pool + 4s as a /30:
 * .0 network, .1 host (gateway, dnsmasq), .2 guest, .3 broadcast. */
typedef struct nbx_pool {
        struct in_addr base; /* network byte order, /16 aligned */
} nbx_pool;
#define NBX_POOL_DEFAULT "172.16.0.0"

typedef struct nbx_slot_addr {
        unsigned slot;
        char tap[IFNAMSIZ]; /* "nbx<slot>" */
        struct in_addr network, host_ip, guest_ip, broadcast;
        unsigned prefix_len; /* 30 */
        uint8_t mac[6];      /* 02:6e:62:78:00:<slot>: locally administered, unicast */
        char mac_str[18];
        uint32_t vsock_cid; /* 3 + slot */
} nbx_slot_addr;

/* Pool from "a.b.0.0" (NULL = default, or the host-wide setting in <runtime>/pool when present). */
int nbx_pool_parse(const char *str, nbx_pool *ret, nbx_error **err);
int nbx_slot_addr_derive(const nbx_pool *pool, unsigned slot, nbx_slot_addr *ret, nbx_error **err);

/* Who holds a slot: enough to tell a live owner from a dead one and from PID reuse. */
typedef struct nbx_slot_owner {
        char project_dir[4096];
        char name[64];
        pid_t pid;           /* the process that owns the slot (nixbox up; later the hypervisor) */
        uint64_t start_time; /* nbx_pid_start_time(pid) */
} nbx_slot_owner;

/* Allocate a slot atomically (flock on <runtime>/slots.lock).  Prefers the slot this project had
 * before (recorded by project_dir), reclaims slots whose owner is dead and whose resources are
 * gone, and fails with NBX_EXIT_NO_SLOT listing the holders when all 64 are taken. */
int nbx_slot_acquire(const char *runtime_dir, const nbx_slot_owner *owner, unsigned *ret_slot,
                     nbx_error **err);
/* Update the owner record (e.g. hand the slot from `nixbox up` to the hypervisor's PID). */
int nbx_slot_set_owner(const char *runtime_dir, unsigned slot, const nbx_slot_owner *owner,
                       nbx_error **err);
int nbx_slot_release(const char *runtime_dir, unsigned slot, nbx_error **err);
/* Read the owner record of a slot; -ENOENT when free (the error says so, NBX_EXIT_NOT_RUNNING). */
int nbx_slot_get(const char *runtime_dir, unsigned slot, nbx_slot_owner *ret, nbx_error **err);
/* The slot held for project_dir; -ENOENT when none (the error says so, NBX_EXIT_NOT_RUNNING). */
int nbx_slot_find(const char *runtime_dir, const char *project_dir, unsigned *ret_slot,
                  nbx_error **err);

/* The egress policy of one slot, taken from the resolved config. */
typedef struct nbx_net_policy {
        enum nbx_net_mode mode;
        const nbx_strv *domains;
        const uint16_t *ports;
        size_t n_ports;
        const nbx_ip *upstream_dns;
        size_t n_upstream_dns;
        bool allow_private;
        /* the one user besides root whose processes on this host may open connections into the
         * guest: the VM's owner (the invoking user); 0 = root alone */
        uid_t owner_uid;
        /* seconds an allow-set element lives without a new connection to it, and from which
         * dnsmasq's TTL cap follows (net/nft.h); 0 = NBX_NFT_ALLOW_TIMEOUT_S (tests shorten it) */
        uint32_t allow_timeout_s;
} nbx_net_policy;

typedef struct nbx_net_params {
        const char *runtime_dir; /* slot files go to <runtime_dir>/slots/<slot>/ */
        nbx_pool pool;
        unsigned slot;
        uid_t tap_owner; /* the invoking user: owns the TAP device */
        gid_t tap_group;
        bool multi_queue; /* vCPUs > 2 */
        nbx_net_policy policy;
} nbx_net_params;

/* Bring a slot's network up: check the subnet does not overlap a host route, install the slot's
 * nftables chains/sets/map elements in one batch (the table and base chains are created on first
 * use), create the TAP and give it its address, start dnsmasq and wait until it answers.  Fails
 * closed (the rules come first); on failure everything done so far is undone. */
int nbx_net_up(const nbx_net_params *p, nbx_error **err);
/* nbx_net_up in two halves, so that the caller can work while the slot's dnsmasq starts (a few
 * ms): nbx_net_up_begin leaves the slot with its rules, its TAP (with its address) and dnsmasq
 * starting; nbx_net_up_end waits until dnsmasq answers.  The hypervisor may attach after that.
 * Either half undoes everything on failure.
 * *ret is freed by nbx_net_up_end, also when it fails; a caller that gives up in between frees
 * it with nbx_net_up_drop (nothing is undone then: nbx_net_down removes the slot). */
typedef struct nbx_net_pending nbx_net_pending;
int nbx_net_up_begin(const nbx_net_params *p, nbx_net_pending **ret, nbx_error **err);
int nbx_net_up_end(nbx_net_pending *pd, nbx_error **err);
void nbx_net_up_drop(nbx_net_pending *pd);
/* Remove exactly this slot's TAP, chains, sets, map elements, dnsmasq and files.  Idempotent:
 * anything already gone counts as removed. */
int nbx_net_down(const char *runtime_dir, const nbx_pool *pool, unsigned slot, nbx_error **err);
/* Re-apply mode, domains and ports of a running slot atomically (nft batch + dnsmasq restart). */
int nbx_net_reload(const nbx_net_params *p, nbx_error **err);

/* What a slot's firewall stopped: dropped_* counts everything (refusals: a TCP reset or ICMP
 * admin-prohibited, counter refused<slot>; silent drops: spoofed source address or MAC, IPv6,
 * counter silent<slot>); silent_* is the silent part alone. */
typedef struct nbx_net_counters {
        uint64_t dropped_packets, dropped_bytes;
        uint64_t silent_packets, silent_bytes;
} nbx_net_counters;

/* What `nixbox net show` reports about a running slot, typed.  Reading it rotates the slot's
 * query log when that is over 256 KiB (its last 256 KiB stay, in dnsmasq.log.1). */
typedef struct nbx_net_info {
        nbx_slot_addr addr; /* slot, TAP, addresses, MAC */
        enum nbx_net_mode mode;
        bool allow_private;
        uid_t owner_uid; /* who besides root may connect into the guest (0: root alone) */
        nbx_strv domains;
        uint16_t ports[NBX_MAX_PORTS];
        size_t n_ports;
        nbx_ip upstream_dns[NBX_MAX_DNS];
        size_t n_upstream_dns;
        struct in_addr *allowed; /* elements of the allow set now (filtered mode) */
        size_t n_allowed;
        nbx_net_counters counters;
        /* names dnsmasq answered NXDOMAIN by policy, most recent last; the guest chose them, so
         * they are escaped (nbx_ui_escape: no control character, valid UTF-8) */
        nbx_strv denied_names;
        pid_t dnsmasq_pid; /* 0: dnsmasq is not running */
} nbx_net_info;
int nbx_net_info_get(const char *runtime_dir, const nbx_pool *pool, unsigned slot,
                     nbx_net_info *ret, nbx_error **err);
/* The info of the slot the project at project_dir holds (NBX_EXIT_NOT_RUNNING when none). */
int nbx_net_info_for_project(const char *runtime_dir, const char *project_dir, nbx_net_info *ret,
                             nbx_error **err);
void nbx_net_info_done(nbx_net_info *i);
/* `nixbox net show --json`: indented JSON text, malloc'd. */
int nbx_net_info_json(const nbx_net_info *i, char **ret, nbx_error **err);

/* `nixbox setup`: create the runtime folder; with pool_str, validate it (NBX_EXIT_USAGE) before
 * anything is written and record it as the host-wide pool.  *ret_pool: the pool now in effect. */
int nbx_net_setup(const char *runtime_dir, const char *pool_str, nbx_pool *ret_pool,
                  nbx_error **err);

/* Host checks for `nixbox doctor` (config/base/check.h): they only look, change nothing. */
bool nbx_net_has_cap_net_admin(void);
/* CAP_NET_ADMIN held (needed by up, down, reload). */
void nbx_net_check_cap_net_admin(nbx_checks *l);
/* nf_tables answers and accepts every rule nixbox uses (a dry run, nbx_nft_probe), the kernel is
 * in the supported range (>= 5.15), and how removals work on it. */
void nbx_net_check_nftables(nbx_checks *l);
/* dnsmasq installed, >= 2.87 and built with nftset (filtered mode feeds the allow set with it). */
void nbx_net_check_dnsmasq(nbx_checks *l);
/* net.ipv4.ip_forward: what `up` will find and do. */
void nbx_net_check_forwarding(nbx_checks *l);
/* Docker's iptables FORWARD chain (see nbx_net_docker_check). */
void nbx_net_check_docker(nbx_checks *l);

/* The pool from <runtime_dir>/pool (written by `nixbox setup --pool`), the default when absent. */
int nbx_pool_load(const char *runtime_dir, nbx_pool *ret, nbx_error **err);
/* Record the host-wide pool in <runtime_dir>/pool (for `nixbox setup --pool`). */
int nbx_pool_save(const char *runtime_dir, const nbx_pool *pool, nbx_error **err);

/* Dotted quads of a slot's addresses. */
typedef struct nbx_slot_addr_text {
        char network[INET_ADDRSTRLEN], host_ip[INET_ADDRSTRLEN], guest_ip[INET_ADDRSTRLEN],
                broadcast[INET_ADDRSTRLEN];
} nbx_slot_addr_text;
void nbx_slot_addr_str(const nbx_slot_addr *a, nbx_slot_addr_text *ret);

/* <runtime_dir>/slots/<slot> (malloc'd): the slot's dnsmasq config, pid record, leases and log. */
char *nbx_slot_dir(const char *runtime_dir, unsigned slot);

/* Docker hosts: where the iptables(-nft) FORWARD chain (`table ip filter`) has policy drop, VM
 * traffic needs an accept for nixbox TAPs there, since a packet must pass every base chain on the
 * forward hook.  nixbox adds `iifname "nbx*" accept` and `oifname "nbx*" accept` (the DOCKER-USER
 * chain when Docker made one, else FORWARD) on bring-up; its own `inet nixbox` table still decides
 * what a slot may reach. */
typedef struct nbx_docker_status {
        bool filter_forward; /* table ip filter has a FORWARD chain */
        bool policy_drop;    /* ... whose policy is drop */
        bool docker_user;    /* a DOCKER-USER chain exists (our rules go there) */
        bool nixbox_rules;   /* our accept rules are present */
} nbx_docker_status;
/* Look only (for `nixbox doctor`): fills *ret; needs CAP_NET_ADMIN to read the ruleset.  Bring-up
 * and teardown add and remove the rules themselves. */
int nbx_net_docker_check(nbx_docker_status *ret, nbx_error **err);
