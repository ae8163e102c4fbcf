#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/names.h"
#include "../net/net.h"
#include "../config/base/user.h"

const nbx_command nbx_commands[] = {
#define U(x) x
        {"init", cmd_init, "create .nixbox/config.nix in a folder",
         U("usage: nixbox init [DIR]\n\n"
           "Create DIR/.nixbox/config.nix (a commented template listing every field) and\n"
           "approve it (`nixbox allow`).  Everything in .nixbox/ is configuration, to be\n"
           "versioned with the project; nixbox keeps its own state elsewhere.  DIR defaults to\n"
           "the current folder (or -C DIR).  Refuses, changing nothing, when DIR/.nixbox\n"
           "already exists.\n")},
        {"allow", cmd_allow, "approve the project's configuration (.nixbox/)",
         U("usage: nixbox allow [--diff]\n\n"
           "Show what changed in .nixbox/ since you last approved it, and approve it as it is\n"
           "now.  The VM can write the project folder, .nixbox/ included, so `nixbox up` and\n"
           "`reload` act only on a configuration you approved on the host (and evaluate the\n"
           "approved copy, never the live folder); they refuse with exit 9 until you run this.\n"
           "--diff (or --dry-run) shows the changes without approving them.\n")},
        {"up", cmd_up, "start the project's VM (network, shares, hooks)",
         U("usage: nixbox up\n\n"
           "Resolve the config, take a network slot, run pre-up hooks, configure the slot's\n"
           "firewall and DNS, start the VM, wait until SSH answers, mount the shares, run the\n"
           "setup scripts and post-up hooks.  A failure undoes every step already done.\n"
           "Needs CAP_NET_ADMIN (run with sudo).  On a running VM it says so and exits 0.\n")},
        {"down", cmd_down, "stop the VM and remove its network",
         U("usage: nixbox down\n\n"
           "Run pre-down hooks, press the VM's power button, wait, then stop it by force if\n"
           "needed; remove the slot's network and release the slot; run post-down hooks.\n"
           "Safe to run twice and after a crash.  Needs CAP_NET_ADMIN.\n")},
        {"shell", cmd_shell, "open a login shell in the VM",
         U("usage: nixbox shell\n\n"
           "Open an interactive login shell in the running VM, in the workspace mount.\n")},
        {"run", cmd_run, "run a command in the VM",
         U("usage: nixbox run [--] COMMAND [ARG...]\n\n"
           "Run COMMAND with its arguments in the VM; arguments arrive exactly as given\n"
           "(`nixbox run ls \"a b\"` lists one file named `a b`).  To run a shell string, say\n"
           "so: `nixbox run sh -c 'echo $HOME | tr a-z A-Z'`.  stdout, stderr and the exit code\n"
           "are passed through.\n")},
        {"mount", cmd_mount, "share a host folder into the running VM",
         U("usage: nixbox mount [--readonly] SOURCE TARGET\n"
           "       nixbox mount [--readonly] source=PATH,target=PATH[,readonly][,type=bind]\n\n"
           "Share host folder SOURCE (absolute, ~/... or relative to the current folder) with the\n"
           "running VM at TARGET (absolute or ~/... in the guest), without a restart: a confined\n"
           "virtiofsd serves it, the device is hot-plugged and the guest mounts it.  Files the\n"
           "guest user writes are yours; --readonly (-r) shares it read-only, enforced on the\n"
           "host too.  Refused before anything starts: a SOURCE you cannot read, a TARGET that is\n"
           "already a share or inside or above one, more than 32 shares in the VM (boot shares\n"
           "included).  Needs sudo.  See docs/mounts.md.\n")},
        {"unmount", cmd_unmount, "remove a hot-plugged share",
         U("usage: nixbox unmount [--force] TARGET\n\n"
           "Unmount the share at TARGET in the guest, detach its device and stop its virtiofsd.\n"
           "When the guest cannot unmount it (busy, hung), the share stays and the error says so;\n"
           "--force (-f) releases the host side anyway.  Boot shares stay until `down`.  Needs\n"
           "sudo.\n")},
        {"status", cmd_status, "list every nixbox VM on this host",
         U("usage: nixbox status [--json]\n\n"
           "The fleet: every slot in use on this host with its name, project folder, slot,\n"
           "egress mode, state (running, stopped, dead, stale), PID, uptime, guest IP and\n"
           "mounts.  --json prints the same as JSON on stdout.\n")},
        {"config", cmd_config, "show the resolved configuration",
         U("usage: nixbox config [--json] [--show-secrets]\n\n"
           "Evaluate .nixbox/config.nix and its plugins, merge and validate them, and print the\n"
           "result with the origin of every value (default, a plugin, or user).  --json prints\n"
           "JSON on stdout.  env values are masked unless --show-secrets is given.\n")},
        {"doctor", cmd_doctor, "check the host's prerequisites and the project's config",
         U("usage: nixbox doctor\n\n"
           "Check every prerequisite (KVM and whether it could boot a guest, nf_tables, dnsmasq,\n"
           "virtiofsd and your subordinate ids, a hypervisor, nix, ssh, CAP_NET_ADMIN, IPv4\n"
           "forwarding, Docker's FORWARD policy) and, inside a project, its config and whether\n"
           "it is approved.  Each line says OK, WARN or MISSING with the exact fix.  Exits 6\n"
           "when something required is missing.\n")},
        {"setup", cmd_setup, "prepare this host for nixbox (once, as root)",
         U("usage: nixbox setup [--pool A.B.0.0]\n\n"
           "Create the host-wide runtime folder, record the address pool for network slots\n"
           "(default 172.16.0.0/16) and report what `nixbox doctor` would fix.\n")},
        {"build", cmd_build, "build the project's NixOS guest with Nix",
         U("usage: nixbox build [-f]\n\n"
           "Build the project's NixOS guest (its nix.packages, nix.ldLibraries and plugins) with\n"
           "`nix build`, as you, into ~/.cache/nixbox/guests/.  Nothing is built when the\n"
           "packages, plugins, nixbox's Nix files and .nixbox/flake.lock are unchanged; -f builds\n"
           "anyway.  The first build pins nixpkgs in .nixbox/flake.lock (commit it).  `up` boots\n"
           "this image unless vm.image is set.  Exits 6 without Nix, without flakes, or when\n"
           "nixpkgs cannot be fetched.\n")},
        {"update", cmd_update, "pin the newest nixpkgs and rebuild the guest",
         U("usage: nixbox update\n\n"
           "Pin the newest nixpkgs of the guest's branch in .nixbox/flake.lock and build the\n"
           "guest with it (nothing is built when the pin did not move).\n")},
        {"logs", cmd_logs, "show the VM's console and hypervisor log",
         U("usage: nixbox logs [-f]\n\nPrint the serial console / hypervisor log; -f follows "
           "it.\n")},
        {"reload", cmd_reload, "apply changed network settings to the running VM",
         U("usage: nixbox reload\n\n"
           "Re-read the config and apply network.mode, network.domains and network.ports to the\n"
           "running VM without a reboot; say which other changes need `down` + `up`.\n")},
        {"net", cmd_net, "show the VM's network policy (net show)",
         U("usage: nixbox net show [--json]\n\n"
           "The slot's effective policy: mode, allowed domains and ports, addresses now in the\n"
           "allow set, dropped-packet counters and the last DNS names refused.\n")},
        {"version", cmd_version, "print the version", U("usage: nixbox version\n")},
        {"help", cmd_help, "show help for a command", U("usage: nixbox help [COMMAND]\n")},
#undef U
};
const size_t nbx_n_commands = NBX_ARRAY_SIZE(nbx_commands);

