/* What the lifecycle's files (up, down, fleet, session, reload, mount) share.  Not part of the
 * public interface (vm/lifecycle.h). */
#pragma once

#include <stdbool.h>

#include "../config/base/strv.h"
#include "../config/base/user.h"
#include "../net/net.h"
#include "hv.h"
#include "idmap.h"
#include "lifecycle.h"
#include "paths.h"
#include "record.h"
#include "ssh.h"
#include "virtiofsd.h"

#define NBX_VM_LOCK_TIMEOUT_MS 30000
#define NBX_VM_TERM_GRACE_MS 5000
#define NBX_VM_POWEROFF_TIMEOUT_MS 30000

/* A command on one project's VM: who runs it, where its things are, and (for commands that
 * change the VM) its lock. */
typedef struct nbx_vm_ctx {
        const nbx_project *p;
        const nbx_vm_opts *o;
        const nbx_ui *ui;
        char *runtime_dir;
        nbx_invoker inv;
        nbx_vm_paths paths;
        int lock_fd; /* -1: not locked */
} nbx_vm_ctx;

/* lock: take the VM's lock (root only: up, down, reload, mount, unmount), waiting up to
 * NBX_VM_LOCK_TIMEOUT_MS for another nixbox working on the same VM. */
int nbx_vm_ctx_open(nbx_vm_ctx *c, const nbx_project *p, const nbx_vm_opts *o, bool lock,
                    nbx_error **err);
void nbx_vm_ctx_close(nbx_vm_ctx *c);

const nbx_hv_ops *nbx_vm_ops(enum nbx_hypervisor h);
bool nbx_vm_hv_alive(const nbx_vm_record *r);
int nbx_vm_not_running(const nbx_project *p, nbx_error **err);

/* The environment of the long-lived processes nixbox starts (hypervisor, virtiofsd, SSH
 * master): only what they need, so no secret of the caller's environment lives on in them. */
int nbx_vm_child_env(const nbx_invoker *inv, nbx_strv *ret, nbx_error **err);
/* Open (create/truncate) log `name` in the state's log folder as the invoker. */
int nbx_vm_open_log(const nbx_vm_paths *paths, const nbx_invoker *inv, const char *name,
                    char **ret_path, nbx_error **err);
nbx_ssh_target nbx_vm_ssh_target(const nbx_vm_paths *paths, const nbx_vm_record *r,
                                 const nbx_invoker *inv);
/* The slot owner record of a process (project and name of the VM). */
nbx_slot_owner nbx_vm_slot_owner(const nbx_project *p, const char *name, pid_t pid);

/* Stop and remove everything rec names (rec may be a half-written or absent record: slot is
 * then the slot found for the project, -1 for none), in the order of docs/lifecycle.md: SSH
 * master, hypervisor (power button first when graceful), virtiofsd, network, slot, sockets,
 * record.  Failures are appended to *failures ("what: message"); the rest still runs. */
void nbx_vm_teardown(nbx_vm_ctx *c, const nbx_vm_record *rec, int slot, bool graceful,
                     nbx_strv *failures);
/* One failure list into one error ("could not remove everything" + lines); 0 when empty. */
int nbx_vm_failures_error(nbx_strv *failures, nbx_error **err);

/* The invoker the record's VM runs for, when the caller may act for it (the same user, or
 * root); an error naming the owner otherwise. */
int nbx_vm_owner(const nbx_vm_ctx *c, const nbx_vm_record *r, nbx_invoker *ret, nbx_error **err);

/* Load the record of a running, ready VM (NBX_EXIT_NOT_RUNNING otherwise). */
int nbx_vm_load_running(const nbx_vm_ctx *c, nbx_vm_record *ret, nbx_error **err);

/* Require the approval and resolve the approved copy of .nixbox/ (up, reload, build). */
int nbx_vm_config_load_approved(const nbx_vm_ctx *c, nbx_config *ret, nbx_error **err);

/* The network parameters of a slot for a config. */
nbx_net_params nbx_vm_net_params(const char *runtime_dir, const nbx_pool *pool, unsigned slot,
                                 const nbx_config *cfg, const nbx_invoker *inv);

/* Shares (vm/mount.c): the invoker's subordinate id map (reserved when missing, said on the ui)
 * and the virtiofsd program. */
int nbx_vm_shares_prepare(const nbx_vm_ctx *c, nbx_idmap *ret_map, nbx_virtiofsd *ret_v,
                          nbx_error **err);
/* Start the confined virtiofsd of recorded share m (socket <sock_dir>/<tag>.sock, log
 * virtiofsd-<tag>.log) and record its process in m.  *ret_log (optional, malloc'd) is set as
 * soon as the log is open, so a failure can name it. */
int nbx_vm_share_start(const nbx_vm_ctx *c, const nbx_virtiofsd *v, const nbx_idmap *map,
                       char *const *envp, const nbx_vm_record *rec, nbx_record_mount *m,
                       char **ret_log, nbx_error **err);
/* The outermost folder the guest can write — the project, or the source of another writable
 * share of rec — that source lies strictly inside; NULL when none.  (A pointer into c or rec.) */
const char *nbx_vm_guest_writable_root(const char *project_dir, const nbx_vm_record *rec,
                                       const char *source);
