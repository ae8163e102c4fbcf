/* virtiofsd confinement against the real kernel and Debian's virtiofsd: the process runs as the
 * invoker's subordinate id in its own user namespace with the id map of vm/idmap.h, the socket
 * belongs to the invoker, and a planted link is not followed.  Needs root (in CI it must run). */
#include "support/testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "config/base/timeutil.h"
#include "vm/idmap.h"
#include "vm/virtiofsd.h"

#define FAKE_UID 4242
#define FAKE_GID 4343
#define SUB 400000

static bool can_run(void) {
        /* valgrind cannot emulate open_tree/move_mount in the child before exec; the same test
         * runs natively (and under the sanitizers) in the other pass of the unit tier */
        if (RUNNING_ON_VALGRIND) {
                print_message("not under valgrind: it cannot run open_tree (the sanitizer pass "
                              "runs this test)\n");
                return false;
        }
        if (geteuid() == 0 && access("/usr/lib/qemu/virtiofsd", X_OK) == 0)
                return true;
        const char *ci = getenv("CI");
        if (ci && strcmp(ci, "true") == 0)
                fail_msg("test_virtiofsd needs root and /usr/lib/qemu/virtiofsd (sudo make deps)");
        print_message("SKIPPED: test_virtiofsd needs root and QEMU's virtiofsd\n");
        return false;
}

static char *proc_field(pid_t pid, const char *file, const char *key) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        char *text = NULL;
        if (nbx_read_file(path, 65536, &text, NULL, NULL) < 0)
                return NULL;
        if (!key)
                return text;
        char *line = strstr(text, key);
        char *out = NULL;
        if (line) {
                char *nl = strchr(line, '\n');
                out = strndup(line, nl ? (size_t)(nl - line) : strlen(line));
        }
        free(text);
        return out;
}

static void test_runs_confined(void **state) {
        (void)state;
        if (!can_run())
                return;
        char *dir = nbx_test_tmpdir();
        assert_int_equal(chmod(dir, 0755), 0);
        char *share = nbx_path_join(dir, "share");
        assert_int_equal(mkdir(share, 0755), 0);
        nbx_test_write(share, ".nixbox/config.nix", "{ }\n");
        assert_int_equal(chown(share, FAKE_UID, FAKE_GID), 0);
        char *sock = nbx_path_join(dir, "fs.sock");
        char *logp = nbx_path_join(dir, "vfs.log");
        int logfd = open(logp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(logfd >= 0);
        nbx_invoker inv = {.uid = FAKE_UID, .gid = FAKE_GID, .name = "fake"};
        nbx_idmap map = {.sub_uid = SUB, .sub_gid = SUB, .uid = FAKE_UID, .gid = FAKE_GID};
        nbx_virtiofsd v;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_virtiofsd_find(&v, &err), 0);
        nbx_share_start st = {
                .source = share, .socket = sock, .log_fd = logfd, .inv = &inv, .map = &map};
        pid_t pid = 0;
        int r = nbx_virtiofsd_start(&v, &st, &pid, &err);
        if (r < 0)
                fail_msg("start: %s", err->msg);

        /* the socket: listening before virtiofsd runs, the invoker's, private */
        struct stat sst;
        assert_int_equal(stat(sock, &sst), 0);
        assert_true(S_ISSOCK(sst.st_mode));
        assert_int_equal(sst.st_uid, FAKE_UID);
        assert_int_equal(sst.st_mode & 0777, 0600);

        /* the process: namespace root = the first subordinate id on the host, no capability in
         * the host's namespace, the id map of vm/idmap.h */
        char expect_uid[64];
        snprintf(expect_uid, sizeof(expect_uid), "Uid:\t%d\t%d\t%d\t%d", SUB, SUB, SUB, SUB);
        char *uidline = NULL;
        nbx_backoff b = NBX_BACKOFF_INIT;
        uint64_t deadline = nbx_deadline_in(10000);
        do {
                free(uidline);
                uidline = proc_field(pid, "status", "Uid:");
        } while (uidline && strcmp(uidline, expect_uid) != 0 && nbx_backoff_sleep(&b, deadline));
        assert_non_null(uidline);
        assert_string_equal(uidline, expect_uid);
        char *map_text = proc_field(pid, "uid_map", NULL);
        char want[160];
        assert_int_equal(nbx_idmap_format(&map, 'u', want, sizeof(want)), 0);
        char *a = map_text, *w = want;
        /* /proc prints the columns padded: compare the numbers */
        unsigned x1, y1, z1, x2, y2, z2;
        int n = 0;
        while (sscanf(a, "%u %u %u%n", &x1, &y1, &z1, &n) == 3 &&
               sscanf(w, "%u %u %u", &x2, &y2, &z2) == 3) {
                assert_int_equal(x1, x2);
                assert_int_equal(y1, y2);
                assert_int_equal(z1, z2);
                a += n;
                w = strchr(w, '\n') + 1;
        }
        assert_int_equal(*w, '\0');
        char *fdlimit = proc_field(pid, "limits", "Max open files");
        assert_non_null(fdlimit);
        struct rlimit mine;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
        struct rlimit want_nofile = {NBX_VIRTIOFSD_NOFILE, NBX_VIRTIOFSD_NOFILE};
        bool can_raise =
                setrlimit(RLIMIT_NOFILE, &want_nofile) == 0; /* root with CAP_SYS_RESOURCE */
        (void)setrlimit(RLIMIT_NOFILE, &mine);
        char lim[32];
        snprintf(lim, sizeof(lim), "%llu",
                 (unsigned long long)(can_raise ? NBX_VIRTIOFSD_NOFILE : mine.rlim_max));
        assert_non_null(strstr(fdlimit, lim));

        assert_int_equal(nbx_terminate(pid, 0, nbx_deadline_in(5000), &err), 0);
        free(fdlimit);
        free(map_text);
        free(uidline);
        close(logfd);
        nbx_virtiofsd_done(&v);
        free(sock);
        free(logp);
        free(share);
        nbx_test_rmdir(dir);
}

