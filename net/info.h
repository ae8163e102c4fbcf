/* Internal to net/: the slot's policy record, <slot folder>/policy.json, written by up and reload
 * and read back by `net show` (nbx_net_info_get). */
#pragma once

#include "../config/base/error.h"
#include "net.h"

#define NBX_NET_POLICY_FILE "policy.json"

int nbx_net_policy_write(const char *slot_dir, const nbx_slot_addr *a, const nbx_net_policy *p,
                         nbx_error **err);
/* Fill mode, allow_private, domains, ports and upstream servers of *info from the record in
 * slot_dir (NBX_EXIT_NOT_RUNNING when there is none; a damaged record is an error). */
int nbx_net_policy_read(const char *slot_dir, nbx_net_info *info, nbx_error **err);
/* The same from the record's text: every value checked; on failure (-EBADMSG) *info is
 * untouched. */
int nbx_net_policy_parse(const char *text, size_t len, nbx_net_info *info, nbx_error **err);
