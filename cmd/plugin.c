/* `nixbox PLUGIN [COMMAND [ARG...]]`: a plugin command of the project (vm/plugin.h), the list of
 * a plugin's commands, and the plugin part of `nixbox help`. */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/base/fsutil.h"
#include "../vm/plugin.h"

/* A built-in plugin of this installation is named name (plugin commands need a project). */
static bool is_builtin(const nbx_cli *cli, const char *name) {
        if (!*name || name[0] == '.' || strchr(name, '/'))
                return false;
        _cleanup_free_ char *f = NULL;
        return asprintf(&f, "%s/%s/default.nix", cli->plugins_dir, name) >= 0 && nbx_is_file(f);
}

static void print_escaped(FILE *f, const char *fmt, const char *s) {
        _cleanup_free_ char *e = nbx_ui_escape(s);
        fprintf(f, fmt, e ? e : "?");
}

/* "  NAME  SUMMARY" lines of a plugin's commands, prefixed (for help: "aws "). */
static void print_commands(FILE *f, const nbx_vm_plugin *pl, const char *prefix, int width) {
        for (size_t i = 0; i < pl->commands.n; i++) {
                const nbx_plugin_command *c = &pl->commands.v[i];
                _cleanup_free_ char *label = NULL, *summary = nbx_ui_escape(c->summary);
                if (asprintf(&label, "%s%s", prefix, c->name) < 0)
                        label = NULL;
                _cleanup_free_ char *e = nbx_ui_escape(label ? label : c->name);
                fprintf(f, "  %-*s  %s\n", width, e ? e : "?", summary ? summary : "");
        }
}

static int list_commands(FILE *f, const nbx_vm_plugin *pl) {
        print_escaped(f, "usage: nixbox %s COMMAND [ARG...]\n", pl->plugin->name);
        print_escaped(f,
                      pl->plugin->builtin ? "(built-in plugin %s)\n"
                                          : "(plugin %s, from the approved copy of .nixbox/)\n",
                      pl->plugin->origin);
        if (nbx_cli_lookup(pl->plugin->name))
                print_escaped(
                        f,
                        "note: `nixbox %s` is nixbox's own command, which hides this plugin's "
                        "commands: rename the plugin\n",
                        pl->plugin->name);
        if (pl->commands.n == 0) {
                fputs(pl->plugin->folder ? "It has no commands (a command is an executable file in "
                                           "its commands/ folder).\n"
                                         : "It has no commands (a single .nix file has none; a "
                                           "plugin folder keeps them in commands/).\n",
                      f);
                return NBX_EXIT_OK;
        }
        fputs("commands:\n", f);
        int width = 0;
        for (size_t i = 0; i < pl->commands.n; i++)
                if ((int)strlen(pl->commands.v[i].name) > width)
                        width = (int)strlen(pl->commands.v[i].name);
        print_commands(f, pl, "", width);
        return NBX_EXIT_OK;
}

/* "aws, claude-code, ./tools" for messages. */
static char *plugin_names(const nbx_vm_plugins *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                fprintf(f, "%s%s", i ? ", " : "", s->v[i].plugin->name);
        if (s->n == 0)
                fputs("none", f);
        fclose(f);
        return buf;
}

static char *command_names(const nbx_vm_plugin *pl) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return NULL;
        for (size_t i = 0; i < pl->commands.n; i++)
                fprintf(f, "%s%s", i ? ", " : "", pl->commands.v[i].name);
        if (pl->commands.n == 0)
                fputs("none", f);
        fclose(f);
        return buf;
}

/* Run it, ignoring the terminal's SIGINT and SIGQUIT while the command has them (as system()
 * does): Ctrl-C is the command's to handle, and nixbox returns its exit code. */
static int run(nbx_cli *cli, const nbx_project *p, const nbx_vm_plugins *s, const nbx_vm_plugin *pl,
               const nbx_plugin_command *c, int argc, char **argv) {
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &old_int);
        sigaction(SIGQUIT, &ign, &old_quit);
        fflush(cli->ui.out);
        fflush(cli->ui.err);
        int code = 0;
        _cleanup_error_ nbx_error *err = NULL;
        int r = nbx_vm_plugin_run(p, &o, s, pl, c, argv + 2, (size_t)(argc - 2), &code, &err);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        return r < 0 ? nbx_cli_fail(cli, err) : code;
}

