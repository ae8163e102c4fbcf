/* The per-project VM record, .nixbox/state/vm.json (jansson): what `nixbox up` started, so that
 * `down`, `status`, `run`, `logs` and `reload` find it.  Written atomically (temp + rename) after
 * every step of `up` that starts something, so a crash leaves a record of everything started so
 * far.  Reading is tolerant: a missing file is -ENOENT; a corrupt or half-written one is -EBADMSG
 * and callers fall back to the slot record (net/net.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "../config/base/error.h"
#include "../config/base/strv.h"

#define NBX_STATE_FILE "vm.json"

typedef struct nbx_proc_ref {
        pid_t pid;           /* 0: none */
        uint64_t start_time; /* nbx_pid_start_time() when started */
} nbx_proc_ref;

typedef struct nbx_state_mount {
        char *source;
        char *target;
        char *tag;
        bool readonly;
        nbx_proc_ref virtiofsd;
        char *socket;
} nbx_state_mount;

typedef struct nbx_vm_state {
        char *name;
        char *project_dir;
        int slot;      /* -1: none */
        char *backend; /* "qemu" | "cloud-hypervisor" */
        char *accel;   /* "kvm" | "tcg" */
        nbx_proc_ref hv;
        nbx_proc_ref ssh_master;
        char *api_socket;
        char *serial_log;
        char *control_path;
        char *guest_ip;
        char *user;    /* guest user */
        char *workdir; /* guest workspace (cd target of shell/run) */
        char *mode;    /* network mode applied */
        nbx_state_mount *mounts;
        size_t n_mounts;
        int64_t started_at; /* unix seconds */
        bool ready;         /* `up` finished */
        char *settings;     /* JSON text: settings that need down+up to change (reload) */
} nbx_vm_state;

void nbx_vm_state_done(nbx_vm_state *s);
/* Add a mount record (copies strings). */
int nbx_vm_state_add_mount(nbx_vm_state *s, const char *source, const char *target, const char *tag,
                           bool readonly, const char *socket, nbx_error **err);

/* state_dir/vm.json: write atomically (0644, chowned to uid:gid when root). */
int nbx_vm_state_save(const char *state_dir, const nbx_vm_state *s, uid_t uid, gid_t gid,
                      nbx_error **err);
/* -ENOENT when absent, -EBADMSG (with err) when unreadable. */
int nbx_vm_state_load(const char *state_dir, nbx_vm_state *ret, nbx_error **err);
/* Remove the record; absent is success. */
int nbx_vm_state_remove(const char *state_dir, nbx_error **err);

/* The settings of a config that only take effect on the next `up` (resources, image, mounts,
 * hypervisor, packages, scripts, env names — never env values): JSON text, for reload. */
char *nbx_vm_settings_json(const nbx_config *c);
/* Names of settings that differ between two nbx_vm_settings_json texts (comma-separated in
 * *ret, "" when none). */
int nbx_vm_settings_diff(const char *old_json, const char *new_json, char **ret, nbx_error **err);
