/* Internal to config resolution: config.nix and its plugins evaluated by the real Nix. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* How to run Nix: which program and files, and as whom (drop_privileges: as uid/gid with HOME
 * set to home, when root resolves the config of another user). */
typedef struct nbx_config_eval_opts {
        const char *config_path;
        const char *plugins_dir;
        const char *nix_dir;
        const char *nix_instantiate;  /* NULL = from PATH */
        const char *user_plugins_dir; /* also readable in restricted mode (NULL: none) */
        bool drop_privileges;
        uid_t uid;
        gid_t gid;
        const char *home;
} nbx_config_eval_opts;

/* One nix-instantiate call over nix_dir/eval-config.nix; *ret is its result (a JSON object).
 * Nix's own errors come back as NBX_EXIT_CONFIG with Nix's message, cleaned of colour and
 * noise; a missing nix-instantiate is NBX_EXIT_PREREQ. */
int nbx_config_eval(const nbx_config_eval_opts *o, json_t **ret, nbx_error **err);

/* nix-instantiate's output read as JSON: an object, duplicate keys refused.  what names the
 * evaluation in errors (the config file). */
int nbx_config_eval_parse(const char *out, const char *what, json_t **ret, nbx_error **err);
