/* The resolved config for people (`nixbox config`) and programs (`nixbox config --json`). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define SECRET_MASK "********"

static json_t *dns_json(const nbx_config *c) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < c->n_upstream_dns; i++) {
                char buf[INET6_ADDRSTRLEN];
                json_array_append_new(
                        a, json_string(nbx_ip_to_string(&c->upstream_dns[i], buf, sizeof(buf))));
        }
        return a;
}

/* A mount in config.nix's own shape: { source | state | tmpfs, target, readonly }. */
json_t *nbx_config_mount_json(const nbx_mount *m) {
        json_t *o = m->kind == NBX_MOUNT_HOST    ? json_pack("{s:s?}", "source", m->source)
                    : m->kind == NBX_MOUNT_STATE ? json_pack("{s:s?}", "state", m->state)
                                                 : json_pack("{s:b}", "tmpfs", true);
        if (o && (json_object_set_new(o, "target", json_string(m->target)) < 0 ||
                  json_object_set_new(o, "readonly", json_boolean(m->readonly)) < 0)) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *values_json(const nbx_config *c, bool show_secrets) {
        json_t *mounts = json_array(), *ports = json_array(), *env = json_object(),
               *hooks = json_object(), *plugins = json_array();
        for (size_t i = 0; i < c->n_mounts; i++)
                json_array_append_new(mounts, nbx_config_mount_json(&c->mounts[i]));
        for (size_t i = 0; i < c->n_ports; i++)
                json_array_append_new(ports, json_integer(c->ports[i]));
        for (size_t i = 0; i < c->n_env; i++)
                json_object_set_new(env, c->env[i].name,
                                    json_string(show_secrets ? c->env[i].value : SECRET_MASK));
        for (int h = 0; h < NBX_HOOK_COUNT; h++)
                json_object_set_new(hooks, nbx_hook_name(h), nbx_strv_to_json(&c->hooks[h]));
        for (size_t i = 0; i < c->n_plugins; i++)
                json_array_append_new(
                        plugins, json_pack("{s:s, s:s, s:s, s:b}", "name", c->plugins[i].origin,
                                           "command", c->plugins[i].name, "file",
                                           c->plugins[i].file, "builtin", c->plugins[i].builtin));
        return json_pack("{s:s, s:s, s:o, s:s, s:{s:I, s:I}, s:o, s:{s:s, s:o, s:o, s:o, s:b},"
                         " s:{s:o, s:o}, s:o, s:o, s:o, s:{s:s, s:s?, s:s}}",
                         "projectDir", c->project_dir, "configPath", c->config_path, "plugins",
                         plugins, "name", c->name, "resources", "vcpus", (json_int_t)c->vcpus,
                         "memoryMB", (json_int_t)c->memory_mb, "mounts", mounts, "network", "mode",
                         nbx_net_mode_name(c->net_mode), "domains", nbx_strv_to_json(&c->domains),
                         "ports", ports, "upstreamDns", dns_json(c), "allowPrivate",
                         c->allow_private, "nix", "packages", nbx_strv_to_json(&c->nix_packages),
                         "ldLibraries", nbx_strv_to_json(&c->nix_ld_libraries), "scripts",
                         nbx_strv_to_json(&c->scripts), "env", env, "hooks", hooks, "vm",
                         "hypervisor", nbx_hypervisor_name(c->hypervisor), "image", c->image,
                         "accel", nbx_accel_name(c->accel));
}

static json_t *origins_json(const nbx_config *c) {
        const nbx_config_origins *o = &c->origins;
        json_t *mounts = json_array(), *env = json_object();
        for (size_t i = 0; i < c->n_mounts; i++)
                json_array_append_new(mounts, json_string(c->mounts[i].origin));
        for (size_t i = 0; i < c->n_env && i < o->env.n; i++)
                json_object_set_new(env, c->env[i].name, json_string(o->env.v[i]));
        json_t *r = json_pack(
                "{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:s, s:s, "
                "s:s}",
                "name", o->name, "resources.vcpus", o->vcpus, "resources.memoryMB", o->memory_mb,
                "mounts", mounts, "network.mode", o->net_mode, "network.domains",
                nbx_strv_to_json(&o->domains), "network.ports", nbx_strv_to_json(&o->ports),
                "network.upstreamDns", nbx_strv_to_json(&o->upstream_dns), "network.allowPrivate",
                o->allow_private, "nix.packages", nbx_strv_to_json(&o->nix_packages),
                "nix.ldLibraries", nbx_strv_to_json(&o->nix_ld_libraries), "scripts",
                nbx_strv_to_json(&o->scripts), "env", env, "vm.hypervisor", o->hypervisor,
                "vm.image", o->image, "vm.accel", o->accel);
        for (int h = 0; r && h < NBX_HOOK_COUNT; h++) {
                char key[32];
                snprintf(key, sizeof(key), "hooks.%s", nbx_hook_name(h));
                json_object_set_new(r, key, nbx_strv_to_json(&o->hooks[h]));
        }
        return r;
}

int nbx_config_to_json(const nbx_config *c, bool show_secrets, char **ret, nbx_error **err) {
        json_auto_t *root = values_json(c, show_secrets);
        if (root) {
                json_object_set_new(root, "origins", origins_json(c));
                json_object_set_new(root, "warnings", nbx_strv_to_json(&c->warnings));
        }
        char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (!s)
                return nbx_error_set(err, ENOMEM, "formatting the config as JSON");
        *ret = s;
        return 0;
}

/* ---- text --------------------------------------------------------------------------------- */

typedef struct buf {
        FILE *f;
        char *data;
        size_t len;
} buf;

#define KEY_WIDTH 22

static void line(buf *b, const char *key, const char *value, const char *origin) {
        fprintf(b->f, "%-*s %s", KEY_WIDTH, key, value);
        if (origin)
                fprintf(b->f, "   (%s)", origin);
        fputc('\n', b->f);
}

static void list(buf *b, const char *key, const nbx_strv *v, const nbx_strv *origins) {
        if (v->n == 0) {
                line(b, key, "[]", NULL);
                return;
        }
        for (size_t i = 0; i < v->n; i++)
                line(b, i == 0 ? key : "", v->v[i], i < origins->n ? origins->v[i] : NULL);
}

int nbx_config_to_text(const nbx_config *c, bool show_secrets, char **ret, nbx_error **err) {
        buf b = {0};
        b.f = open_memstream(&b.data, &b.len);
        if (!b.f)
                return nbx_error_set(err, errno, "formatting the config");
        const nbx_config_origins *o = &c->origins;
        char tmp[256];

        fprintf(b.f, "# %s\n", c->config_path);
        line(&b, "name", c->name, o->name);
        if (c->n_plugins == 0)
                line(&b, "plugins", "[]", NULL);
        for (size_t i = 0; i < c->n_plugins; i++)
                line(&b, i == 0 ? "plugins" : "", c->plugins[i].origin,
                     c->plugins[i].builtin ? "built-in" : c->plugins[i].file);
        snprintf(tmp, sizeof(tmp), "%u", c->vcpus);
        line(&b, "resources.vcpus", tmp, o->vcpus);
        snprintf(tmp, sizeof(tmp), "%u", c->memory_mb);
        line(&b, "resources.memoryMB", tmp, o->memory_mb);
        if (c->n_mounts == 0)
                line(&b, "mounts", "[]", NULL);
        for (size_t i = 0; i < c->n_mounts; i++) {
                const nbx_mount *mt = &c->mounts[i];
                _cleanup_free_ char *m = NULL;
                if (asprintf(&m, "%s%s -> %s%s",
                             mt->kind == NBX_MOUNT_HOST    ? ""
                             : mt->kind == NBX_MOUNT_STATE ? "state "
                                                           : "tmpfs",
                             mt->source  ? mt->source
                             : mt->state ? mt->state
                                         : "",
                             mt->target, mt->readonly ? " (read-only)" : "") < 0)
                        m = NULL;
                line(&b, i == 0 ? "mounts" : "", m ? m : "?", c->mounts[i].origin);
        }
        line(&b, "network.mode", nbx_net_mode_name(c->net_mode), o->net_mode);
        list(&b, "network.domains", &c->domains, &o->domains);
        for (size_t i = 0; i < c->n_ports; i++) {
                snprintf(tmp, sizeof(tmp), "%u", c->ports[i]);
                line(&b, i == 0 ? "network.ports" : "", tmp, i < o->ports.n ? o->ports.v[i] : NULL);
        }
        if (c->n_upstream_dns == 0)
                line(&b, "network.upstreamDns", "[]", NULL);
        for (size_t i = 0; i < c->n_upstream_dns; i++)
                line(&b, i == 0 ? "network.upstreamDns" : "",
                     nbx_ip_to_string(&c->upstream_dns[i], tmp, sizeof(tmp)),
                     i < o->upstream_dns.n ? o->upstream_dns.v[i] : NULL);
        line(&b, "network.allowPrivate", c->allow_private ? "true" : "false", o->allow_private);
        list(&b, "nix.packages", &c->nix_packages, &o->nix_packages);
        list(&b, "nix.ldLibraries", &c->nix_ld_libraries, &o->nix_ld_libraries);
        list(&b, "scripts", &c->scripts, &o->scripts);
        if (c->n_env == 0)
                line(&b, "env", "{}", NULL);
        for (size_t i = 0; i < c->n_env; i++) {
                _cleanup_free_ char *key = NULL, *val = NULL;
                if (asprintf(&key, "env.%s", c->env[i].name) < 0)
                        key = NULL;
                val = nbx_quote(show_secrets ? c->env[i].value : SECRET_MASK, 200);
                line(&b, key ? key : "env", val ? val : "?", i < o->env.n ? o->env.v[i] : NULL);
        }
        for (int h = 0; h < NBX_HOOK_COUNT; h++) {
                snprintf(tmp, sizeof(tmp), "hooks.%s", nbx_hook_name(h));
                list(&b, tmp, &c->hooks[h], &o->hooks[h]);
        }
        line(&b, "vm.hypervisor", nbx_hypervisor_name(c->hypervisor), o->hypervisor);
        line(&b, "vm.image", c->image ? c->image : "(the `nixbox build` guest)", o->image);
        line(&b, "vm.accel", nbx_accel_name(c->accel), o->accel);
        if (!show_secrets && c->n_env)
                fputs("# env values are masked; --show-secrets prints them\n", b.f);

        if (fclose(b.f) != 0) {
                free(b.data);
                return nbx_error_set(err, ENOMEM, "formatting the config");
        }
        *ret = b.data;
        return 0;
}
