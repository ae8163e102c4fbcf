/* The VM lifecycle, the public face of vm/ for cmd/: up (vm/up.c), down (vm/down.c), the fleet
 * (vm/fleet.c), run/shell/logs (vm/session.c), reload (vm/reload.c), mount/unmount
 * (vm/mount.c).  See docs/lifecycle.md and docs/mounts.md. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/approval.h"
#include "../config/config.h"
#include "../config/mountspec.h"
#include "../config/base/error.h"
#include "../config/base/project.h"
#include "../config/base/strv.h"
#include "../config/base/ui.h"

typedef struct nbx_vm_opts {
        const nbx_ui *ui;                   /* progress and hook/script output */
        const char *runtime_dir;            /* NULL: nbx_runtime_dir() */
        const nbx_config_opts *config_opts; /* for nbx_config_load */
        /* Test hook (NIXBOX_FAIL_AT, read by cmd/up.c and cmd/mount.c): fail `up` right after
         * the step of this name succeeded, so that rollback of every step can be tested; stop
         * `mount` right after its step of this name as if nixbox had crashed there (nothing
         * undone), so that the repair by the next command can be tested.  NULL in normal use. */
        const char *fail_at;
        /* Test hook (NIXBOX_TEST_KVM_STALL, read by cmd/up.c): under KVM the guest is started
         * paused, so it makes no progress — what a KVM that accepts VMs but cannot run a real
         * kernel looks like.  false in normal use. */
        bool kvm_stall;
        /* Diagnostic (NIXBOX_STEP_TIMES=1, read by cmd/up.c; the benchmarks use it): called after
         * each step of `up` that ran, with its name and when it started and ended
         * (CLOCK_MONOTONIC, µs).  NULL in normal use. */
        void (*step_done)(void *data, const char *step, uint64_t start_us, uint64_t end_us);
        void *step_data;
} nbx_vm_opts;

/* The name of step i of `up` (valid values of NIXBOX_FAIL_AT), NULL past the last. */
const char *nbx_vm_up_step_name(size_t i);

/* What `up` reports for "how to connect". */
typedef struct nbx_vm_up_result {
        bool already_running;
        char name[64];
        char guest_ip[16];
        int slot;
        char identity_pub[256]; /* the VM's SSH public key line */
} nbx_vm_up_result;

int nbx_vm_up(const nbx_project *p, const nbx_vm_opts *o, nbx_vm_up_result *ret, nbx_error **err);

/* Stop the VM and remove everything `up` made, running the pre-down and post-down hooks that
 * `up` recorded (the config is not evaluated).  Idempotent; works after the hypervisor was killed
 * and on a half-written record.  *ret_was_running (optional): there was something to stop. */
int nbx_vm_down(const nbx_project *p, const nbx_vm_opts *o, bool *ret_was_running, nbx_error **err);

/* One row of `nixbox status`. */
enum nbx_vm_state { NBX_VM_RUNNING, NBX_VM_STARTING, NBX_VM_STOPPED, NBX_VM_DEAD, NBX_VM_STALE };
const char *nbx_vm_state_name(enum nbx_vm_state s); /* "running" | "starting" | ... */

typedef struct nbx_vm_share_row {
        char *source;
        char *target;
        bool readonly;
        bool hotplug;
        bool attached;
} nbx_vm_share_row;

typedef struct nbx_vm_status {
        char *name;
        char *project_dir;
        int slot; /* -1: none */
        bool have_mode;
        enum nbx_net_mode mode;
        enum nbx_vm_state state;
        pid_t pid;        /* hypervisor (or slot owner) */
        int64_t uptime_s; /* -1: unknown */
        char *guest_ip;
        nbx_vm_share_row *shares;
        size_t n_shares;
        char *identity_pub; /* the VM's SSH public key, when the caller may read it */
} nbx_vm_status;

/* Every VM recorded or holding a slot on the host, plus current_project (may be NULL) as
 * "stopped" when it has neither.  Free with nbx_vm_fleet_free. */
int nbx_vm_fleet(const char *runtime_dir, const char *current_project, nbx_vm_status **ret,
                 size_t *ret_n, nbx_error **err);
