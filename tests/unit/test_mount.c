/* Hot-plugged shares, the part that runs before anything starts: the checks of `nixbox mount`
 * against real folders (as the invoker: unreadable, missing, links, files, a planted .nixbox
 * link, nixbox's own state and runtime folders) and against the VM's record (targets taken,
 * nested, holding a share, half-attached ones, the limit); and the line the guest reads.  What
 * follows (virtiofsd, hot-plug, the guest) is tests/e2e/test_mounts. */
#include "support/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "vm/mount.h"

typedef struct fixture {
        char *dir;
        char *real; /* realpath of dir */
        nbx_invoker inv;
        nbx_vm_record rec;
        char *state, *runtime;
        nbx_vm_mount_env env;
} fixture;

static char *at(const fixture *f, const char *rel) {
        return nbx_path_join(f->real, rel);
}

static void mkdirs(const fixture *f, const char *rel) {
        char *p = at(f, rel);
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_mkdir_p(p, 0755, &err), 0);
        free(p);
}

static int setup(void **state) {
        fixture *f = calloc(1, sizeof(*f));
        f->dir = nbx_test_tmpdir();
        f->real = realpath(f->dir, NULL);
        assert_int_equal(chmod(f->real, 0755), 0);
        f->inv = (nbx_invoker){.uid = geteuid(),
                               .gid = getegid(),
                               .name = "tester",
                               .home = f->real,
                               .guest_user = "alice"};
        mkdirs(f, "src/deeper");
        mkdirs(f, "home/.local/state/nixbox/0123456789abcdef/ssh");
        mkdirs(f, "holder/runtime/vms");
        nbx_test_write(f->real, "file", "x\n");
        f->state = at(f, "home/.local/state/nixbox");
        f->runtime = at(f, "holder/runtime");
        f->rec = (nbx_vm_record)NBX_VM_RECORD_INIT;
        f->rec.user = "alice";
        _cleanup_error_ nbx_error *err = NULL;
        nbx_record_mount *m;
        assert_int_equal(nbx_vm_record_add_mount(&f->rec, "/p", "/home/alice/workspace", false,
                                                 false, &m, &err),
                         0);
        m->attached = true;
        assert_int_equal(nbx_vm_record_add_mount(&f->rec, "/d", "/data", true, true, &m, &err), 0);
        m->attached = true;
        assert_int_equal(nbx_vm_record_add_mount(&f->rec, "/h", "/half", false, true, &m, &err), 0);
        f->env = (nbx_vm_mount_env){
                .rec = &f->rec, .inv = &f->inv, .state_root = f->state, .runtime_dir = f->runtime};
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fixture *f = *state;
        f->rec.user = NULL;
        nbx_vm_record_done(&f->rec);
        free(f->state);
        free(f->runtime);
        nbx_test_rmdir(f->dir);
        free(f->real);
        free(f);
        return 0;
}

static void ok(fixture *f, const char *src, const char *tgt, bool ro, const char *want_src,
               const char *want_tgt) {
        nbx_mountspec in = {.source = (char *)src, .target = (char *)tgt, .readonly = ro}, out;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_vm_mount_check(&f->env, &in, &out, &err) < 0)
                fail_msg("%s -> %s: %s", src, tgt, err->msg);
        char *ws = want_src[0] == '/' ? strdup(want_src) : at(f, want_src);
        assert_string_equal(out.source, ws);
        assert_string_equal(out.target, want_tgt);
        assert_int_equal(out.readonly, ro);
        free(ws);
        nbx_mountspec_done(&out);
}

static void refused(fixture *f, const char *src, const char *tgt, bool ro, const char *needle) {
        nbx_mountspec in = {.source = (char *)src, .target = (char *)tgt, .readonly = ro};
        nbx_mountspec out = {.source = (char *)"untouched"};
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_vm_mount_check(&f->env, &in, &out, &err) < 0);
        assert_non_null(err);
        assert_string_equal(out.source, "untouched");
        assert_int_equal(err->exit_code, NBX_EXIT_USAGE);
        if (!strstr(err->msg, needle))
                fail_msg("%s -> %s: '%s' not in '%s'", src, tgt, needle, err->msg);
}

static void test_sources(void **state) {
        fixture *f = *state;
        char *src = at(f, "src");
        ok(f, src, "~/w", false, "src", "/home/alice/w");
        ok(f, "~/src/", "/srv//x/", true, "src", "/srv/x");
        /* relative: from the current folder; links are resolved */
        char cwd[PATH_MAX];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(f->real), 0);
        assert_int_equal(symlink("src/deeper", "link"), 0);
        ok(f, "src", "/w", false, "src", "/w");
        ok(f, "link", "/w", false, "src/deeper", "/w");
        assert_int_equal(chdir(cwd), 0);
        refused(f, "~/missing", "/w", false, "cannot reach it");
        refused(f, "~/file", "/w", false, "cannot open it as a folder");
        refused(f, "~bob/x", "/w", false, "not ~user");
        /* a .nixbox planted as a link: virtiofsd could not protect it */
        char *nb = at(f, "src/deeper/.nixbox");
        assert_int_equal(symlink("/etc", nb), 0);
        refused(f, "~/src/deeper", "/w", false, ".nixbox is not a plain folder");
        free(nb);
        free(src);
}

