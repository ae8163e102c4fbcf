/* File helpers: no link is followed below a folder a guest can write, atomic writes, private
 * folders. */
#include "support/testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/timeutil.h"

static void test_open_beneath(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, "a/b/file", "x");
        char *p = nbx_path_join(dir, "a/link");
        assert_int_equal(symlink("/etc/hostname", p), 0);
        free(p);
        p = nbx_path_join(dir, "dirlink");
        assert_int_equal(symlink("a", p), 0);
        free(p);
        int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        int fd = nbx_open_beneath(dfd, "a/b/file", O_RDONLY, 0);
        assert_true(fd >= 0);
        char c = 0;
        assert_int_equal(read(fd, &c, 1), 1);
        assert_int_equal(c, 'x');
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
        assert_int_equal(nbx_open_beneath(dfd, "a/link", O_RDONLY, 0), -ELOOP);
        assert_int_equal(nbx_open_beneath(dfd, "dirlink/b/file", O_RDONLY, 0), -ELOOP);
        assert_true(nbx_open_beneath(dfd, "../etc/hostname", O_RDONLY, 0) == -EXDEV);
        assert_true(nbx_open_beneath(dfd, "/etc/hostname", O_RDONLY, 0) == -EXDEV);
        assert_int_equal(nbx_open_beneath(dfd, "a/missing", O_RDONLY, 0), -ENOENT);
        fd = nbx_open_beneath(dfd, "a/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        close(fd);
        close(dfd);
        nbx_test_rmdir(dir);
}

static void test_dir_private(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *p = nbx_path_join(dir, "priv");
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_dir_private(p, 0700, getuid(), getgid(), &err), 0);
        struct stat st;
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(chmod(p, 0777), 0);
        assert_int_equal(nbx_dir_private(p, 0700, getuid(), getgid(), &err), 0); /* repaired */
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        char *l = nbx_path_join(dir, "linked");
        assert_int_equal(symlink(p, l), 0);
        assert_true(nbx_dir_private(l, 0700, getuid(), getgid(), &err) < 0); /* never a link */
        assert_non_null(strstr(err->msg, "link"));
        free(l);
        free(p);
        nbx_test_rmdir(dir);
}

static void test_write_and_read(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *p = nbx_path_join(dir, "f");
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_write_file(p, "hello", 5, 0640, &err), 0);
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(nbx_read_file(p, 100, &text, &len, &err), 0);
        assert_string_equal(text, "hello");
        assert_int_equal(len, 5);
        free(text);
        assert_int_equal(nbx_read_file(p, 3, &text, &len, &err), -EFBIG);
        free(p);
        nbx_test_rmdir(dir);
}

static void test_path_lexical_and_within(void **state) {
        (void)state;
        static const char *const cases[][2] = {{"/a//b/./c/", "/a/b/c"}, {"/a/b/../c", "/a/c"},
                                               {"/../..", "/"},          {"/", "/"},
                                               {"/a/.", "/a"},           {"/a/b/../../..", "/"}};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                char *p = nbx_path_lexical(cases[i][0]);
                assert_string_equal(p, cases[i][1]);
                free(p);
        }
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        char *p = nbx_path_lexical("x/../y");
        char *want = nbx_path_join(cwd, "y");
        assert_string_equal(p, want);
        free(p);
        free(want);
        assert_true(nbx_path_within("/a/b", "/a"));
        assert_true(nbx_path_within("/a", "/a"));
        assert_false(nbx_path_within("/ab", "/a"));
        assert_true(nbx_path_within("/x", "/"));
}

static void test_lock_file(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *p = nbx_path_join(dir, "x.lock");
        _cleanup_error_ nbx_error *err = NULL;
        int fd = -1;
        assert_int_equal(nbx_lock_file(p, nbx_deadline_in(1000), "someone", &fd, &err), 0);
        assert_true(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        /* held: a second taker waits for its deadline, then says who holds what */
        int fd2 = -1;
        uint64_t t0 = nbx_now_ms();
        assert_int_equal(nbx_lock_file(p, nbx_deadline_in(150), "another nixbox", &fd2, &err),
                         -EBUSY);
        assert_true(nbx_now_ms() - t0 >= 150);
        assert_int_equal(fd2, -1);
        assert_non_null(strstr(err->msg, "another nixbox (it holds "));
        nbx_error_free(err);
        err = NULL;
        close(fd);
        /* free again; a lock file others could open is made private */
        assert_int_equal(chmod(p, 0644), 0);
        assert_int_equal(nbx_lock_file(p, nbx_deadline_in(1000), "someone", &fd, &err), 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        close(fd);
        /* never through a link, never a file of another user */
        char *l = nbx_path_join(dir, "link.lock");
        assert_int_equal(symlink(p, l), 0);
        assert_true(nbx_lock_file(l, nbx_deadline_in(100), "x", &fd, &err) < 0);
        nbx_error_free(err);
        err = NULL;
        if (geteuid() == 0) {
                assert_int_equal(chown(p, 65534, 65534), 0);
                assert_int_equal(nbx_lock_file(p, nbx_deadline_in(100), "x", &fd, &err), -EPERM);
                assert_non_null(strstr(err->msg, "is not a file of user 0"));
        }
        free(l);
        free(p);
        nbx_test_rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_beneath), cmocka_unit_test(test_path_lexical_and_within),
                cmocka_unit_test(test_dir_private),  cmocka_unit_test(test_write_and_read),
                cmocka_unit_test(test_lock_file),
        };
        return cmocka_run_group_tests_name("fsutil", tests, NULL, NULL);
}
