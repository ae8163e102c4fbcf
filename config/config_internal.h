/* Internal to config resolution (config/config*.c): not for other modules. */
#pragma once

#include <jansson.h>

#include "config.h"
#include "base/proc.h"

/* Everything the merge needs besides the evaluated JSON, resolved up front. */
typedef struct nbx_config_ctx {
        const char *project_dir; /* absolute */
        const char *config_path; /* absolute */
        const char *config_dir;  /* folder of config_path */
        const char *plugins_dir; /* absolute */
        const char *host_home;
        const char *guest_home;
        nbx_host_facts host;
        const char *resolv_conf;
        const char *resolv_conf_fallback;
} nbx_config_ctx;

/* How to run Nix: as whom (drop_to_uid/gid when running as root for another user, with HOME set
 * to that user's home) and which program. */
typedef struct nbx_config_eval_opts {
        const char *config_path;
        const char *plugins_dir;
        const char *nix_dir;
        const char *nix_instantiate; /* NULL = from PATH */
        bool drop_privileges;
        uid_t uid;
        gid_t gid;
        const char *home; /* HOME for the child when dropping privileges */
} nbx_config_eval_opts;

/* One nix-instantiate call over nix_dir/eval-config.nix; *ret is the parsed result. */
int nbx_config_eval(const nbx_config_eval_opts *o, json_t **ret, nbx_error **err);

/* Validate each source (user config and plugins) and merge them into c (zeroed by the caller). */
int nbx_config_merge(const json_t *eval, const nbx_config_ctx *ctx, nbx_config *c, nbx_error **err);
