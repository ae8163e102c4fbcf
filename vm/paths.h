/* Where a project's VM keeps its things, none of them inside the project folder (the guest can
 * write there; docs/decisions/0004-state-outside-the-share.md):
 *
 *   <runtime>/vms/<id>/          root, 0755   the VM record (vm.json) and its lock: what root acts
 * on <runtime>/vms/<id>/sock/     invoker, 0700  API, virtiofsd and SSH control sockets
 *   ~/.local/state/nixbox/<id>/  invoker, 0700  ssh/ (keys, known_hosts), log/ (console,
 * hypervisor, virtiofsd, ssh), approved/ (the approved config), state/NAME/ (the folders of
 * `{ state = NAME; }` mounts: the guest writes there, nixbox only creates them)
 *
 * <id> is the project's identity: the first 16 hex digits of SHA-256 of its absolute folder.  The
 * home folder is the invoker's from the password database (sudo does not pass XDG_STATE_HOME). */
#pragma once

#include <stdbool.h>

#include "../config/base/error.h"
#include "../config/base/user.h"

#define NBX_VM_ID_LEN 16

typedef struct nbx_vm_paths {
        char id[NBX_VM_ID_LEN + 1];
        char *vm_dir;   /* <runtime>/vms/<id> */
        char *record;   /* vm_dir/vm.json */
        char *lock;     /* vm_dir/lock */
        char *sock_dir; /* vm_dir/sock */
        char *api_socket;
        char *control_path; /* SSH connection master */
        char *state_dir;    /* ~/.local/state/nixbox/<id> */
        char *ssh_dir;
        char *log_dir;
        char *serial_log;
        char *approved_dir; /* the approved copy of .nixbox/ (config/approval.h) */
        char *mounts_dir;   /* state/: one folder per `state` mount */
} nbx_vm_paths;

/* The identity of a project folder (absolute path). */
void nbx_vm_id(const char *project_root, char ret[NBX_VM_ID_LEN + 1]);
/* Compute the paths (nothing is created).  home: the invoker's home folder. */
int nbx_vm_paths_get(const char *runtime_dir, const char *project_root, const char *home,
                     nbx_vm_paths *ret, nbx_error **err);
void nbx_vm_paths_done(nbx_vm_paths *p);
/* The socket of share `tag` in sock_dir (malloc'd; NULL on ENOMEM). */
char *nbx_vm_share_socket(const nbx_vm_paths *p, const char *tag);
/* A log file in log_dir (malloc'd; NULL on ENOMEM). */
char *nbx_vm_log_path(const nbx_vm_paths *p, const char *name);

/* Create what `up` needs: vm_dir (root's), sock_dir (the invoker's), and the state folders
 * (created with the invoker's file identity: they live in the invoker's home). */
int nbx_vm_paths_prepare(const nbx_vm_paths *p, const nbx_invoker *inv, nbx_error **err);
/* Create the invoker's state folders only (for commands that need keys without a running VM). */
int nbx_vm_paths_prepare_state(const nbx_vm_paths *p, const nbx_invoker *inv, nbx_error **err);
/* The folder of `{ state = NAME; }` mounts: mounts_dir/NAME (NAME as config checked it: no '/',
 * not "." or "..").  prepare: create it (and mounts_dir) as the invoker, 0700, when missing.
 * *ret_path is malloc'd. */
int nbx_vm_state_mount_dir(const nbx_vm_paths *p, const char *name, const nbx_invoker *inv,
                           bool prepare, char **ret_path, nbx_error **err);
