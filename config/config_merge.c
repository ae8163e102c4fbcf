/* Merge of the evaluated config: defaults, then each plugin in order, then the user's
 * config.nix.  Scalars: the later source wins.  Lists: concatenated in that order, deduplicated
 * (first occurrence kept) except hooks.  env: the user's only.  Every value is validated as it
 * is merged (config_values.c), so an error names the field, the bad value, what was expected and
 * the file; each value keeps the name of the source it came from (nbx_config.origins). */
#include "config_merge.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_mounts.h"
#include "config_plugins.h"
#include "config_schema.h"
#include "config_values.h"
#include "domain.h"
#include "base/fsutil.h"

typedef struct merge {
        const nbx_config_ctx *ctx;
        nbx_config *c;
        const nbx_psl *psl;
} merge;

static int oom(nbx_error **err) {
        return nbx_error_set(err, ENOMEM, "resolving the config");
}

static int set_str(char **slot, const char *v, nbx_error **err) {
        char *n = strdup(v);
        if (!n)
                return oom(err);
        free(*slot);
        *slot = n;
        return 0;
}

static int push_with_origin(nbx_strv *list, nbx_strv *origins, const char *v,
                            const nbx_config_source *s, nbx_error **err) {
        if (nbx_strv_push(list, v) < 0 || nbx_strv_push(origins, s->origin) < 0)
                return oom(err);
        return 0;
}

/* o.a.b, or NULL when missing or null (the schema check made sure of the types). */
static const json_t *at(const json_t *o, const char *a, const char *b) {
        const json_t *v = json_object_get(o, a);
        if (v && b)
                v = json_is_object(v) ? json_object_get(v, b) : NULL;
        return v && !json_is_null(v) ? v : NULL;
}

/* ---- lists -------------------------------------------------------------------------------- */

/* nix.packages, nix.ldLibraries: attribute paths, deduplicated. */
static int merge_attr_paths(const nbx_config_source *s, const json_t *list, const char *field,
                            nbx_strv *dst, nbx_strv *origins, nbx_error **err) {
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index(field, i);
                _cleanup_free_ char *v = NULL;
                int r = p ? nbx_config_value_attr_path(s, p, json_string_value(x), &v, err)
                          : oom(err);
                if (r < 0)
                        return r;
                if (nbx_strv_contains(dst, v))
                        continue;
                if (dst->n >= NBX_MAX_PACKAGES)
                        return nbx_config_fail(s, err, field, "more than %d entries",
                                               NBX_MAX_PACKAGES);
                if ((r = push_with_origin(dst, origins, v, s, err)) < 0)
                        return r;
        }
        return 0;
}

/* network.domains: normalized, deduplicated, and checked for what each entry reaches (a
 * public suffix is refused, a shared one is kept with a warning). */
static int merge_domains(const merge *m, const nbx_config_source *s, const json_t *list,
                         nbx_error **err) {
        nbx_config *c = m->c;
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index("network.domains", i);
                _cleanup_free_ char *v = NULL, *warning = NULL;
                if (!p)
                        return oom(err);
                if (nbx_domain_normalize(json_string_value(x), &v, err) < 0 ||
                    nbx_domain_check_reach(m->psl, v, &warning, err) < 0)
                        return nbx_config_fail_wrap(s, err, p);
                if (nbx_strv_contains(&c->domains, v))
                        continue;
                if (c->domains.n >= NBX_MAX_DOMAINS)
                        return nbx_config_fail(s, err, "network.domains", "more than %d entries",
                                               NBX_MAX_DOMAINS);
                int r = push_with_origin(&c->domains, &c->origins.domains, v, s, err);
                if (r >= 0 && warning)
                        r = nbx_config_warn(s, &c->warnings, p, warning, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int merge_ports(const nbx_config_source *s, const json_t *list, nbx_config *c,
                       nbx_error **err) {
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index("network.ports", i);
                uint16_t port;
                int r = p ? nbx_config_value_port(s, p, x, &port, err) : oom(err);
                if (r < 0)
                        return r;
                bool dup = false;
                for (size_t k = 0; k < c->n_ports; k++)
                        dup = dup || c->ports[k] == port;
                if (dup)
                        continue;
                if (c->n_ports >= NBX_MAX_PORTS)
                        return nbx_config_fail(s, err, "network.ports", "more than %d ports",
                                               NBX_MAX_PORTS);
                uint16_t *n = realloc(c->ports, (c->n_ports + 1) * sizeof(*n));
                if (!n)
                        return oom(err);
                c->ports = n;
                c->ports[c->n_ports++] = port;
                if (nbx_strv_push(&c->origins.ports, s->origin) < 0)
                        return oom(err);
        }
        return 0;
}

static int push_dns(nbx_config *c, const nbx_ip *ip, const char *origin, nbx_error **err) {
        for (size_t k = 0; k < c->n_upstream_dns; k++)
                if (nbx_ip_equal(&c->upstream_dns[k], ip))
                        return 0;
        nbx_ip *n = realloc(c->upstream_dns, (c->n_upstream_dns + 1) * sizeof(*n));
        if (!n)
                return oom(err);
        c->upstream_dns = n;
        c->upstream_dns[c->n_upstream_dns++] = *ip;
        return nbx_strv_push(&c->origins.upstream_dns, origin) < 0 ? oom(err) : 0;
}

static int merge_dns(const nbx_config_source *s, const json_t *list, nbx_config *c,
                     nbx_error **err) {
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index("network.upstreamDns", i);
                nbx_ip ip;
                int r = p ? nbx_config_value_ip(s, p, json_string_value(x), &ip, err) : oom(err);
                if (r < 0)
                        return r;
                if (c->n_upstream_dns >= NBX_MAX_DNS)
                        return nbx_config_fail(s, err, "network.upstreamDns",
                                               "more than %d servers", NBX_MAX_DNS);
                if ((r = push_dns(c, &ip, s->origin, err)) < 0)
                        return r;
        }
        return 0;
}