const nbx_command *nbx_cli_lookup(const char *name) {
        for (size_t i = 0; i < nbx_n_commands; i++)
                if (strcmp(nbx_commands[i].name, name) == 0)
                        return &nbx_commands[i];
        return NULL;
}

int nbx_cli_parse_global(int argc, char **argv, nbx_cli_args *ret, nbx_error **err) {
        nbx_cli_args a = {.command_index = argc};
        int i = 1;
        for (; i < argc; i++) {
                const char *s = argv[i];
                if (s[0] != '-' || strcmp(s, "-") == 0)
                        break;
                if (strcmp(s, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(s, "-C") == 0 || strcmp(s, "--directory") == 0) {
                        if (i + 1 >= argc)
                                return nbx_error_setx(err, NBX_EXIT_USAGE, 0,
                                                      "%s needs a folder argument", s);
                        a.project_dir = argv[++i];
                } else if (strncmp(s, "-C", 2) == 0) {
                        a.project_dir = s + 2;
                } else if (strncmp(s, "--directory=", 12) == 0) {
                        a.project_dir = s + 12;
                } else if (strcmp(s, "--json") == 0) {
                        a.json = true;
                } else if (strcmp(s, "--no-color") == 0) {
                        a.no_color = true;
                } else if (strcmp(s, "-q") == 0 || strcmp(s, "--quiet") == 0) {
                        a.quiet = true;
                } else if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
                        a.help = true;
                } else if (strcmp(s, "-V") == 0 || strcmp(s, "--version") == 0) {
                        a.version = true;
                } else {
                        return nbx_error_setx(err, NBX_EXIT_USAGE, 0,
                                              "unknown option '%s' (see `nixbox --help`)", s);
                }
        }
        if (a.project_dir && !*a.project_dir)
                return nbx_error_setx(err, NBX_EXIT_USAGE, 0, "-C needs a folder argument");
        a.command_index = i;
        *ret = a;
        return 0;
}

