/* Lifecycle hooks (hooks.pre-up … post-down): each entry runs as `sh -c CMD` in the project
 * folder, as the invoking user, with NIXBOX_PROJECT_DIR, NIXBOX_NAME, NIXBOX_SLOT and
 * NIXBOX_GUEST_IP in its environment.  The config already orders plugin hooks before the user's.
 * A failing hook is a warning: the lifecycle continues (the reference's rule). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/strv.h"
#include "../config/base/ui.h"

typedef struct nbx_hook_env {
        const char *project_dir;
        const char *name;
        int slot;             /* -1: none yet (NIXBOX_SLOT is set to "") */
        const char *guest_ip; /* NULL: "" */
        bool drop_privileges; /* run as uid:gid (the invoker) */
        uid_t uid;
        gid_t gid;
        const char *home;   /* HOME for the hook (the invoker's); NULL: inherited */
        const char *user;   /* USER/LOGNAME; NULL: inherited */
        const char *nixbox; /* NIXBOX: the nixbox binary (plugin commands); NULL: inherited */
        /* NIXBOX_CONFIG_DIR: the approved copy of .nixbox/, where a hook finds files the user
         * approved (the live .nixbox/ is the guest's to write); NULL: "" */
        const char *config_dir;
} nbx_hook_env;

/* Run every command of hook `which`, in order.  Output goes to ui->out / ui->err.  Each failure
 * prints a warning through ui; *ret_failed (optional) counts them.  Returns < 0 only when a hook
 * could not be started at all for a reason that will not get better (e.g. no sh). */
int nbx_hooks_run(enum nbx_hook which, const nbx_strv *cmds, const nbx_hook_env *env,
                  const nbx_ui *ui, unsigned *ret_failed, nbx_error **err);

/* The environment a hook (or a plugin command, vm/plugin.h) gets: environ + the four variables,
 * NIXBOX when env->nixbox is set.  NULL-terminated. */
int nbx_hooks_envp(const nbx_hook_env *env, nbx_strv *ret, nbx_error **err);
