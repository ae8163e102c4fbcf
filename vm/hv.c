/* Backend selection, acceleration detection, spec validation and launch — the parts of the
 * hypervisor interface that do not depend on the backend. */
#include "hv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../config/base/timeutil.h"
#include "../config/base/user.h"
#include "hv_internal.h"

/* ---- validation shared by the backends ------------------------------------------------------ */

bool nbx_hv_valid_name(const char *s, size_t max, bool digit_first) {
        if (!s || !*s || strlen(s) > max)
                return false;
        if (!(isascii((unsigned char)s[0]) &&
              (isalpha((unsigned char)s[0]) || (digit_first && isdigit((unsigned char)s[0])))))
                return false;
        for (const char *p = s; *p; p++)
                if (!isascii((unsigned char)*p) ||
                    !(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
                        return false;
        return true;
}

bool nbx_hv_valid_mac(const char *s) {
        if (!s || strlen(s) != 17)
                return false;
        for (int i = 0; i < 17; i++) {
                if (i % 3 == 2) {
                        if (s[i] != ':')
                                return false;
                } else if (!isxdigit((unsigned char)s[i])) {
                        return false;
                }
        }
        return true;
}

/* Paths go into option strings ("path=…,readonly=on"); a newline or NUL-free check is not
 * enough for cloud-hypervisor, whose parser has no escape for ','.  QEMU escapes ',' as ',,'. */
static int check_path(const char *what, const char *path, size_t max, nbx_error **err) {
        if (!path || !*path)
                return nbx_error_set(err, EINVAL, "%s: no path given", what);
        if (strlen(path) > max)
                return nbx_error_set(err, ENAMETOOLONG, "%s: path longer than %zu bytes: %s", what,
                                     max, path);
        for (const char *p = path; *p; p++)
                if (*p == '\n' || *p == ',' || *p == '"' || *p == '=')
                        return nbx_error_set(err, EINVAL,
                                             "%s: path contains '%c', which hypervisor options "
                                             "cannot carry: %s",
                                             what, *p == '\n' ? ' ' : *p, path);
        return 0;
}

int nbx_hv_check_socket(const char *what, const char *path, nbx_error **err) {
        return check_path(what, path, NBX_HV_SOCKET_MAX, err);
}

int nbx_hv_check_disk(const nbx_vm_disk *disk, nbx_error **err) {
        int r = check_path("disk", disk->path, sizeof(disk->path) - 1, err);
        if (r < 0)
                return r;
        if (!nbx_hv_valid_name(disk->id, 23, false))
                return nbx_error_set(err, EINVAL,
                                     "disk %s: id \"%s\" must be 1-23 characters [A-Za-z0-9_-], "
                                     "starting with a letter",
                                     disk->path, disk->id);
        if (disk->serial[0] && !nbx_hv_valid_name(disk->serial, 20, true))
                return nbx_error_set(err, EINVAL,
                                     "disk %s: serial \"%s\" must be 1-20 characters [A-Za-z0-9_-]",
                                     disk->path, disk->serial);
        return 0;
}

int nbx_hv_check_share(const nbx_vm_share *share, nbx_error **err) {
        if (!nbx_hv_valid_name(share->tag, 23, false))
                return nbx_error_set(err, EINVAL,
                                     "share: tag \"%s\" must be 1-23 characters [A-Za-z0-9_-], "
                                     "starting with a letter",
                                     share->tag);
        int r = nbx_hv_check_socket("share socket", share->socket, err);
        return r < 0 ? nbx_error_wrap(err, "share %s", share->tag) : 0;
}

int nbx_hv_check_spec(const nbx_vm_spec *s, nbx_error **err) {
        int r;
        if (!s->image || !s->image->kernel)
                return nbx_error_set(err, EINVAL, "VM spec: no kernel image");
        if (s->vcpus < 1 || s->vcpus > NBX_VM_MAX_VCPUS)
                return nbx_error_set(err, EINVAL, "VM spec: vcpus must be 1-%d, got %u",
                                     NBX_VM_MAX_VCPUS, s->vcpus);
        if (s->memory_mb < 64 || s->memory_mb > (1u << 20))
                return nbx_error_set(err, EINVAL, "VM spec: memory must be 64-%u MiB, got %u",
                                     1u << 20, s->memory_mb);
        if (s->accel != NBX_ACCEL_KVM && s->accel != NBX_ACCEL_TCG)
                return nbx_error_set(err, EINVAL,
                                     "VM spec: acceleration not resolved (kvm or tcg)");
        if (s->n_shares > NBX_VM_MAX_SHARES || s->n_disks > NBX_VM_MAX_DISKS)
                return nbx_error_set(err, E2BIG, "VM spec: at most %d shares and %d disks",
                                     NBX_VM_MAX_SHARES, NBX_VM_MAX_DISKS);
        if ((s->n_shares && !s->shares) || (s->n_disks && !s->disks))
                return nbx_error_set(err, EINVAL, "VM spec: share/disk count without array");
        if (s->net_queues > NBX_VM_MAX_NET_QUEUES)
                return nbx_error_set(err, EINVAL, "VM spec: at most %d network queues, got %u",
                                     NBX_VM_MAX_NET_QUEUES, s->net_queues);
        if (s->tap && !nbx_hv_valid_name(s->tap, 15, false))
                return nbx_error_set(err, EINVAL, "VM spec: bad TAP name \"%s\"", s->tap);
        if (s->tap && !nbx_hv_valid_mac(s->mac))
                return nbx_error_set(err, EINVAL, "VM spec: bad MAC address \"%s\"",
                                     s->mac ? s->mac : "");
        if (s->name && !nbx_hv_valid_name(s->name, 64, true))
                return nbx_error_set(err, EINVAL, "VM spec: bad name \"%s\"", s->name);
        if (s->vsock_cid == 1 || s->vsock_cid == 2)
                return nbx_error_set(err, EINVAL, "VM spec: vsock CID %u is reserved (use >= 3)",
                                     s->vsock_cid);
        if ((r = check_path("kernel", s->image->kernel, 4095, err)) < 0 ||
            (s->image->initrd && (r = check_path("initrd", s->image->initrd, 4095, err)) < 0) ||
            (s->image->disk && (r = check_path("image disk", s->image->disk, 4095, err)) < 0) ||
            (r = nbx_hv_check_socket("API socket", s->api_socket, err)) < 0 ||
            (r = check_path("serial log", s->serial_log, 4095, err)) < 0 ||
            (s->vsock_socket &&
             (r = nbx_hv_check_socket("vsock socket", s->vsock_socket, err)) < 0))
                return r;
        for (size_t i = 0; i < s->n_shares; i++)
                if ((r = nbx_hv_check_share(&s->shares[i], err)) < 0)
                        return r;
        for (size_t i = 0; i < s->n_disks; i++)
                if ((r = nbx_hv_check_disk(&s->disks[i], err)) < 0)
                        return r;
        for (size_t i = 0; i < s->n_disks; i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->disks[i].id, s->disks[j].id) == 0)
                                return nbx_error_set(err, EINVAL, "VM spec: disk id %s twice",
                                                     s->disks[i].id);
        for (size_t i = 0; i < s->n_shares; i++) {
                for (size_t j = 0; j < i; j++)
                        if (strcmp(s->shares[i].tag, s->shares[j].tag) == 0)
                                return nbx_error_set(err, EINVAL, "VM spec: share tag %s twice",
                                                     s->shares[i].tag);
                for (size_t j = 0; j < s->n_disks; j++)
                        if (strcmp(s->shares[i].tag, s->disks[j].id) == 0)
                                return nbx_error_set(err, EINVAL,
                                                     "VM spec: %s is both a share tag and a disk "
                                                     "id",
                                                     s->shares[i].tag);
        }
        return 0;
}

int nbx_hv_unix_connect(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int r;
        do
                r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* ---- backend selection ---------------------------------------------------------------------- */

static const char *package_of(const nbx_hv_ops *ops) {
        return ops == &nbx_hv_qemu ? "qemu-system-x86" : "cloud-hypervisor";
}

static bool installed(const nbx_hv_ops *ops) {
        _cleanup_free_ char *p = nbx_find_program(ops->program);
        return p != NULL;
}

int nbx_hv_select(enum nbx_hypervisor want, const nbx_hv_ops **ret, nbx_error **err) {
        const nbx_hv_ops *ops;
        switch (want) {
        case NBX_HV_AUTO:
                if (installed(&nbx_hv_cloud_hypervisor))
                        ops = &nbx_hv_cloud_hypervisor;
                else if (installed(&nbx_hv_qemu))
                        ops = &nbx_hv_qemu;
                else
                        return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                                              "no hypervisor found: neither %s nor %s is in PATH "
                                              "(install the Debian package qemu-system-x86, or "
                                              "cloud-hypervisor)",
                                              nbx_hv_cloud_hypervisor.program, nbx_hv_qemu.program);
                break;
        case NBX_HV_CLOUD_HYPERVISOR:
        case NBX_HV_QEMU:
                ops = want == NBX_HV_QEMU ? &nbx_hv_qemu : &nbx_hv_cloud_hypervisor;
                if (!installed(ops))
                        return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                                              "vm.hypervisor = \"%s\", but %s is not in PATH "
                                              "(install the Debian package %s, or set "
                                              "vm.hypervisor = \"auto\")",
                                              ops->name, ops->program, package_of(ops));
                break;
        default:
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "vm.hypervisor: unknown value %d",
                                      (int)want);
        }
        *ret = ops;
        return 0;
}