/* A share whose .nixbox is a link (planted to make nixbox protect the wrong folder, or to hide
 * the real one) is refused; so is a share the invoker may not read. */
static void test_refuses_links_and_unreadable(void **state) {
        (void)state;
        if (!can_run())
                return;
        char *dir = nbx_test_tmpdir();
        assert_int_equal(chmod(dir, 0755), 0);
        char *share = nbx_path_join(dir, "share");
        assert_int_equal(mkdir(share, 0755), 0);
        char *lnk = nbx_path_join(share, ".nixbox");
        assert_int_equal(symlink("/etc", lnk), 0);
        char *sock = nbx_path_join(dir, "fs.sock");
        nbx_invoker inv = {.uid = FAKE_UID, .gid = FAKE_GID, .name = "fake"};
        nbx_idmap map = {.sub_uid = SUB, .sub_gid = SUB, .uid = FAKE_UID, .gid = FAKE_GID};
        nbx_virtiofsd v;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_virtiofsd_find(&v, &err), 0);
        nbx_share_start st = {
                .source = share, .socket = sock, .log_fd = -1, .inv = &inv, .map = &map};
        pid_t pid = 0;
        assert_true(nbx_virtiofsd_start(&v, &st, &pid, &err) < 0);
        assert_non_null(strstr(err->msg, ".nixbox"));
        nbx_error_free(err), err = NULL;
        assert_int_equal(access(sock, F_OK), -1); /* nothing was left */

        assert_int_equal(unlink(lnk), 0);
        assert_int_equal(chmod(share, 0700), 0); /* root's, private: the invoker cannot read it */
        assert_true(nbx_virtiofsd_start(&v, &st, &pid, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        nbx_virtiofsd_done(&v);
        free(sock);
        free(lnk);
        free(share);
        nbx_test_rmdir(dir);
}

static void test_idmap_format(void **state) {
        (void)state;
        char buf[160];
        nbx_idmap m = {.sub_uid = 100000, .sub_gid = 200000, .uid = 1000, .gid = 100};
        assert_int_equal(nbx_idmap_format(&m, 'u', buf, sizeof(buf)), 0);
        assert_string_equal(buf, "0 100000 1000\n1000 1000 1\n1001 101001 64535\n");
        assert_int_equal(nbx_idmap_format(&m, 'g', buf, sizeof(buf)), 0);
        assert_string_equal(buf, "0 200000 100\n100 100 1\n101 200101 65435\n");
        m.uid = 70000; /* above the namespace's range */
        assert_int_equal(nbx_idmap_format(&m, 'u', buf, sizeof(buf)), 0);
        assert_string_equal(buf, "0 100000 65536\n70000 70000 1\n");
        m.uid = 0;
        assert_int_equal(nbx_idmap_format(&m, 'u', buf, sizeof(buf)), -EINVAL);
}

static void test_idmap_files(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, "subuid", "bob:100000:65536\n1000:300000:65536\n");
        nbx_test_write(dir, "subgid", "bob:100000:65536\nalice:300000:65536\n");
        char *u = nbx_path_join(dir, "subuid"), *g = nbx_path_join(dir, "subgid");
        nbx_invoker alice = {.uid = 1000, .gid = 1000, .name = "alice"};
        nbx_idmap m;
        bool alloc = true;
        _cleanup_error_ nbx_error *err = NULL;
        /* by uid in one file, by name in the other */
        assert_int_equal(nbx_idmap_get(&alice, u, g, false, &m, &alloc, &err), 0);
        assert_false(alloc);
        assert_int_equal(m.sub_uid, 300000);
        assert_int_equal(m.sub_gid, 300000);
        /* carol has none: refused without allocation, reserved past every used range with */
        nbx_invoker carol = {.uid = 1001, .gid = 1001, .name = "carol"};
        assert_int_equal(nbx_idmap_get(&carol, u, g, false, &m, &alloc, &err), -ENOENT);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        nbx_error_free(err), err = NULL;
        assert_int_equal(nbx_idmap_get(&carol, u, g, true, &m, &alloc, &err), 0);
        assert_true(alloc);
        assert_int_equal(m.sub_uid, 165536);
        char *text = NULL;
        assert_int_equal(nbx_read_file(u, 4096, &text, NULL, &err), 0);
        assert_string_equal(text, "bob:100000:65536\n1000:300000:65536\ncarol:165536:65536\n");
        free(text);
        /* and found, not reserved again, the next time */
        assert_int_equal(nbx_idmap_get(&carol, u, g, true, &m, &alloc, &err), 0);
        assert_false(alloc);
        assert_int_equal(m.sub_gid, 165536);
        free(u);
        free(g);
        nbx_test_rmdir(dir);
}

