/* config/base/proc.c: children started from an open file (exec_fd), and the signal dispositions
 * a child starts with. */
#include "support/testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/configproj.h"
#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "config/base/timeutil.h"

/* A script runs from its open file, whatever argv[0] says; its interpreter reads it as
 * /dev/fd/N.  (The path stays in place: valgrind, which runs this tier, emulates execveat through
 * the fd's path.) */
static void test_exec_fd_script(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, "s", "#!/bin/sh\nprintf '%s|' \"$0\" \"$@\"\n");
        char *path = nbx_path_join(dir, "s");
        assert_int_equal(chmod(path, 0755), 0);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *argv[] = {"shown-name", "a b", "", NULL};
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.exec_fd = &fd;
        so.keep_fds = &fd;
        so.n_keep_fds = 1;
        int status = 0;
        _cleanup_free_ char *out = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_run_capture(argv, &so, nbx_deadline_in(10000), &status, &out, NULL, &err) < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(nbx_status_code(status), 0);
        /* $0: /dev/fd/N; under valgrind, which execs the fd's path instead, that path */
        char want[64], want_valgrind[PATH_MAX + 8];
        snprintf(want, sizeof(want), "/dev/fd/%d|a b||", fd);
        snprintf(want_valgrind, sizeof(want_valgrind), "%s|a b||", path);
        if (strcmp(out, want) != 0 && strcmp(out, want_valgrind) != 0)
                fail_msg("expected \"%s\", got \"%s\"", want, out);
        /* an fd that is not executable: the exec fails, and says so */
        nbx_test_write(dir, "plain", "#!/bin/sh\n");
        char *plain = nbx_path_join(dir, "plain");
        int pfd = open(plain, O_RDONLY | O_CLOEXEC);
        so.exec_fd = &pfd;
        so.keep_fds = &pfd;
        nbx_error *e2 = NULL;
        pid_t pid;
        assert_true(nbx_spawn(argv, &so, &pid, &e2) < 0);
        nbx_test_assert_contains(e2->msg, "cannot run shown-name");
        nbx_error_free(e2);
        close(pfd);
        close(fd);
        free(plain);
        free(path);
        nbx_test_rmdir(dir);
}

/* A caller that ignores SIGINT while it waits (plugin commands) does not pass that on. */
static void test_child_signals_default(void **state) {
        (void)state;
        struct sigaction ign = {.sa_handler = SIG_IGN}, old;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &old);
        char *argv[] = {"sh", "-c", "kill -INT $$; echo survived", NULL};
        int status = 0;
        _cleanup_free_ char *out = NULL;
        assert_int_equal(
                nbx_run_capture(argv, NULL, nbx_deadline_in(10000), &status, &out, NULL, NULL), 0);
        sigaction(SIGINT, &old, NULL);
        assert_int_equal(nbx_status_code(status), 128 + SIGINT);
        assert_string_equal(out, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exec_fd_script),
                cmocka_unit_test(test_child_signals_default),
        };
        return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
