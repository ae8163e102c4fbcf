/* Internal to net/: one dnsmasq per slot — its configuration file, start with readiness, stop,
 * and what `net show` reads back (pid, denied names from the query log). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/base/error.h"
#include "../config/base/strv.h"
#include "net.h"
#include "nft.h"

/* Cache TTLs, derived from the firewall's allow-set element timeout T (NBX_NFT_ALLOW_TIMEOUT_S),
 * by the rule docs/network.md states: max-cache-ttl and max-ttl are both min(T/4, 300 s).
 * dnsmasq adds an address to the set when it answers from upstream (re-adding an existing element
 * does not refresh it); the datapath refreshes an element on every new connection.  Worst case a
 * guest still opens its first connection to an address max-cache-ttl (dnsmasq's cache) + max-ttl
 * (the guest's cache) after the element was added: at most T/2, well before it expires. */
#define NBX_DNSMASQ_TTL_S (NBX_NFT_ALLOW_TIMEOUT_S / 4 < 300 ? NBX_NFT_ALLOW_TIMEOUT_S / 4 : 300)
#define NBX_DNSMASQ_MAX_CACHE_TTL_S NBX_DNSMASQ_TTL_S
#define NBX_DNSMASQ_MAX_TTL_S NBX_DNSMASQ_TTL_S
_Static_assert(NBX_DNSMASQ_MAX_CACHE_TTL_S + NBX_DNSMASQ_MAX_TTL_S <= NBX_NFT_ALLOW_TIMEOUT_S / 2,
               "dnsmasq TTLs must expire well before the allow-set elements");

#define NBX_DNSMASQ_CONF "dnsmasq.conf"
#define NBX_DNSMASQ_LOG "dnsmasq.log"
#define NBX_DNSMASQ_READY_MS 10000

/* A domain as it may appear in the config file: nbx_domain_normalize() accepts it unchanged and it
 * holds only [a-z0-9.-].  Anything else is rejected (NBX_EXIT_CONFIG) before it reaches a file. */
int nbx_dnsmasq_domain_check(const char *domain, nbx_error **err);

/* The configuration text for slot a with policy p; files go to slot_dir; nft_set is the allow
 * set fed in `filtered` mode (table inet nixbox).  *ret_text is malloc'd. */
int nbx_dnsmasq_config(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                       const char *nft_set, char **ret_text, nbx_error **err);

/* Write <slot_dir>/dnsmasq.conf (0600), start dnsmasq in its own session, wait until it answers
 * (DNS modes: a CHAOS TXT version.bind query to host_ip:53; off: its DHCP socket bound) or
 * deadline_ms passes, and record pid + start time in <slot_dir>/dnsmasq.json. */
int nbx_dnsmasq_start(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                      const char *nft_set, uint64_t deadline_ms, nbx_error **err);
/* Stop the slot's dnsmasq (recorded pid + start time; falls back to its pid file when the record
 * is missing).  Already gone counts as stopped. */
int nbx_dnsmasq_stop(const char *slot_dir, nbx_error **err);
bool nbx_dnsmasq_running(const char *slot_dir);
/* The running dnsmasq's pid; -ENOENT when none (err untouched). */
int nbx_dnsmasq_pid(const char *slot_dir, pid_t *ret);
/* The last `max` distinct names answered NXDOMAIN by policy (most recent last), from log text. */
int nbx_dnsmasq_denied_parse(const char *log, size_t max, nbx_strv *ret);
int nbx_dnsmasq_denied(const char *slot_dir, size_t max, nbx_strv *ret, nbx_error **err);
