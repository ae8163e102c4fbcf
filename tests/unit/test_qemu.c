/* QEMU backend: the command line (unit), and the QMP client against a real QEMU started paused
 * (-S, TCG, no root needed): wait_api, info, add_disk, remove_device, add_fs errors, power button.
 * Every QEMU a test starts is killed in its teardown, also when the test fails. */
#include "support/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "config/base/timeutil.h"
#include "vm/hv.h"
#include "vm/qmp.h"

/* ---- argv ------------------------------------------------------------------------------------ */

static nbx_image test_image = {
        .kernel = "/img/bzImage", .initrd = "/img/initrd", .cmdline = "console=ttyS0 quiet"};

static nbx_vm_spec base_spec(void) {
        return (nbx_vm_spec){.name = "demo",
                             .vcpus = 2,
                             .memory_mb = 1024,
                             .image = &test_image,
                             .accel = NBX_ACCEL_TCG,
                             .tap = "nbx3",
                             .mac = "02:00:00:00:00:03",
                             .vsock_cid = 7,
                             .api_socket = "/run/nbx/api.sock",
                             .serial_log = "/run/nbx/serial.log"};
}

/* Index of the pair "opt value" in argv, or -1. */
static int find_pair(const nbx_strv *a, const char *opt, const char *value) {
        for (size_t i = 0; i + 1 < a->n; i++)
                if (strcmp(a->v[i], opt) == 0 && strcmp(a->v[i + 1], value) == 0)
                        return (int)i;
        return -1;
}

static size_t count_opt(const nbx_strv *a, const char *opt, const char *value_prefix) {
        size_t n = 0;
        for (size_t i = 0; i + 1 < a->n; i++)
                if (strcmp(a->v[i], opt) == 0 &&
                    strncmp(a->v[i + 1], value_prefix, strlen(value_prefix)) == 0)
                        n++;
        return n;
}

#define assert_pair(a, opt, value)                                                                 \
        do {                                                                                       \
                if (find_pair(a, opt, value) < 0)                                                  \
                        fail_msg("argv lacks %s %s", opt, value);                                  \
        } while (0)

static void test_argv_full(void **state) {
        (void)state;
        nbx_vm_share shares[2] = {{.tag = "nbxfs0", .socket = "/run/nbx/fs0.sock"},
                                  {.tag = "nbxfs1", .socket = "/run/nbx/fs1.sock"}};
        nbx_vm_disk disks[1] = {{.path = "/proc/self/fd/5",
                                 .readonly = true,
                                 .serial = "nixbox-creds",
                                 .id = "creds"}};
        nbx_vm_spec s = base_spec();
        s.shares = shares, s.n_shares = 2, s.disks = disks, s.n_disks = 1;
        s.hotplug_slots = 3;
        _cleanup_strv_ nbx_strv a = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hv_qemu.build_argv(&s, "/usr/bin/qemu-system-x86_64", &a, &err), 0);

        assert_string_equal(a.v[0], "/usr/bin/qemu-system-x86_64");
        assert_null(a.v[a.n]);
        assert_pair(&a, "-name", "guest=demo");
        assert_pair(&a, "-machine", "q35,memory-backend=mem");
        assert_pair(&a, "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off");
        assert_pair(&a, "-accel", "tcg");
        assert_pair(&a, "-cpu", "max");
        assert_pair(&a, "-smp", "2");
        assert_pair(&a, "-m", "1024M");
        assert_pair(&a, "-object", "memory-backend-memfd,id=mem,size=1024M,share=on");
        assert_pair(&a, "-display", "none");
        assert_pair(&a, "-kernel", "/img/bzImage");
        assert_pair(&a, "-initrd", "/img/initrd");
        assert_pair(&a, "-append", "console=ttyS0 quiet");
        assert_pair(&a, "-qmp", "unix:/run/nbx/api.sock,server=on,wait=off");
        assert_pair(&a, "-serial", "file:/run/nbx/serial.log");
        assert_pair(&a, "-netdev", "tap,id=net0,ifname=nbx3,script=no,downscript=no,vhost=off");
        assert_pair(&a, "-device", "virtio-net-pci,netdev=net0,mac=02:00:00:00:00:03");
        assert_pair(&a, "-device", "virtio-balloon-pci,free-page-reporting=on");
        /* one root port per device given at launch plus the spare ones */
        assert_int_equal(count_opt(&a, "-device", "pcie-root-port,"), 2 + 1 + 3);
        assert_pair(&a, "-device",
                    "pcie-root-port,id=nbxrp0,bus=pcie.0,chassis=1,addr=0x10.0x0,"
                    "multifunction=on,io-reserve=0");
        assert_pair(&a, "-device",
                    "pcie-root-port,id=nbxrp5,bus=pcie.0,chassis=6,addr=0x10.0x5,io-reserve=0");
        assert_pair(&a, "-blockdev",
                    "driver=raw,node-name=creds.blk,read-only=on,file.driver=file,"
                    "file.filename=/proc/self/fd/5,file.read-only=on");
        assert_pair(&a, "-device",
                    "virtio-blk-pci,drive=creds.blk,id=creds,serial=nixbox-creds,bus=nbxrp0");
        assert_pair(&a, "-chardev", "socket,id=nbxfs0.chr,path=/run/nbx/fs0.sock");
        assert_pair(&a, "-device",
                    "vhost-user-fs-pci,chardev=nbxfs0.chr,tag=nbxfs0,id=nbxfs0,bus=nbxrp1");
        assert_pair(&a, "-device",
                    "vhost-user-fs-pci,chardev=nbxfs1.chr,tag=nbxfs1,id=nbxfs1,bus=nbxrp2");
        /* root ports come before every device QEMU places itself */
        assert_true(find_pair(&a, "-device", "virtio-rng-pci") >
                    find_pair(&a, "-device",
                              "pcie-root-port,id=nbxrp5,bus=pcie.0,chassis=6,addr=0x10.0x5,"
                              "io-reserve=0"));
        /* vhost-vsock only where the host has it */
        bool vsock = access("/dev/vhost-vsock", F_OK) == 0;
        assert_int_equal(find_pair(&a, "-device", "vhost-vsock-pci,guest-cid=7") >= 0, vsock);
}

