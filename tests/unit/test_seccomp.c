#include "support/testutil.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vm/seccomp.h"

/* Each case runs in a child that installs the real filter on the real kernel: the child exits
 * with 0 when every expectation held, else with the number of the failed expectation. */
static int child_checks(const char *dir) {
        char p[512];
        if (nbx_seccomp_share_install() < 0)
                return 100;
        snprintf(p, sizeof(p), "%s/f", dir);
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                return 1; /* plain create works */
        if (fchmod(fd, 04755) == 0 || errno != EPERM)
                return 2;
        if (fchmod(fd, 0755) < 0)
                return 3; /* ordinary modes pass */
        if (fchmodat(AT_FDCWD, p, 02755, 0) == 0 || errno != EPERM)
                return 4;
        if (chmod(p, 06755) == 0 || errno != EPERM)
                return 5;
        close(fd);
        snprintf(p, sizeof(p), "%s/suid", dir);
        if (open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 04755) >= 0 || errno != EPERM)
                return 6;
        if (openat(AT_FDCWD, p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 02755) >= 0 ||
            errno != EPERM)
                return 7;
        if (access(p, F_OK) == 0)
                return 8; /* nothing was created */
        snprintf(p, sizeof(p), "%s/f", dir);
        /* a mode argument without O_CREAT is ignored by the kernel and by the filter */
        fd = (int)syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 07777);
        if (fd < 0)
                return 9;
        close(fd);
        snprintf(p, sizeof(p), "%s/sgiddir", dir);
        if (mkdir(p, 02755) == 0 || errno != EPERM)
                return 10;
        snprintf(p, sizeof(p), "%s/dir", dir);
        if (mkdir(p, 0755) < 0)
                return 11;
        snprintf(p, sizeof(p), "%s/dev", dir);
        if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) == 0 || errno != EPERM)
                return 12;
        if (mknod(p, S_IFBLK | 0600, makedev(7, 0)) == 0 || errno != EPERM)
                return 13;
        snprintf(p, sizeof(p), "%s/fifo", dir);
        if (mknod(p, S_IFIFO | 0600, 0) < 0)
                return 14; /* FIFOs are no privilege */
        struct open_how how = {.flags = O_RDONLY};
        if (syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof(how)) >= 0 || errno != ENOSYS)
                return 15;
        snprintf(p, sizeof(p), "%s/f", dir);
        if (syscall(SYS_setxattr, p, "user.x", "1", 1, 0) == 0 || errno != EOPNOTSUPP)
                return 16;
        return 0;
}

static void test_filter_denies_privilege_bits_and_devices(void **state) {
        const char *self = *state; /* this binary (argv[0]) */
        char dir[] = "/tmp/nbx-seccomp.XXXXXX";
        assert_non_null(mkdtemp(dir));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* exec'd: under valgrind the child then runs natively (valgrind cannot run a
                 * seccomp filter), under the sanitizers it is the same binary */
                char *argv[] = {(char *)self, "--filtered-child", dir, NULL};
                execv(argv[0], argv);
                _exit(101);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        if (code != 0)
                fail_msg("expectation %d failed in the filtered child", code);
        /* and the files that exist have no privilege bits */
        char p[512];
        struct stat st;
        snprintf(p, sizeof(p), "%s/f", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07000, 0);
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "--filtered-child") == 0)
                return child_checks(argv[2]);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_prestate(test_filter_denies_privilege_bits_and_devices, argv[0]),
        };
        return cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
