/* config/base/proc.c: children started from an open file (exec_fd), the signal dispositions a
 * child starts with, and replacing the process (nbx_exec). */
#include "support/testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* nbx_exec in a child: the program replaces it, with SIGPIPE back to default and the streams
 * inherited; as root with drop_privileges, as that user; a missing program is an error, the
 * process still there to report it. */
static int exec_in_child(char *const argv[], const nbx_spawn_opts *o, char *out, size_t size) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], 1);
                signal(SIGPIPE, SIG_IGN);
                nbx_error *e = NULL;
                (void)nbx_exec(argv, o, &e);
                printf("failed: %s", e ? e->msg : "no error");
                fflush(stdout);
                _exit(99);
        }
        close(p[1]);
        ssize_t n = 0, k;
        while (n < (ssize_t)size - 1 && (k = read(p[0], out + n, size - 1 - (size_t)n)) > 0)
                n += k;
        out[n] = '\0';
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return nbx_status_code(status);
}

static void test_exec_replaces(void **state) {
        (void)state;
        char out[256];
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        char *argv[] = {"sh", "-c",
                        "grep -q '^SigIgn:.*[13579bdf]000$' /proc/$$/status "
                        "&& echo ignored; echo $$; exit 7",
                        NULL};
        assert_int_equal(exec_in_child(argv, &o, out, sizeof(out)), 7);
        /* the pid printed is the child's own: nothing was spawned in between */
        assert_true(atoi(out) > 0);
        assert_null(strstr(out, "ignored"));
        char *missing[] = {"nbx-no-such-program", NULL};
        assert_int_equal(exec_in_child(missing, &o, out, sizeof(out)), 99);
        nbx_test_assert_contains(out, "cannot run nbx-no-such-program");
        if (geteuid() == 0) {
                o.drop_privileges = true;
                o.uid = 65534;
                o.gid = 65534;
                char *id[] = {"sh", "-c", "echo $(id -u):$(id -g)", NULL};
                assert_int_equal(exec_in_child(id, &o, out, sizeof(out)), 0);
                assert_string_equal(out, "65534:65534\n");
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_exec_fd_script),
                cmocka_unit_test(test_child_signals_default),
                cmocka_unit_test(test_exec_replaces),
        };
        return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
