/* Backend selection, acceleration detection (the KVM probe and its deadline), launch. */
#include "support/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/timeutil.h"
#include "vm/hv.h"

/* ---- selection: PATH pointing at a folder with (fake) programs --------------------------------
 */

typedef struct path_env {
        char *dir;
        char *saved_path;
} path_env;

static void add_program(const char *dir, const char *name) {
        _cleanup_free_ char *p = nbx_path_join(dir, name);
        nbx_test_write(dir, name, "#!/bin/sh\nexit 0\n");
        assert_int_equal(chmod(p, 0755), 0);
}

static int path_setup(void **state) {
        path_env *e = calloc(1, sizeof(*e));
        e->dir = nbx_test_tmpdir();
        const char *p = getenv("PATH");
        e->saved_path = p ? strdup(p) : NULL;
        setenv("PATH", e->dir, 1);
        *state = e;
        return 0;
}

static int path_teardown(void **state) {
        path_env *e = *state;
        if (e->saved_path)
                setenv("PATH", e->saved_path, 1);
        free(e->saved_path);
        nbx_test_rmdir(e->dir);
        free(e);
        return 0;
}

static void test_select_nothing_installed(void **state) {
        (void)state;
        const nbx_hv_ops *ops = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_hv_select(NBX_HV_AUTO, &ops, &err) < 0);
        assert_null(ops);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "qemu-system-x86"));
}

static void test_select_explicit_missing_names_package(void **state) {
        path_env *e = *state;
        add_program(e->dir, "cloud-hypervisor");
        const nbx_hv_ops *ops = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_hv_select(NBX_HV_QEMU, &ops, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "Debian package qemu-system-x86"));
        assert_non_null(strstr(err->msg, "qemu-system-x86_64 is not in PATH"));

        nbx_error_free(TAKE_PTR(err));
        _cleanup_free_ char *ch = nbx_path_join(e->dir, "cloud-hypervisor");
        assert_int_equal(unlink(ch), 0);
        add_program(e->dir, "qemu-system-x86_64");
        assert_true(nbx_hv_select(NBX_HV_CLOUD_HYPERVISOR, &ops, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "Debian package cloud-hypervisor"));
}

static void test_select_auto_prefers_cloud_hypervisor(void **state) {
        path_env *e = *state;
        const nbx_hv_ops *ops = NULL;
        _cleanup_error_ nbx_error *err = NULL;

        add_program(e->dir, "qemu-system-x86_64");
        assert_int_equal(nbx_hv_select(NBX_HV_AUTO, &ops, &err), 0);
        assert_ptr_equal(ops, &nbx_hv_qemu);

        add_program(e->dir, "cloud-hypervisor");
        assert_int_equal(nbx_hv_select(NBX_HV_AUTO, &ops, &err), 0);
        assert_ptr_equal(ops, &nbx_hv_cloud_hypervisor);
        assert_string_equal(ops->name, "cloud-hypervisor");

        assert_int_equal(nbx_hv_select(NBX_HV_QEMU, &ops, &err), 0);
        assert_ptr_equal(ops, &nbx_hv_qemu);
        assert_string_equal(ops->program, "qemu-system-x86_64");
        assert_null(err);
}

/* ---- acceleration -----------------------------------------------------------------------------
 */

/* What the probe says about this machine's /dev/kvm, run the same way nbx_accel_resolve runs it
 * (in a child), so the tests below can say what auto must resolve to. */
static bool kvm_usable_here(char *why, size_t why_len) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(fds[0]);
                char msg[256] = "";
                int r = nbx_kvm_probe("/dev/kvm", msg, sizeof(msg));
                (void)!write(fds[1], msg, strlen(msg));
                _exit(r == 0 ? 0 : 1);
        }
        close(fds[1]);
        uint64_t deadline = nbx_deadline_in(NBX_KVM_PROBE_TIMEOUT_MS);
        int status = 0;
        if (nbx_wait_pid(pid, deadline, &status, NULL) < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                snprintf(why, why_len, "probe hung");
                close(fds[0]);
                return false;
        }
        ssize_t n = read(fds[0], why, why_len - 1);
        why[n > 0 ? n : 0] = '\0';
        close(fds[0]);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_accel_tcg_needs_no_probe(void **state) {
        (void)state;
        enum nbx_accel a = NBX_ACCEL_AUTO;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_accel_probe p = {.device = "/nonexistent/kvm"};
        assert_int_equal(nbx_accel_resolve_with(NBX_ACCEL_TCG, &p, &a, &err), 0);
        assert_int_equal(a, NBX_ACCEL_TCG);
}

