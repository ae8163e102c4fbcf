/* The seccomp filter virtiofsd runs under (on top of its own): whatever the guest asks, no file
 * on a share gets a set-user-ID or set-group-ID bit and no device node is created, so nothing the
 * guest writes can raise privileges on the host.  Denied with EPERM: chmod, fchmod, fchmodat,
 * fchmodat2, mkdir(at), mknod(at) with S_ISUID/S_ISGID (mknod(at) also for character and block
 * devices), open(at) and creat that create with S_ISUID/S_ISGID; set*xattr (file capabilities,
 * ACLs: EOPNOTSUPP); openat2 and io_uring_setup answer ENOSYS (their arguments cannot be
 * inspected; callers fall back to openat).  Other architectures' ABIs on this one are killed. */
#pragma once

#include "../config/base/error.h"

/* Sets no_new_privs and installs the filter on the calling thread (and what it execs).
 * Returns 0 or -errno (no error object: it runs in a forked child before exec). */
int nbx_seccomp_share_install(void);
