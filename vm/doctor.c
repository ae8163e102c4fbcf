#include "doctor.h"

#include <stdio.h>
#include <string.h>

#include "../config/base/proc.h"
#include "../net/net.h"
#include "boot.h"
#include "hv.h"
#include "internal.h"
#include "virtiofsd.h"

/* The probe `up` runs, plus what earlier boots taught: KVM may pass the probe and still not boot
 * a kernel (docs/hypervisors.md). */
static void check_kvm(nbx_checks *l, const char *runtime_dir) {
        nbx_check *c = nbx_checks_add(l, "KVM", false);
        if (!c)
                return;
        enum nbx_accel accel;
        _cleanup_error_ nbx_error *kerr = NULL;
        if (nbx_accel_resolve(NBX_ACCEL_KVM, &accel, &kerr) < 0) {
                nbx_check_set(c, NBX_CHECK_WARN,
                              "enable virtualisation in the firmware, `modprobe kvm_intel` (or "
                              "kvm_amd), add yourself to the kvm group; on a nested host enable "
                              "nested virtualisation; otherwise nothing to do (TCG works, slowly)",
                              "%s; VMs will run under TCG (software emulation, much slower)",
                              kerr && kerr->msg ? kerr->msg : "KVM cannot run a guest");
                return;
        }
        int broken = nbx_kvm_verdict_count(runtime_dir);
        if (broken > 0)
                nbx_check_set(c, NBX_CHECK_WARN,
                              "nothing to do: vm.accel = \"auto\" uses TCG for those kernels; on a "
                              "nested host, check the outer host's KVM",
                              "/dev/kvm passes the probe, but could not boot %d guest kernel(s) "
                              "since this host started (the boot watchdog fell back to TCG)",
                              broken);
        else
                nbx_check_set(c, NBX_CHECK_OK, NULL,
                              "/dev/kvm runs the probe's guest; a real kernel is watched at its "
                              "first boot (no progress in %d s: TCG)",
                              NBX_KVM_BOOT_WATCHDOG_MS / 1000);
}

static void check_hypervisor(nbx_checks *l) {
        nbx_check *c = nbx_checks_add(l, "hypervisor", true);
        const nbx_hv_ops *ops;
        _cleanup_error_ nbx_error *err = NULL;
        if (!c)
                return;
        if (nbx_hv_select(NBX_HV_AUTO, &ops, &err) < 0) {
                nbx_check_set(c, NBX_CHECK_MISSING,
                              "sudo apt-get install qemu-system-x86 (or install cloud-hypervisor)",
                              "%s", err->msg);
                return;
        }
        _cleanup_free_ char *path = nbx_find_program(ops->program);
        nbx_check_set(c, NBX_CHECK_OK, NULL, "%s (%s)", ops->name, path ? path : ops->program);
}

static void check_program(nbx_checks *l, const char *name, const char *fix) {
        nbx_check *c = nbx_checks_add(l, name, true);
        if (!c)
                return;
        _cleanup_free_ char *p = nbx_find_program(name);
        if (p)
                nbx_check_set(c, NBX_CHECK_OK, NULL, "%s", p);
        else
                nbx_check_set(c, NBX_CHECK_MISSING, fix, "%s not found in PATH", name);
}

static void check_project(nbx_checks *l, const nbx_project *p, const nbx_vm_opts *o) {
        nbx_check *c = nbx_checks_add(l, "project config", true);
        if (!c)
                return;
        nbx_config cfg;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_config_load(p->root, o->config_opts, &cfg, &err) < 0) {
                nbx_check_set(c, NBX_CHECK_MISSING,
                              "fix the field named above; `nixbox config` shows the result", "%s",
                              err->msg);
                return;
        }
        nbx_check_set(c, NBX_CHECK_OK, NULL, "%s: valid (name %s, network %s)", p->config_path,
                      cfg.name, nbx_net_mode_name(cfg.net_mode));
        nbx_config_done(&cfg);

        c = nbx_checks_add(l, "approval", false);
        enum nbx_approval_state st;
        if (!c || nbx_vm_approval(p, o, &st, NULL) < 0)
                return;
        if (st == NBX_APPROVAL_APPROVED)
                nbx_check_set(c, NBX_CHECK_OK, NULL, "%s is approved as it is", p->nixbox_dir);
        else
                nbx_check_set(c, NBX_CHECK_WARN,
                              "review with `nixbox allow --diff`, approve with `nixbox allow`",
                              "%s %s: `nixbox up` refuses it", p->nixbox_dir,
                              st == NBX_APPROVAL_NONE ? "was never approved"
                                                      : "changed since it was approved");
}

void nbx_doctor_run(const nbx_project *p, const nbx_vm_opts *o, nbx_checks *ret) {
        *ret = (nbx_checks){.n = 0};
        _cleanup_free_ char *runtime =
                o && o->runtime_dir ? strdup(o->runtime_dir) : nbx_runtime_dir();
        nbx_invoker inv = {0};
        bool have_inv = nbx_invoker_get(&inv, NULL) == 0;
        check_kvm(ret, runtime ? runtime : NBX_RUNTIME_DIR_DEFAULT);
        nbx_net_check_nftables(ret);
        nbx_net_check_dnsmasq(ret);
        nbx_virtiofsd_check(ret, have_inv ? &inv : NULL);
        check_hypervisor(ret);
        nbx_config_check_nix(ret);
        check_program(ret, "ssh", "sudo apt-get install openssh-client");
        check_program(ret, "ssh-keygen", "sudo apt-get install openssh-client");
        nbx_net_check_cap_net_admin(ret);
        nbx_net_check_forwarding(ret);
        nbx_net_check_docker(ret);
        if (p)
                check_project(ret, p, o);
        if (have_inv)
                nbx_invoker_done(&inv);
}
