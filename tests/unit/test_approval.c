/* Approval of .nixbox/: what is read (and refused), the digest, and the approve/check cycle. */
#include "support/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/approval.h"
#include "config/base/fsutil.h"

static nbx_invoker me(void) {
        nbx_invoker inv;
        assert_int_equal(nbx_invoker_get(&inv, NULL), 0);
        return inv;
}

static void test_tree_read_and_digest(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *cfg = nbx_path_join(dir, "cfg");
        nbx_test_write(cfg, "config.nix", "{ }\n");
        nbx_test_write(cfg, "tools/default.nix", "{ network.domains = [ \"a.example\" ]; }\n");
        nbx_test_write(cfg, "tools/commands/hello", "#!/bin/sh\necho hi\n");
        char *hello = nbx_path_join(cfg, "tools/commands/hello");
        assert_int_equal(chmod(hello, 0755), 0);
        nbx_invoker inv = me();
        nbx_tree t;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_tree_read(cfg, &inv, &t, &err), 0);
        assert_int_equal(t.n, 5);
        const char *order[] = {"config.nix", "tools", "tools/commands", "tools/commands/hello",
                               "tools/default.nix"};
        for (size_t i = 0; i < 5; i++)
                assert_string_equal(t.v[i].path, order[i]);
        assert_true(t.v[1].dir);
        assert_true(t.v[3].exec);
        assert_false(t.v[4].exec);
        assert_string_equal(t.v[0].data, "{ }\n");
        char first[NBX_SHA256_HEX];
        strcpy(first, t.digest);
        nbx_tree_done(&t);

        /* the same content reads to the same digest; the executable bit and a byte change it */
        assert_int_equal(nbx_tree_read(cfg, &inv, &t, &err), 0);
        assert_string_equal(t.digest, first);
        nbx_tree_done(&t);
        assert_int_equal(chmod(hello, 0644), 0);
        assert_int_equal(nbx_tree_read(cfg, &inv, &t, &err), 0);
        assert_string_not_equal(t.digest, first);
        nbx_tree_done(&t);

        /* written out and read back: the same tree */
        assert_int_equal(chmod(hello, 0755), 0);
        assert_int_equal(nbx_tree_read(cfg, &inv, &t, &err), 0);
        char *copy = nbx_path_join(dir, "copy");
        assert_int_equal(nbx_tree_write(&t, copy, &inv, &err), 0);
        nbx_tree back;
        assert_int_equal(nbx_tree_read(copy, &inv, &back, &err), 0);
        assert_string_equal(back.digest, t.digest);
        nbx_tree_done(&back);
        nbx_tree_done(&t);
        nbx_invoker_done(&inv);
        free(copy);
        free(hello);
        free(cfg);
        nbx_test_rmdir(dir);
}

/* Links and other non-files are refused, wherever they are: a link is how a guest would make
 * nixbox read what it chose. */
