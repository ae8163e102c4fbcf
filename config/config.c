/* Config resolution: find the data folders, evaluate with Nix (config_eval.c), merge and validate
 * (config_merge.c).  Also the host facts the defaults come from. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "base/fsutil.h"
#include "base/project.h"
#include "base/user.h"

#define RESOLV_CONF "/etc/resolv.conf"
#define RESOLV_CONF_SYSTEMD "/run/systemd/resolve/resolv.conf"

int nbx_host_facts_get(nbx_host_facts *ret, nbx_error **err) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (cores < 1)
                cores = 1;
        _cleanup_free_ char *mi = NULL;
        int r = nbx_read_file("/proc/meminfo", 1 << 20, &mi, NULL, err);
        if (r < 0)
                return r;
        const char *p = strstr(mi, "MemTotal:");
        unsigned long long kb = 0;
        if (!p || sscanf(p, "MemTotal: %llu kB", &kb) != 1 || kb == 0)
                return nbx_error_set(err, EINVAL, "no MemTotal in /proc/meminfo");
        *ret = (nbx_host_facts){.cores = (unsigned)cores, .memory_mb = kb / 1024};
        return 0;
}

const char *nbx_ip_to_string(const nbx_ip *ip, char *buf, size_t size) {
        const void *a = ip->family == AF_INET6 ? (const void *)&ip->v6 : (const void *)&ip->v4;
        if (!inet_ntop(ip->family == AF_INET6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)size))
                snprintf(buf, size, "?");
        return buf;
}

/* nameserver lines of path, at most NBX_MAX_DNS, deduplicated.  A missing file gives none. */
static int read_nameservers(const char *path, nbx_ip *out, size_t *n, nbx_error **err) {
        _cleanup_free_ char *data = NULL;
        *n = 0;
        int r = nbx_read_file(path, 1 << 20, &data, NULL, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return nbx_error_set(err, -r, "read %s", path);
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char word[16], addr[64];
                if (sscanf(line, " %15s %63s", word, addr) != 2 || strcmp(word, "nameserver") != 0)
                        continue;
                char *pct = strchr(addr, '%'); /* fe80::1%eth0: a zone we cannot use */
                if (pct)
                        continue;
                nbx_ip ip = {0};
                if (inet_pton(AF_INET, addr, &ip.v4) == 1)
                        ip.family = AF_INET;
                else if (inet_pton(AF_INET6, addr, &ip.v6) == 1)
                        ip.family = AF_INET6;
                else
                        continue;
                bool dup = false;
                for (size_t i = 0; i < *n; i++)
                        dup = dup ||
                              (out[i].family == ip.family && memcmp(&out[i], &ip, sizeof(ip)) == 0);
                if (!dup && *n < NBX_MAX_DNS)
                        out[(*n)++] = ip;
        }
        return 0;
}

static bool is_resolved_stub(const nbx_ip *ip) {
        if (ip->family != AF_INET)
                return false;
        uint32_t a = ntohl(ip->v4.s_addr);
        return a == 0x7f000035 /* 127.0.0.53 */ || a == 0x7f000036 /* 127.0.0.54 */;
}

int nbx_resolv_conf_read(const char *path, const char *fallback, nbx_ip **ret, size_t *ret_n,
                         nbx_error **err) {
        if (!path)
                path = RESOLV_CONF;
        if (!fallback)
                fallback = RESOLV_CONF_SYSTEMD;
        nbx_ip ips[NBX_MAX_DNS];
        memset(ips, 0, sizeof(ips));
        size_t n = 0;
        int r = read_nameservers(path, ips, &n, err);
        if (r < 0)
                return r;
        bool only_stub = n > 0;
        for (size_t i = 0; i < n; i++)
                only_stub = only_stub && is_resolved_stub(&ips[i]);
        if (only_stub) {
                r = read_nameservers(fallback, ips, &n, err);
                if (r < 0)
                        return r;
        }
        nbx_ip *out = NULL;
        if (n) {
                out = calloc(n, sizeof(*out));
                if (!out)
                        return nbx_error_set(err, ENOMEM, "resolvers");
                memcpy(out, ips, n * sizeof(*out));
        }
        *ret = out;
        *ret_n = n;
        return 0;
}

static void origins_done(nbx_config_origins *o) {
        free(o->name);
        free(o->vcpus);
        free(o->memory_mb);
        free(o->net_mode);
        free(o->allow_private);
        free(o->hypervisor);
        free(o->image);
        free(o->accel);
        nbx_strv_clear(&o->domains);
        nbx_strv_clear(&o->ports);
        nbx_strv_clear(&o->upstream_dns);
        nbx_strv_clear(&o->nix_packages);
        nbx_strv_clear(&o->nix_ld_libraries);
        nbx_strv_clear(&o->scripts);
        nbx_strv_clear(&o->env);
        nbx_strv_clear(&o->plugins);
        for (int h = 0; h < NBX_HOOK_COUNT; h++)
                nbx_strv_clear(&o->hooks[h]);
}

