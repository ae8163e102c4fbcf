/* Evaluation of config.nix and its plugins with the real Nix: one nix-instantiate call over
 * nix/eval-config.nix, which returns plain JSON (paths as absolute strings, nothing copied into
 * the store: the store is dummy://). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "base/fsutil.h"
#include "base/proc.h"
#include "base/strv.h"
#include "base/timeutil.h"

#define EVAL_TIMEOUT_MS 120000
#define NIX_MESSAGE_MAX 4000

extern char **environ;

/* Nix's message, without colour escapes, without the leading "error: " and trailing blank lines,
 * cut at NIX_MESSAGE_MAX. */
static char *clean_nix_message(const char *in) {
        size_t len = strlen(in);
        char *out = malloc(len + 1);
        if (!out)
                return NULL;
        char *o = out;
        for (const char *p = in; *p;) {
                if (p[0] == '\033' && p[1] == '[') {
                        p += 2;
                        while (*p && !((*p >= '@' && *p <= '~')))
                                p++;
                        if (*p)
                                p++;
                        continue;
                }
                *o++ = *p++;
        }
        *o = '\0';
        /* skip leading blank lines and "warning:" lines about the environment */
        char *start = out;
        for (;;) {
                while (*start == '\n' || *start == ' ')
                        start++;
                if (strncmp(start, "warning:", 8) != 0)
                        break;
                char *nl = strchr(start, '\n');
                if (!nl)
                        break;
                start = nl + 1;
        }
        if (strncmp(start, "error: ", 7) == 0)
                start += 7;
        char *trace = strstr(start, "(use '--show-trace'");
        if (trace)
                *trace = '\0';
        memmove(out, start, strlen(start) + 1);
        size_t n = strlen(out);
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
                out[--n] = '\0';
        if (n > NIX_MESSAGE_MAX)
                strcpy(out + NIX_MESSAGE_MAX - 4, " ...");
        return out;
}

/* The caller's environment with HOME replaced (Nix looks for ~/.nix-defexpr and caches there). */
static int env_with_home(const char *home, nbx_strv *ret) {
        for (char **e = environ; e && *e; e++)
                if (strncmp(*e, "HOME=", 5) != 0 && nbx_strv_push(ret, *e) < 0)
                        return -ENOMEM;
        return nbx_strv_pushf(ret, "HOME=%s", home);
}

int nbx_config_eval(const nbx_config_eval_opts *o, json_t **ret, nbx_error **err) {
        const char *prog_name = o->nix_instantiate ? o->nix_instantiate : "nix-instantiate";
        _cleanup_free_ char *prog = nbx_find_program(prog_name);
        if (!prog)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                                      "%s not found (needed to evaluate %s); install Nix "
                                      "(Debian: apt-get install nix-bin)",
                                      prog_name, o->config_path);
        _cleanup_free_ char *wrapper = nbx_path_join(o->nix_dir, "eval-config.nix");
        if (!wrapper)
                return nbx_error_set(err, ENOMEM, "evaluating %s", o->config_path);
        if (!nbx_is_file(wrapper))
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                                      "nixbox's Nix wrapper %s is missing (broken installation?)",
                                      wrapper);

        /* dummy:// store: evaluation only, nothing is written to /nix (works without root and
         * without a daemon); build-users-group '' silences the missing nixbld group warning. */
        char *argv[] = {prog,
                        "--eval",
                        "--strict",
                        "--json",
                        "--store",
                        "dummy://",
                        "--option",
                        "build-users-group",
                        "",
                        "--argstr",
                        "configFile",
                        (char *)o->config_path,
                        "--argstr",
                        "pluginsDir",
                        (char *)o->plugins_dir,
                        wrapper,
                        NULL};

        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        _cleanup_strv_ nbx_strv env = {0};
        if (o->drop_privileges) {
                so.drop_privileges = true;
                so.uid = o->uid;
                so.gid = o->gid;
                if (o->home) {
                        if (env_with_home(o->home, &env) < 0)
                                return nbx_error_set(err, ENOMEM, "evaluating %s", o->config_path);
                        so.envp = env.v;
                }
        }
        so.die_with_parent = true;

        int status = 0;
        _cleanup_free_ char *out = NULL, *errs = NULL;
        int r = nbx_run_capture(argv, &so, nbx_now_ms() + EVAL_TIMEOUT_MS, &status, &out, &errs,
                                err);
        if (r < 0) {
                if (r == -ETIMEDOUT && err && *err)
                        (*err)->exit_code = NBX_EXIT_CONFIG;
                return nbx_error_wrap(err, "evaluating %s with %s", o->config_path, prog_name);
        }
        if (nbx_status_code(status) != 0) {
                _cleanup_free_ char *msg = clean_nix_message(errs ? errs : "");
                /* eval-config.nix's own errors ("nixbox: FILE: FIELD: ...") name their file */
                if (msg && strncmp(msg, "nixbox: ", 8) == 0)
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s", msg + 8);
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s: %s", o->config_path,
                                      msg && *msg ? msg : "nix-instantiate failed");
        }

        json_error_t je;
        json_t *root = json_loads(out ? out : "", JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return nbx_error_setx(err, NBX_EXIT_FAILURE, 0,
                                      "evaluating %s: nix-instantiate printed invalid JSON: %s",
                                      o->config_path, je.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return nbx_error_setx(err, NBX_EXIT_FAILURE, 0,
                                      "evaluating %s: unexpected result from %s", o->config_path,
                                      wrapper);
        }
        *ret = root;
        return 0;
}
