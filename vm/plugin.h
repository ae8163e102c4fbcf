/* Plugin commands: `nixbox PLUGIN COMMAND [ARG...]` runs the file commands/COMMAND (or
 * commands/COMMAND.sh) of a plugin the project uses, on the host, as the invoking user
 * (docs/plugins.md).  The plugins are those of the approved configuration (decision 0006), and a
 * path plugin's commands are taken from the approved copy of .nixbox/, never from the live folder
 * the guest can write; no file is found through a symbolic link. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/project.h"
#include "../config/base/strv.h"
#include "lifecycle.h"

#define NBX_PLUGIN_MAX_COMMANDS 64
#define NBX_PLUGIN_COMMAND_MAX 64  /* characters of a command's name */
#define NBX_PLUGIN_SUMMARY_MAX 200 /* characters of its one-line description */

/* A command of a plugin. */
typedef struct nbx_plugin_command {
        char *name;    /* what is typed: [A-Za-z0-9][A-Za-z0-9_-]*, the file name without ".sh" */
        char *file;    /* its file in commands/: NAME or NAME.sh */
        char *summary; /* the header line "# nixbox: TEXT" ("" without one); may hold any byte:
                          escape it before printing (nbx_ui_escape) */
} nbx_plugin_command;

typedef struct nbx_plugin_commands {
        nbx_plugin_command *v; /* sorted by name */
        size_t n;
} nbx_plugin_commands;

/* The commands in dir/commands/: regular files named NAME or NAME.sh (other files, folders and
 * links are not commands); none when there is no such folder.  Nothing on the way is followed
 * through a link.  The summary is the first "# nixbox: TEXT" line of the file's opening comment
 * block (the lines up to the first that neither starts with '#' nor is empty).  Two files for
 * one command (login and login.sh) are an NBX_EXIT_CONFIG error. */
int nbx_plugin_commands_read(const char *plugin_dir, nbx_plugin_commands *ret, nbx_error **err);
void nbx_plugin_commands_done(nbx_plugin_commands *c);
const nbx_plugin_command *nbx_plugin_commands_find(const nbx_plugin_commands *c, const char *name);

/* A plugin of the project with its commands. */
typedef struct nbx_vm_plugin {
        const nbx_plugin *plugin; /* in the set's cfg: name, origin, dir (for a path plugin: in
                                     the approved copy), folder */
        nbx_plugin_commands commands;
} nbx_vm_plugin;

typedef struct nbx_vm_plugins {
        nbx_config cfg; /* the approved configuration */
        nbx_vm_plugin *v;
        size_t n;
} nbx_vm_plugins;

/* Require the approval (NBX_EXIT_NOT_APPROVED otherwise), resolve the approved configuration and
 * read each plugin's commands (as the invoking user). */
int nbx_vm_plugins_load(const nbx_project *p, const nbx_vm_opts *o, nbx_vm_plugins *ret,
                        nbx_error **err);
void nbx_vm_plugins_done(nbx_vm_plugins *s);
const nbx_vm_plugin *nbx_vm_plugins_find(const nbx_vm_plugins *s, const char *name);

/* Run command c of plugin pl with args exactly as given, as the invoking user (root's own
 * commands run as root), in the project folder (as hooks: `"$NIXBOX" run` there acts on this
 * project whatever -C said), with the standard streams inherited and the
 * caller's environment plus NIXBOX (this binary), NIXBOX_PROJECT_DIR, NIXBOX_NAME, and — when
 * the VM runs — NIXBOX_SLOT and NIXBOX_GUEST_IP (empty otherwise); HOME, USER and LOGNAME are
 * the invoking user's.  The file is opened below the plugin's folder without following a link
 * and executed from that open file (a script's interpreter reads it as /dev/fd/N: $0 is that
 * name).  *ret_code: its exit code (128+N for signal N). */
int nbx_vm_plugin_run(const nbx_project *p, const nbx_vm_opts *o, const nbx_vm_plugins *s,
                      const nbx_vm_plugin *pl, const nbx_plugin_command *c, char *const *args,
                      size_t n_args, int *ret_code, nbx_error **err);
