#include "hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/base/proc.h"

extern char **environ;

static bool overridden(const char *entry) {
        static const char *const names[] = {"NIXBOX_PROJECT_DIR=", "NIXBOX_NAME=", "NIXBOX_SLOT=",
                                            "NIXBOX_GUEST_IP=", "NIXBOX_CONFIG_DIR="};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(names); i++)
                if (strncmp(entry, names[i], strlen(names[i])) == 0)
                        return true;
        return false;
}

int nbx_hooks_envp(const nbx_hook_env *env, nbx_strv *ret, nbx_error **err) {
        nbx_strv v = {0};
        int r = 0;
        for (char **e = environ; e && *e && r >= 0; e++) {
                if (overridden(*e))
                        continue;
                if ((env->nixbox && strncmp(*e, "NIXBOX=", 7) == 0) ||
                    (env->home && strncmp(*e, "HOME=", 5) == 0) ||
                    (env->user &&
                     (strncmp(*e, "USER=", 5) == 0 || strncmp(*e, "LOGNAME=", 8) == 0)))
                        continue;
                r = nbx_strv_push(&v, *e);
        }
        if (r >= 0)
                r = nbx_strv_pushf(&v, "NIXBOX_PROJECT_DIR=%s",
                                   env->project_dir ? env->project_dir : "");
        if (r >= 0)
                r = nbx_strv_pushf(&v, "NIXBOX_NAME=%s", env->name ? env->name : "");
        if (r >= 0) {
                if (env->slot >= 0)
                        r = nbx_strv_pushf(&v, "NIXBOX_SLOT=%d", env->slot);
                else
                        r = nbx_strv_push(&v, "NIXBOX_SLOT=");
        }
        if (r >= 0)
                r = nbx_strv_pushf(&v, "NIXBOX_GUEST_IP=%s", env->guest_ip ? env->guest_ip : "");
        if (r >= 0)
                r = nbx_strv_pushf(&v, "NIXBOX_CONFIG_DIR=%s",
                                   env->config_dir ? env->config_dir : "");
        if (r >= 0 && env->nixbox)
                r = nbx_strv_pushf(&v, "NIXBOX=%s", env->nixbox);
        if (r >= 0 && env->home)
                r = nbx_strv_pushf(&v, "HOME=%s", env->home);
        if (r >= 0 && env->user)
                r = nbx_strv_pushf(&v, "USER=%s", env->user);
        if (r >= 0 && env->user)
                r = nbx_strv_pushf(&v, "LOGNAME=%s", env->user);
        if (r < 0) {
                nbx_strv_clear(&v);
                return nbx_error_set(err, ENOMEM, "hook environment");
        }
        *ret = v;
        return 0;
}

int nbx_hooks_run(enum nbx_hook which, const nbx_strv *cmds, const nbx_hook_env *env,
                  const nbx_ui *ui, unsigned *ret_failed, nbx_error **err) {
        unsigned failed = 0;
        if (!cmds || cmds->n == 0) {
                if (ret_failed)
                        *ret_failed = 0;
                return 0;
        }
        _cleanup_strv_ nbx_strv envp = {0};
        int r = nbx_hooks_envp(env, &envp, err);
        if (r < 0)
                return r;
        const char *hname = nbx_hook_name(which);
        for (size_t i = 0; i < cmds->n; i++) {
                const char *cmd = cmds->v[i];
                nbx_ui_step(ui, "Running %s hook %zu/%zu", hname, i + 1, cmds->n);
                char *argv[] = {"sh", "-c", (char *)cmd, NULL};
                nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
                o.cwd = env->project_dir;
                o.envp = envp.v;
                o.drop_privileges = env->drop_privileges;
                o.uid = env->uid;
                o.gid = env->gid;
                if (ui) {
                        fflush(ui->out);
                        fflush(ui->err);
                        o.stdout_fd = fileno(ui->out);
                        o.stderr_fd = fileno(ui->err);
                }
                pid_t pid;
                int status = 0;
                _cleanup_error_ nbx_error *herr = NULL;
                r = nbx_spawn(argv, &o, &pid, &herr);
                if (r >= 0)
                        r = nbx_wait_pid(pid, 0, &status, &herr);
                if (r < 0) {
                        if (r == -ENOENT) /* no sh at all: nothing else will run either */
                                return nbx_error_set(err, ENOENT, "%s hook: cannot run sh", hname);
                        nbx_ui_warn(ui, "%s hook `%s` could not run (%s); continuing", hname, cmd,
                                    herr && herr->msg ? herr->msg : "error");
                        failed++;
                        continue;
                }
                int code = nbx_status_code(status);
                if (code != 0) {
                        nbx_ui_warn(ui, "%s hook `%s` failed with exit code %d; continuing", hname,
                                    cmd, code);
                        failed++;
                }
        }
        if (ret_failed)
                *ret_failed = failed;
        return 0;
}
