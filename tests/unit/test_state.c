/* The VM record: round trip, missing and corrupt files, settings diff for reload. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "vm/state.h"

static void test_round_trip(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *sdir = nbx_path_join(dir, "state"); /* created on save */
        nbx_vm_state s = {.slot = 7};
        s.name = strdup("dev");
        s.project_dir = strdup("/home/a/p");
        s.backend = strdup("qemu");
        s.accel = strdup("tcg");
        s.hv = (nbx_proc_ref){.pid = 1234, .start_time = 987654321012ULL};
        s.ssh_master = (nbx_proc_ref){.pid = 99, .start_time = 5};
        s.api_socket = strdup("/home/a/p/.nixbox/run/api.sock");
        s.serial_log = strdup("/home/a/p/.nixbox/run/serial.log");
        s.control_path = strdup("/home/a/p/.nixbox/run/ssh.sock");
        s.guest_ip = strdup("172.16.0.30");
        s.user = strdup("a");
        s.workdir = strdup("/home/a/workspace");
        s.mode = strdup("filtered");
        s.started_at = 1700000000;
        s.ready = true;
        s.settings = strdup("{\"resources.vcpus\":2}");
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_vm_state_add_mount(&s, "/home/a/p", "/home/a/workspace", "nbxfs0",
                                                false, "/x/fs0.sock", &err),
                         0);
        assert_int_equal(
                nbx_vm_state_add_mount(&s, "/data", "/mnt/d e", "nbxfs1", true, NULL, &err), 0);
        s.mounts[0].virtiofsd = (nbx_proc_ref){.pid = 4321, .start_time = 77};
        assert_int_equal(nbx_vm_state_save(sdir, &s, getuid(), getgid(), &err), 0);

        nbx_vm_state l;
        assert_int_equal(nbx_vm_state_load(sdir, &l, &err), 0);
        assert_string_equal(l.name, "dev");
        assert_string_equal(l.project_dir, "/home/a/p");
        assert_int_equal(l.slot, 7);
        assert_string_equal(l.backend, "qemu");
        assert_string_equal(l.accel, "tcg");
        assert_int_equal(l.hv.pid, 1234);
        assert_true(l.hv.start_time == 987654321012ULL);
        assert_int_equal(l.ssh_master.pid, 99);
        assert_string_equal(l.api_socket, s.api_socket);
        assert_string_equal(l.serial_log, s.serial_log);
        assert_string_equal(l.control_path, s.control_path);
        assert_string_equal(l.guest_ip, "172.16.0.30");
        assert_string_equal(l.user, "a");
        assert_string_equal(l.workdir, "/home/a/workspace");
        assert_string_equal(l.mode, "filtered");
        assert_int_equal(l.started_at, 1700000000);
        assert_true(l.ready);
        assert_int_equal(l.n_mounts, 2);
        assert_string_equal(l.mounts[0].tag, "nbxfs0");
        assert_int_equal(l.mounts[0].virtiofsd.pid, 4321);
        assert_string_equal(l.mounts[0].socket, "/x/fs0.sock");
        assert_string_equal(l.mounts[1].target, "/mnt/d e");
        assert_true(l.mounts[1].readonly);
        assert_null(l.mounts[1].socket);
        assert_string_equal(l.settings, "{\"resources.vcpus\":2}");

        /* no temp files left beside it */
        char *tmp = nbx_path_join(sdir, "vm.json");
        struct stat st;
        assert_int_equal(stat(tmp, &st), 0);
        free(tmp);

        nbx_vm_state_done(&l);
        nbx_vm_state_done(&s);
        assert_int_equal(s.slot, -1);

        assert_int_equal(nbx_vm_state_remove(sdir, &err), 0);
        assert_int_equal(nbx_vm_state_remove(sdir, &err), 0); /* already gone: fine */
        assert_int_equal(nbx_vm_state_load(sdir, &l, &err), -ENOENT);
        assert_null(err);
        free(sdir);
        nbx_test_rmdir(dir);
}

static void test_missing_and_corrupt(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_vm_state l;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_vm_state_load(dir, &l, &err), -ENOENT);
        assert_null(err);

        /* half-written (truncated) */
        nbx_test_write(dir, "vm.json", "{\"name\": \"dev\", \"slot\": 3, \"hyperv");
        assert_int_equal(nbx_vm_state_load(dir, &l, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "vm.json"));
        nbx_error_free(err), err = NULL;

        /* not an object */
        nbx_test_write(dir, "vm.json", "[1,2]");
        assert_int_equal(nbx_vm_state_load(dir, &l, &err), -EBADMSG);
        nbx_error_free(err), err = NULL;

        /* wrong types are ignored field by field, not trusted */
        nbx_test_write(dir, "vm.json",
                       "{\"name\": 5, \"slot\": -4, \"hypervisor\": {\"pid\": \"x\"}, "
                       "\"mounts\": [{\"tag\": \"nbxfs0\"}, 3], \"guest_ip\": \"172.16.0.2\"}");
        assert_int_equal(nbx_vm_state_load(dir, &l, &err), 0);
        assert_null(l.name);
        assert_int_equal(l.slot, -1);
        assert_int_equal(l.hv.pid, 0);
        assert_int_equal(l.n_mounts, 1);
        assert_string_equal(l.mounts[0].tag, "nbxfs0");
        assert_null(l.mounts[0].target);
        assert_string_equal(l.guest_ip, "172.16.0.2");
        nbx_vm_state_done(&l);

        /* empty file */
        nbx_test_write(dir, "vm.json", "");
        assert_int_equal(nbx_vm_state_load(dir, &l, &err), -EBADMSG);
        nbx_test_rmdir(dir);
}

static void test_settings_diff(void **state) {
        (void)state;
        nbx_mount m = {.source = (char *)"/p", .target = (char *)"/home/u/workspace"};
        nbx_env_var e = {.name = (char *)"TOKEN", .value = (char *)"secret-value"};
        nbx_config c = {.vcpus = 2,
                        .memory_mb = 1024,
                        .mounts = &m,
                        .n_mounts = 1,
                        .env = &e,
                        .n_env = 1,
                        .hypervisor = NBX_HV_QEMU,
                        .accel = NBX_ACCEL_TCG};
        char *a = nbx_vm_settings_json(&c);
        assert_non_null(a);
        assert_null(strstr(a, "secret-value")); /* env values never recorded */
        assert_non_null(strstr(a, "TOKEN"));
        char *diff = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_vm_settings_diff(a, a, &diff, &err), 0);
        assert_string_equal(diff, "");
        free(diff);

        c.memory_mb = 2048;
        c.net_mode = NBX_NET_FILTERED; /* network settings are reload's job: not listed */
        m.readonly = true;
        char *b = nbx_vm_settings_json(&c);
        assert_int_equal(nbx_vm_settings_diff(a, b, &diff, &err), 0);
        assert_string_equal(diff, "mounts, resources.memoryMB");
        free(diff);

        /* no previous record: everything counts as changed */
        assert_int_equal(nbx_vm_settings_diff(NULL, b, &diff, &err), 0);
        assert_non_null(strstr(diff, "vm.image"));
        free(diff);
        free(a);
        free(b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_missing_and_corrupt),
                cmocka_unit_test(test_settings_diff),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
