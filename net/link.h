/* Internal to net/: the slot's TAP device (TUN ioctls) and its addresses/state (rtnetlink through
 * net/nl.h), the route-overlap check and the sysctls a slot needs.  No `ip` subprocess. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/base/error.h"
#include "nl.h"

struct ifinfomsg;

/* Start a link request in buf (zeroed, large enough): the header with type, flags and the socket's
 * next sequence number, and an ifinfomsg for any family, returned for the caller to fill. */
struct ifinfomsg *nbx_link_msg(void *buf, nbx_nl *nl, uint16_t type, uint16_t flags);
/* Create a persistent TAP (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, IFF_MULTI_QUEUE when asked) owned
 * by uid:gid, left down.  The hypervisor later opens it with the same name and flags. */
int nbx_link_tap_create(const char *name, uid_t uid, gid_t gid, bool multi_queue, nbx_error **err);
/* Whether a link of that name exists (RTM_GETLINK; when rtnetlink cannot be asked: true). */
bool nbx_link_exists(const char *name);
/* Which slot TAPs nbx0..nbx63 exist (bit s: nbx<s>): one RTM_GETLINK dump. */
int nbx_link_slots_present(nbx_nl *nl, uint64_t *ret, nbx_error **err);
/* RTM_NEWADDR: local/prefix with broadcast on ifname (replaces an identical address). */
int nbx_link_addr_add(nbx_nl *nl, const char *ifname, struct in_addr local, unsigned prefix_len,
                      struct in_addr broadcast, nbx_error **err);
/* RTM_NEWLINK: set IFF_UP on or off. */
int nbx_link_set_up(nbx_nl *nl, const char *ifname, bool up, nbx_error **err);
/* RTM_DELLINK; a link that does not exist counts as deleted.  The request returns after the
 * kernel has freed the device (RCU grace periods, ~20 ms); see net/finish.h for not waiting. */
int nbx_link_delete(nbx_nl *nl, const char *ifname, nbx_error **err);
/* The same by interface index (a name may already belong to a new link). */
int nbx_link_delete_index(nbx_nl *nl, int ifindex, nbx_error **err);
/* *ret: the index of the link called name, 0 when there is none (RTM_GETLINK). */
int nbx_link_index(nbx_nl *nl, const char *name, int *ret, nbx_error **err);
/* Fail (NBX_EXIT_CONFIG, -EADDRINUSE) when net/prefix_len overlaps a route in this namespace
 * (RTM_GETROUTE dump; default routes, the local table and routes via skip_ifname ignored). */
int nbx_link_route_overlap_check(nbx_nl *nl, struct in_addr net, unsigned prefix_len,
                                 const char *skip_ifname, nbx_error **err);
/* net.ipv4.ip_forward in this namespace: read, and set (no-op when it already has the value). */
int nbx_link_ip_forward_get(bool *ret, nbx_error **err);
int nbx_link_ip_forward_set(bool on, nbx_error **err);
/* net.ipv6.conf.<ifname>.disable_ipv6 = 1 (no-op when IPv6 is not built in). */
int nbx_link_ipv6_disable(const char *ifname, nbx_error **err);
