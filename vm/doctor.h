/* `nixbox doctor`: every host check, each from the module that owns what it checks (net/:
 * nf_tables, dnsmasq, forwarding, Docker, CAP_NET_ADMIN; config/: Nix; vm/: KVM and its boot
 * verdicts, the hypervisor, virtiofsd and subordinate ids, ssh), and — inside a project — its
 * configuration and approval.  Checks only look; they change nothing. */
#pragma once

#include "../config/base/check.h"
#include "lifecycle.h"

/* p may be NULL (not inside a project). */
void nbx_doctor_run(const nbx_project *p, const nbx_vm_opts *o, nbx_checks *ret);
