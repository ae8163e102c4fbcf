/* Internal to net/: slot record paths and the resource probe the allocator uses. */
#pragma once

#include <stdbool.h>

/* True when something of the slot still exists in this network namespace: its TAP, or its
 * dnsmasq (recorded pid + start time) alive.  A dead owner's slot is reclaimed only when false. */
bool nbx_slot_resources_present(const char *runtime_dir, unsigned slot);