static void test_accel_auto_on_this_machine(void **state) {
        (void)state;
        char why[256];
        bool usable = kvm_usable_here(why, sizeof(why));
        print_message("KVM here: %s%s\n", usable ? "usable" : "not usable: ", why);

        enum nbx_accel a = NBX_ACCEL_AUTO;
        _cleanup_error_ nbx_error *err = NULL;
        uint64_t t0 = nbx_now_ms();
        assert_int_equal(nbx_accel_resolve(NBX_ACCEL_AUTO, &a, &err), 0);
        uint64_t took = nbx_now_ms() - t0;
        /* within the probe's deadline (plus what fork and reaping take) */
        assert_true(took < NBX_KVM_PROBE_TIMEOUT_MS + 1000);
        assert_int_equal(a, usable ? NBX_ACCEL_KVM : NBX_ACCEL_TCG);

        /* an explicit kvm agrees with the probe: it works, or the error says why not */
        int r = nbx_accel_resolve(NBX_ACCEL_KVM, &a, &err);
        if (usable) {
                assert_int_equal(r, 0);
                assert_int_equal(a, NBX_ACCEL_KVM);
        } else {
                assert_true(r < 0);
                assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
                assert_non_null(strstr(err->msg, "vm.accel = \"kvm\""));
                assert_non_null(strstr(err->msg, why));
        }
}

static void test_accel_kvm_missing_device_is_error(void **state) {
        (void)state;
        enum nbx_accel a = NBX_ACCEL_AUTO;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_accel_probe p = {.device = "/nonexistent/kvm"};
        assert_true(nbx_accel_resolve_with(NBX_ACCEL_KVM, &p, &a, &err) < 0);
        assert_int_equal(a, NBX_ACCEL_AUTO); /* ret untouched on failure */
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "/nonexistent/kvm: No such file or directory"));
        assert_non_null(strstr(err->msg, "\"tcg\""));

        assert_int_equal(nbx_accel_resolve_with(NBX_ACCEL_AUTO, &p, &a, NULL), 0);
        assert_int_equal(a, NBX_ACCEL_TCG);
}

static void test_accel_not_a_kvm_device(void **state) {
        (void)state;
        /* /dev/null opens fine but answers no KVM ioctl; the env override reaches the probe */
        setenv("NIXBOX_KVM_DEVICE", "/dev/null", 1);
        enum nbx_accel a = NBX_ACCEL_AUTO;
        _cleanup_error_ nbx_error *err = NULL;
        int r = nbx_accel_resolve(NBX_ACCEL_KVM, &a, &err);
        unsetenv("NIXBOX_KVM_DEVICE");
        assert_true(r < 0);
        assert_non_null(strstr(err->msg, "/dev/null: KVM API version"));
}

static int probe_hangs(const char *device, char *why, size_t why_len) {
        (void)device, (void)why, (void)why_len;
        for (;;)
                pause(); /* like KVM_RUN on a broken nested host: never returns */
        return 0;
}

static int probe_crashes(const char *device, char *why, size_t why_len) {
        (void)device, (void)why, (void)why_len;
        raise(SIGKILL);
        return 0;
}

static int probe_ok(const char *device, char *why, size_t why_len) {
        (void)why, (void)why_len;
        return strcmp(device, "/fake/kvm") == 0 ? 0 : -ENODEV;
}