static void test_argv_flags_present(void **state) {
        (void)state;
        nbx_vm_spec s = base_spec();
        _cleanup_strv_ nbx_strv a = {0};
        assert_int_equal(nbx_hv_qemu.build_argv(&s, "qemu", &a, NULL), 0);
        static const char *const flags[] = {"-nodefaults", "-no-user-config", "-no-reboot"};
        for (size_t f = 0; f < NBX_ARRAY_SIZE(flags); f++) {
                bool found = false;
                for (size_t i = 0; i < a.n; i++)
                        found = found || strcmp(a.v[i], flags[f]) == 0;
                if (!found)
                        fail_msg("argv lacks %s", flags[f]);
        }
        /* QEMU's own seccomp sandbox, every class the guest's QEMU never needs denied */
        assert_pair(&a, "-sandbox",
                    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
        /* default: room to hot-plug every share and disk the caps allow */
        assert_int_equal(count_opt(&a, "-device", "pcie-root-port,"),
                         NBX_VM_MAX_SHARES + NBX_VM_MAX_DISKS);
}

static void test_argv_kvm_multiqueue_no_initrd(void **state) {
        (void)state;
        nbx_image img = {.kernel = "/img/k", .cmdline = ""};
        nbx_vm_spec s = base_spec();
        s.image = &img;
        s.accel = NBX_ACCEL_KVM;
        s.net_queues = 4;
        _cleanup_strv_ nbx_strv a = {0};
        assert_int_equal(nbx_hv_qemu.build_argv(&s, "qemu", &a, NULL), 0);
        assert_pair(&a, "-accel", "kvm");
        assert_pair(&a, "-cpu", "host");
        assert_pair(&a, "-netdev",
                    "tap,id=net0,ifname=nbx3,script=no,downscript=no,vhost=off,queues=4");
        assert_pair(&a, "-device",
                    "virtio-net-pci,netdev=net0,mac=02:00:00:00:00:03,mq=on,"
                    "vectors=10");
        assert_pair(&a, "-append", "");
        assert_int_equal(count_opt(&a, "-initrd", ""), 0);

        /* no TAP: no network device at all; image disk: read-only root on the root bus */
        nbx_image img2 = {.kernel = "/img/k", .disk = "/img/root.img"};
        s.image = &img2;
        s.tap = NULL;
        _cleanup_strv_ nbx_strv b = {0};
        assert_int_equal(nbx_hv_qemu.build_argv(&s, "qemu", &b, NULL), 0);
        assert_int_equal(count_opt(&b, "-netdev", ""), 0);
        assert_int_equal(count_opt(&b, "-device", "virtio-net-pci"), 0);
        assert_pair(&b, "-blockdev",
                    "driver=raw,node-name=nbxroot.blk,read-only=on,file.driver=file,"
                    "file.filename=/img/root.img,file.read-only=on");
        assert_pair(&b, "-device",
                    "virtio-blk-pci,drive=nbxroot.blk,id=nbxroot,serial=nixbox-root");
}

static void test_argv_rejects_bad_specs(void **state) {
        (void)state;
        nbx_vm_share share = {.tag = "nbxfs0", .socket = "/run/fs.sock"};
        nbx_vm_disk disk = {.path = "/d.img", .id = "d0"};
        static const struct {
                int field;
                const char *expect;
        } cases[] = {
                {0, "vcpus must be 1-255"},
                {1, "memory must be"},
                {2, "acceleration not resolved"},
                {3, "bad MAC address"},
                {4, "bad TAP name"},
                {5, "API socket: path longer than 107 bytes"},
                {6, "path contains ','"},
                {7, "disk /d.img: id \"bad id\""},
                {8, "share tag nbxfs0 twice"},
                {9, "no kernel image"},
                {10, "vsock CID 2 is reserved"},
                {11, "serial \"bad serial!\""},
                {12, "at most 16 network queues"},
        };
        char longsock[200];
        memset(longsock, 'x', sizeof(longsock) - 1);
        longsock[0] = '/';
        longsock[sizeof(longsock) - 1] = '\0';
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                nbx_vm_spec s = base_spec();
                nbx_vm_share shares[2] = {share, share};
                nbx_vm_disk d = disk;
                nbx_image img = test_image;
                s.shares = shares, s.n_shares = 1, s.disks = &d, s.n_disks = 1;
                switch (cases[i].field) {
                case 0:
                        s.vcpus = 0;
                        break;
                case 1:
                        s.memory_mb = 10;
                        break;
                case 2:
                        s.accel = NBX_ACCEL_AUTO;
                        break;
                case 3:
                        s.mac = "02:00:00:00:00";
                        break;
                case 4:
                        s.tap = "tap name";
                        break;
                case 5:
                        s.api_socket = longsock;
                        break;
                case 6:
                        img.kernel = "/img/a,b";
                        s.image = &img;
                        break;
                case 7:
                        snprintf(d.id, sizeof(d.id), "bad id");
                        break;
                case 8:
                        s.n_shares = 2;
                        break;
                case 9:
                        img.kernel = NULL;
                        s.image = &img;
                        break;
                case 10:
                        s.vsock_cid = 2;
                        break;
                case 11:
                        snprintf(d.serial, sizeof(d.serial), "bad serial!");
                        break;
                case 12:
                        s.net_queues = 17;
                        break;
                }
                _cleanup_strv_ nbx_strv a = {0};
                _cleanup_error_ nbx_error *err = NULL;
                assert_true(nbx_hv_qemu.build_argv(&s, "qemu", &a, &err) < 0);
                assert_null(a.v);
                if (!strstr(err->msg, cases[i].expect))
                        fail_msg("case %d: got \"%s\", want \"%s\"", cases[i].field, err->msg,
                                 cases[i].expect);
        }
}