void nbx_config_done(nbx_config *c) {
        if (!c)
                return;
        free(c->project_dir);
        free(c->config_path);
        free(c->name);
        nbx_strv_clear(&c->plugins);
        for (size_t i = 0; i < c->n_mounts; i++) {
                free(c->mounts[i].source);
                free(c->mounts[i].target);
                free(c->mounts[i].origin);
        }
        free(c->mounts);
        nbx_strv_clear(&c->domains);
        free(c->ports);
        free(c->upstream_dns);
        nbx_strv_clear(&c->nix_packages);
        nbx_strv_clear(&c->nix_ld_libraries);
        nbx_strv_clear(&c->scripts);
        for (size_t i = 0; i < c->n_env; i++) {
                free(c->env[i].name);
                if (c->env[i].value) {
                        explicit_bzero(c->env[i].value, strlen(c->env[i].value));
                        free(c->env[i].value);
                }
        }
        free(c->env);
        for (int h = 0; h < NBX_HOOK_COUNT; h++)
                nbx_strv_clear(&c->hooks[h]);
        free(c->image);
        nbx_strv_clear(&c->plugin_files);
        origins_done(&c->origins);
        memset(c, 0, sizeof(*c));
}

static char *abs_dir(const char *given, const char *sub) {
        if (given)
                return realpath(given, NULL);
        _cleanup_free_ char *d = nbx_path_join(NBX_DATADIR, sub);
        return d ? realpath(d, NULL) : NULL;
}

int nbx_config_load(const char *project_dir, const nbx_config_opts *opts, nbx_config *ret,
                    nbx_error **err) {
        static const nbx_config_opts no_opts = {0};
        if (!opts)
                opts = &no_opts;

        _cleanup_free_ char *root = realpath(project_dir, NULL);
        if (!root)
                return nbx_error_setx(err, NBX_EXIT_NO_PROJECT, errno, "project folder %s",
                                      project_dir);
        _cleanup_free_ char *cfg_dir = nbx_path_join(root, NBX_PROJECT_DIRNAME);
        _cleanup_free_ char *cfg = nbx_path_join(cfg_dir, NBX_CONFIG_FILENAME);
        if (!cfg_dir || !cfg)
                return nbx_error_set(err, ENOMEM, "config path");
        if (!nbx_is_file(cfg))
                return nbx_error_setx(err, NBX_EXIT_NO_PROJECT, ENOENT,
                                      "%s (run `nixbox init` to create it)", cfg);

        _cleanup_free_ char *plugins_dir = abs_dir(opts->plugins_dir, "plugins");
        _cleanup_free_ char *nix_dir = abs_dir(opts->nix_dir, "nix");
        if (!plugins_dir || !nix_dir)
                return nbx_error_setx(
                        err, NBX_EXIT_PREREQ, errno ? errno : ENOENT,
                        "nixbox's data folder (%s) is missing",
                        !nix_dir ? (opts->nix_dir ? opts->nix_dir : "nix")
                                 : (opts->plugins_dir ? opts->plugins_dir : "plugins"));

        nbx_invoker inv = {0};
        bool have_inv = false;
        if (!opts->host_home || !opts->guest_home || geteuid() == 0) {
                int r = nbx_invoker_get(&inv, err);
                if (r < 0)
                        return nbx_error_wrap(err, "resolving the config");
                have_inv = true;
        }
        _cleanup_free_ char *guest_home = NULL;
        if (opts->guest_home)
                guest_home = strdup(opts->guest_home);
        else if (asprintf(&guest_home, "/home/%s", inv.guest_user) < 0)
                guest_home = NULL;

        nbx_host_facts host;
        int r = 0;
        if (opts->host)
                host = *opts->host;
        else
                r = nbx_host_facts_get(&host, err);

        json_t *eval = NULL;
        if (r >= 0 && !guest_home)
                r = nbx_error_set(err, ENOMEM, "guest home");
        if (r >= 0) {
                nbx_config_eval_opts eo = {.config_path = cfg,
                                           .plugins_dir = plugins_dir,
                                           .nix_dir = nix_dir,
                                           .nix_instantiate = opts->nix_instantiate};
                /* Nix runs as the invoking user, never as root for someone else. */
                if (have_inv && geteuid() == 0 && inv.uid != 0) {
                        eo.drop_privileges = true;
                        eo.uid = inv.uid;
                        eo.gid = inv.gid;
                        eo.home = inv.home;
                }
                r = nbx_config_eval(&eo, &eval, err);
        }

        nbx_config c = {0};
        if (r >= 0) {
                nbx_config_ctx ctx = {.project_dir = root,
                                      .config_path = cfg,
                                      .config_dir = cfg_dir,
                                      .plugins_dir = plugins_dir,
                                      .host_home = opts->host_home ? opts->host_home : inv.home,
                                      .guest_home = guest_home,
                                      .host = host,
                                      .resolv_conf =
                                              opts->resolv_conf ? opts->resolv_conf : RESOLV_CONF,
                                      .resolv_conf_fallback = opts->resolv_conf_fallback};
                c.project_dir = strdup(root);
                c.config_path = strdup(cfg);
                if (!c.project_dir || !c.config_path)
                        r = nbx_error_set(err, ENOMEM, "config");
                else
                        r = nbx_config_merge(eval, &ctx, &c, err);
        }
        json_decref(eval);
        if (have_inv)
                nbx_invoker_done(&inv);
        if (r < 0) {
                nbx_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}