/* The flavour is remembered for the file that was asked, and asked again for any other. */
static void test_flavour_cached(void **state) {
        (void)state;
        char *dir = nbx_test_tmpdir();
        _cleanup_error_ nbx_error *err = NULL;
        nbx_virtiofsd asked, cached;
        assert_int_equal(nbx_virtiofsd_find(&asked, &err), 0);
        assert_int_equal(nbx_virtiofsd_find_cached(dir, &cached, &err), 0);
        assert_string_equal(cached.path, asked.path);
        assert_int_equal(cached.c_flavour, asked.c_flavour);
        char *cache = nbx_path_join(dir, "virtiofsd-flavour");
        char *text = NULL;
        assert_int_equal(nbx_read_file(cache, 8192, &text, NULL, &err), 0);
        assert_int_equal(text[0], asked.c_flavour ? 'c' : 'r');
        assert_non_null(strstr(text, asked.path));
        /* the record is what is used: flipped, it flips the answer for the same file */
        text[0] = asked.c_flavour ? 'r' : 'c';
        assert_int_equal(nbx_write_file(cache, text, strlen(text), 0644, &err), 0);
        nbx_virtiofsd_done(&cached);
        assert_int_equal(nbx_virtiofsd_find_cached(dir, &cached, &err), 0);
        assert_int_equal(cached.c_flavour, !asked.c_flavour);
        /* a record of another file (here: another size) is not: asked again, and rewritten */
        char *other = strstr(text, " ");
        other = strstr(other + 1, " ");
        other[1] = other[1] == '9' ? '8' : '9';
        assert_int_equal(nbx_write_file(cache, text, strlen(text), 0644, &err), 0);
        nbx_virtiofsd_done(&cached);
        assert_int_equal(nbx_virtiofsd_find_cached(dir, &cached, &err), 0);
        assert_int_equal(cached.c_flavour, asked.c_flavour);
        free(text);
        free(cache);
        nbx_virtiofsd_done(&cached);
        nbx_virtiofsd_done(&asked);
        nbx_test_rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_flavour_cached),
                cmocka_unit_test(test_idmap_format),
                cmocka_unit_test(test_idmap_files),
                cmocka_unit_test(test_runs_confined),
                cmocka_unit_test(test_refuses_links_and_unreadable),
        };
        return cmocka_run_group_tests_name("virtiofsd", tests, NULL, NULL);
}
