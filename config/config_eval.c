/* Evaluation of config.nix and its plugins with the real Nix: one nix-instantiate call over
 * nix/eval-config.nix, which returns plain JSON (paths as absolute strings, nothing copied into
 * the store: the store is dummy://).  Also doctor's check that this Nix can do it. */
#include "config_eval.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/proc.h"
#include "base/strv.h"
#include "base/timeutil.h"

#define EVAL_TIMEOUT_MS 120000
#define CHECK_TIMEOUT_MS 20000
#define NIX_MESSAGE_MAX 4000
#define NIX_MIN_MAJOR 2 /* the dummy:// store came with Nix 2.4 */
#define NIX_MIN_MINOR 4
#define NIX_INSTALL_HINT "sudo apt-get install nix-bin (Debian 12, Ubuntu 22.04 and later)"

/* Evaluation only, into the dummy:// store: nothing is written to /nix (works without root and
 * without a daemon); build-users-group '' silences the missing nixbld group warning.  The same
 * for the real evaluation and doctor's check. */
#define NIX_EVAL_ARGS                                                                              \
        "--eval", "--strict", "--json", "--store", "dummy://", "--option", "build-users-group", ""

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
static int env_with_home(const char *home, nbx_strv *ret, nbx_error **err) {
        for (char **e = environ; e && *e; e++)
                if (strncmp(*e, "HOME=", 5) != 0 && nbx_strv_push(ret, *e) < 0)
                        return nbx_error_set(err, ENOMEM, "environment for Nix");
        if (nbx_strv_pushf(ret, "HOME=%s", home) < 0)
                return nbx_error_set(err, ENOMEM, "environment for Nix");
        return 0;
}

