/* Internal to config resolution: the plugins a config names, as nix/eval-config.nix found and
 * evaluated them. */
#pragma once

#include "config_source.h"

/* Check eval-config.nix's plugin records (records: its "plugins" list, NULL for none) in order:
 * a failed lookup becomes the user's error at plugins[i] (an unknown built-in lists those that
 * exist); each plugin is an attribute set of the schema that sets neither env nor plugins; none
 * is listed twice.  Appends each plugin to c->plugins and sets ret_sources[i] to a view of its
 * settings for the merge (strings owned by c->plugins, values by records). */
int nbx_config_plugins_load(const json_t *records, const nbx_config_ctx *ctx,
                            const nbx_config_source *user, nbx_config *c,
                            nbx_config_source ret_sources[NBX_MAX_PLUGINS], nbx_error **err);