static void test_accel_auto_does_not_hang(void **state) {
        (void)state;
        nbx_accel_probe p = {.device = "/fake/kvm", .timeout_ms = 300, .run = probe_hangs};
        enum nbx_accel a = NBX_ACCEL_AUTO;
        _cleanup_error_ nbx_error *err = NULL;
        uint64_t t0 = nbx_now_ms();
        assert_int_equal(nbx_accel_resolve_with(NBX_ACCEL_AUTO, &p, &a, &err), 0);
        uint64_t took = nbx_now_ms() - t0;
        assert_int_equal(a, NBX_ACCEL_TCG);
        assert_true(took >= 300);
        assert_true(took < 300 + 1000);

        /* explicit kvm: the same deadline, then an error saying the guest hung */
        t0 = nbx_now_ms();
        assert_true(nbx_accel_resolve_with(NBX_ACCEL_KVM, &p, &a, &err) < 0);
        assert_true(nbx_now_ms() - t0 < 300 + 1000);
        assert_non_null(strstr(err->msg, "did not finish within 300 ms"));
        /* the hung child was killed and reaped: no child left */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_accel_probe_crash_and_success(void **state) {
        (void)state;
        enum nbx_accel a = NBX_ACCEL_AUTO;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_accel_probe p = {.device = "/fake/kvm", .run = probe_crashes};
        assert_int_equal(nbx_accel_resolve_with(NBX_ACCEL_AUTO, &p, &a, &err), 0);
        assert_int_equal(a, NBX_ACCEL_TCG);
        assert_true(nbx_accel_resolve_with(NBX_ACCEL_KVM, &p, &a, &err) < 0);
        assert_non_null(strstr(err->msg, "KVM probe died (status 137)"));

        p.run = probe_ok;
        assert_int_equal(nbx_accel_resolve_with(NBX_ACCEL_AUTO, &p, &a, NULL), 0);
        assert_int_equal(a, NBX_ACCEL_KVM);
}

/* ---- launch -----------------------------------------------------------------------------------
 */

static void test_launch_runs_built_argv(void **state) {
        path_env *e = *state;
        /* a stand-in "qemu-system-x86_64" that records its arguments and its session */
        _cleanup_free_ char *out = nbx_path_join(e->dir, "args");
        _cleanup_free_ char *script = NULL;
        assert_true(asprintf(&script,
                             "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > %s.tmp\n"
                             "ps -o sid= -p $$ | tr -d ' ' >> %s.tmp\necho $$ >> %s.tmp\n"
                             "mv %s.tmp %s\n",
                             out, out, out, out, out) > 0);
        nbx_test_write(e->dir, "qemu-system-x86_64", script);
        _cleanup_free_ char *prog = nbx_path_join(e->dir, "qemu-system-x86_64");
        assert_int_equal(chmod(prog, 0755), 0);
        _cleanup_free_ char *path = NULL; /* the stand-in first, then ps, tr, mv */
        assert_true(asprintf(&path, "%s:%s", e->dir, e->saved_path) > 0);
        setenv("PATH", path, 1);

        nbx_image img = {.kernel = "/boot/vmlinuz", .cmdline = "console=ttyS0"};
        nbx_vm_spec spec = {.name = "demo",
                            .vcpus = 2,
                            .memory_mb = 512,
                            .image = &img,
                            .accel = NBX_ACCEL_TCG,
                            .api_socket = "/run/x/api.sock",
                            .serial_log = "/run/x/serial.log"};
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        pid_t pid = 0;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_hv_launch(&nbx_hv_qemu, &spec, &so, &pid, &err), 0);
        assert_true(pid > 0);
        int status;
        assert_int_equal(nbx_wait_pid(pid, nbx_deadline_in(10000), &status, &err), 0);
        assert_int_equal(nbx_status_code(status), 0);
        _cleanup_free_ char *data = NULL;
        size_t len;
        assert_int_equal(nbx_read_file(out, 1 << 20, &data, &len, &err), 0);
        assert_non_null(strstr(data, "-accel\ntcg\n"));
        assert_non_null(strstr(data, "-append\nconsole=ttyS0\n"));
        /* new session: the session id is the child's own pid */
        char expect[64];
        snprintf(expect, sizeof(expect), "\n%d\n%d\n", (int)pid, (int)pid);
        assert_non_null(strstr(data, expect));

        /* a spec the backend rejects: nothing is started, the error says which backend */
        spec.vcpus = 0;
        assert_true(nbx_hv_launch(&nbx_hv_qemu, &spec, &so, &pid, &err) < 0);
        assert_non_null(strstr(err->msg, "qemu command line: VM spec: vcpus must be 1-255"));
}

static void test_launch_missing_program(void **state) {
        (void)state; /* PATH is an empty folder */
        nbx_image img = {.kernel = "/boot/vmlinuz"};
        nbx_vm_spec spec = {.vcpus = 1, .memory_mb = 256, .image = &img, .accel = NBX_ACCEL_KVM};
        pid_t pid = 0;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_hv_launch(&nbx_hv_cloud_hypervisor, &spec, NULL, &pid, &err) < 0);
        assert_int_equal(pid, 0);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_non_null(strstr(err->msg, "Debian package cloud-hypervisor"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_select_nothing_installed, path_setup,
                                                path_teardown),
                cmocka_unit_test_setup_teardown(test_select_explicit_missing_names_package,
                                                path_setup, path_teardown),
                cmocka_unit_test_setup_teardown(test_select_auto_prefers_cloud_hypervisor,
                                                path_setup, path_teardown),
                cmocka_unit_test(test_accel_tcg_needs_no_probe),
                cmocka_unit_test(test_accel_auto_on_this_machine),
                cmocka_unit_test(test_accel_kvm_missing_device_is_error),
                cmocka_unit_test(test_accel_not_a_kvm_device),
                cmocka_unit_test(test_accel_auto_does_not_hang),
                cmocka_unit_test(test_accel_probe_crash_and_success),
                cmocka_unit_test_setup_teardown(test_launch_runs_built_argv, path_setup,
                                                path_teardown),
                cmocka_unit_test_setup_teardown(test_launch_missing_program, path_setup,
                                                path_teardown),
        };
        return cmocka_run_group_tests_name("hv", tests, NULL, NULL);
}
