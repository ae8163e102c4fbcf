/* Internal to net/: slot record paths and the resource probe the allocator uses. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../config/base/error.h"
#include "net.h"

/* True when something of the slot still exists in this network namespace: its TAP, or its
 * dnsmasq (recorded pid + start time) alive.  A dead owner's slot is reclaimed only when false. */
bool nbx_slot_resources_present(const char *runtime_dir, unsigned slot);
/* A slot record's text (slots/<s>.json) into *ret: every value checked (pid > 0, an absolute
 * project folder and a name that fit); -EBADMSG otherwise, *ret untouched. */
int nbx_slot_owner_parse(const char *text, size_t len, nbx_slot_owner *ret, nbx_error **err);