static void test_tree_refuses_links(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *cfg = nbx_path_join(dir, "cfg");
        nbx_test_write(cfg, "config.nix", "{ }\n");
        nbx_test_write(cfg, "sub/x", "x");
        char *l = nbx_path_join(cfg, "sub/secret");
        assert_int_equal(symlink("/etc/shadow", l), 0);
        nbx_invoker inv = me();
        nbx_tree t;
        _cleanup_error_ nbx_error *err = NULL;
        assert_true(nbx_tree_read(cfg, &inv, &t, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        assert_non_null(strstr(err->msg, "sub/secret is a symbolic link"));
        nbx_error_free(err), err = NULL;
        assert_int_equal(unlink(l), 0);
        assert_int_equal(mkfifo(l, 0600), 0);
        assert_true(nbx_tree_read(cfg, &inv, &t, &err) < 0);
        assert_non_null(strstr(err->msg, "not a plain file"));
        nbx_error_free(err), err = NULL;
        assert_int_equal(unlink(l), 0);
        /* the folder itself as a link */
        char *ln = nbx_path_join(dir, "cfglink");
        assert_int_equal(symlink(cfg, ln), 0);
        assert_true(nbx_tree_read(ln, &inv, &t, &err) < 0);
        nbx_invoker_done(&inv);
        free(ln);
        free(l);
        free(cfg);
        nbx_test_rmdir(dir);
}

static char *slurp_fd(int fd) {
        char *s = NULL;
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(nbx_read_fd(fd, "diff", 1 << 20, &s, NULL, NULL), 0);
        return s;
}

static void test_approve_cycle(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *cfg = nbx_path_join(dir, "project/.nixbox");
        char *approved = nbx_path_join(dir, "state/approved");
        nbx_test_write(cfg, "config.nix", "{ network.mode = \"off\"; }\n");
        char *sd = nbx_path_join(dir, "state");
        assert_int_equal(mkdir(sd, 0700), 0);
        nbx_invoker inv = me();
        enum nbx_approval_state st;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_approval_state(cfg, approved, &inv, &st, &err), 0);
        assert_int_equal(st, NBX_APPROVAL_NONE);
        assert_true(nbx_approval_require(cfg, approved, &inv, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_NOT_APPROVED);
        assert_non_null(strstr(err->msg, "nixbox allow"));
        nbx_error_free(err), err = NULL;

        /* a dry run shows the diff and approves nothing */
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        bool changed = false;
        assert_int_equal(nbx_approval_approve(cfg, approved, &inv, fd, true, &changed, &err), 0);
        assert_true(changed);
        char *diff = slurp_fd(fd);
        assert_non_null(strstr(diff, "+{ network.mode = \"off\"; }"));
        free(diff);
        close(fd);
        assert_int_equal(nbx_approval_state(cfg, approved, &inv, &st, &err), 0);
        assert_int_equal(st, NBX_APPROVAL_NONE);

        assert_int_equal(nbx_approval_approve(cfg, approved, &inv, -1, false, &changed, &err), 0);
        assert_true(changed);
        assert_int_equal(nbx_approval_require(cfg, approved, &inv, &err), 0);
        assert_int_equal(nbx_approval_approve(cfg, approved, &inv, -1, false, &changed, &err), 0);
        assert_false(changed); /* nothing new */

        /* the guest edits the configuration: refused until approved again, diff shows it */
        nbx_test_write(cfg, "config.nix", "{ network.mode = \"open\"; }\n");
        assert_int_equal(nbx_approval_state(cfg, approved, &inv, &st, &err), 0);
        assert_int_equal(st, NBX_APPROVAL_CHANGED);
        fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        assert_int_equal(nbx_approval_approve(cfg, approved, &inv, fd, false, &changed, &err), 0);
        diff = slurp_fd(fd);
        assert_non_null(strstr(diff, "-{ network.mode = \"off\"; }"));
        assert_non_null(strstr(diff, "+{ network.mode = \"open\"; }"));
        free(diff);
        close(fd);
        assert_int_equal(nbx_approval_require(cfg, approved, &inv, &err), 0);
        /* the approved copy holds the approved content, nothing else is left beside it */
        char *text = NULL;
        char *ac = nbx_path_join(approved, "config.nix");
        assert_int_equal(nbx_read_file(ac, 4096, &text, NULL, &err), 0);
        assert_string_equal(text, "{ network.mode = \"open\"; }\n");
        free(text);
        char *nw = nbx_path_join(dir, "state/approved.new");
        char *old = nbx_path_join(dir, "state/approved.old");
        assert_int_equal(access(nw, F_OK), -1);
        assert_int_equal(access(old, F_OK), -1);
        nbx_invoker_done(&inv);
        free(nw);
        free(old);
        free(ac);
        free(sd);
        free(approved);
        free(cfg);
        nbx_test_rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree_read_and_digest),
                cmocka_unit_test(test_tree_refuses_links),
                cmocka_unit_test(test_approve_cycle),
        };
        return cmocka_run_group_tests_name("approval", tests, NULL, NULL);
}