/* ---- acceleration --------------------------------------------------------------------------- */

#define PROBE_GUEST_ADDR 0x1000
#define PROBE_PORT 0x10
#define PROBE_VALUE 0x42
#define PROBE_CPUID_MAX 256
#define PROBE_MSRS_MAX 256

static int probe_fail(char *why, size_t why_len, int e, const char *what) {
        snprintf(why, why_len, "%s: %s", what, strerror(e));
        return -e;
}

/* What QEMU's `-cpu host` does first: give the vCPU every CPUID leaf KVM supports, then write back
 * each feature MSR with the value KVM reports for it.  A nested KVM that cannot run guests fails
 * here (seen: MSR 0x10a, IA32_ARCH_CAPABILITIES, reported but refused), while a bare `hlt` guest
 * still runs. */
static int probe_cpu_features(int kvm, int vcpu, char *why, size_t why_len) {
        _cleanup_free_ struct kvm_cpuid2 *cpuid =
                calloc(1, sizeof(*cpuid) + PROBE_CPUID_MAX * sizeof(struct kvm_cpuid_entry2));
        _cleanup_free_ struct kvm_msr_list *list =
                calloc(1, sizeof(*list) + PROBE_MSRS_MAX * sizeof(__u32));
        if (!cpuid || !list)
                return probe_fail(why, why_len, ENOMEM, "KVM probe");
        cpuid->nent = PROBE_CPUID_MAX;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0)
                return probe_fail(why, why_len, errno, "KVM_GET_SUPPORTED_CPUID");
        if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0)
                return probe_fail(why, why_len, errno, "KVM_SET_CPUID2");
        if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES) <= 0)
                return 0;
        list->nmsrs = PROBE_MSRS_MAX;
        if (ioctl(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, list) < 0)
                return probe_fail(why, why_len, errno, "KVM_GET_MSR_FEATURE_INDEX_LIST");
        for (__u32 i = 0; i < list->nmsrs && i < PROBE_MSRS_MAX; i++) {
                /* one kvm_msrs header followed by its single entry (a flexible array) */
                _Alignas(struct kvm_msrs) char
                        buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)] = {0};
                struct kvm_msrs *msrs = (struct kvm_msrs *)buf;
                msrs->nmsrs = 1;
                msrs->entries[0].index = list->indices[i];
                if (ioctl(kvm, KVM_GET_MSRS, msrs) != 1)
                        continue; /* not readable: QEMU does not set it either */
                if (ioctl(vcpu, KVM_SET_MSRS, msrs) != 1) {
                        snprintf(why, why_len,
                                 "KVM reports feature MSR 0x%x = 0x%llx but refuses to set it on "
                                 "a vCPU (broken nested virtualization?)",
                                 msrs->entries[0].index, (unsigned long long)msrs->entries[0].data);
                        return -ENODEV;
                }
        }
        return 0;
}