/* ---- QMP against a real QEMU ----------------------------------------------------------------- */

typedef struct vm {
        char *dir;
        char *sock;
        char *log;
        pid_t pid;
} vm;

static bool have_qemu(void) {
        _cleanup_free_ char *p = nbx_find_program("qemu-system-x86_64");
        return p != NULL;
}

/* A bzImage header QEMU's loader accepts (boot protocol 2.15, 4 setup sectors, a 14 KiB "kernel"
 * of zeros).  The machine never runs it: it stays paused (-S). */
static void write_fake_kernel(const char *path) {
        static unsigned char k[16384];
        memset(k, 0, sizeof(k));
        k[0x1f1] = 4;                     /* setup_sects */
        k[0x1fe] = 0x55, k[0x1ff] = 0xaa; /* boot flag */
        memcpy(k + 0x202, "HdrS", 4);     /* header magic */
        k[0x206] = 0x0f, k[0x207] = 0x02; /* protocol 2.15 */
        k[0x211] = 0x01;                  /* loadflags: LOADED_HIGH */
        k[0x22c] = 0xff, k[0x22d] = 0xff, k[0x22e] = 0xff, k[0x22f] = 0x7f; /* initrd_addr_max */
        k[0x238] = 0xff, k[0x239] = 0x07;                                   /* cmdline_size */
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_write_file(path, k, sizeof(k), 0644, &err), 0);
}

