/* config/base/proc.c: the PATH rule every program nixbox runs is found by (relative entries never
 * count; root runs only programs in folders no one else may write), spawning by it, by an open
 * file, the child's signal dispositions, replacing the process (nbx_exec) and running to the end
 * (nbx_run). */
#include "support/testutil.h"

#include <errno.h>
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

/* dir/bin/tool: an executable script printing "tool" */
static char *make_tool(const char *dir, const char *bin, mode_t dir_mode) {
        char rel[64];
        snprintf(rel, sizeof(rel), "%s/tool", bin);
        nbx_test_write(dir, rel, "#!/bin/sh\necho tool\n");
        char *d = nbx_path_join(dir, bin);
        char *t = nbx_path_join(d, "tool");
        assert_int_equal(chmod(t, 0755), 0);
        assert_int_equal(chmod(d, dir_mode), 0);
        free(t);
        return d;
}

static char *find_with_path(const char *path) {
        char *saved = strdup(getenv("PATH"));
        setenv("PATH", path, 1);
        char *r = nbx_find_program("tool");
        setenv("PATH", saved, 1);
        free(saved);
        return r;
}

static void test_relative_entries_never_count(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        char *bin = make_tool(dir, "bin", 0755);
        char cwd[4096];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(bin), 0);
        /* ".", an empty entry and "bin" all mean a folder relative to where nixbox runs: the
         * project folder, which a guest can write */
        assert_null(find_with_path("."));
        assert_null(find_with_path(":/nonexistent"));
        assert_null(find_with_path("/nonexistent::"));
        assert_int_equal(chdir(dir), 0);
        assert_null(find_with_path("bin"));
        assert_null(nbx_find_program("bin/tool"));
        assert_null(nbx_find_program("./bin/tool"));
        /* the absolute entry is found, and spawning goes by the same rule */
        char *found = find_with_path(bin);
        assert_non_null(found);
        assert_true(found[0] == '/' && strstr(found, "/bin/tool"));
        free(found);
        char *saved = strdup(getenv("PATH"));
        setenv("PATH", ".", 1);
        char *argv[] = {"tool", NULL};
        pid_t pid;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_spawn(argv, NULL, &pid, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "absolute PATH entries"));
        setenv("PATH", saved, 1);
        free(saved);
        assert_int_equal(chdir(cwd), 0);
        free(bin);
        nbx_test_rmdir(dir);
}

static void test_root_needs_folders_only_root_may_write(void **state) {
        (void)state;
        if (geteuid() != 0) {
                /* not root: the absolute rule alone applies (covered above) */
                return;
        }
        char *dir = nbx_test_tmpdir();
        assert_int_equal(chmod(dir, 0755), 0);
        char *good = make_tool(dir, "good", 0755);
        char *open_dir = make_tool(dir, "open", 0777);
        char *group_dir = make_tool(dir, "group", 0775);
        char *theirs = make_tool(dir, "theirs", 0755);
        assert_int_equal(chown(theirs, 65534, 65534), 0);
        char *found = find_with_path(good);
        assert_non_null(found);
        free(found);
        assert_null(find_with_path(open_dir));
        assert_null(find_with_path(group_dir));
        assert_null(find_with_path(theirs));
        /* the program itself must be root's alone too, and so must the folder of a path */
        char *t = nbx_path_join(good, "tool");
        assert_int_equal(chmod(t, 0777), 0);
        assert_null(find_with_path(good));
        assert_null(nbx_find_program(t));
        assert_int_equal(chmod(t, 0755), 0);
        assert_int_equal(chown(t, 65534, 0), 0);
        assert_null(find_with_path(good));
        /* a child that drops its privileges may run the user's own program */
        char *tt = nbx_path_join(theirs, "tool");
        char *argv[] = {tt, NULL};
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        o.stdout_fd = -1;
        o.drop_privileges = true;
        o.uid = 65534;
        o.gid = 65534;
        pid_t pid;
        int status = -1;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_spawn(argv, &o, &pid, &err), 0);
        assert_int_equal(nbx_wait_pid(pid, 0, &status, &err), 0);
        assert_int_equal(nbx_status_code(status), 0);
        /* ... but root does not run it itself */
        o.drop_privileges = false;
        assert_int_equal(nbx_spawn(argv, &o, &pid, &err), -ENOENT);
        free(tt);
        free(t);
        free(good);
        free(open_dir);
        free(group_dir);
        free(theirs);
        nbx_test_rmdir(dir);
}

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

/* nbx_run: the exit code, 128+signal for a killed child, and a missing program is an error. */
static void test_run_exit_codes(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        int code = -1;
        char *ok[] = {"sh", "-c", "exit 0", NULL};
        assert_int_equal(nbx_run(ok, &(nbx_spawn_opts)NBX_SPAWN_OPTS_INIT, &code, &err), 0);
        assert_int_equal(code, 0);
        char *three[] = {"sh", "-c", "exit 3", NULL};
        assert_int_equal(nbx_run(three, &(nbx_spawn_opts)NBX_SPAWN_OPTS_INIT, &code, &err), 0);
        assert_int_equal(code, 3);
        char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
        assert_int_equal(nbx_run(killed, &(nbx_spawn_opts)NBX_SPAWN_OPTS_INIT, &code, &err), 0);
        assert_int_equal(code, 128 + SIGTERM);
        code = -1;
        char *missing[] = {"nbx-no-such-program", NULL};
        assert_true(nbx_run(missing, &(nbx_spawn_opts)NBX_SPAWN_OPTS_INIT, &code, &err) < 0);
        assert_non_null(err);
        assert_int_equal(code, -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_relative_entries_never_count),
                cmocka_unit_test(test_root_needs_folders_only_root_may_write),
                cmocka_unit_test(test_exec_fd_script),
                cmocka_unit_test(test_child_signals_default),
                cmocka_unit_test(test_exec_replaces),
                cmocka_unit_test(test_run_exit_codes),
        };
        return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