int nbx_kvm_probe(const char *device, char *why, size_t why_len) {
        _cleanup_close_ int kvm = open(device, O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                return probe_fail(why, why_len, errno, device);
        int version = ioctl(kvm, KVM_GET_API_VERSION, 0);
        if (version != KVM_API_VERSION) {
                snprintf(why, why_len, "%s: KVM API version %d, expected %d", device, version,
                         KVM_API_VERSION);
                return -ENOTTY;
        }
        _cleanup_close_ int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return probe_fail(why, why_len, errno, "KVM_CREATE_VM");

        /* One page of guest memory at 0x1000: mov al, 0x42; out 0x10, al; hlt */
        static const uint8_t code[] = {0xb0, PROBE_VALUE, 0xe6, PROBE_PORT, 0xf4};
        long page = sysconf(_SC_PAGESIZE);
        uint8_t *mem = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                            -1, 0);
        if (mem == MAP_FAILED)
                return probe_fail(why, why_len, errno, "mmap guest memory");
        memcpy(mem, code, sizeof(code));
        struct kvm_userspace_memory_region region = {
                .slot = 0,
                .guest_phys_addr = PROBE_GUEST_ADDR,
                .memory_size = (uint64_t)page,
                .userspace_addr = (uint64_t)(uintptr_t)mem,
        };
        int r = 0;
        struct kvm_run *run = MAP_FAILED;
        int mmap_size = 0;
        _cleanup_close_ int vcpu = -1;
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
                r = probe_fail(why, why_len, errno, "KVM_SET_USER_MEMORY_REGION");
                goto out;
        }
        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        if (vcpu < 0) {
                r = probe_fail(why, why_len, errno, "KVM_CREATE_VCPU");
                goto out;
        }
        if ((r = probe_cpu_features(kvm, vcpu, why, why_len)) < 0)
                goto out;
        mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (mmap_size < (int)sizeof(*run)) {
                r = probe_fail(why, why_len, mmap_size < 0 ? errno : EINVAL,
                               "KVM_GET_VCPU_MMAP_SIZE");
                goto out;
        }
        run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED) {
                r = probe_fail(why, why_len, errno, "mmap vCPU");
                goto out;
        }
        /* Real mode, CS base 0, IP at the code. */
        struct kvm_sregs sregs;
        if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
                r = probe_fail(why, why_len, errno, "KVM_GET_SREGS");
                goto out;
        }
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
                r = probe_fail(why, why_len, errno, "KVM_SET_SREGS");
                goto out;
        }
        struct kvm_regs regs = {.rip = PROBE_GUEST_ADDR, .rflags = 0x2};
        if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
                r = probe_fail(why, why_len, errno, "KVM_SET_REGS");
                goto out;
        }
        /* First exit: the OUT, carrying our byte; second: the HLT. */
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
                r = probe_fail(why, why_len, errno, "KVM_RUN");
                goto out;
        }
        if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
            run->io.port != PROBE_PORT || run->io.size != 1 ||
            run->io.data_offset + 1 > (uint64_t)mmap_size ||
            ((uint8_t *)run)[run->io.data_offset] != PROBE_VALUE) {
                snprintf(why, why_len,
                         "KVM_RUN: test guest did not write its byte (exit reason %u)",
                         run->exit_reason);
                r = -EIO;
                goto out;
        }
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
                r = probe_fail(why, why_len, errno, "KVM_RUN");
                goto out;
        }
        if (run->exit_reason != KVM_EXIT_HLT) {
                snprintf(why, why_len, "KVM_RUN: test guest did not halt (exit reason %u)",
                         run->exit_reason);
                r = -EIO;
        }
