/* Internal to config resolution: each value of a source checked and turned into its typed form.
 * Every function fails with -EINVAL, NBX_EXIT_CONFIG and a message naming the field, the bad
 * value, what was expected and the file (nbx_config_fail), and writes *ret only on success. */
#pragma once

#include <stdint.h>

#include "config_source.h"

/* Caps on user-controlled counts and lengths beyond config.h's. */
#define NBX_MAX_PACKAGES 512
#define NBX_MAX_SCRIPTS 64
#define NBX_MAX_ATTR_PATH 200
#define NBX_MAX_HOOK_LEN 16384
#define NBX_MAX_ENV_VALUE 65536
#define NBX_MAX_ENV_NAME 128
#define NBX_MAX_GUEST_PATH 1024

/* The VM's name, lowercased: [a-z0-9][a-z0-9-]{0,31}. */
int nbx_config_value_name(const nbx_config_source *s, const char *field, const char *in, char **ret,
                          nbx_error **err);
/* A nixpkgs attribute path: [A-Za-z0-9_.+-], no empty component, at most NBX_MAX_ATTR_PATH. */
int nbx_config_value_attr_path(const nbx_config_source *s, const char *field, const char *in,
                               char **ret, nbx_error **err);
/* An environment variable's name: [A-Za-z_][A-Za-z0-9_]*, at most NBX_MAX_ENV_NAME. */
int nbx_config_value_env_name(const nbx_config_source *s, const char *field, const char *in,
                              nbx_error **err);
/* A host path: "~" and "~/..." from ctx->host_home, a relative one from the project folder; it
 * must exist.  *ret is canonical (realpath). */
int nbx_config_value_host_path(const nbx_config_source *s, const nbx_config_ctx *ctx,
                               const char *field, const char *in, char **ret, nbx_error **err);
/* A guest path: "~" and "~/..." from ctx->guest_home, else absolute; normalized (no "//", no
 * trailing "/"); "." and ".." components, control characters and "/" itself are refused. */
int nbx_config_value_guest_path(const nbx_config_source *s, const nbx_config_ctx *ctx,
                                const char *field, const char *in, char **ret, nbx_error **err);
/* A TCP port 1..65535. */
int nbx_config_value_port(const nbx_config_source *s, const char *field, const json_t *in,
                          uint16_t *ret, nbx_error **err);
/* An IPv4 or IPv6 address. */
int nbx_config_value_ip(const nbx_config_source *s, const char *field, const char *in, nbx_ip *ret,
                        nbx_error **err);