bool nbx_cli_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return false;
                if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
                        return true;
        }
        return false;
}

int nbx_cli_no_args(nbx_cli *cli, const char *cmd, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, cmd);
        if (argc > 1)
                return nbx_cli_usage_error(cli, cmd, "%s takes no arguments", cmd);
        return -1;
}

int nbx_cli_print_usage(nbx_cli *cli, const char *cmd) {
        const nbx_command *c = nbx_cli_lookup(cmd);
        if (!c)
                return nbx_cli_usage_error(cli, NULL, "unknown command '%s'", cmd);
        fputs(c->usage, cli->ui.out);
        return NBX_EXIT_OK;
}

int nbx_cli_fail(nbx_cli *cli, nbx_error *err) {
        if (!err) {
                nbx_ui_error(&cli->ui, "unknown failure (a bug: please report it)");
                return NBX_EXIT_FAILURE;
        }
        nbx_ui_error(&cli->ui, "%s", err->msg ? err->msg : "(no message)");
        return err->exit_code ? err->exit_code : NBX_EXIT_FAILURE;
}

int nbx_cli_usage_error(nbx_cli *cli, const char *cmd, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        nbx_ui_error(&cli->ui, "%s", msg ? msg : fmt);
        free(msg);
        if (cmd)
                fprintf(cli->ui.err, "Try `nixbox help %s`.\n", cmd);
        else
                fprintf(cli->ui.err, "Try `nixbox --help` for the list of commands.\n");
        return NBX_EXIT_USAGE;
}

int nbx_cli_require_net_admin(nbx_cli *cli, const char *cmd, const char *why) {
        if (nbx_net_has_cap_net_admin())
                return 0;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_error_setx(&err, NBX_EXIT_PERMISSION, 0,
                       "nixbox %s %s and needs CAP_NET_ADMIN: run with sudo (`sudo nixbox %s`)",
                       cmd, why, cmd);
        return nbx_cli_fail(cli, err);
}

int nbx_cli_project(nbx_cli *cli, nbx_project *ret, nbx_error **err) {
        return nbx_project_find(cli->project_opt, ret, err);
}

int cmd_version(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "version", argc, argv);
        if (usage >= 0)
                return usage;
        fprintf(cli->ui.out, "nixbox %s\n", NBX_VERSION);
        return NBX_EXIT_OK;
}

/* Closest command name, for "did you mean". */
static const char *suggest(const char *name) {
        nbx_suggest sg;
        nbx_suggest_init(&sg, name);
        for (size_t i = 0; i < nbx_n_commands; i++)
                nbx_suggest_add(&sg, nbx_commands[i].name);
        return nbx_suggest_best(&sg);
}

int nbx_cli_unknown_command(nbx_cli *cli, const char *name, const char *plugins) {
        const char *s = suggest(name);
        _cleanup_free_ char *e = nbx_ui_escape(name);
        char hint[128] = "";
        if (s)
                snprintf(hint, sizeof(hint), " (did you mean '%s'?)", s);
        if (plugins)
                return nbx_cli_usage_error(cli, NULL,
                                           "unknown command '%s'%s: neither a nixbox command nor a "
                                           "plugin of this project (its plugins: %s)",
                                           e ? e : "?", hint, plugins);
        return nbx_cli_usage_error(cli, NULL, "unknown command '%s'%s", e ? e : "?", hint);
}