/* s as a Nix string literal's body: \\, \", \${ and the control characters escaped. */
static void nix_escaped(FILE *f, const char *s) {
        for (const char *p = s; *p; p++) {
                if (*p == '"' || *p == '\\' || (*p == '$' && p[1] == '{'))
                        fputc('\\', f), fputc(*p, f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else if (*p == '\r')
                        fputs("\\r", f);
                else if (*p == '\t')
                        fputs("\\t", f);
                else
                        fputc(*p, f);
        }
}

/* The caller's environment as a JSON object (what builtins.getEnv would have seen). */
static char *environment_json(void) {
        json_auto_t *o = json_object();
        for (char **e = environ; o && e && *e; e++) {
                const char *eq = strchr(*e, '=');
                if (!eq || eq == *e)
                        continue;
                _cleanup_free_ char *name = strndup(*e, (size_t)(eq - *e));
                if (!name || json_object_set_new(o, name, json_string(eq + 1)) < 0)
                        return NULL;
        }
        return o ? json_dumps(o, JSON_COMPACT) : NULL;
}

/* The expression Nix reads on stdin, in a memfd (RAM only: it holds the environment, which may
 * hold secrets): import eval-config.nix { configFile; pluginsDir; hostEnv; }. */
static int eval_expression(const nbx_config_eval_opts *o, const char *wrapper, int *ret_fd,
                           nbx_error **err) {
        _cleanup_free_ char *envjson = environment_json();
        char *buf = NULL;
        size_t len = 0;
        FILE *f = envjson ? open_memstream(&buf, &len) : NULL;
        if (!f)
                return nbx_error_set(err, ENOMEM, "evaluating %s", o->config_path);
        fputs("import \"", f);
        nix_escaped(f, wrapper);
        fputs("\" { configFile = \"", f);
        nix_escaped(f, o->config_path);
        fputs("\"; pluginsDir = \"", f);
        nix_escaped(f, o->plugins_dir);
        fputs("\"; hostEnv = builtins.fromJSON \"", f);
        nix_escaped(f, envjson);
        fputs("\"; }\n", f);
        explicit_bzero(envjson, strlen(envjson));
        if (fclose(f) != 0) {
                free(buf);
                return nbx_error_set(err, ENOMEM, "evaluating %s", o->config_path);
        }
        _cleanup_close_ int fd = memfd_create("nixbox-eval", MFD_CLOEXEC);
        int r = fd < 0 ? -errno : 0;
        for (size_t off = 0; r == 0 && off < len;) {
                ssize_t n = write(fd, buf + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        r = -errno;
                else
                        off += (size_t)n;
        }
        explicit_bzero(buf, len);
        free(buf);
        if (r == 0 && lseek(fd, 0, SEEK_SET) < 0)
                r = -errno;
        if (r < 0)
                return nbx_error_set(err, -r, "evaluating %s: expression", o->config_path);
        *ret_fd = TAKE_FD(fd);
        return 0;
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

        /* restricted mode: the configuration folder, nixbox's plugins and Nix files (and the
         * user's own plugin folder) are all the evaluation may read; no import from a
         * derivation (it would build, running code) */
        _cleanup_free_ char *config_dir = strdup(o->config_path);
        if (!config_dir || !strrchr(config_dir, '/'))
                return nbx_error_set(err, ENOMEM, "evaluating %s", o->config_path);
        *strrchr(config_dir, '/') = '\0';
        _cleanup_strv_ nbx_strv argv = {0};
        static const char *const fixed[] = {NIX_EVAL_ARGS,   "--option",
                                            "restrict-eval", "true",
                                            "--option",      "allow-import-from-derivation",
                                            "false"};
        int r = nbx_strv_push(&argv, prog);
        for (size_t i = 0; r >= 0 && i < NBX_ARRAY_SIZE(fixed); i++)
                r = nbx_strv_push(&argv, fixed[i]);
        const char *allowed[] = {config_dir, o->plugins_dir, o->nix_dir, o->user_plugins_dir};
        for (size_t i = 0; r >= 0 && i < NBX_ARRAY_SIZE(allowed); i++)
                if (allowed[i] && (r = nbx_strv_push(&argv, "-I")) >= 0)
                        r = nbx_strv_push(&argv, allowed[i]);
        if (r >= 0)
                r = nbx_strv_push(&argv, "-");
        if (r < 0)
                return nbx_error_set(err, ENOMEM, "evaluating %s", o->config_path);
        _cleanup_close_ int expr = -1;
        if ((r = eval_expression(o, wrapper, &expr, err)) < 0)
                return r;

        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        _cleanup_strv_ nbx_strv env = {0};
        if (o->drop_privileges) {
                so.drop_privileges = true;
                so.uid = o->uid;
                so.gid = o->gid;
                if (o->home) {
                        if ((r = env_with_home(o->home, &env, err)) < 0)
                                return r;
                        so.envp = env.v;
                }
        }
        so.die_with_parent = true;
        so.stdin_fd = expr;

        int status = 0;
        _cleanup_free_ char *out = NULL, *errs = NULL;
        r = nbx_run_capture(argv.v, &so, nbx_now_ms() + EVAL_TIMEOUT_MS, &status, &out, &errs, err);
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

        return nbx_config_eval_parse(out ? out : "", o->config_path, ret, err);
}

int nbx_config_eval_parse(const char *out, const char *what, json_t **ret, nbx_error **err) {
        json_error_t je;
        json_auto_t *root = json_loads(out, JSON_REJECT_DUPLICATES, &je);
        if (!root)
                return nbx_error_set(err, 0,
                                     "evaluating %s: nix-instantiate printed invalid JSON (line "
                                     "%d: %s)",
                                     what, je.line, je.text);
        if (!json_is_object(root))
                return nbx_error_set(err, 0,
                                     "evaluating %s: nix-instantiate printed no JSON object "
                                     "(broken nix/eval-config.nix?)",
                                     what);
        *ret = TAKE_PTR(root);
        return 0;
}

/* Run argv with a deadline: true when it exited 0.  *ret_out is its stdout (or NULL), *ret_msg
 * why it failed, cleaned (NULL when it did not). */
static bool run_nix(char **argv, char **ret_out, char **ret_msg) {
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.die_with_parent = true;
        int status = 0;
        _cleanup_free_ char *out = NULL, *errs = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        int r = nbx_run_capture(argv, &so, nbx_now_ms() + CHECK_TIMEOUT_MS, &status, &out, &errs,
                                &err);
        if (r < 0)
                *ret_msg = strdup(err ? err->msg : "could not run it");
        else if (nbx_status_code(status) != 0)
                *ret_msg = clean_nix_message(errs && *errs ? errs : "failed without a message");
        else
                *ret_msg = NULL;
        *ret_out = TAKE_PTR(out);
        return r >= 0 && nbx_status_code(status) == 0 && *ret_out;
}

void nbx_config_check_nix(nbx_checks *l) {
        nbx_check *c = nbx_checks_add(l, "nix", true);
        if (!c)
                return;
        _cleanup_free_ char *prog = nbx_find_program("nix-instantiate");
        if (!prog) {
                nbx_check_set(
                        c, NBX_CHECK_MISSING, NIX_INSTALL_HINT,
                        "nix-instantiate not found in PATH (it evaluates .nixbox/config.nix)");
                return;
        }
        _cleanup_free_ char *out = NULL, *msg = NULL;
        char *version_argv[] = {prog, "--version", NULL};
        unsigned major = 0, minor = 0;
        const char *v = NULL;
        if (!run_nix(version_argv, &out, &msg)) {
                nbx_check_set(c, NBX_CHECK_MISSING, NIX_INSTALL_HINT, "%s --version: %.300s", prog,
                              msg ? msg : "no output");
                return;
        }
        out[strcspn(out, "\n")] = '\0';
        v = strstr(out, "(Nix) ");
        if (!v || sscanf(v + 6, "%u.%u", &major, &minor) != 2) {
                nbx_check_set(c, NBX_CHECK_WARN, "check that Nix is installed correctly",
                              "%s prints an unknown version (\"%.80s\")", prog, out);
                return;
        }
        if (major < NIX_MIN_MAJOR || (major == NIX_MIN_MAJOR && minor < NIX_MIN_MINOR)) {
                nbx_check_set(c, NBX_CHECK_MISSING, NIX_INSTALL_HINT,
                              "Nix %s at %s: nixbox needs %d.%d or later (its dummy:// store)",
                              v + 6, prog, NIX_MIN_MAJOR, NIX_MIN_MINOR);
                return;
        }
        _cleanup_free_ char *eval_out = NULL, *eval_msg = NULL;
        char *eval_argv[] = {prog, NIX_EVAL_ARGS, "--expr", "\"nixbox\"", NULL};
        if (!run_nix(eval_argv, &eval_out, &eval_msg) || strncmp(eval_out, "\"nixbox\"", 8) != 0) {
                nbx_check_set(c, NBX_CHECK_MISSING,
                              "check the Nix installation: `nix-instantiate --eval --store "
                              "dummy:// --expr 1` must print 1",
                              "Nix %s at %s cannot evaluate: %.300s", v + 6, prog,
                              eval_msg ? eval_msg : "unexpected output");
                return;
        }
        nbx_check_set(c, NBX_CHECK_OK, NULL, "Nix %s (%s)", v + 6, prog);
}
