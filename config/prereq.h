/* Host prerequisites, as `nixbox doctor` reports them: each check says OK / MISSING / WARN with
 * the exact fix.  The checks only look; they change nothing. */
#pragma once

#include <stdbool.h>

#include "base/error.h"

#include "base/check.h"

/* Run every host check.  Fills checks[0..*ret_n). */
void nbx_prereq_run(nbx_check checks[NBX_MAX_CHECKS], size_t *ret_n);

/* Individual probes, exported for tests. */
bool nbx_prereq_has_cap_net_admin(void);
/* 1 on, 0 off, -errno when unreadable. */
int nbx_prereq_ip_forward(const char *proc_path);
/* The virtiofsd binary (PATH, /usr/libexec, /usr/lib/qemu); malloc'd or NULL. */
char *nbx_prereq_find_virtiofsd(void);
/* Ask nf_tables over netlink for its generation id: 0 when nf_tables answers. */
int nbx_prereq_nftables(nbx_error **err);
