/* net/finish.c: the finisher is a process of its own session, not our child, named
 * nixbox-finish, holding nothing of ours but the sockets handed to it (the same sockets, not
 * copies of their numbers) and its release pipe, and it exits once released.  Deleting a link
 * runs in the network tier (tests/net/test_slot_teardown: every `down` deletes its TAP through
 * it). */
#include "support/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/error.h"
#include "net/finish.h"

/* "socket:[inode]" (or the file) behind fd of pid */
static void fd_target(pid_t pid, int fd, char *buf, size_t size) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
        ssize_t n = readlink(path, buf, size - 1);
        assert_true(n > 0);
        buf[n] = '\0';
}

/* The targets of the process's descriptors from 3 up (the first 8), how many there are (below
 * 1000: valgrind keeps descriptors of its own at the top of the range).  Right after the fork it
 * may still hold all it inherited: more than 8 is a count, not a failure. */
static size_t fds_of(pid_t pid, char targets[8][64]) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        assert_non_null(d);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name);
                if (de->d_name[0] == '.' || fd < 3 || fd >= 1000)
                        continue;
                char link[64], target[64];
                snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
                ssize_t len = readlink(link, target, sizeof(target) - 1);
                if (len <= 0)
                        continue; /* closed meanwhile */
                target[len] = '\0';
                if (n < 8)
                        memcpy(targets[n], target, (size_t)len + 1);
                n++;
        }
        closedir(d);
        return n;
}

static void stat_field(pid_t pid, int field, char *buf, size_t size) {
        char path[64], text[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
        text[n] = '\0';
        /* field 2 is "(comm)"; count the rest after its closing parenthesis */
        char *p = strrchr(text, ')');
        assert_non_null(p);
        if (field == 2) {
                char *open = strchr(text, '(');
                snprintf(buf, size, "%.*s", (int)(p - open - 1), open + 1);
                return;
        }
        p += 2;
        for (int i = 3; i < field; i++)
                p = strchr(p, ' ') + 1;
        snprintf(buf, size, "%.*s", (int)strcspn(p, " "), p);
}

/* Whether pid is gone (or a zombie its new parent has not reaped yet) within ms. */
static bool exits_within(pid_t pid, int ms) {
        for (int i = 0; i <= ms; i++) {
                char path[64], text[512];
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
                FILE *f = fopen(path, "re");
                if (!f)
                        return true;
                size_t n = fread(text, 1, sizeof(text) - 1, f);
                fclose(f);
                text[n] = '\0';
                char *p = strrchr(text, ')');
                if (p && p[1] == ' ' && p[2] == 'Z')
                        return true;
                usleep(1000);
        }
        return false;
}

static void test_holds_the_sockets_then_exits(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nl a = {0}, b = {0};
        assert_int_equal(nbx_nl_open(&a, NETLINK_ROUTE, &err), 0);
        assert_int_equal(nbx_nl_open(&b, NETLINK_ROUTE, &err), 0);
        nbx_finisher f = NBX_FINISHER_INIT;
        assert_int_equal(nbx_finisher_start(&f, NULL, 0, (nbx_nl *[]){&a, &b}, 2, &err), 0);
        pid_t pid = nbx_finisher_pid(&f);
        assert_true(pid > 0);
        assert_true(f.release_fd >= 0);
        /* not our child: nobody has to reap it */
        assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        /* it names itself once it runs (start does not wait for that) */
        char comm[32], sid[32], mine[32];
        for (int i = 0; i < 5000; i++) {
                stat_field(pid, 2, comm, sizeof(comm));
                if (strcmp(comm, "nixbox-finish") == 0)
                        break;
                usleep(1000);
        }
        assert_string_equal(comm, "nixbox-finish");
        stat_field(pid, 6, sid, sizeof(sid));
        snprintf(mine, sizeof(mine), "%d", (int)getsid(0));
        assert_string_not_equal(sid, mine);
        /* the same two sockets, the read end of its release pipe, nothing else */
        char want_a[64], want_b[64], got[8][64];
        fd_target(getpid(), mnl_socket_get_fd(a.sock), want_a, sizeof(want_a));
        fd_target(getpid(), mnl_socket_get_fd(b.sock), want_b, sizeof(want_b));
        /* the process may still be closing what it inherited: wait until it holds three */
        size_t n = 0;
        for (int i = 0; i < 500 && (n = fds_of(pid, got)) != 3; i++)
                usleep(1000);
        assert_int_equal(n, 3);
        int sockets = 0, pipes = 0;
        for (size_t i = 0; i < n; i++) {
                sockets += strcmp(got[i], want_a) == 0 || strcmp(got[i], want_b) == 0;
                pipes += strncmp(got[i], "pipe:", 5) == 0;
        }
        assert_int_equal(sockets, 2);
        assert_int_equal(pipes, 1);
        /* a second start keeps the one there is */
        assert_int_equal(nbx_finisher_start(&f, NULL, 0, (nbx_nl *[]){&a}, 1, &err), 0);
        assert_int_equal(nbx_finisher_pid(&f), pid);
        /* no link to wait for */
        assert_int_equal(nbx_finisher_unlisted(&f, NULL, &err), 0);
        /* it lives until released, then exits */
        assert_false(exits_within(pid, 20));
        nbx_nl_close(&a);
        nbx_nl_close(&b);
        nbx_finisher_done(&f);
        assert_int_equal(f.pid, 0);
        assert_int_equal(f.helper, 0);
        assert_int_equal(f.release_fd, -1);
        assert_true(exits_within(pid, 5000));
        nbx_finisher_done(&f); /* idempotent */
}

static void test_too_many_sockets(void **state) {
        (void)state;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_nl a = {0};
        assert_int_equal(nbx_nl_open(&a, NETLINK_ROUTE, &err), 0);
        nbx_nl *five[] = {&a, &a, &a, &a, &a};
        nbx_finisher f = NBX_FINISHER_INIT;
        assert_int_equal(nbx_finisher_start(&f, NULL, 0, five, 5, &err), -E2BIG);
        assert_non_null(err);
        assert_int_equal(f.release_fd, -1);
        nbx_nl_close(&a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_holds_the_sockets_then_exits),
                cmocka_unit_test(test_too_many_sockets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