static int vm_setup(void **state) {
        vm *v = calloc(1, sizeof(*v));
        v->dir = nbx_test_tmpdir();
        v->sock = nbx_path_join(v->dir, "qmp.sock");
        v->log = nbx_path_join(v->dir, "qemu.log");
        *state = v;
        return 0;
}

static int vm_teardown(void **state) {
        vm *v = *state;
        if (v->pid > 0) {
                (void)kill(v->pid, SIGKILL);
                (void)waitpid(v->pid, NULL, 0);
        }
        nbx_test_rmdir(v->dir);
        free(v->sock);
        free(v->log);
        free(v);
        return 0;
}

/* Start QEMU paused with argv (NULL-terminated extra args appended to `base`). */
static void vm_start(vm *v, nbx_strv *argv) {
        assert_int_equal(nbx_strv_push(argv, "-S"), 0);
        _cleanup_close_ int logfd = open(v->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(logfd >= 0);
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.stdout_fd = logfd;
        so.stderr_fd = logfd;
        so.die_with_parent = true; /* a crashing test binary takes its QEMU along */
        so.new_session = true;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_spawn(argv->v, &so, &v->pid, &err), 0);
}

static void print_log(const vm *v) {
        _cleanup_free_ char *data = NULL;
        size_t len;
        if (nbx_read_file(v->log, 1 << 16, &data, &len, NULL) == 0 && len)
                print_message("qemu log:\n%s\n", data);
}

/* quit after the power button.  QEMU may already be on its way out (the firmware acted on the
 * button): a closed socket (EPIPE, ECONNRESET) or a vanished one then means the same as an
 * answered quit; what must hold is that the process exits, which the caller checks. */
static void quit_after_power_button(vm *v) {
        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_qmp_ nbx_qmp *q = NULL;
        int r = nbx_qmp_open(v->sock, nbx_deadline_in(5000), &q, &err);
        if (r == 0)
                r = nbx_qmp_execute(q, "quit", NULL, NULL, NULL, &err);
        if (r < 0 && r != -EPIPE && r != -ECONNRESET && r != -ECONNREFUSED && r != -ENOENT)
                fail_msg("quit: %s", err ? err->msg : "?");
}

