/* The names of config.h's enums, as config.nix, `nixbox config` and the VM record spell them. */
#include "config.h"

static const char *const net_mode_words[] = {
        [NBX_NET_OFF] = "off",
        [NBX_NET_FILTERED] = "filtered",
        [NBX_NET_OPEN] = "open",
};
NBX_DEFINE_NAMES(nbx_net_mode, enum nbx_net_mode, NBX_NET_OPEN, net_mode_words)

static const char *const hypervisor_words[] = {
        [NBX_HV_AUTO] = "auto",
        [NBX_HV_CLOUD_HYPERVISOR] = "cloud-hypervisor",
        [NBX_HV_QEMU] = "qemu",
};
NBX_DEFINE_NAMES(nbx_hypervisor, enum nbx_hypervisor, NBX_HV_QEMU, hypervisor_words)

static const char *const accel_words[] = {
        [NBX_ACCEL_AUTO] = "auto",
        [NBX_ACCEL_KVM] = "kvm",
        [NBX_ACCEL_TCG] = "tcg",
};
NBX_DEFINE_NAMES(nbx_accel, enum nbx_accel, NBX_ACCEL_TCG, accel_words)

static const char *const hook_words[] = {
        [NBX_HOOK_PRE_UP] = "pre-up",
        [NBX_HOOK_POST_UP] = "post-up",
        [NBX_HOOK_PRE_DOWN] = "pre-down",
        [NBX_HOOK_POST_DOWN] = "post-down",
};
NBX_DEFINE_NAMES(nbx_hook, enum nbx_hook, NBX_HOOK_POST_DOWN, hook_words)
