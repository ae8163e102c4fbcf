/* Internal to config resolution: the shape of a source of settings (docs/config.md). */
#pragma once

#include "config_source.h"

/* Every key of s->v is known and every value has the right type (null means "not set"); a mount
 * has a source and a target.  -EINVAL naming the first offending field, with a "did you mean"
 * for a misspelt key. */
int nbx_config_schema_check(const nbx_config_source *s, nbx_error **err);