static void test_qmp_real_qemu(void **state) {
        vm *v = *state;
        if (!have_qemu()) {
                if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
                        fail_msg("qemu-system-x86_64 is not installed (run make deps)");
                skip();
        }
        _cleanup_free_ char *kernel = nbx_path_join(v->dir, "bzImage");
        _cleanup_free_ char *serial = nbx_path_join(v->dir, "serial.log");
        _cleanup_free_ char *disk = nbx_path_join(v->dir, "extra.img");
        _cleanup_free_ char *disk0 = nbx_path_join(v->dir, "creds.img");
        write_fake_kernel(kernel);
        _cleanup_error_ nbx_error *err = NULL;
        static const char zeros[65536];
        assert_int_equal(nbx_write_file(disk, zeros, sizeof(zeros), 0644, &err), 0);
        assert_int_equal(nbx_write_file(disk0, zeros, sizeof(zeros), 0644, &err), 0);

        /* the backend's own command line, minus the TAP and shares (they need root and
         * virtiofsd), so that real QEMU checks every option we build */
        nbx_image img = {.kernel = kernel, .cmdline = "console=ttyS0"};
        nbx_vm_disk d0 = {.readonly = true, .serial = "nixbox-creds", .id = "creds"};
        snprintf(d0.path, sizeof(d0.path), "%s", disk0);
        nbx_vm_spec s = {.name = "qmptest",
                         .vcpus = 1,
                         .memory_mb = 128,
                         .image = &img,
                         .accel = NBX_ACCEL_TCG,
                         .api_socket = v->sock,
                         .serial_log = serial,
                         .disks = &d0,
                         .n_disks = 1,
                         .hotplug_slots = 2};
        _cleanup_strv_ nbx_strv argv = {0};
        assert_int_equal(nbx_hv_qemu.build_argv(&s, "qemu-system-x86_64", &argv, &err), 0);
        vm_start(v, &argv);

        if (nbx_hv_qemu.wait_api(v->sock, nbx_deadline_in(30000), &err) < 0) {
                print_log(v);
                fail_msg("wait_api: %s", err->msg);
        }
        nbx_vm_info info = {0};
        assert_int_equal(nbx_hv_qemu.info(v->sock, &info, &err), 0);
        assert_string_equal(info.state, "prelaunch");

        /* hot-plug a disk: it lands on the first free root port (nbxrp0 holds the creds disk) */
        nbx_vm_disk extra = {.readonly = true, .serial = "nixbox-extra", .id = "extra"};
        snprintf(extra.path, sizeof(extra.path), "%s", disk);
        if (nbx_hv_qemu.add_disk(v->sock, &extra, &err) < 0)
                fail_msg("add_disk: %s", err->msg);
        {
                _cleanup_qmp_ nbx_qmp *q = NULL;
                assert_int_equal(nbx_qmp_open(v->sock, nbx_deadline_in(5000), &q, &err), 0);
                json_t *args = json_pack("{s:s, s:s}", "path", "/machine/peripheral/extra",
                                         "property", "parent_bus");
                json_t *bus = NULL;
                assert_int_equal(nbx_qmp_execute(q, "qom-get", args, &bus, NULL, &err), 0);
                json_decref(args);
                assert_non_null(strstr(json_string_value(bus), "nbxrp1"));
                json_decref(bus);
        }
        /* the same id again: QEMU refuses, and the backing node is rolled back */
        assert_true(nbx_hv_qemu.add_disk(v->sock, &extra, &err) < 0);
        assert_non_null(strstr(err->msg, "add disk extra"));
        nbx_error_free(TAKE_PTR(err));

        /* remove it, then again: already gone is success.  (A device given at launch sits in a
         * powered slot; only a running guest's pciehp can release it, see docs/hypervisors.md.) */
        assert_int_equal(nbx_hv_qemu.remove_device(v->sock, "extra", &err), 0);
        assert_int_equal(nbx_hv_qemu.remove_device(v->sock, "extra", &err), 0);
        {
                _cleanup_qmp_ nbx_qmp *q = NULL;
                assert_int_equal(nbx_qmp_open(v->sock, nbx_deadline_in(5000), &q, &err), 0);
                json_t *args = json_pack("{s:b}", "flat", 1);
                json_t *nodes = NULL;
                assert_int_equal(
                        nbx_qmp_execute(q, "query-named-block-nodes", args, &nodes, NULL, &err), 0);
                json_decref(args);
                size_t i;
                json_t *n;
                bool creds = false;
                json_array_foreach(nodes, i, n) {
                        const char *name = json_string_value(json_object_get(n, "node-name"));
                        assert_false(name && strcmp(name, "extra.blk") == 0);
                        creds = creds || (name && strcmp(name, "creds.blk") == 0);
                }
                assert_true(creds);
                json_decref(nodes);
        }
        /* the freed port is used again */
        assert_int_equal(nbx_hv_qemu.add_disk(v->sock, &extra, &err), 0);

        /* add_fs without a virtiofsd behind the socket: a clear error, nothing left behind */
        nbx_vm_share share = {.tag = "nbxfs9"};
        snprintf(share.socket, sizeof(share.socket), "%s/nofs.sock", v->dir);
        assert_true(nbx_hv_qemu.add_fs(v->sock, &share, &err) < 0);
        assert_non_null(strstr(err->msg, "add share nbxfs9"));
        assert_non_null(strstr(err->msg, "chardev-add"));
        nbx_error_free(TAKE_PTR(err));

        /* bad ids never reach QEMU */
        assert_true(nbx_hv_qemu.remove_device(v->sock, "a,b", &err) < 0);
        nbx_error_free(TAKE_PTR(err));

        /* power button on a machine that never started: accepted; then quit, and QEMU exits */
        assert_int_equal(nbx_hv_qemu.power_button(v->sock, &err), 0);
        quit_after_power_button(v);
        int status;
        assert_int_equal(nbx_wait_pid(v->pid, nbx_deadline_in(10000), &status, &err), 0);
        v->pid = 0;
        assert_true(WIFEXITED(status));

        /* a dead socket: clear errors, quickly */
        assert_true(nbx_hv_qemu.info(v->sock, &info, &err) < 0);
        assert_non_null(strstr(err->msg, "QMP: connect to"));
        nbx_error_free(TAKE_PTR(err));
        uint64_t t0 = nbx_now_ms();
        assert_true(nbx_hv_qemu.wait_api(v->sock, nbx_deadline_in(200), &err) < 0);
        assert_true(nbx_now_ms() - t0 < 2000);
        assert_non_null(strstr(err->msg, "did not answer on its QMP socket"));
}

