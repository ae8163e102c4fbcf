/* The resolved project configuration: what `config.nix`, its plugins and the defaults add up to,
 * validated into typed values.  Everything downstream (net/, vm/, cmd/) reads this struct and
 * never re-parses strings from the user. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "error.h"
#include "strv.h"

enum nbx_net_mode { NBX_NET_OFF, NBX_NET_FILTERED, NBX_NET_OPEN };
enum nbx_hypervisor { NBX_HV_AUTO, NBX_HV_CLOUD_HYPERVISOR, NBX_HV_QEMU };
enum nbx_accel { NBX_ACCEL_AUTO, NBX_ACCEL_KVM, NBX_ACCEL_TCG };
enum nbx_hook { NBX_HOOK_PRE_UP, NBX_HOOK_POST_UP, NBX_HOOK_PRE_DOWN, NBX_HOOK_POST_DOWN,
                NBX_HOOK_COUNT };

const char *nbx_net_mode_name(enum nbx_net_mode m);       /* "off" | "filtered" | "open" */
const char *nbx_hypervisor_name(enum nbx_hypervisor h);   /* "auto" | ... */
const char *nbx_accel_name(enum nbx_accel a);
const char *nbx_hook_name(enum nbx_hook h);               /* "pre-up" | ... */

/* Hard caps on user-controlled counts (validation rejects more). */
#define NBX_MAX_MOUNTS 32
#define NBX_MAX_DOMAINS 256
#define NBX_MAX_PORTS 64
#define NBX_MAX_DNS 8
#define NBX_MAX_ENV 128
#define NBX_MAX_HOOKS 32
#define NBX_MAX_NAME 32
#define NBX_DOMAIN_MAX 253

typedef struct nbx_mount {
        char *source;   /* absolute host path, existing directory */
        char *target;   /* absolute guest path (~ already expanded to the guest home) */
        bool readonly;
        char *origin;   /* "default", "user" or the plugin's name */
} nbx_mount;

typedef struct nbx_env_var {
        char *name;     /* [A-Za-z_][A-Za-z0-9_]* */
        char *value;    /* secret: never logged, never on disk, never in argv */
} nbx_env_var;

/* An upstream DNS server, IPv4 or IPv6. */
typedef struct nbx_ip {
        int family;     /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        };
} nbx_ip;

typedef struct nbx_config {
        char *project_dir;         /* absolute */
        char *config_path;         /* absolute path of .nixbox/config.nix */
        char *name;                /* [a-z0-9][a-z0-9-]{0,31} */
        nbx_strv plugins;          /* resolved plugin names/paths, in order */

        unsigned vcpus;
        unsigned memory_mb;

        nbx_mount *mounts;
        size_t n_mounts;

        enum nbx_net_mode net_mode;
        nbx_strv domains;          /* lowercase, punycode, no "*." prefix, deduplicated */
        uint16_t *ports;           /* TCP ports allowed in filtered mode, deduplicated */
        size_t n_ports;
        nbx_ip *upstream_dns;
        size_t n_upstream_dns;
        bool allow_private;

        nbx_strv nix_packages;
        nbx_strv nix_ld_libraries;
        nbx_strv scripts;          /* absolute paths of existing files */
        nbx_env_var *env;
        size_t n_env;
        nbx_strv hooks[NBX_HOOK_COUNT]; /* plugin hooks first, then the user's */

        enum nbx_hypervisor hypervisor;
        char *image;               /* absolute folder holding image.json; NULL = nixbox build's */
        enum nbx_accel accel;
} nbx_config;

/* Evaluate `<project>/.nixbox/config.nix` and its plugins with nix-instantiate, merge and validate.
 * plugins_dir: where built-in plugins live (NULL = the installed/default location).
 * Errors carry NBX_EXIT_CONFIG and name the file and the field. */
typedef struct nbx_config_opts {
        const char *plugins_dir;
        const char *nix_dir;     /* where nix/eval-config.nix lives (NULL = installed default) */
        const char *host_home;   /* for ~ in mount sources (NULL = invoking user's home) */
        const char *guest_home;  /* for ~ in mount targets (NULL = /home/<guest user>) */
} nbx_config_opts;

int nbx_config_load(const char *project_dir, const nbx_config_opts *opts, nbx_config *ret,
                    nbx_error **err);
void nbx_config_done(nbx_config *c);
