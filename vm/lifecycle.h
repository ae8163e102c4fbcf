/* The VM lifecycle: up, down, status (the fleet), run, shell, logs, reload.  Each step of `up`
 * registers its undo (vm/undo.h); a failure unwinds in reverse and the error names the step and
 * its log file.  See docs/lifecycle.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/project.h"
#include "../config/base/strv.h"
#include "../config/base/ui.h"

typedef struct nbx_vm_opts {
        const nbx_ui *ui;                   /* progress and hook/script output */
        const char *runtime_dir;            /* NULL: nbx_runtime_dir() */
        const nbx_config_opts *config_opts; /* for nbx_config_load */
        /* Test hook (NIXBOX_FAIL_AT, read by cmd/up.c): fail `up` right after the step of this
         * name succeeded, so that rollback of every step can be tested.  NULL in normal use. */
        const char *fail_at;
} nbx_vm_opts;

/* The names of the steps of `up`, in order (valid values of NIXBOX_FAIL_AT). */
extern const char *const nbx_vm_up_steps[];
extern const size_t nbx_vm_up_n_steps;

/* What `up` reports for "how to connect". */
typedef struct nbx_vm_up_result {
        bool already_running;
        char name[64];
        char guest_ip[16];
        int slot;
} nbx_vm_up_result;

int nbx_vm_up(const nbx_project *p, const nbx_vm_opts *o, nbx_vm_up_result *ret, nbx_error **err);

/* Stop the VM and remove everything `up` made.  Idempotent; works after the hypervisor was killed
 * and on a half-written record.  *ret_was_running (optional): there was something to stop. */
int nbx_vm_down(const nbx_project *p, const nbx_vm_opts *o, bool *ret_was_running, nbx_error **err);

/* One row of `nixbox status`. */
typedef struct nbx_vm_status {
        char *name;
        char *project_dir;
        int slot;          /* -1: none */
        char *mode;        /* off | filtered | open | "" */
        const char *state; /* "running" | "stopped" | "dead" | "stale" */
        pid_t pid;         /* hypervisor (or slot owner) */
        int64_t uptime_s;  /* -1: unknown */
        char *guest_ip;
        nbx_strv mounts; /* "SOURCE:TARGET[:ro]" */
} nbx_vm_status;

/* Every slot in use on the host, plus current_project (may be NULL) as "stopped" when it holds
 * none.  Free with nbx_vm_fleet_free. */
int nbx_vm_fleet(const char *runtime_dir, const char *current_project, nbx_vm_status **ret,
                 size_t *ret_n, nbx_error **err);
void nbx_vm_fleet_free(nbx_vm_status *v, size_t n);
/* JSON array of the rows (for `status --json`). */
int nbx_vm_fleet_json(const nbx_vm_status *v, size_t n, char **ret, nbx_error **err);

/* Run argv in the running VM (login shell, workspace folder), streaming the standard streams;
 * *ret_code is the remote exit code.  Not running: NBX_EXIT_NOT_RUNNING. */
int nbx_vm_run(const nbx_project *p, const nbx_vm_opts *o, char *const *argv, size_t argc,
               int *ret_code, nbx_error **err);
/* Interactive login shell in the workspace (TTY). */
int nbx_vm_shell(const nbx_project *p, const nbx_vm_opts *o, int *ret_code, nbx_error **err);
/* Copy the serial console log to out_fd; follow: keep copying until the VM stops. */
int nbx_vm_logs(const nbx_project *p, const nbx_vm_opts *o, bool follow, int out_fd,
                nbx_error **err);
/* Re-resolve the config and apply network mode, domains and ports to the running VM.
 * *ret_restart: settings that changed but need `down` + `up` ("" when none; malloc'd). */
int nbx_vm_reload(const nbx_project *p, const nbx_vm_opts *o, char **ret_restart, nbx_error **err);