static void test_qmp_power_button_stops_running_guest(void **state) {
        vm *v = *state;
        if (!have_qemu())
                skip();
        /* the brief's minimal machine: no kernel, paused; `cont` runs firmware only.  With
         * -no-shutdown absent, system_powerdown on the firmware mostly does nothing (sometimes
         * the firmware powers off at once, seen under valgrind), so this checks that QEMU
         * accepted it and that the process ends. */
        _cleanup_strv_ nbx_strv argv = {0};
        assert_int_equal(nbx_strv_push(&argv, "qemu-system-x86_64"), 0);
        const char *args[] = {"-machine", "q35",  "-accel",      "tcg",
                              "-display", "none", "-nodefaults", "-no-user-config"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(args); i++)
                assert_int_equal(nbx_strv_push(&argv, args[i]), 0);
        assert_int_equal(nbx_strv_push(&argv, "-qmp"), 0);
        assert_int_equal(nbx_strv_pushf(&argv, "unix:%s,server=on,wait=off", v->sock), 0);
        vm_start(v, &argv);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hv_qemu.wait_api(v->sock, nbx_deadline_in(30000), &err), 0);
        nbx_vm_info info;
        assert_int_equal(nbx_hv_qemu.info(v->sock, &info, &err), 0);
        assert_string_equal(info.state, "prelaunch");
        {
                _cleanup_qmp_ nbx_qmp *q = NULL;
                assert_int_equal(nbx_qmp_open(v->sock, nbx_deadline_in(5000), &q, &err), 0);
                assert_int_equal(nbx_qmp_execute(q, "cont", NULL, NULL, NULL, &err), 0);
                /* an unknown command is an error naming it */
                assert_true(nbx_qmp_execute(q, "no-such-command", NULL, NULL, NULL, &err) < 0);
                assert_non_null(strstr(err->msg, "no-such-command"));
                nbx_error_free(TAKE_PTR(err));
        }
        assert_int_equal(nbx_hv_qemu.info(v->sock, &info, &err), 0);
        assert_string_equal(info.state, "running");
        /* no hot-plug slots on this machine: add_disk says so */
        nbx_vm_disk d = {.path = "/dev/null", .id = "x"};
        assert_true(nbx_hv_qemu.add_disk(v->sock, &d, &err) < 0);
        assert_non_null(strstr(err->msg, "no free PCIe hot-plug slot"));
        nbx_error_free(TAKE_PTR(err));
        assert_int_equal(nbx_hv_qemu.power_button(v->sock, &err), 0);
        quit_after_power_button(v);
        int status;
        assert_int_equal(nbx_wait_pid(v->pid, nbx_deadline_in(10000), &status, &err), 0);
        v->pid = 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv_full),
                cmocka_unit_test(test_argv_flags_present),
                cmocka_unit_test(test_argv_kvm_multiqueue_no_initrd),
                cmocka_unit_test(test_argv_rejects_bad_specs),
                cmocka_unit_test_setup_teardown(test_qmp_real_qemu, vm_setup, vm_teardown),
                cmocka_unit_test_setup_teardown(test_qmp_power_button_stops_running_guest, vm_setup,
                                                vm_teardown),
        };
        return cmocka_run_group_tests_name("qemu", tests, NULL, NULL);
}