static int dispatch(nbx_cli *cli, const nbx_project *p, const nbx_vm_plugins *s, int argc,
                    char **argv) {
        const nbx_vm_plugin *pl = nbx_vm_plugins_find(s, argv[0]);
        if (!pl) {
                _cleanup_free_ char *names = plugin_names(s);
                return nbx_cli_unknown_command(cli, argv[0], names ? names : "?");
        }
        if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
                return list_commands(cli->ui.out, pl);
        const nbx_plugin_command *c = nbx_plugin_commands_find(&pl->commands, argv[1]);
        if (!c) {
                _cleanup_free_ char *names = command_names(pl);
                _cleanup_free_ char *e = nbx_ui_escape(argv[1]);
                nbx_ui_error(&cli->ui, "plugin %s has no command '%s' (its commands: %s)",
                             pl->plugin->name, e ? e : "?", names ? names : "?");
                fprintf(cli->ui.err, "Try `nixbox %s` for the list.\n", pl->plugin->name);
                return NBX_EXIT_USAGE;
        }
        return run(cli, p, s, pl, c, argc, argv);
}

int nbx_cli_plugin(nbx_cli *cli, int argc, char **argv) {
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0) {
                if (err->exit_code == NBX_EXIT_NO_PROJECT && !is_builtin(cli, argv[0]))
                        return nbx_cli_unknown_command(cli, argv[0], NULL);
                nbx_error_wrap(&err, "nixbox %s: plugin commands act on a project", argv[0]);
                return nbx_cli_fail(cli, err);
        }
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        nbx_vm_plugins s;
        int rc;
        if (nbx_vm_plugins_load(&p, &o, &s, &err) < 0) {
                if (err->exit_code == NBX_EXIT_NOT_APPROVED)
                        nbx_error_append(&err,
                                         "\n(`%s` is not a nixbox command; plugins and their "
                                         "commands come from the approved configuration)",
                                         argv[0]);
                rc = nbx_cli_fail(cli, err);
        } else {
                rc = dispatch(cli, &p, &s, argc, argv);
                nbx_vm_plugins_done(&s);
        }
        nbx_project_done(&p);
        return rc;
}

void nbx_cli_plugin_overview(nbx_cli *cli, FILE *f) {
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return; /* outside a project there are no plugin commands */
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        nbx_vm_plugins s;
        int r = nbx_vm_plugins_load(&p, &o, &s, &err);
        nbx_project_done(&p);
        if (r < 0) {
                /* the first line of the error: the rest is for `nixbox config` to show */
                if (err->msg)
                        err->msg[strcspn(err->msg, "\n")] = '\0';
                print_escaped(f, "\nplugin commands of this project: not shown (%s)\n",
                              err->exit_code == NBX_EXIT_NOT_APPROVED
                                      ? "its configuration is not approved: `nixbox allow`"
                              : err->msg ? err->msg
                                         : "unknown error");
                return;
        }
        int width = 0;
        size_t n = 0;
        for (size_t i = 0; i < s.n; i++)
                for (size_t k = 0; k < s.v[i].commands.n; k++, n++) {
                        int w = (int)(strlen(s.v[i].plugin->name) + 1 +
                                      strlen(s.v[i].commands.v[k].name));
                        width = w > width ? w : width;
                }
        if (n > 0) {
                fputs("\nplugin commands of this project (`nixbox PLUGIN` lists one plugin's):\n",
                      f);
                for (size_t i = 0; i < s.n; i++) {
                        _cleanup_free_ char *prefix = NULL;
                        if (asprintf(&prefix, "%s ", s.v[i].plugin->name) >= 0)
                                print_commands(f, &s.v[i], prefix, width);
                }
        }
        nbx_vm_plugins_done(&s);
}