static int merge_scripts(const merge *m, const nbx_config_source *s, const json_t *list,
                         nbx_error **err) {
        nbx_config *c = m->c;
        size_t i;
        json_t *x;
        json_array_foreach(list, i, x) {
                _cleanup_free_ char *p = nbx_config_field_index("scripts", i);
                _cleanup_free_ char *path = NULL;
                int r = p ? nbx_config_value_host_path(s, m->ctx, p, json_string_value(x), &path,
                                                       err)
                          : oom(err);
                if (r < 0)
                        return r;
                if (!nbx_is_file(path))
                        return nbx_config_fail(s, err, p, "%s is not a regular file", path);
                if (c->scripts.n >= NBX_MAX_SCRIPTS)
                        return nbx_config_fail(s, err, "scripts", "more than %d scripts",
                                               NBX_MAX_SCRIPTS);
                if ((r = push_with_origin(&c->scripts, &c->origins.scripts, path, s, err)) < 0)
                        return r;
        }
        return 0;
}

/* The index of env variable name in c, adding it (value NULL) when new. */
static int env_slot(const nbx_config_source *s, nbx_config *c, const char *name, size_t *ret,
                    nbx_error **err) {
        for (size_t i = 0; i < c->n_env; i++)
                if (strcmp(c->env[i].name, name) == 0) {
                        *ret = i;
                        return set_str(&c->origins.env.v[i], s->origin, err);
                }
        if (c->n_env >= NBX_MAX_ENV)
                return nbx_config_fail(s, err, "env", "more than %d variables", NBX_MAX_ENV);
        nbx_env_var *n = realloc(c->env, (c->n_env + 1) * sizeof(*n));
        if (!n)
                return oom(err);
        c->env = n;
        c->env[c->n_env] = (nbx_env_var){0};
        if (!(c->env[c->n_env].name = strdup(name)) ||
            nbx_strv_push(&c->origins.env, s->origin) < 0) {
                free(c->env[c->n_env].name);
                return oom(err);
        }
        *ret = c->n_env++;
        return 0;
}

static int merge_env(const nbx_config_source *s, const json_t *env, nbx_config *c,
                     nbx_error **err) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)env, k, x) {
                _cleanup_free_ char *p = nbx_config_field("env", k);
                int r = p ? nbx_config_value_env_name(s, p, k, err) : oom(err);
                if (r < 0)
                        return r;
                const char *v = json_string_value(x);
                if (strlen(v) > NBX_MAX_ENV_VALUE)
                        return nbx_config_fail(s, err, p, "value longer than %d bytes",
                                               NBX_MAX_ENV_VALUE);
                size_t idx = 0;
                if ((r = env_slot(s, c, k, &idx, err)) < 0)
                        return r;
                if (c->env[idx].value)
                        explicit_bzero(c->env[idx].value, strlen(c->env[idx].value));
                if ((r = set_str(&c->env[idx].value, v, err)) < 0)
                        return r;
        }
        return 0;
}

