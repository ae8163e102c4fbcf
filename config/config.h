/* The resolved project configuration: what `config.nix`, its plugins and the defaults add up to,
 * validated into typed values.  Everything downstream (net/, vm/, cmd/) reads this struct and
 * never re-parses strings from the user. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "base/check.h"
#include "base/error.h"
#include "base/names.h"
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

/* Each enum's one table of names (config/config_names.c), as config.nix spells the values.
 * nbx_X_name gives the name ("?" for a value outside the enum); nbx_X_from_name parses one and
 * fails with -EINVAL and a message listing the names, with a "did you mean" for a near miss. */
extern const nbx_names nbx_net_mode_table;   /* "off" "filtered" "open" */
extern const nbx_names nbx_hypervisor_table; /* "auto" "cloud-hypervisor" "qemu" */
extern const nbx_names nbx_accel_table;      /* "auto" "kvm" "tcg" */
extern const nbx_names nbx_hook_table;       /* "pre-up" "post-up" "pre-down" "post-down" */
const char *nbx_net_mode_name(enum nbx_net_mode m);
const char *nbx_hypervisor_name(enum nbx_hypervisor h);
const char *nbx_accel_name(enum nbx_accel a);
const char *nbx_hook_name(enum nbx_hook h);
int nbx_net_mode_from_name(const char *name, enum nbx_net_mode *ret, nbx_error **err);
int nbx_hypervisor_from_name(const char *name, enum nbx_hypervisor *ret, nbx_error **err);
int nbx_accel_from_name(const char *name, enum nbx_accel *ret, nbx_error **err);
int nbx_hook_from_name(const char *name, enum nbx_hook *ret, nbx_error **err);

/* Hard caps on user-controlled counts (validation rejects more). */
#define NBX_MAX_MOUNTS 32
#define NBX_MAX_DOMAINS 256
#define NBX_MAX_PORTS 64
#define NBX_MAX_DNS 8
#define NBX_MAX_ENV 128
#define NBX_MAX_HOOKS 32
#define NBX_MAX_NAME 32
#define NBX_MAX_PLUGINS 32
#define NBX_DOMAIN_MAX 253

/* What a mount shows in the guest (docs/config.md, `mounts`). */
enum nbx_mount_kind {
        NBX_MOUNT_HOST,  /* { source; target; }: a host folder, shared over virtiofs */
        NBX_MOUNT_STATE, /* { state = NAME; target; }: a folder of the project's own on the host,
                            outside the project (vm/paths.h: state/NAME), shared over virtiofs */
        NBX_MOUNT_TMPFS, /* { tmpfs = true; target; }: a RAM folder in the guest, no host side */
};

#define NBX_MAX_STATE_NAME 64

