#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define NBX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NBX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "nixbox's virtiofsd filter knows x86_64 and aarch64"
#endif
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#endif

#define MAX_INSNS 256
#define PRIV_BITS (S_ISUID | S_ISGID)
#define CREATE_FLAGS (O_CREAT | __O_TMPFILE)

typedef struct prog {
        struct sock_filter v[MAX_INSNS];
        unsigned n;
        bool overflow;
} prog;

static void emit(prog *p, struct sock_filter f) {
        if (p->n < MAX_INSNS)
                p->v[p->n++] = f;
        else
                p->overflow = true;
}

/* One syscall that takes a mode: deny when the mode carries privilege bits (or names a device);
 * flags_arg >= 0: only when those flags create a file.  Self-contained: it ends in its own
 * returns, and the jump over it is computed from its length. */
static void mode_block(prog *p, int nr, int mode_arg, int flags_arg, bool devices) {
        unsigned body = 2 /* ld mode, jset */ + (flags_arg >= 0 ? 2 : 0) + (devices ? 3 : 0) + 2;
        emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, nr)));
        emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, body));
        /* positions inside the body, counted from its first instruction */
        unsigned allow = body - 2, deny = body - 1, at = 0;
        if (flags_arg >= 0) {
                emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(flags_arg)));
                at++;
                emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CREATE_FLAGS, 0,
                                                     (uint8_t)(allow - at - 1)));
                at++;
        }
        emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(mode_arg)));
        at++;
        emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PRIV_BITS,
                                             (uint8_t)(deny - at - 1), 0));
        at++;
        if (devices) {
                emit(p, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_AND | BPF_K, S_IFMT));
                at++;
                emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFCHR,
                                                     (uint8_t)(deny - at - 1), 0));
                at++;
                emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, S_IFBLK,
                                                     (uint8_t)(deny - at - 1), 0));
                at++;
        }
        emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
}

static void errno_block(prog *p, int nr, int e) {
        emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                             offsetof(struct seccomp_data, nr)));
        emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nr, 0, 1));
        emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t)e));
}

int nbx_seccomp_share_install(void) {
        prog p = {.n = 0};
        emit(&p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                              offsetof(struct seccomp_data, arch)));
        emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NBX_AUDIT_ARCH, 1, 0));
        emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#if defined(__x86_64__)
        emit(&p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                              offsetof(struct seccomp_data, nr)));
        emit(&p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1));
        emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
        mode_block(&p, __NR_chmod, 1, -1, false);
        mode_block(&p, __NR_creat, 1, -1, false);
        mode_block(&p, __NR_open, 2, 1, false);
        mode_block(&p, __NR_mkdir, 1, -1, false);
        mode_block(&p, __NR_mknod, 1, -1, true);
#endif
        mode_block(&p, __NR_fchmod, 1, -1, false);
        mode_block(&p, __NR_fchmodat, 2, -1, false);
        mode_block(&p, __NR_fchmodat2, 2, -1, false);
        mode_block(&p, __NR_openat, 3, 2, false);
        mode_block(&p, __NR_mkdirat, 2, -1, false);
        mode_block(&p, __NR_mknodat, 2, -1, true);
        errno_block(&p, __NR_openat2, ENOSYS);
        errno_block(&p, __NR_io_uring_setup, ENOSYS);
        errno_block(&p, __NR_setxattr, EOPNOTSUPP);
        errno_block(&p, __NR_lsetxattr, EOPNOTSUPP);
        errno_block(&p, __NR_fsetxattr, EOPNOTSUPP);
        emit(&p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        if (p.overflow)
                return -E2BIG;
        struct sock_fprog fp = {.len = (unsigned short)p.n, .filter = p.v};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return -errno;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
                return -errno;
        return 0;
}
