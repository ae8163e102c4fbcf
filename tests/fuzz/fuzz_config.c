/* Fuzz the config reader and validator: any bytes as nix-instantiate's output, read as JSON
 * (nbx_config_eval_parse) and resolved into an nbx_config (nbx_config_resolve), without Nix.
 * The JSON stands for what eval-config.nix returns ({ userType, user, plugins }); paths in it
 * resolve against a small project under build/fuzz/config-world.  Checked on every input:
 * a refusal carries an error and leaves the result untouched; an accepted config keeps the
 * promises the rest of nixbox relies on (below) and prints as JSON and text. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_eval.h"
#include "config/config_merge.h"
#include "config/domain.h"
#include "config/base/fsutil.h"

#define WORLD "build/fuzz/config-world"

static nbx_config_ctx ctx;
static nbx_psl *psl;
static char *paths[5];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_file(const char *rel, const char *text) {
        char *p = nbx_path_join(WORLD, rel);
        char *dir = strdup(p);
        *strrchr(dir, '/') = '\0';
        if (nbx_mkdir_p(dir, 0755, NULL) < 0 || nbx_write_file(p, text, strlen(text), 0644, NULL))
                abort();
        free(dir);
        free(p);
}

static char *real(const char *rel) {
        char *p = nbx_path_join(WORLD, rel);
        char *r = realpath(p, NULL);
        if (!r)
                abort();
        free(p);
        return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        write_file("proj/.nixbox/config.nix", "{ }\n");
        write_file("proj/.nixbox/setup.sh", "#!/bin/sh\n");
        write_file("proj/data/.keep", "");
        write_file("proj/image/image.json", "{}");
        write_file("home/.claude/settings.json", "{}");
        write_file("resolv.conf", "nameserver 192.0.2.53\n");
        paths[0] = real("proj");
        paths[1] = real("proj/.nixbox");
        paths[2] = real("proj/.nixbox/config.nix");
        paths[3] = realpath("plugins", NULL);
        paths[4] = real("home");
        if (!paths[3] || nbx_psl_open(NULL, NULL, &psl, NULL) < 0)
                abort();
        ctx = (nbx_config_ctx){.project_dir = paths[0],
                               .config_dir = paths[1],
                               .config_path = paths[2],
                               .plugins_dir = paths[3],
                               .host_home = paths[4],
                               .guest_home = "/home/fuzz",
                               .host = {.cores = 4, .memory_mb = 8192},
                               .resolv_conf = WORLD "/resolv.conf",
                               .resolv_conf_fallback = WORLD "/none",
                               .psl = psl};
        return 0;
}

static void check_strv(const nbx_strv *v, const nbx_strv *origins, size_t cap) {
        if (v->n > cap || origins->n != v->n)
                abort();
        for (size_t i = 0; i < v->n; i++)
                if (!v->v[i] || !origins->v[i])
                        abort();
}

static void check_guest_path(const char *t) {
        size_t n = strlen(t);
        if (t[0] != '/' || n < 2 || t[n - 1] == '/' || strstr(t, "//") || strstr(t, "/./") ||
            strstr(t, "/../"))
                abort();
        for (const char *p = t; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        abort();
}

static void check_config(const nbx_config *c) {
        /* the name: [a-z0-9][a-z0-9-]{0,31} */
        size_t n = strlen(c->name);
        if (n == 0 || n > NBX_MAX_NAME || c->name[0] == '-')
                abort();
        for (const char *p = c->name; *p; p++)
                if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
                        abort();
        /* domains: normalized (normalizing again changes nothing), never a public suffix */
        check_strv(&c->domains, &c->origins.domains, NBX_MAX_DOMAINS);
        for (size_t i = 0; i < c->domains.n; i++) {
                char *again = NULL, *warning = NULL;
                if (nbx_domain_normalize(c->domains.v[i], &again, NULL) < 0 ||
                    strcmp(again, c->domains.v[i]) != 0 ||
                    nbx_domain_check_reach(psl, again, &warning, NULL) < 0)
                        abort();
                free(again);
                free(warning);
        }
        if (c->n_ports > NBX_MAX_PORTS || c->origins.ports.n != c->n_ports)
                abort();
        for (size_t i = 0; i < c->n_ports; i++)
                for (size_t k = 0; k < i; k++)
                        if (c->ports[i] == 0 || c->ports[i] == c->ports[k])
                                abort();
        if (c->n_upstream_dns > NBX_MAX_DNS || c->origins.upstream_dns.n != c->n_upstream_dns)
                abort();
        if (c->n_mounts > NBX_MAX_MOUNTS || c->n_plugins > NBX_MAX_PLUGINS)
                abort();
        for (size_t i = 0; i < c->n_mounts; i++) {
                check_guest_path(c->mounts[i].target);
                const nbx_mount *m = &c->mounts[i];
                /* exactly the host side its kind has: a host path, a state name, or none */
                if (!m->origin || (m->kind == NBX_MOUNT_HOST) != (m->source != NULL) ||
                    (m->kind == NBX_MOUNT_STATE) != (m->state != NULL) ||
                    (m->source && m->source[0] != '/') ||
                    (m->state && (!*m->state || strchr(m->state, '/'))))
                        abort();
                for (size_t k = 0; k < i; k++)
                        if (strcmp(c->mounts[i].target, c->mounts[k].target) == 0)
                                abort();
        }
        if (c->n_env > NBX_MAX_ENV || c->origins.env.n != c->n_env)
                abort();
        for (size_t i = 0; i < c->n_env; i++)
                if (!c->env[i].value || strchr(c->env[i].name, '=') || !*c->env[i].name)
                        abort();
        check_strv(&c->nix_packages, &c->origins.nix_packages, 512);
        check_strv(&c->nix_ld_libraries, &c->origins.nix_ld_libraries, 512);
        check_strv(&c->scripts, &c->origins.scripts, 64);
        for (int h = 0; h < NBX_HOOK_COUNT; h++)
                check_strv(&c->hooks[h], &c->origins.hooks[h], NBX_MAX_HOOKS);
        if (c->vcpus < 1 || c->vcpus > ctx.host.cores || c->memory_mb > ctx.host.memory_mb)
                abort();
        if (strcmp(nbx_net_mode_name(c->net_mode), "?") == 0 ||
            strcmp(nbx_hypervisor_name(c->hypervisor), "?") == 0 ||
            strcmp(nbx_accel_name(c->accel), "?") == 0)
                abort();
}

static void check_output(const nbx_config *c) {
        char *json = NULL, *text = NULL;
        if (nbx_config_to_json(c, false, &json, NULL) < 0 ||
            nbx_config_to_text(c, false, &text, NULL) < 0)
                abort();
        json_auto_t *back = json_loads(json, 0, NULL);
        if (!back || strcmp(json_string_value(json_object_get(back, "name")), c->name) != 0)
                abort();
        free(json);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        nbx_error *err = NULL;
        json_t *eval = NULL;
        if (nbx_config_eval_parse(text, "fuzz", &eval, &err) < 0) {
                if (!err || !err->msg || eval)
                        abort();
        } else {
                nbx_config c, untouched;
                memset(&c, 0xa5, sizeof(c));
                memcpy(&untouched, &c, sizeof(c));
                if (nbx_config_resolve(eval, &ctx, &c, &err) < 0) {
                        if (!err || !err->msg || memcmp(&c, &untouched, sizeof(c)) != 0)
                                abort();
                } else {
                        if (err)
                                abort();
                        check_config(&c);
                        check_output(&c);
                        nbx_config_done(&c);
                }
                json_decref(eval);
        }
        nbx_error_free(err);
        free(text);
        return 0;
}
