/* The resolved project configuration: what `config.nix`, its plugins and the defaults add up to,
 * validated into typed values.  Everything downstream (net/, vm/, cmd/) reads this struct and
 * never re-parses strings from the user. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "base/error.h"
#include "base/strv.h"

enum nbx_net_mode { NBX_NET_OFF, NBX_NET_FILTERED, NBX_NET_OPEN };
enum nbx_hypervisor { NBX_HV_AUTO, NBX_HV_CLOUD_HYPERVISOR, NBX_HV_QEMU };
enum nbx_accel { NBX_ACCEL_AUTO, NBX_ACCEL_KVM, NBX_ACCEL_TCG };
enum nbx_hook {
        NBX_HOOK_PRE_UP,
        NBX_HOOK_POST_UP,
        NBX_HOOK_PRE_DOWN,
        NBX_HOOK_POST_DOWN,
        NBX_HOOK_COUNT
};

const char *nbx_net_mode_name(enum nbx_net_mode m);     /* "off" | "filtered" | "open" */
const char *nbx_hypervisor_name(enum nbx_hypervisor h); /* "auto" | ... */
const char *nbx_accel_name(enum nbx_accel a);
const char *nbx_hook_name(enum nbx_hook h); /* "pre-up" | ... */

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
        char *source; /* absolute host path, existing directory */
        char *target; /* absolute guest path (~ already expanded to the guest home) */
        bool readonly;
        char *origin; /* "default", "user" or the plugin's name */
} nbx_mount;

typedef struct nbx_env_var {
        char *name;  /* [A-Za-z_][A-Za-z0-9_]* */
        char *value; /* secret: never logged, never on disk, never in argv */
} nbx_env_var;

/* An upstream DNS server, IPv4 or IPv6. */
typedef struct nbx_ip {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        };
} nbx_ip;

/* Where each resolved value came from: "default", "user", or a plugin's name (a built-in's name,
 * or a path plugin's path relative to the config file's folder, e.g. "./my-plugin.nix").  List
 * origins run parallel to the lists in nbx_config (domains.v[i] came from origins.domains.v[i]);
 * a mount's origin is in nbx_mount.origin. */
typedef struct nbx_config_origins {
        char *name, *vcpus, *memory_mb, *net_mode, *allow_private, *hypervisor, *image, *accel;
        nbx_strv domains, ports, upstream_dns, nix_packages, nix_ld_libraries, scripts, env;
        nbx_strv hooks[NBX_HOOK_COUNT];
        nbx_strv plugins; /* each plugin's name as used in origins, parallel to plugins */
} nbx_config_origins;

typedef struct nbx_config {
        char *project_dir; /* absolute */
        char *config_path; /* absolute path of .nixbox/config.nix */
        char *name;        /* [a-z0-9][a-z0-9-]{0,31} */
        nbx_strv plugins;  /* resolved plugin names/paths, in order */

        unsigned vcpus;
        unsigned memory_mb;

        nbx_mount *mounts;
        size_t n_mounts;

        enum nbx_net_mode net_mode;
        nbx_strv domains; /* lowercase, punycode, no "*." prefix, deduplicated */
        uint16_t *ports;  /* TCP ports allowed in filtered mode, deduplicated */
        size_t n_ports;
        nbx_ip *upstream_dns;
        size_t n_upstream_dns;
        bool allow_private;

        nbx_strv nix_packages;
        nbx_strv nix_ld_libraries;
        nbx_strv scripts; /* absolute paths of existing files */
        nbx_env_var *env;
        size_t n_env;
        nbx_strv hooks[NBX_HOOK_COUNT]; /* plugin hooks first, then the user's */

        enum nbx_hypervisor hypervisor;
        char *image; /* absolute folder holding image.json; NULL = nixbox build's */
        enum nbx_accel accel;

        /* Added by config resolution (issue 4): */
        nbx_strv plugin_files;      /* absolute .nix file of each plugin, parallel to plugins */
        nbx_config_origins origins; /* where each value came from, for `nixbox config` */
} nbx_config;

/* Facts about the host that resource defaults and limits come from. */
typedef struct nbx_host_facts {
        unsigned cores;     /* online CPUs */
        uint64_t memory_mb; /* MemTotal */
} nbx_host_facts;

/* Evaluate `<project>/.nixbox/config.nix` and its plugins with nix-instantiate, merge and validate.
 * plugins_dir: where built-in plugins live (NULL = the installed/default location).
 * Errors carry NBX_EXIT_CONFIG and name the file and the field. */
typedef struct nbx_config_opts {
        const char *plugins_dir;
        const char *nix_dir;    /* where nix/eval-config.nix lives (NULL = installed default) */
        const char *host_home;  /* for ~ in mount sources (NULL = invoking user's home) */
        const char *guest_home; /* for ~ in mount targets (NULL = /home/<guest user>) */
        /* Added by config resolution (issue 4), all optional: */
        const nbx_host_facts *host;       /* cores and RAM (NULL = this machine's) */
        const char *resolv_conf;          /* NULL = /etc/resolv.conf */
        const char *resolv_conf_fallback; /* NULL = /run/systemd/resolve/resolv.conf */
        const char *nix_instantiate;      /* NULL = nix-instantiate from PATH */
} nbx_config_opts;

int nbx_host_facts_get(nbx_host_facts *ret, nbx_error **err);

/* The host's resolvers: nameserver lines of path; when path holds only the systemd-resolved stub
 * (127.0.0.53/127.0.0.54), those of fallback instead.  Capped at NBX_MAX_DNS. */
int nbx_resolv_conf_read(const char *path, const char *fallback, nbx_ip **ret, size_t *ret_n,
                         nbx_error **err);
/* "192.0.2.1" / "2001:db8::1" into buf (INET6_ADDRSTRLEN). */
const char *nbx_ip_to_string(const nbx_ip *ip, char *buf, size_t size);

int nbx_config_load(const char *project_dir, const nbx_config_opts *opts, nbx_config *ret,
                    nbx_error **err);
void nbx_config_done(nbx_config *c);

/* The resolved config as JSON (shape: docs/config.md, "nixbox config --json"): the values in
 * config.nix's own shape plus "origins".  env values are "********" unless show_secrets. */
int nbx_config_to_json(const nbx_config *c, bool show_secrets, char **ret, nbx_error **err);
/* The same as readable text, one value a line with its origin. */
int nbx_config_to_text(const nbx_config *c, bool show_secrets, char **ret, nbx_error **err);
