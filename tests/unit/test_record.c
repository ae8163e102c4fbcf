/* The VM record: round trip, tags, missing, corrupt and untrusted files, settings diff. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "vm/image.h"
#include "vm/record.h"

static void fill(nbx_vm_record *r) {
        r->name = strdup("dev");
        r->project_dir = strdup("/home/a/p");
        r->uid = 1000;
        r->gid = 1001;
        r->slot = 7;
        r->backend = NBX_HV_QEMU;
        r->accel = NBX_ACCEL_TCG;
        r->hv = (nbx_proc_ref){.pid = 1234, .start_time = 987654321012ULL};
        r->ssh_master = (nbx_proc_ref){.pid = 99, .start_time = 5};
        r->guest_ip = strdup("172.16.0.30");
        r->user = strdup("a");
        r->workdir = strdup("/home/a/workspace");
        r->mode = NBX_NET_FILTERED;
        r->started_at = 1700000000;
        r->ready = true;
        r->settings = strdup("{\"resources.vcpus\":2}");
        assert_int_equal(nbx_strv_push(&r->hooks_pre_down, "echo 'bye' > x"), 0);
        assert_int_equal(nbx_strv_push(&r->hooks_post_down, "true"), 0);
}

static void test_round_trip(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *path = nbx_path_join(dir, "vm.json");
        nbx_vm_record r = NBX_VM_RECORD_INIT;
        fill(&r);
        _cleanup_error_ nbx_error *err = NULL;
        nbx_record_mount *m = NULL;
        assert_int_equal(nbx_vm_record_add_mount(&r, "/home/a/p", "/home/a/workspace", false, false,
                                                 &m, &err),
                         0);
        assert_string_equal(m->tag, "nbxfs0");
        m->virtiofsd = (nbx_proc_ref){.pid = 4321, .start_time = 77};
        m->attached = true;
        assert_int_equal(nbx_vm_record_add_mount(&r, "/data", "/mnt/d e", true, true, &m, &err), 0);
        assert_string_equal(m->tag, "nbxfs1");
        assert_int_equal(nbx_vm_record_save(path, &r, &err), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);

        nbx_vm_record l;
        assert_int_equal(nbx_vm_record_load(path, &l, &err), 0);
        assert_string_equal(l.name, "dev");
        assert_string_equal(l.project_dir, "/home/a/p");
        assert_int_equal(l.uid, 1000);
        assert_int_equal(l.gid, 1001);
        assert_int_equal(l.slot, 7);
        assert_int_equal(l.backend, NBX_HV_QEMU);
        assert_int_equal(l.accel, NBX_ACCEL_TCG);
        assert_int_equal(l.hv.pid, 1234);
        assert_true(l.hv.start_time == 987654321012ULL);
        assert_int_equal(l.ssh_master.pid, 99);
        assert_string_equal(l.guest_ip, "172.16.0.30");
        assert_string_equal(l.user, "a");
        assert_string_equal(l.workdir, "/home/a/workspace");
        assert_int_equal(l.mode, NBX_NET_FILTERED);
        assert_int_equal(l.started_at, 1700000000);
        assert_true(l.ready);
        assert_int_equal(l.n_mounts, 2);
        assert_string_equal(l.mounts[0].tag, "nbxfs0");
        assert_int_equal(l.mounts[0].virtiofsd.pid, 4321);
        assert_true(l.mounts[0].attached);
        assert_false(l.mounts[0].hotplug);
        assert_string_equal(l.mounts[1].target, "/mnt/d e");
        assert_true(l.mounts[1].readonly);
        assert_true(l.mounts[1].hotplug);
        assert_false(l.mounts[1].attached);
        assert_int_equal(l.next_tag, 2);
        assert_int_equal(l.hooks_pre_down.n, 1);
        assert_string_equal(l.hooks_pre_down.v[0], "echo 'bye' > x");
        assert_string_equal(l.hooks_post_down.v[0], "true");
        assert_string_equal(l.settings, "{\"resources.vcpus\":2}");

        /* tags are never reused: removing a share and adding one gives a new tag */
        nbx_vm_record_remove_mount(&l, 0);
        assert_int_equal(l.n_mounts, 1);
        assert_non_null(nbx_vm_record_find_mount(&l, "/mnt/d e"));
        assert_null(nbx_vm_record_find_mount(&l, "/home/a/workspace"));
        assert_int_equal(nbx_vm_record_add_mount(&l, "/x", "/y", false, true, &m, &err), 0);
        assert_string_equal(m->tag, "nbxfs2");

        nbx_vm_record_done(&l);
        nbx_vm_record_done(&r);
        assert_int_equal(r.slot, -1);
        assert_int_equal(nbx_vm_record_remove(path, &err), 0);
        assert_int_equal(nbx_vm_record_remove(path, &err), 0); /* already gone: fine */
        assert_int_equal(nbx_vm_record_load(path, &l, &err), -ENOENT);
        assert_null(err);
        free(path);
        nbx_test_rmdir(dir);
}

static void expect_bad(const char *dir, const char *text) {
        nbx_test_write(dir, "vm.json", text);
        char *path = nbx_path_join(dir, "vm.json");
        assert_int_equal(chmod(path, 0644), 0);
        nbx_vm_record l;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_vm_record_load(path, &l, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "vm.json"));
        free(path);
}