static int merge_hooks(const nbx_config_source *s, const json_t *hooks, nbx_config *c,
                       nbx_error **err) {
        for (enum nbx_hook h = 0; h < NBX_HOOK_COUNT; h++) {
                const json_t *list = at(hooks, nbx_hook_name(h), NULL);
                _cleanup_free_ char *field = nbx_config_field("hooks", nbx_hook_name(h));
                if (!field)
                        return oom(err);
                size_t i;
                json_t *x;
                json_array_foreach(list, i, x) {
                        _cleanup_free_ char *p = nbx_config_field_index(field, i);
                        const char *cmd = json_string_value(x);
                        if (!*cmd)
                                return nbx_config_fail(s, err, p, "empty command");
                        if (strlen(cmd) > NBX_MAX_HOOK_LEN)
                                return nbx_config_fail(s, err, p, "command longer than %d bytes",
                                                       NBX_MAX_HOOK_LEN);
                        if (c->hooks[h].n >= NBX_MAX_HOOKS)
                                return nbx_config_fail(s, err, field, "more than %d commands",
                                                       NBX_MAX_HOOKS);
                        int r = push_with_origin(&c->hooks[h], &c->origins.hooks[h], cmd, s, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- scalars ------------------------------------------------------------------------------ */

static int merge_resources(const merge *m, const nbx_config_source *s, nbx_error **err) {
        nbx_config *c = m->c;
        const nbx_host_facts *host = &m->ctx->host;
        const json_t *v;
        int r;
        if ((v = at(s->v, "resources", "vcpus"))) {
                json_int_t n = json_integer_value(v);
                if (n < 1 || (uint64_t)n > host->cores)
                        return nbx_config_fail(s, err, "resources.vcpus",
                                               "expected 1..%u (this host's CPU count), got %lld",
                                               host->cores, (long long)n);
                c->vcpus = (unsigned)n;
                if ((r = set_str(&c->origins.vcpus, s->origin, err)) < 0)
                        return r;
        }
        if ((v = at(s->v, "resources", "memoryMB"))) {
                json_int_t n = json_integer_value(v);
                if (n < 256 || (uint64_t)n > host->memory_mb || (uint64_t)n > UINT32_MAX)
                        return nbx_config_fail(s, err, "resources.memoryMB",
                                               "expected 256..%llu (this host's RAM in MB), got "
                                               "%lld",
                                               (unsigned long long)host->memory_mb, (long long)n);
                c->memory_mb = (unsigned)n;
                if ((r = set_str(&c->origins.memory_mb, s->origin, err)) < 0)
                        return r;
        }
        return 0;
}

static int merge_network(const merge *m, const nbx_config_source *s, nbx_error **err) {
        nbx_config *c = m->c;
        const json_t *o = s->v, *v;
        int r;
        if ((v = at(o, "network", "mode"))) {
                if (nbx_net_mode_from_name(json_string_value(v), &c->net_mode, err) < 0)
                        return nbx_config_fail_wrap(s, err, "network.mode");
                if ((r = set_str(&c->origins.net_mode, s->origin, err)) < 0)
                        return r;
        }
        if ((r = merge_domains(m, s, at(o, "network", "domains"), err)) < 0 ||
            (r = merge_ports(s, at(o, "network", "ports"), c, err)) < 0 ||
            (r = merge_dns(s, at(o, "network", "upstreamDns"), c, err)) < 0)
                return r;
        if ((v = at(o, "network", "allowPrivate"))) {
                c->allow_private = json_is_true(v);
                if ((r = set_str(&c->origins.allow_private, s->origin, err)) < 0)
                        return r;
        }
        return 0;
}

static int merge_vm(const merge *m, const nbx_config_source *s, nbx_error **err) {
        nbx_config *c = m->c;
        const json_t *v;
        int r;
        if ((v = at(s->v, "vm", "hypervisor"))) {
                if (nbx_hypervisor_from_name(json_string_value(v), &c->hypervisor, err) < 0)
                        return nbx_config_fail_wrap(s, err, "vm.hypervisor");
                if ((r = set_str(&c->origins.hypervisor, s->origin, err)) < 0)
                        return r;
        }
        if ((v = at(s->v, "vm", "accel"))) {
                if (nbx_accel_from_name(json_string_value(v), &c->accel, err) < 0)
                        return nbx_config_fail_wrap(s, err, "vm.accel");
                if ((r = set_str(&c->origins.accel, s->origin, err)) < 0)
                        return r;
        }
        if ((v = at(s->v, "vm", "image"))) {
                _cleanup_free_ char *img = NULL, *meta = NULL;
                r = nbx_config_value_host_path(s, m->ctx, "vm.image", json_string_value(v), &img,
                                               err);
                if (r < 0)
                        return r;
                if (!(meta = nbx_path_join(img, "image.json")))
                        return oom(err);
                if (!nbx_is_dir(img) || !nbx_is_file(meta))
                        return nbx_config_fail(s, err, "vm.image",
                                               "%s is not an image folder (expected a folder "
                                               "holding image.json)",
                                               img);
                free(c->image);
                c->image = TAKE_PTR(img);
                if ((r = set_str(&c->origins.image, s->origin, err)) < 0)
                        return r;
        }
        return 0;
}

static int merge_source(const merge *m, const nbx_config_source *s, nbx_error **err) {
        nbx_config *c = m->c;
        const json_t *o = s->v, *v;
        int r;
        if ((v = at(o, "name", NULL))) {
                _cleanup_free_ char *n = NULL;
                if ((r = nbx_config_value_name(s, "name", json_string_value(v), &n, err)) < 0)
                        return r;
                free(c->name);
                c->name = TAKE_PTR(n);
                if ((r = set_str(&c->origins.name, s->origin, err)) < 0)
                        return r;
        }
        if ((r = merge_resources(m, s, err)) < 0 ||
            (r = nbx_config_mounts_merge(m->ctx, s, at(o, "mounts", NULL), c, err)) < 0 ||
            (r = merge_network(m, s, err)) < 0 ||
            (r = merge_attr_paths(s, at(o, "nix", "packages"), "nix.packages", &c->nix_packages,
                                  &c->origins.nix_packages, err)) < 0 ||
            (r = merge_attr_paths(s, at(o, "nix", "ldLibraries"), "nix.ldLibraries",
                                  &c->nix_ld_libraries, &c->origins.nix_ld_libraries, err)) < 0 ||
            (r = merge_scripts(m, s, at(o, "scripts", NULL), err)) < 0 ||
            (r = merge_env(s, at(o, "env", NULL), c, err)) < 0 ||
            (r = merge_hooks(s, at(o, "hooks", NULL), c, err)) < 0)
                return r;
        return merge_vm(m, s, err);
}

/* ---- defaults ----------------------------------------------------------------------------- */

/* The project folder's name made into a valid VM name ("My_Project" → "my-project"). */
static char *default_name(const char *project_dir) {
        const char *base = strrchr(project_dir, '/');
        base = base ? base + 1 : project_dir;
        char out[NBX_MAX_NAME + 1];
        size_t n = 0;
        for (const char *p = base; *p && n < NBX_MAX_NAME; p++) {
                unsigned char ch = (unsigned char)tolower((unsigned char)*p);
                if (isalnum(ch) && ch < 0x80)
                        out[n++] = (char)ch;
                else if (n > 0 && out[n - 1] != '-')
                        out[n++] = '-';
        }
        while (n > 0 && out[n - 1] == '-')
                n--;
        out[n] = '\0';
        return strdup(n ? out : "nixbox");
}

static int set_defaults(const nbx_config_ctx *ctx, const json_t *user, nbx_config *c,
                        nbx_error **err) {
        static const nbx_config_source def = {.origin = "default", .file = "defaults"};
        nbx_config_origins *o = &c->origins;
        uint64_t mem = ctx->host.memory_mb / 2;
        if (mem < 4096)
                mem = 4096;
        if (mem > ctx->host.memory_mb)
                mem = ctx->host.memory_mb;
        c->vcpus = ctx->host.cores ? ctx->host.cores : 1;
        c->memory_mb = (unsigned)(mem > UINT32_MAX ? UINT32_MAX : mem);
        c->net_mode = NBX_NET_OPEN;
        c->allow_private = false;
        c->hypervisor = NBX_HV_AUTO;
        c->accel = NBX_ACCEL_AUTO;
        char **scalars[] = {&o->name,          &o->vcpus,      &o->memory_mb, &o->net_mode,
                            &o->allow_private, &o->hypervisor, &o->image,     &o->accel};
        int r;
        for (size_t i = 0; i < NBX_ARRAY_SIZE(scalars); i++)
                if ((r = set_str(scalars[i], def.origin, err)) < 0)
                        return r;
        if (!(c->name = default_name(ctx->project_dir)))
                return oom(err);
        if ((r = push_with_origin(&c->domains, &o->domains, "nixos.org", &def, err)) < 0)
                return r;
        static const uint16_t ports[] = {80, 443};
        if (!(c->ports = calloc(NBX_ARRAY_SIZE(ports), sizeof(*c->ports))))
                return oom(err);
        for (size_t i = 0; i < NBX_ARRAY_SIZE(ports); i++) {
                c->ports[c->n_ports++] = ports[i];
                if (nbx_strv_push(&o->ports, def.origin) < 0)
                        return oom(err);
        }
        /* the workspace mount is there unless the user's own config says `mounts` (a plugin's
         * mounts never remove it) */
        if (!at(user, "mounts", NULL) && ctx->guest_home)
                return nbx_config_mounts_default(ctx, c, err);
        return 0;
}

/* Without network.upstreamDns anywhere, the host's resolvers; none at all is an error unless
 * the VM has no network. */
static int default_dns(const nbx_config_ctx *ctx, const nbx_config_source *user, nbx_config *c,
                       nbx_error **err) {
        if (c->n_upstream_dns)
                return 0;
        _cleanup_free_ nbx_ip *ips = NULL;
        size_t n = 0;
        int r = nbx_resolv_conf_read(ctx->resolv_conf, ctx->resolv_conf_fallback, &ips, &n, err);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = push_dns(c, &ips[i], "default", err);
        if (r >= 0 && n == 0 && c->net_mode != NBX_NET_OFF)
                r = nbx_config_fail(user, err, "network.upstreamDns",
                                    "not set, and no nameserver found in %s; list DNS servers "
                                    "for the VM",
                                    ctx->resolv_conf ? ctx->resolv_conf : NBX_RESOLV_CONF);
        return r;
}

/* ---- entry -------------------------------------------------------------------------------- */

static int resolve(const json_t *eval, const nbx_config_ctx *ctx, nbx_config *c, nbx_error **err) {
        nbx_config_source user = {.origin = "user", .file = ctx->config_path, .is_user = true};
        user.v = json_object_get(eval, "user");
        if (!json_is_object(user.v))
                return nbx_config_fail(
                        &user, err, NULL,
                        "config.nix must be an attribute set { ... }, this file is %s",
                        nbx_config_nix_type(json_string_value(json_object_get(eval, "userType"))));
        int r = nbx_config_schema_check(&user, err);
        if (r < 0)
                return r;

        nbx_config_source plugins[NBX_MAX_PLUGINS];
        if ((r = nbx_config_plugins_load(json_object_get(eval, "plugins"), ctx, &user, c, plugins,
                                         err)) < 0)
                return r;

        _cleanup_(nbx_psl_freep) nbx_psl *own_psl = NULL;
        const nbx_psl *psl = ctx->psl;
        if (!psl && (r = nbx_psl_open(NULL, NULL, &own_psl, err)) < 0)
                return nbx_error_wrap(err, "checking network.domains");
        psl = psl ? psl : own_psl;
        if (nbx_psl_warning(psl) && nbx_strv_push(&c->warnings, nbx_psl_warning(psl)) < 0)
                return oom(err);
        merge m = {.ctx = ctx, .c = c, .psl = psl};

        if ((r = set_defaults(ctx, user.v, c, err)) < 0)
                return r;
        for (size_t i = 0; i < c->n_plugins; i++)
                if ((r = merge_source(&m, &plugins[i], err)) < 0)
                        return r;
        if ((r = merge_source(&m, &user, err)) < 0)
                return r;
        return default_dns(ctx, &user, c, err);
}

int nbx_config_resolve(const json_t *eval, const nbx_config_ctx *ctx, nbx_config *ret,
                       nbx_error **err) {
        nbx_config c = {0};
        int r = 0;
        if (!(c.project_dir = strdup(ctx->project_dir)) ||
            !(c.config_path = strdup(ctx->config_path)))
                r = oom(err);
        if (r >= 0)
                r = resolve(eval, ctx, &c, err);
        if (r < 0) {
                nbx_config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

static void origins_done(nbx_config_origins *o) {
        char *scalars[] = {o->name,          o->vcpus,      o->memory_mb, o->net_mode,
                           o->allow_private, o->hypervisor, o->image,     o->accel};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(scalars); i++)
                free(scalars[i]);
        nbx_strv *lists[] = {&o->domains,          &o->ports,   &o->upstream_dns, &o->nix_packages,
                             &o->nix_ld_libraries, &o->scripts, &o->env};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(lists); i++)
                nbx_strv_clear(lists[i]);
        for (int h = 0; h < NBX_HOOK_COUNT; h++)
                nbx_strv_clear(&o->hooks[h]);
}

void nbx_config_done(nbx_config *c) {
        if (!c)
                return;
        free(c->project_dir);
        free(c->config_path);
        free(c->name);
        for (size_t i = 0; i < c->n_plugins; i++) {
                free(c->plugins[i].origin);
                free(c->plugins[i].name);
                free(c->plugins[i].file);
                free(c->plugins[i].dir);
        }
        free(c->plugins);
        nbx_config_mounts_done(c);
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
        origins_done(&c->origins);
        nbx_strv_clear(&c->warnings);
        memset(c, 0, sizeof(*c));
}
