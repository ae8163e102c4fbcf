/* Internal to config resolution: from nix/eval-config.nix's JSON to a validated nbx_config. */
#pragma once

#include "config_source.h"

/* eval: { userType, user, plugins } as eval-config.nix returns it (any JSON is handled: a value
 * of the wrong shape is an error, never a crash).  Checks each source against the schema, then
 * merges defaults, plugins in order and the user's config.nix, validating each value as it goes
 * (docs/config.md: merge rules).  *ret is written only on success; free it with
 * nbx_config_done. */
int nbx_config_resolve(const json_t *eval, const nbx_config_ctx *ctx, nbx_config *ret,
                       nbx_error **err);
