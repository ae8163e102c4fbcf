/* vm/paths.c: where a project's things live, and the folders of `state` mounts. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "support/configproj.h"
#include "vm/paths.h"

static void test_paths_outside_the_project(void **state) {
        (void)state;
        nbx_vm_paths p;
        assert_int_equal(nbx_vm_paths_get("/run/nixbox", "/home/u/proj", "/home/u", &p, NULL), 0);
        assert_int_equal(strlen(p.id), NBX_VM_ID_LEN);
        char want[128];
        snprintf(want, sizeof(want), "/home/u/.local/state/nixbox/%s/state", p.id);
        assert_string_equal(p.mounts_dir, want);
        snprintf(want, sizeof(want), "/run/nixbox/vms/%s/vm.json", p.id);
        assert_string_equal(p.record, want);
        nbx_vm_paths_done(&p);
        assert_int_equal(nbx_vm_paths_get("/run/nixbox", "relative", "/home/u", &p, NULL), -EINVAL);
}

static void test_state_mount_dir(void **state) {
        (void)state;
        char *home = nbx_test_tmpdir();
        nbx_vm_paths p;
        assert_int_equal(nbx_vm_paths_get("/run/nixbox", "/home/u/proj", home, &p, NULL), 0);
        nbx_invoker inv = {.uid = getuid(), .gid = getgid(), .name = "u", .home = home};
        char *dir = NULL;
        /* only the path: nothing created */
        assert_int_equal(nbx_vm_state_mount_dir(&p, "claude-code", &inv, false, &dir, NULL), 0);
        char *want = nbx_path_join(p.mounts_dir, "claude-code");
        assert_string_equal(dir, want);
        assert_false(nbx_is_dir(dir));
        free(dir);
        /* prepared: the user's, 0700, the parents too; again: kept as it is */
        assert_int_equal(nbx_mkdir_p(p.state_dir, 0700, NULL), 0);
        assert_int_equal(nbx_vm_state_mount_dir(&p, "claude-code", &inv, true, &dir, NULL), 0);
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(st.st_uid, getuid());
        nbx_test_write(dir, "kept", "x");
        free(dir);
        assert_int_equal(nbx_vm_state_mount_dir(&p, "claude-code", &inv, true, &dir, NULL), 0);
        char *kept = nbx_path_join(dir, "kept");
        assert_true(nbx_is_file(kept));
        free(kept);
        free(dir);
        /* a link in its place is refused, not followed */
        char *other = nbx_path_join(home, "elsewhere");
        assert_int_equal(mkdir(other, 0755), 0);
        char *link = nbx_path_join(p.mounts_dir, "linked");
        assert_int_equal(symlink(other, link), 0);
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_vm_state_mount_dir(&p, "linked", &inv, true, &dir, &err) < 0);
        nbx_test_assert_contains(err->msg, "not a link");
        /* names config would never pass are refused here too */
        const char *bad[] = {"", ".", "..", "a/b"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                nbx_error *e = NULL;
                assert_int_equal(nbx_vm_state_mount_dir(&p, bad[i], &inv, false, &dir, &e),
                                 -EINVAL);
                nbx_error_free(e);
        }
        free(link);
        free(other);
        free(want);
        nbx_vm_paths_done(&p);
        nbx_test_rmdir(home);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paths_outside_the_project),
                cmocka_unit_test(test_state_mount_dir),
        };
        return cmocka_run_group_tests_name("paths", tests, NULL, NULL);
}