out:
        if (run != MAP_FAILED)
                (void)munmap(run, (size_t)mmap_size);
        (void)munmap(mem, (size_t)page);
        return r;
}

/* Run the probe in a child; kill it at the deadline.  0 = KVM works; else why says why not. */
static int probe_in_child(const nbx_accel_probe *p, const char *device, char *why, size_t why_len) {
        int fds[2];
        gid_t groups[64];
        int n_groups = p->drop_privileges ? nbx_user_groups(p->uid, p->gid, groups, 64) : 0;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return probe_fail(why, why_len, errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(fds[0]);
                close(fds[1]);
                return probe_fail(why, why_len, e, "fork");
        }
        if (pid == 0) {
                char msg[256] = "";
                close(fds[0]);
                if (p->drop_privileges && geteuid() == 0 &&
                    (setgroups((size_t)n_groups, groups) < 0 ||
                     setresgid(p->gid, p->gid, p->gid) < 0 ||
                     setresuid(p->uid, p->uid, p->uid) < 0)) {
                        snprintf(msg, sizeof(msg), "drop privileges: %s", strerror(errno));
                        (void)!write(fds[1], msg, strlen(msg));
                        _exit(1);
                }
                nbx_kvm_probe_fn run = p->run ? p->run : nbx_kvm_probe;
                int r = run(device, msg, sizeof(msg));
                if (r < 0)
                        (void)!write(fds[1], msg, strlen(msg));
                _exit(r < 0 ? 1 : 0);
        }
        close(fds[1]);
        _cleanup_close_ int rfd = fds[0];

        uint64_t timeout = p->timeout_ms ? p->timeout_ms : NBX_KVM_PROBE_TIMEOUT_MS;
        int status;
        int r = nbx_wait_pid(pid, nbx_deadline_in(timeout), &status, NULL);
        if (r == -ETIMEDOUT) {
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                snprintf(why, why_len,
                         "%s: a test guest did not finish within %llu ms (KVM_RUN hangs, as with "
                         "broken nested virtualization)",
                         device, (unsigned long long)timeout);
                return -ETIMEDOUT;
        }
        if (r < 0)
                return probe_fail(why, why_len, -r, "wait for KVM probe");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        ssize_t n = read(rfd, why, why_len - 1);
        if (n > 0)
                why[n] = '\0';
        else
                snprintf(why, why_len, "%s: KVM probe died (status %d)", device,
                         nbx_status_code(status));
        return -ENODEV;
}

