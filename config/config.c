/* Config resolution, front to back: find the config file and nixbox's data folders, evaluate with
 * Nix as the invoking user (config_eval.c), then merge and validate the result
 * (config_merge.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_eval.h"
#include "config_merge.h"
#include "base/fsutil.h"
#include "base/project.h"
#include "base/user.h"

/* Where the inputs are: the project's config file and nixbox's own data folders. */
typedef struct paths {
        char *root;        /* the project folder, canonical */
        char *config_dir;  /* root/.nixbox */
        char *config_path; /* root/.nixbox/config.nix */
        char *plugins_dir; /* built-in plugins, canonical */
        char *nix_dir;     /* eval-config.nix's folder, canonical */
} paths;

static void paths_done(paths *p) {
        free(p->root);
        free(p->config_dir);
        free(p->config_path);
        free(p->plugins_dir);
        free(p->nix_dir);
}

static char *data_dir(const char *given, const char *sub) {
        if (given)
                return realpath(given, NULL);
        _cleanup_free_ char *d = nbx_path_join(NBX_DATADIR, sub);
        return d ? realpath(d, NULL) : NULL;
}

static int find_paths(const char *project_dir, const nbx_config_opts *opts, paths *p,
                      nbx_error **err) {
        if (!(p->root = realpath(project_dir, NULL)))
                return nbx_error_setx(err, NBX_EXIT_NO_PROJECT, errno, "project folder %s",
                                      project_dir);
        p->config_dir = opts->config_dir ? realpath(opts->config_dir, NULL)
                                         : nbx_path_join(p->root, NBX_PROJECT_DIRNAME);
        if (!p->config_dir && opts->config_dir)
                return nbx_error_setx(err, NBX_EXIT_NOT_APPROVED, errno,
                                      "the approved configuration %s is missing: run `nixbox "
                                      "allow`",
                                      opts->config_dir);
        p->config_path = p->config_dir ? nbx_path_join(p->config_dir, NBX_CONFIG_FILENAME) : NULL;
        if (!p->config_path)
                return nbx_error_set(err, ENOMEM, "config path");
        if (!nbx_is_file(p->config_path))
                return nbx_error_setx(err, NBX_EXIT_NO_PROJECT, ENOENT,
                                      "%s (run `nixbox init` to create it)", p->config_path);
        const char *missing = NULL;
        if (!(p->plugins_dir = data_dir(opts->plugins_dir, "plugins")))
                missing = opts->plugins_dir ? opts->plugins_dir : NBX_DATADIR "/plugins";
        else if (!(p->nix_dir = data_dir(opts->nix_dir, "nix")))
                missing = opts->nix_dir ? opts->nix_dir : NBX_DATADIR "/nix";
        if (missing)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, errno ? errno : ENOENT,
                                      "nixbox's data folder %s is missing (broken installation?)",
                                      missing);
        return 0;
}

/* Messages about the approved copy name the project's .nixbox/, which the user edits. */
static int approved_named_live(const paths *p, int r, nbx_error **err) {
        if (!err || !*err || !(*err)->msg)
                return r;
        _cleanup_free_ char *live = nbx_path_join(p->root, NBX_PROJECT_DIRNAME);
        size_t n = strlen(p->config_dir);
        if (!live || strcmp(live, p->config_dir) == 0)
                return r;
        char *m = (*err)->msg;
        char *out = malloc(strlen(m) * (strlen(live) + 1) + 1); /* generous: each hit grows */
        if (!out)
                return r;
        char *o = out;
        for (const char *s = m; *s;) {
                if (strncmp(s, p->config_dir, n) == 0) {
                        o = stpcpy(o, live);
                        s += n;
                } else {
                        *o++ = *s++;
                }
        }
        *o = '\0';
        free((*err)->msg);
        (*err)->msg = out;
        return r;
}

int nbx_config_load(const char *project_dir, const nbx_config_opts *opts, nbx_config *ret,
                    nbx_error **err) {
        static const nbx_config_opts no_opts = {0};
        if (!opts)
                opts = &no_opts;
        _cleanup_(paths_done) paths p = {0};
        int r = find_paths(project_dir, opts, &p, err);
        if (r < 0)
                return r;

        _cleanup_(nbx_invoker_done) nbx_invoker inv = {0};
        if (!opts->host_home || !opts->guest_home || geteuid() == 0) {
                if ((r = nbx_invoker_get(&inv, err)) < 0)
                        return nbx_error_wrap(err, "resolving the config");
        }
        _cleanup_free_ char *guest_home = NULL;
        if (opts->guest_home)
                guest_home = strdup(opts->guest_home);
        else if (asprintf(&guest_home, "/home/%s", inv.guest_user) < 0)
                guest_home = NULL;
        if (!guest_home)
                return nbx_error_set(err, ENOMEM, "guest home");
        nbx_host_facts host;
        if (opts->host)
                host = *opts->host;
        else if ((r = nbx_host_facts_get(&host, err)) < 0)
                return r;

        /* plugins shared between the user's projects: ~/.config/nixbox/plugins */
        _cleanup_free_ char *user_plugins = NULL;
        const char *home = opts->host_home ? opts->host_home : inv.home;
        if (home && asprintf(&user_plugins, "%s/.config/nixbox/plugins", home) >= 0 &&
            !nbx_is_dir(user_plugins)) {
                free(user_plugins);
                user_plugins = NULL;
        }
        nbx_config_eval_opts eo = {.config_path = p.config_path,
                                   .plugins_dir = p.plugins_dir,
                                   .nix_dir = p.nix_dir,
                                   .nix_instantiate = opts->nix_instantiate,
                                   .user_plugins_dir = user_plugins};
        /* Nix runs as the invoking user, never as root for someone else. */
        if (geteuid() == 0 && inv.home && inv.uid != 0) {
                eo.drop_privileges = true;
                eo.uid = inv.uid;
                eo.gid = inv.gid;
                eo.home = inv.home;
        }
        json_auto_t *eval = NULL;
        if ((r = nbx_config_eval(&eo, &eval, err)) < 0)
                return approved_named_live(&p, r, err);

        nbx_config_ctx ctx = {.project_dir = p.root,
                              .config_path = p.config_path,
                              .config_dir = p.config_dir,
                              .plugins_dir = p.plugins_dir,
                              .host_home = opts->host_home ? opts->host_home : inv.home,
                              .guest_home = guest_home,
                              .host = host,
                              .resolv_conf = opts->resolv_conf,
                              .resolv_conf_fallback = opts->resolv_conf_fallback};
        r = nbx_config_resolve(eval, &ctx, ret, err);
        return r < 0 ? approved_named_live(&p, r, err) : r;
}
