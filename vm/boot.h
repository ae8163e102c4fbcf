/* The guest's boot, watched on its serial console (docs/guest-contract.md, section 1).
 *
 * Some hosts' KVM accepts a VM and runs a probe's few instructions, yet a real kernel makes no
 * progress (nested or paravirtualised KVM: "kvm-pvm: INTERNAL_ERROR in batch emul").  Under KVM,
 * the guest must print its first `nixbox-guest:` line within NBX_KVM_BOOT_WATCHDOG_MS; when it
 * does not, the verdict "KVM cannot boot this kernel" is kept for this host (until reboot: it
 * lives in the runtime folder) and `up` starts the VM again under TCG (vm.accel = "auto") or
 * fails saying so (vm.accel = "kvm").  See docs/hypervisors.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../config/base/error.h"

/* Generous for a kernel under KVM (Linux reaches its init in well under 2 s there). */
#define NBX_KVM_BOOT_WATCHDOG_MS 15000
#define NBX_BOOT_TIMEOUT_KVM_MS 120000
#define NBX_BOOT_TIMEOUT_TCG_MS 300000

typedef struct nbx_boot_watch {
        const char *console;    /* the serial console's log file */
        bool kvm;               /* arm the KVM watchdog */
        const char *hypervisor; /* for messages */
        bool (*alive)(void *data);
        void *data;
} nbx_boot_watch;

/* Wait for the guest's `ready` line.  Under KVM its first `nixbox-guest:` line must come within
 * NBX_KVM_BOOT_WATCHDOG_MS: otherwise -ETIMEDOUT without an error set (the watchdog fired).
 * Boot errors the guest reports (`nixbox-guest: error: ...`) fail it after `ready`, listed. */
int nbx_boot_wait(const nbx_boot_watch *w, nbx_error **err);

/* Did KVM fail to boot this kernel on this host before?  why (optional) gets the verdict. */
bool nbx_kvm_verdict_broken(const char *runtime_dir, const char *kernel, char *why, size_t len);
/* Remember that it did. */
int nbx_kvm_verdict_record(const char *runtime_dir, const char *kernel, nbx_error **err);
/* Any verdict on this host (for doctor): the number of kernels KVM could not boot. */
int nbx_kvm_verdict_count(const char *runtime_dir);
