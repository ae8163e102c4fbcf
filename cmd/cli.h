/* The command-line front end: a dispatch table of subcommands, one file each (cmd/<name>.c).
 * A command parses its options, calls one library function and prints; errors are printed once,
 * by nbx_cli_fail(). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/project.h"
#include "../config/base/ui.h"

typedef struct nbx_cli {
        nbx_ui ui;
        const char *project_opt;     /* -C DIR, or NULL */
        bool json;                   /* --json given globally */
        char *data_dir;              /* where plugins/ and nix/ live */
        char *plugins_dir;           /* data_dir/plugins */
        char *nix_dir;               /* data_dir/nix */
        nbx_config_opts config_opts; /* plugins_dir + nix_dir, for nbx_config_load */
        const char *argv0;
} nbx_cli;

typedef int (*nbx_cmd_fn)(nbx_cli *cli, int argc, char **argv);

typedef struct nbx_command {
        const char *name;
        nbx_cmd_fn fn;
        const char *summary; /* one line for `nixbox --help` */
        const char *usage;   /* full text for `nixbox help <cmd>` / `<cmd> --help` */
} nbx_command;

extern const nbx_command nbx_commands[];
extern const size_t nbx_n_commands;

const nbx_command *nbx_cli_lookup(const char *name);

/* Parsed global options (everything before the command name). */
typedef struct nbx_cli_args {
        const char *project_dir; /* -C */
        bool json;
        bool no_color;
        bool quiet;
        bool help;
        bool version;
        int command_index; /* argv index of the command name; argc when absent */
} nbx_cli_args;

/* Parse global options.  Returns 0, or -EINVAL with *err set (NBX_EXIT_USAGE). */
int nbx_cli_parse_global(int argc, char **argv, nbx_cli_args *ret, nbx_error **err);

/* `nixbox PLUGIN [COMMAND [ARG...]]` (cmd/plugin.c): argv[0] is not a nixbox command.  Runs the
 * command, lists the plugin's commands, or says that name is unknown (exit 2). */
int nbx_cli_plugin(nbx_cli *cli, int argc, char **argv);
/* The project's plugin commands for `nixbox help` (nothing outside a project). */
void nbx_cli_plugin_overview(nbx_cli *cli, FILE *f);
/* "unknown command NAME" with a "did you mean" and, inside a project, its plugins (a list, or
 * NULL); returns NBX_EXIT_USAGE. */
int nbx_cli_unknown_command(nbx_cli *cli, const char *name, const char *plugins);

/* Entry point used by main(). */
int nbx_cli_main(int argc, char **argv);

/* Print err once (with "error: " prefix) and return its exit code. */
int nbx_cli_fail(nbx_cli *cli, nbx_error *err);
/* Print a usage error with a hint and return NBX_EXIT_USAGE. */
int nbx_cli_usage_error(nbx_cli *cli, const char *cmd, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Print the command's usage to stdout and return 0. */
int nbx_cli_print_usage(nbx_cli *cli, const char *cmd);
/* For commands without arguments: -h/--help prints usage (returns 0), any argument is a usage
 * error (returns 2); returns -1 when the command should go on. */
int nbx_cli_no_args(nbx_cli *cli, const char *cmd, int argc, char **argv);
/* True when argv holds -h/--help before a "--"; commands call it first. */
bool nbx_cli_wants_help(int argc, char **argv);
/* 0 when this process holds CAP_NET_ADMIN, else prints "run with sudo" and returns
 * NBX_EXIT_PERMISSION.
 * why: what the command does with the network ("configures the VM's network"). */
int nbx_cli_require_net_admin(nbx_cli *cli, const char *cmd, const char *why);
/* Locate the project (-C or cwd). */
int nbx_cli_project(nbx_cli *cli, nbx_project *ret, nbx_error **err);
/* `build` and `update`: build the project's guest with Nix (vm/build.h) and print where it is.
 * force: build even when the cache has it; update: pin the newest nixpkgs first. */
int nbx_cli_guest_build(nbx_cli *cli, bool force, bool update);

/* Per-command entry points (cmd/<name>.c). */
int cmd_init(nbx_cli *, int, char **);
int cmd_allow(nbx_cli *, int, char **);
int cmd_up(nbx_cli *, int, char **);
int cmd_down(nbx_cli *, int, char **);
int cmd_shell(nbx_cli *, int, char **);
int cmd_run(nbx_cli *, int, char **);
int cmd_mount(nbx_cli *, int, char **);
int cmd_unmount(nbx_cli *, int, char **);
int cmd_status(nbx_cli *, int, char **);
int cmd_config(nbx_cli *, int, char **);
int cmd_doctor(nbx_cli *, int, char **);
int cmd_setup(nbx_cli *, int, char **);
int cmd_build(nbx_cli *, int, char **);
int cmd_update(nbx_cli *, int, char **);
int cmd_logs(nbx_cli *, int, char **);
int cmd_reload(nbx_cli *, int, char **);
int cmd_net(nbx_cli *, int, char **);
int cmd_version(nbx_cli *, int, char **);
int cmd_help(nbx_cli *, int, char **);