int nbx_accel_resolve_with(enum nbx_accel want, const nbx_accel_probe *probe, enum nbx_accel *ret,
                           nbx_error **err) {
        if (want == NBX_ACCEL_TCG) {
                *ret = NBX_ACCEL_TCG;
                return 0;
        }
        if (want != NBX_ACCEL_AUTO && want != NBX_ACCEL_KVM)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "vm.accel: unknown value %d",
                                      (int)want);
        nbx_accel_probe p = probe ? *probe : (nbx_accel_probe){0};
        const char *device = p.device ? p.device : getenv("NIXBOX_KVM_DEVICE");
        if (!device || !*device)
                device = "/dev/kvm";
        char why[256] = "";
        int r = probe_in_child(&p, device, why, sizeof(why));
        if (r == 0) {
                *ret = NBX_ACCEL_KVM;
                return 0;
        }
        if (want == NBX_ACCEL_AUTO) {
                *ret = NBX_ACCEL_TCG;
                return 0;
        }
        return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                              "vm.accel = \"kvm\", but KVM cannot run a guest here: %s (set "
                              "vm.accel = \"auto\" or \"tcg\" to use software emulation)",
                              why);
}

int nbx_accel_resolve(enum nbx_accel want, enum nbx_accel *ret, nbx_error **err) {
        nbx_accel_probe p = {0};
        nbx_invoker inv = {0};
        if (geteuid() == 0 && nbx_invoker_get(&inv, NULL) == 0) {
                p.drop_privileges = inv.uid != 0;
                p.uid = inv.uid;
                p.gid = inv.gid;
                nbx_invoker_done(&inv);
        }
        return nbx_accel_resolve_with(want, &p, ret, err);
}

/* ---- launch --------------------------------------------------------------------------------- */

int nbx_hv_launch(const nbx_hv_ops *ops, const nbx_vm_spec *spec, const nbx_spawn_opts *opts,
                  pid_t *ret_pid, nbx_error **err) {
        _cleanup_free_ char *prog = nbx_find_program(ops->program);
        if (!prog)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                                      "%s is not in PATH (install the Debian package %s)",
                                      ops->program, package_of(ops));
        _cleanup_strv_ nbx_strv argv = {0};
        int r = ops->build_argv(spec, prog, &argv, err);
        if (r < 0)
                return nbx_error_wrap(err, "%s command line", ops->name);
        nbx_spawn_opts o = opts ? *opts : (nbx_spawn_opts)NBX_SPAWN_OPTS_INIT;
        o.new_session = true;
        pid_t pid;
        r = nbx_spawn(argv.v, &o, &pid, err);
        if (r < 0)
                return nbx_error_wrap(err, "start %s", ops->name);
        *ret_pid = pid;
        return 0;
}
