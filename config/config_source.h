/* Internal to config resolution (config/config_*.c), not for other modules: its inputs — the
 * context fixed before it starts, and the sources of settings (the user's config.nix, each
 * plugin) as nix/eval-config.nix returns them — and the errors and warnings that name a field
 * of a source and the file it came from. */
#pragma once

#include <jansson.h>

#include "config.h"
#include "domain.h"

/* Everything resolution needs besides the evaluated JSON. */
typedef struct nbx_config_ctx {
        const char *project_dir; /* absolute */
        const char *config_path; /* absolute */
        const char *config_dir;  /* folder of config_path */
        const char *plugins_dir; /* absolute */
        const char *host_home;
        const char *guest_home;
        nbx_host_facts host;
        const char *resolv_conf; /* NULL = NBX_RESOLV_CONF */
        const char *resolv_conf_fallback;
        const nbx_psl *psl; /* the Public Suffix List (NULL = libpsl's, opened for the call) */
} nbx_config_ctx;

typedef struct nbx_config_source {
        const char *origin; /* "user", "default" or a plugin's origin */
        const char *file;   /* absolute file it came from */
        bool is_user;
        const json_t *v; /* its attribute set */
} nbx_config_source;

/* -EINVAL with NBX_EXIT_CONFIG: "FIELD: MESSAGE (FILE)", for a plugin "FIELD: MESSAGE (plugin
 * ORIGIN: FILE)"; field may be NULL. */
int nbx_config_fail(const nbx_config_source *s, nbx_error **err, const char *field, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
/* "FIELD: expected EXPECTED, got a string \"four\"". */
int nbx_config_fail_type(const nbx_config_source *s, nbx_error **err, const char *field,
                         const char *expected, const json_t *v);
/* The error a helper set (nbx_domain_normalize, nbx_net_mode_from_name, ...) in the same shape:
 * the field before it, the file after it, NBX_EXIT_CONFIG. */
int nbx_config_fail_wrap(const nbx_config_source *s, nbx_error **err, const char *field);
/* A warning in the same shape, added to warnings. */
int nbx_config_warn(const nbx_config_source *s, nbx_strv *warnings, const char *field,
                    const char *text, nbx_error **err);

/* Field names for messages: "a.b" ("b" when prefix is empty) and "a[3]".  NULL on ENOMEM. */
char *nbx_config_field(const char *prefix, const char *key);
char *nbx_config_field_index(const char *prefix, size_t i);
/* Nix's builtins.typeOf in words ("set" → "an attribute set"). */
const char *nbx_config_nix_type(const char *type_of);