static void test_missing_corrupt_and_untrusted(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *path = nbx_path_join(dir, "vm.json");
        nbx_vm_record l;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_vm_record_load(path, &l, &err), -ENOENT);
        assert_null(err);

        expect_bad(dir, "{\"name\": \"dev\", \"slot\": 3, \"hyperv"); /* half-written */
        expect_bad(dir, "[1,2]");
        expect_bad(dir, "{\"version\": 1, \"name\": \"dev\"}"); /* an old record */
        /* wrong types or ranges: the whole record is refused, not trusted field by field */
        expect_bad(dir, "{\"version\": 2, \"name\": \"dev\", \"project_dir\": \"/p\", \"uid\": "
                        "-1, \"gid\": 1, \"backend\": \"qemu\", \"accel\": \"tcg\", \"mode\": "
                        "\"off\"}");
        expect_bad(dir, "{\"version\": 2, \"name\": \"dev\", \"project_dir\": \"/p\", \"uid\": 1, "
                        "\"gid\": 1, \"backend\": \"vmware\", \"accel\": \"tcg\", \"mode\": "
                        "\"off\"}");
        expect_bad(dir, "{\"version\": 2, \"name\": \"dev\", \"project_dir\": \"/p\", \"uid\": 1, "
                        "\"gid\": 1, \"backend\": \"qemu\", \"accel\": \"tcg\", \"mode\": \"off\", "
                        "\"mounts\": [{\"source\": \"/a\", \"target\": \"/b\", \"tag\": "
                        "\"../x\"}]}");
        /* a PID without its start time is dropped (nixbox never signals an unverified PID) */
        nbx_test_write(dir, "vm.json",
                       "{\"version\": 2, \"name\": \"dev\", \"project_dir\": \"/p\", \"uid\": 1, "
                       "\"gid\": 1, \"backend\": \"qemu\", \"accel\": \"tcg\", \"mode\": \"off\", "
                       "\"hypervisor\": {\"pid\": 1, \"start_time\": 0}}");
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(nbx_vm_record_load(path, &l, &err), 0);
        assert_int_equal(l.hv.pid, 0);
        nbx_vm_record_done(&l);
        /* writable by others, or a link: not a record nixbox wrote */
        assert_int_equal(chmod(path, 0666), 0);
        assert_int_equal(nbx_vm_record_load(path, &l, &err), -EBADMSG);
        nbx_error_free(err), err = NULL;
        char *other = nbx_path_join(dir, "other.json");
        assert_int_equal(rename(path, other), 0);
        assert_int_equal(chmod(other, 0644), 0);
        assert_int_equal(symlink(other, path), 0);
        assert_int_equal(nbx_vm_record_load(path, &l, &err), -EBADMSG);
        nbx_error_free(err), err = NULL;
        free(other);
        free(path);
        nbx_test_rmdir(dir);
}

/* Image shares keep the image's tag rules (vm/image.h) both ways: the longest tag an image may
 * name is read back, and a record whose image share has a tag of nixbox's own kind (nbxfs*) is
 * refused (found by fuzz_vm_record). */
static void test_image_share_tags(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *path = nbx_path_join(dir, "vm.json");
        nbx_vm_record r = NBX_VM_RECORD_INIT;
        fill(&r);
        _cleanup_error_ nbx_error *err = NULL;
        nbx_record_mount *m = NULL;
        const char *longest = "Nixstore_0123456789-abc"; /* 23 characters */
        assert_true(nbx_image_tag_ok(longest));
        assert_int_equal(nbx_vm_record_add_image_share(&r, "/nix/store", longest, &m, &err), 0);
        assert_int_equal(nbx_vm_record_save(path, &r, &err), 0);
        nbx_vm_record l;
        assert_int_equal(nbx_vm_record_load(path, &l, &err), 0);
        assert_int_equal(l.n_mounts, 1);
        assert_true(l.mounts[0].image);
        assert_string_equal(l.mounts[0].tag, longest);
        nbx_vm_record_done(&l);
        nbx_vm_record_done(&r);

        const char *head = "{\"version\": 2, \"name\": \"dev\", \"project_dir\": \"/p\", "
                           "\"uid\": 1, \"gid\": 1, \"backend\": \"qemu\", \"accel\": "
                           "\"tcg\", \"mode\": \"off\", \"mounts\": [{\"source\": \"/a\", "
                           "\"target\": \"/b\", ";
        char text[512];
        const char *bad[] = {
                "\"tag\": \"nbxfsore\", \"image\": true", /* nixbox's prefix on an image share */
                "\"tag\": \"nbxfs3\", \"image\": true",
                "\"tag\": \"nixstore\", \"image\": false", /* a config mount with another tag */
                "\"tag\": \"nbxfs1234567890123\", \"image\": false", /* past nixbox's own */
                "\"tag\": \"0store\", \"image\": true",              /* not a letter first */
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                snprintf(text, sizeof(text), "%s%s}]}", head, bad[i]);
                expect_bad(dir, text);
        }
        free(path);
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
                cmocka_unit_test(test_missing_corrupt_and_untrusted),
                cmocka_unit_test(test_image_share_tags),
                cmocka_unit_test(test_settings_diff),
        };
        return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