typedef struct nbx_mount {
        enum nbx_mount_kind kind;
        char *source; /* NBX_MOUNT_HOST: absolute host path, existing directory; else NULL */
        char *state;  /* NBX_MOUNT_STATE: [A-Za-z0-9][A-Za-z0-9._-]*, at most NBX_MAX_STATE_NAME;
                         else NULL */
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

/* A plugin the project uses, in the order config.nix lists them. */
typedef struct nbx_plugin {
        char *origin; /* its name in origins: "aws", or the path as written relative to the
                         config file's folder ("./my-plugin.nix") */
        char *name;   /* what `nixbox NAME COMMAND` calls it: a built-in's name, a path plugin's
                         folder or file name without .nix ("./tools" and "./tools.nix": "tools");
                         no two plugins of a config share one */
        char *file;   /* absolute .nix file that was evaluated */
        char *dir;    /* absolute folder of that file: where the plugin's own files live */
        bool builtin; /* one of nixbox's plugins/ */
        bool folder;  /* a folder holding default.nix (every built-in): only such a plugin has
                         commands, in dir/commands/ (a single .nix file has none) */
} nbx_plugin;

/* Where each resolved value came from: "default", "user", or a plugin's origin.  List origins
 * run parallel to the lists in nbx_config (domains.v[i] came from origins.domains.v[i]); a
 * mount's origin is in nbx_mount.origin. */
typedef struct nbx_config_origins {
        char *name, *vcpus, *memory_mb, *net_mode, *allow_private, *hypervisor, *image, *accel;
        nbx_strv domains, ports, upstream_dns, nix_packages, nix_ld_libraries, scripts, env;
        nbx_strv hooks[NBX_HOOK_COUNT];
} nbx_config_origins;

typedef struct nbx_config {
        char *project_dir; /* absolute */
        char *config_path; /* absolute path of .nixbox/config.nix */
        char *name;        /* [a-z0-9][a-z0-9-]{0,31} */
        nbx_plugin *plugins;
        size_t n_plugins;

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

        nbx_config_origins origins; /* where each value came from, for `nixbox config` */
        /* Accepted but risky settings, one sentence each naming the field and its file (a
         * shared suffix in network.domains, ...): `nixbox config` prints them. */
        nbx_strv warnings;
} nbx_config;

/* Facts about the host that resource defaults and limits come from. */
typedef struct nbx_host_facts {
        unsigned cores;     /* online CPUs */
        uint64_t memory_mb; /* MemTotal */
} nbx_host_facts;

/* Where nbx_config_load finds its inputs.  Every field is optional: NULL means this machine's
 * and nixbox's installed defaults; tests point them at fixtures. */
typedef struct nbx_config_opts {
        const char *plugins_dir;          /* built-in plugins (NULL = installed plugins/) */
        const char *nix_dir;              /* nix/eval-config.nix (NULL = installed nix/) */
        const char *host_home;            /* ~ in mount sources (NULL = the invoker's home) */
        const char *guest_home;           /* ~ in mount targets (NULL = /home/<guest user>) */
        const nbx_host_facts *host;       /* cores and RAM (NULL = this machine's) */
        const char *resolv_conf;          /* NULL = NBX_RESOLV_CONF */
        const char *resolv_conf_fallback; /* NULL = /run/systemd/resolve/resolv.conf */
        const char *nix_instantiate;      /* NULL = nix-instantiate from PATH */
        /* The folder whose config.nix is evaluated (NULL = <project>/.nixbox): `up`, `reload`
         * and `build` pass the approved copy (config/approval.h).  Messages name the project's
         * .nixbox/ all the same. */
        const char *config_dir;
} nbx_config_opts;

int nbx_host_facts_get(nbx_host_facts *ret, nbx_error **err);

#define NBX_RESOLV_CONF "/etc/resolv.conf"

/* The host's resolvers: nameserver lines of path (NULL = NBX_RESOLV_CONF); when path holds only the
 * systemd-resolved stub (127.0.0.53/127.0.0.54), those of fallback instead.  Capped at NBX_MAX_DNS.
 */
int nbx_resolv_conf_read(const char *path, const char *fallback, nbx_ip **ret, size_t *ret_n,
                         nbx_error **err);
/* "192.0.2.1" / "2001:db8::1" into buf (INET6_ADDRSTRLEN). */
const char *nbx_ip_to_string(const nbx_ip *ip, char *buf, size_t size);
/* An IPv4 or IPv6 address in its text form; false for anything else. */
bool nbx_ip_from_string(const char *s, nbx_ip *ret);
bool nbx_ip_equal(const nbx_ip *a, const nbx_ip *b);

/* Evaluate <project_dir>/.nixbox/config.nix and its plugins with nix-instantiate (as the invoking
 * user), then merge and validate (config_merge.c).  Errors carry NBX_EXIT_CONFIG and name the
 * field and the file, NBX_EXIT_NO_PROJECT without a config file, NBX_EXIT_PREREQ without Nix. */
int nbx_config_load(const char *project_dir, const nbx_config_opts *opts, nbx_config *ret,
                    nbx_error **err);
void nbx_config_done(nbx_config *c);

/* doctor's check of Nix: nix-instantiate in PATH, its version (2.4 or later: the dummy:// store
 * evaluation uses), and a one-line evaluation the way nbx_config_load runs it. */
void nbx_config_check_nix(nbx_checks *l);

/* The resolved config as JSON (shape: docs/config.md, "nixbox config --json"): the values in
 * config.nix's own shape plus "origins".  env values are "********" unless show_secrets. */
int nbx_config_to_json(const nbx_config *c, bool show_secrets, char **ret, nbx_error **err);
/* One mount in config.nix's shape: {"source"|"state"|"tmpfs", "target", "readonly"} (a new
 * reference; NULL on ENOMEM).  `nixbox config --json` and the VM record use it. */
struct json_t;
struct json_t *nbx_config_mount_json(const nbx_mount *m);
/* The same as readable text, one value a line with its origin. */
int nbx_config_to_text(const nbx_config *c, bool show_secrets, char **ret, nbx_error **err);