void nbx_vm_fleet_free(nbx_vm_status *v, size_t n);
/* JSON array of the rows (for `status --json`). */
int nbx_vm_fleet_json(const nbx_vm_status *v, size_t n, char **ret, nbx_error **err);

/* Run argv in the running VM (login shell, workspace folder): this process is replaced by ssh,
 * on its standard streams, and exits with the remote exit code.  Returns only on failure (not
 * running: NBX_EXIT_NOT_RUNNING).  What runs before ssh is the least there is: the VM record
 * read, the VM's owner checked. */
int nbx_vm_run(const nbx_project *p, const nbx_vm_opts *o, char *const *argv, size_t argc,
               nbx_error **err);
/* Interactive login shell in the workspace (TTY), the same way. */
int nbx_vm_shell(const nbx_project *p, const nbx_vm_opts *o, nbx_error **err);
/* Copy the serial console log to out_fd, control characters escaped (the guest writes it);
 * follow: keep copying until the VM stops. */
int nbx_vm_logs(const nbx_project *p, const nbx_vm_opts *o, bool follow, int out_fd,
                nbx_error **err);
/* Re-resolve the config and apply network mode, domains and ports to the running VM.
 * *ret_restart: settings that changed but need `down` + `up` ("" when none; malloc'd). */
int nbx_vm_reload(const nbx_project *p, const nbx_vm_opts *o, char **ret_restart, nbx_error **err);

/* The VM's SSH identity (public line) for a project, creating the key pair when missing.
 * For `nixbox config` / `status`: users register it, e.g. as a deploy key. */
int nbx_vm_identity(const nbx_project *p, const nbx_vm_opts *o, char **ret_pub, nbx_error **err);

/* nixbox allow: approve .nixbox/ as it is now (config/approval.h).  diff_fd >= 0: the diff
 * against the last approval is written there first; dry_run: only the diff.  *ret_changed:
 * there was something to approve. */
int nbx_vm_allow(const nbx_project *p, const nbx_vm_opts *o, int diff_fd, bool dry_run,
                 bool *ret_changed, nbx_error **err);
/* Whether .nixbox/ is approved (for `nixbox config` and `doctor`). */
int nbx_vm_approval(const nbx_project *p, const nbx_vm_opts *o, enum nbx_approval_state *ret,
                    nbx_error **err);

/* nixbox build / update: require the approval, then build the guest of the approved
 * configuration with the approved pin (vm/build.h).  *ret_image (malloc'd, NULL when unset):
 * vm.image, the image `up` boots instead. */
struct nbx_build_result;
int nbx_vm_build(const nbx_project *p, const nbx_vm_opts *o, bool force, bool update,
                 struct nbx_build_result *ret, char **ret_image, nbx_error **err);

/* The name of step i of `mount` (valid values of NIXBOX_FAIL_AT for it), NULL past the last. */
const char *nbx_vm_mount_step_name(size_t i);

typedef struct nbx_vm_mount_result {
        char *source; /* the canonical host folder */
        char *target; /* the normalized guest folder */
        char tag[24]; /* its virtiofs tag */
        bool readonly;
} nbx_vm_mount_result;
void nbx_vm_mount_result_done(nbx_vm_mount_result *r);

/* nixbox mount: share spec's host folder into the running VM (checked first, vm/mount.h; then
 * virtiofsd, hot-plug, the guest's mount, the record).  Half-attached shares an interrupted
 * mount or unmount left are removed (or completed) first.  Needs root (sudo) and a VM of the
 * invoker's.  A failure undoes what this mount did. */
int nbx_vm_mount(const nbx_project *p, const nbx_vm_opts *o, const nbx_mountspec *spec,
                 nbx_vm_mount_result *ret, nbx_error **err);

typedef struct nbx_vm_unmount_result {
        char *source;
        char *target;
} nbx_vm_unmount_result;
void nbx_vm_unmount_result_done(nbx_vm_unmount_result *r);

/* nixbox unmount: unmount the hot-plugged share at target in the guest, remove its device, stop
 * its virtiofsd, forget it.  When the guest fails (busy, hung), the share stays and the error
 * says so, unless force: then the host side is released anyway (warnings on o->ui). */
int nbx_vm_unmount(const nbx_project *p, const nbx_vm_opts *o, const char *target, bool force,
                   nbx_vm_unmount_result *ret, nbx_error **err);