/* The invoker may not read it: checked with the invoker's identity, also when root runs this. */
static void test_unreadable_source(void **state) {
        fixture *f = *state;
        mkdirs(f, "locked");
        char *locked = at(f, "locked");
        if (geteuid() == 0) {
                assert_int_equal(chmod(locked, 0700), 0);
                f->inv.uid = 65534;
                f->inv.gid = 65534;
        } else {
                assert_int_equal(chmod(locked, 0), 0);
        }
        refused(f, locked, "/w", true, "may not read it");
        assert_int_equal(chmod(locked, 0755), 0);
        free(locked);
}

static void test_nixbox_places(void **state) {
        fixture *f = *state;
        /* the state folder: never shared, not even read-only, nor anything holding it */
        refused(f, "~/home/.local/state/nixbox/0123456789abcdef/ssh", "/w", true,
                "is inside nixbox's state folder");
        refused(f, "~/home", "/w", true, "holds nixbox's state folder");
        refused(f, "~/home/.local", "/w", false, "which the guest must not see");
        refused(f, "~", "/w", true, "holds nixbox's state folder");
        /* the runtime folder: never inside; a folder holding it read-only only */
        refused(f, "~/holder/runtime/vms", "/w", true, "is inside nixbox's runtime folder");
        refused(f, "~/holder", "/w", false, "or share it --readonly");
        ok(f, "~/holder", "/w", true, "holder", "/w");
        /* a sibling that only shares a prefix is fine */
        mkdirs(f, "home/.local/state/nixbox-other");
        ok(f, "~/home/.local/state/nixbox-other", "/w", false, "home/.local/state/nixbox-other",
           "/w");
}

static void test_targets(void **state) {
        fixture *f = *state;
        refused(f, "~/src", "~/workspace", false, "is already a share (of \"/p\")");
        refused(f, "~/src", "/data/", false, "is already a share (of \"/d\")");
        refused(f, "~/src", "~/workspace/sub", false, "is inside the share at");
        refused(f, "~/src", "/home", false, "holds the share at /home/alice/workspace");
        refused(f, "~/src", "/half", false, "is already a share (of \"/h\")");
        refused(f, "~/src", "relative", false, "TARGET: expected an absolute path");
        refused(f, "~/src", "/a/../b", false, "TARGET: \"/a/../b\": \"..\" is not allowed");
        refused(f, "~/src", "/x\ny", false, "control character");
        ok(f, "~/src", "/data2", false, "src", "/data2");
        ok(f, "~/src", "/home/alice/workspace2", false, "src", "/home/alice/workspace2");
        /* a half-attached share is about to be removed: left out when asked */
        f->env.skip_half_attached = true;
        ok(f, "~/src", "/half", false, "src", "/half");
        ok(f, "~/src", "/half/x", false, "src", "/half/x");
}

static void test_limit(void **state) {
        fixture *f = *state;
        _cleanup_error_ nbx_error *err = NULL;
        char t[32];
        while (f->rec.n_mounts < NBX_MAX_MOUNTS - 1) {
                snprintf(t, sizeof(t), "/s%zu", f->rec.n_mounts);
                nbx_record_mount *m;
                assert_int_equal(nbx_vm_record_add_mount(&f->rec, "/x", t, false, true, &m, &err),
                                 0);
                m->attached = true;
        }
        ok(f, "~/src", "/last", false, "src", "/last"); /* one place left */
        nbx_record_mount *m;
        assert_int_equal(nbx_vm_record_add_mount(&f->rec, "/x", "/last", false, true, &m, &err), 0);
        refused(f, "~/src", "/more", false, "the most one VM can have");
        /* a half-attached one counts, unless it is about to be removed */
        f->env.skip_half_attached = true;
        ok(f, "~/src", "/more", false, "src", "/more");
}

static void test_guest_line(void **state) {
        (void)state;
        char *line = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(
                nbx_vm_mount_line("nbxfs3", "/home/a/x $(id) `id` 'q\"", true, &line, &err), 0);
        assert_string_equal(line, "virtiofs\tnbxfs3\t/home/a/x $(id) `id` 'q\"\tro\n");
        free(line);
        assert_int_equal(nbx_vm_mount_line("nbxfs4", "/w", false, &line, &err), 0);
        assert_string_equal(line, "virtiofs\tnbxfs4\t/w\trw\n");
        free(line);
        line = (char *)"untouched";
        assert_int_equal(nbx_vm_mount_line("nbxfs5", "/a\tb", false, &line, &err), -EINVAL);
        assert_string_equal(line, "untouched");
        nbx_error_free(err), err = NULL;
        assert_int_equal(nbx_vm_mount_line("nbxfs5", "/a\nvirtiofs\tx\t/y\trw", false, &line, &err),
                         -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nixbox_places, setup, teardown),
                cmocka_unit_test_setup_teardown(test_targets, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
                cmocka_unit_test(test_guest_line),
        };
        return cmocka_run_group_tests_name("mount", tests, NULL, NULL);
}
