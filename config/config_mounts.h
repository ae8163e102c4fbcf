/* Internal to config resolution: `mounts` entries checked into typed mounts (a host folder, a
 * state folder of the project's own, a RAM folder), and the default workspace mount. */
#pragma once

#include "config_source.h"

/* Append s's mounts (a list the schema check passed) to c->mounts: each entry is exactly one of
 * { source; }, { state; } and { tmpfs = true; }, with a target no other mount has. */
int nbx_config_mounts_merge(const nbx_config_ctx *ctx, const nbx_config_source *s,
                            const json_t *list, nbx_config *c, nbx_error **err);
/* The workspace mount (the project folder at ~/workspace), c's first mount. */
int nbx_config_mounts_default(const nbx_config_ctx *ctx, nbx_config *c, nbx_error **err);
/* Free c->mounts. */
void nbx_config_mounts_done(nbx_config *c);
