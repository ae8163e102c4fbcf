/* The top of the command line: the overview, `help`, and nbx_cli_main, which parses the global
 * options and hands over to a command or a plugin (cmd/plugin.c).  Apart from cli.c, whose
 * helpers every command and the plugin dispatcher use. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/base/fsutil.h"

/* plugins: list the project's plugin commands too (evaluates the approved configuration) */
static void print_overview(nbx_cli *cli, FILE *f, bool plugins) {
        fputs("nixbox — run AI coding agents in throwaway microVMs with a firewall of your "
              "choice\n\n"
              "usage: nixbox [-C DIR] [--json] [--no-color] [-q] COMMAND [ARGS...]\n"
              "       nixbox PLUGIN COMMAND [ARGS...]\n\n"
              "commands:\n",
              f);
        for (size_t i = 0; i < nbx_n_commands; i++)
                fprintf(f, "  %-9s %s\n", nbx_commands[i].name, nbx_commands[i].summary);
        fputs("\nglobal options:\n"
              "  -C DIR      act on the project at DIR (default: nearest .nixbox/ upwards)\n"
              "  --json      machine-readable output on stdout (status, config, net show)\n"
              "  --no-color  no colour (also: NO_COLOR=1); colour is used only on a terminal\n"
              "  -q          no progress lines\n\n"
              "exit codes: 0 ok, 1 failure, 2 usage, 3 invalid config, 4 no project found,\n"
              "            5 VM not running, 6 prerequisite missing, 7 needs root/CAP_NET_ADMIN\n"
              "            (or a user account), 8 no free network slot, 9 configuration not\n"
              "            approved (nixbox allow); a plugin command exits with its own code\n\n"
              "`nixbox help COMMAND` explains a command, `nixbox PLUGIN` lists a plugin's.\n",
              f);
        if (plugins)
                nbx_cli_plugin_overview(cli, f);
}

/* The folder holding plugins/ and nix/: $NIXBOX_DATA_DIR, else the source tree when running
 * from build/ (build/nixbox → ..), else the installed share folder. */
static char *find_data_dir(void) {
        const char *env = getenv("NIXBOX_DATA_DIR");
        if (env && *env)
                return strdup(env);
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                for (int up = 0; up < 3; up++) {
                        char *slash = strrchr(exe, '/');
                        if (!slash)
                                break;
                        *slash = '\0';
                        char probe[PATH_MAX + 48];
                        snprintf(probe, sizeof(probe), "%s/nix/eval-config.nix", exe);
                        if (nbx_is_file(probe))
                                return strdup(exe);
                        /* installed: PREFIX/bin/nixbox → PREFIX/share/nixbox, whatever PREFIX
                         * the binary was compiled with */
                        snprintf(probe, sizeof(probe), "%s/share/nixbox/nix/eval-config.nix", exe);
                        if (nbx_is_file(probe)) {
                                char *r = NULL;
                                return asprintf(&r, "%s/share/nixbox", exe) < 0 ? NULL : r;
                        }
                }
        }
        return strdup(NBX_DATADIR);
}

int cmd_help(nbx_cli *cli, int argc, char **argv) {
        if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
                return nbx_cli_print_usage(cli, "help");
        if (argc < 2) {
                print_overview(cli, cli->ui.out, true);
                return NBX_EXIT_OK;
        }
        if (!nbx_cli_lookup(argv[1])) /* `nixbox help PLUGIN`: the plugin's commands */
                return nbx_cli_plugin(cli, 1, argv + 1);
        return nbx_cli_print_usage(cli, argv[1]);
}

int nbx_cli_main(int argc, char **argv) {
        nbx_cli cli = {.argv0 = argc > 0 ? argv[0] : "nixbox"};
        nbx_ui_init(&cli.ui, stdout, stderr);

        _cleanup_error_ nbx_error *err = NULL;
        nbx_cli_args a;
        if (nbx_cli_parse_global(argc, argv, &a, &err) < 0)
                return nbx_cli_usage_error(&cli, NULL, "%s", err->msg);
        cli.project_opt = a.project_dir;
        cli.json = a.json;
        if (a.no_color)
                cli.ui.color = false;
        cli.ui.quiet = a.quiet;
        cli.data_dir = find_data_dir();
        cli.plugins_dir = cli.data_dir ? nbx_path_join(cli.data_dir, "plugins") : NULL;
        cli.nix_dir = cli.data_dir ? nbx_path_join(cli.data_dir, "nix") : NULL;
        cli.config_opts = (nbx_config_opts){.plugins_dir = cli.plugins_dir, .nix_dir = cli.nix_dir};
        if (!cli.data_dir || !cli.plugins_dir || !cli.nix_dir) {
                nbx_ui_error(&cli.ui, "out of memory");
                free(cli.plugins_dir);
                free(cli.nix_dir);
                free(cli.data_dir);
                return NBX_EXIT_FAILURE;
        }

        int rc;
        if (a.version) {
                fprintf(cli.ui.out, "nixbox %s\n", NBX_VERSION);
                rc = NBX_EXIT_OK;
        } else if (a.help || a.command_index >= argc) {
                print_overview(&cli, a.help ? cli.ui.out : cli.ui.err, a.help);
                rc = a.help ? NBX_EXIT_OK : NBX_EXIT_USAGE;
        } else {
                int sub_argc = argc - a.command_index;
                char **sub_argv = argv + a.command_index;
                const nbx_command *c = nbx_cli_lookup(sub_argv[0]);
                rc = c ? c->fn(&cli, sub_argc, sub_argv) : nbx_cli_plugin(&cli, sub_argc, sub_argv);
        }
        fflush(stdout);
        free(cli.plugins_dir);
        free(cli.nix_dir);
        free(cli.data_dir);
        return rc;
}
