#include "support/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "net/net.h"
#include "net/slot.h"

static nbx_slot_owner owner_for(const char *project, pid_t pid, uint64_t start) {
        nbx_slot_owner o = {.pid = pid, .start_time = start};
        snprintf(o.project_dir, sizeof(o.project_dir), "/projects/%s", project);
        snprintf(o.name, sizeof(o.name), "%s", project);
        return o;
}

static nbx_slot_owner me(const char *project) {
        return owner_for(project, getpid(), nbx_pid_start_time(getpid()));
}

static unsigned acquire_ok(const char *rt, const nbx_slot_owner *o) {
        _cleanup_error_ nbx_error *err = NULL;
        unsigned s = 999;
        int r = nbx_slot_acquire(rt, o, &s, &err);
        if (r < 0)
                fail_msg("acquire: %s", err ? err->msg : "?");
        assert_true(s < NBX_SLOTS);
        return s;
}

static void test_acquire_release_get_find(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        nbx_slot_owner a = me("a"), b = me("b");
        unsigned sa = acquire_ok(rt, &a), sb = acquire_ok(rt, &b);
        assert_int_equal(sa, 0);
        assert_int_equal(sb, 1);

        _cleanup_error_ nbx_error *err = NULL;
        nbx_slot_owner got;
        assert_int_equal(nbx_slot_get(rt, sb, &got, &err), 0);
        assert_string_equal(got.project_dir, "/projects/b");
        assert_string_equal(got.name, "b");
        assert_int_equal(got.pid, getpid());
        assert_int_equal(got.start_time, nbx_pid_start_time(getpid()));
        unsigned found;
        assert_int_equal(nbx_slot_find(rt, "/projects/b", &found, &err), 0);
        assert_int_equal(found, sb);
        /* not found: -ENOENT with an error that says so (exit code: not running) */
        assert_int_equal(nbx_slot_find(rt, "/projects/none", &found, &err), -ENOENT);
        assert_non_null(err);
        assert_string_equal(err->msg, "/projects/none holds no network slot");
        assert_int_equal(err->errnum, ENOENT);
        assert_int_equal(err->exit_code, NBX_EXIT_NOT_RUNNING);
        nbx_error_free(TAKE_PTR(err));

        /* hand the slot to another process (the hypervisor) */
        nbx_slot_owner b2 = owner_for("b", getppid(), nbx_pid_start_time(getppid()));
        assert_int_equal(nbx_slot_set_owner(rt, sb, &b2, &err), 0);
        assert_int_equal(nbx_slot_get(rt, sb, &got, &err), 0);
        assert_int_equal(got.pid, getppid());
        /* ... but not into another project's slot */
        assert_true(nbx_slot_set_owner(rt, sa, &b2, &err) < 0);
        assert_non_null(strstr(err->msg, "held by /projects/a"));
        nbx_error_free(TAKE_PTR(err));

        /* the same project while its owner lives: refused */
        unsigned s;
        nbx_slot_owner a_other = owner_for("a", getppid(), nbx_pid_start_time(getppid()));
        assert_true(nbx_slot_acquire(rt, &a_other, &s, &err) < 0);
        assert_non_null(strstr(err->msg, "already holds network slot 0"));
        nbx_error_free(TAKE_PTR(err));

        /* release is idempotent; a released slot reads as free */
        assert_int_equal(nbx_slot_release(rt, sa, &err), 0);
        assert_int_equal(nbx_slot_release(rt, sa, &err), 0);
        assert_int_equal(nbx_slot_get(rt, sa, &got, &err), -ENOENT);
        assert_non_null(err);
        assert_string_equal(err->msg, "network slot 0 is free");
        nbx_test_rmdir(rt);
}

static void test_stable_slot(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        _cleanup_error_ nbx_error *err = NULL;
        nbx_slot_owner a = me("a"), b = me("b"), c = me("c"), d = me("d");
        unsigned sa = acquire_ok(rt, &a);
        unsigned sb = acquire_ok(rt, &b);
        assert_int_equal(nbx_slot_release(rt, sa, &err), 0);
        assert_int_equal(nbx_slot_release(rt, sb, &err), 0);
        /* newcomers avoid slots other projects had */
        unsigned sc = acquire_ok(rt, &c);
        assert_true(sc != sa && sc != sb);
        /* returning projects get their slot back, in any order */
        assert_int_equal(acquire_ok(rt, &b), sb);
        assert_int_equal(acquire_ok(rt, &a), sa);
        assert_int_equal(nbx_slot_release(rt, sa, &err), 0);
        /* when only remembered slots are free, a newcomer still gets one */
        for (unsigned i = 0; i < NBX_SLOTS - 3; i++) {
                char name[16];
                snprintf(name, sizeof(name), "f%u", i);
                nbx_slot_owner f = me(name);
                acquire_ok(rt, &f);
        }
        assert_int_equal(acquire_ok(rt, &d), sa);
        nbx_test_rmdir(rt);
}

static void fill_all(const char *rt) {
        for (unsigned i = 0; i < NBX_SLOTS; i++) {
                char name[16];
                snprintf(name, sizeof(name), "p%u", i);
                nbx_slot_owner o = me(name);
                assert_int_equal(acquire_ok(rt, &o), i);
        }
}

static void test_65th_lists_holders(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        fill_all(rt);
        _cleanup_error_ nbx_error *err = NULL;
        nbx_slot_owner x = me("x");
        unsigned s = 999;
        assert_true(nbx_slot_acquire(rt, &x, &s, &err) < 0);
        assert_int_equal(s, 999); /* ret_ untouched on failure */
        assert_int_equal(err->exit_code, NBX_EXIT_NO_SLOT);
        assert_non_null(strstr(err->msg, "all 64 network slots are taken"));
        assert_non_null(strstr(err->msg, "slot  0: p0 (/projects/p0)"));
        assert_non_null(strstr(err->msg, "slot 63: p63 (/projects/p63)"));
        assert_non_null(strstr(err->msg, "nixbox down"));
        nbx_test_rmdir(rt);
}

static pid_t dead_pid(void) {
        /* exec'd, so no copy of this process's heap exits (valgrind would call it leaked) */
        char *argv[] = {"true", NULL};
        pid_t pid;
        assert_int_equal(nbx_spawn(argv, NULL, &pid, NULL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        return pid;
}

static void test_reclaim_dead_and_reused_pid(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        fill_all(rt);
        _cleanup_error_ nbx_error *err = NULL;
        /* slot 10: its owner died; slot 20: its pid now belongs to another process */
        nbx_slot_owner dead = owner_for("p10", dead_pid(), 12345);
        assert_int_equal(nbx_slot_set_owner(rt, 10, &dead, &err), 0);
        nbx_slot_owner reused = owner_for("p20", getpid(), nbx_pid_start_time(getpid()) + 1);
        assert_int_equal(nbx_slot_set_owner(rt, 20, &reused, &err), 0);
        nbx_test_write(rt, "slots/10/dnsmasq.conf", "left over\n");

        nbx_slot_owner x = me("x"), y = me("y"), z = me("z");
        unsigned sx = acquire_ok(rt, &x), sy = acquire_ok(rt, &y);
        assert_true((sx == 10 && sy == 20) || (sx == 20 && sy == 10));
        /* the dead owner's leftover files went with it */
        char *left = nbx_path_join(rt, "slots/10/dnsmasq.conf");
        assert_false(nbx_is_file(left));
        free(left);
        unsigned s;
        assert_true(nbx_slot_acquire(rt, &z, &s, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_NO_SLOT);
        nbx_test_rmdir(rt);
}

static void test_no_reclaim_while_resources_remain(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        fill_all(rt);
        _cleanup_error_ nbx_error *err = NULL;
        nbx_slot_owner dead = owner_for("p7", dead_pid(), 1);
        assert_int_equal(nbx_slot_set_owner(rt, 7, &dead, &err), 0);
        /* its dnsmasq (here: a live process with matching start time) still runs */
        char rec[128];
        snprintf(rec, sizeof(rec), "{\"pid\": %d, \"start_time\": %llu}\n", (int)getpid(),
                 (unsigned long long)nbx_pid_start_time(getpid()));
        nbx_test_write(rt, "slots/7/dnsmasq.json", rec);
        nbx_slot_owner x = me("x");
        unsigned s;
        assert_true(nbx_slot_acquire(rt, &x, &s, &err) < 0);
        assert_int_equal(err->exit_code, NBX_EXIT_NO_SLOT);
        assert_non_null(strstr(err->msg, "slot  7: p7 (/projects/p7)"));
        assert_non_null(strstr(err->msg, "its TAP or dnsmasq is left"));
        nbx_error_free(TAKE_PTR(err));
        /* the project itself may take its slot back after a crash (it cleans up) */
        nbx_slot_owner p7 = me("p7");
        assert_int_equal(acquire_ok(rt, &p7), 7);
        nbx_test_rmdir(rt);
}

#define RACERS 40

static void test_race_all_distinct(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t parent = getpid();
        uint64_t pst = nbx_pid_start_time(parent);
        pid_t kids[RACERS];
        for (int i = 0; i < RACERS; i++) {
                kids[i] = fork();
                assert_true(kids[i] >= 0);
                if (kids[i] == 0) {
                        close(fds[0]);
                        char name[16];
                        snprintf(name, sizeof(name), "r%d", i);
                        nbx_slot_owner o = owner_for(name, parent, pst);
                        nbx_error *err = NULL;
                        unsigned s;
                        int r = nbx_slot_acquire(rt, &o, &s, &err);
                        int v = r < 0 ? -1 : (int)s;
                        nbx_error_free(err);
                        free(rt);
                        _exit(write(fds[1], &v, sizeof(v)) == sizeof(v) ? 0 : 1);
                }
        }
        close(fds[1]);
        bool seen[NBX_SLOTS] = {0};
        for (int i = 0; i < RACERS; i++) {
                int v;
                assert_int_equal(read(fds[0], &v, sizeof(v)), sizeof(v));
                assert_true(v >= 0 && v < NBX_SLOTS);
                assert_false(seen[v]);
                seen[v] = true;
        }
        close(fds[0]);
        for (int i = 0; i < RACERS; i++) {
                int st;
                assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        /* every record names the project that got the slot */
        for (int i = 0; i < RACERS; i++) {
                char dir[64];
                snprintf(dir, sizeof(dir), "/projects/r%d", i);
                unsigned s;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_slot_find(rt, dir, &s, &err), 0);
                assert_true(seen[s]);
        }
        nbx_test_rmdir(rt);
}

static void test_damaged_record(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        nbx_test_write(rt, "slots/3.json", "{not json");
        _cleanup_error_ nbx_error *err = NULL;
        nbx_slot_owner o;
        assert_true(nbx_slot_get(rt, 3, &o, &err) < 0);
        assert_non_null(strstr(err->msg, "damaged"));
        nbx_test_rmdir(rt);
}

/* Records with values out of range are damaged, not guessed at; a good one reads back whole. */
static void test_record_parse(void **state) {
        (void)state;
        static const char *const bad[] = {
                "[]",
                "{\"project_dir\": \"/p\", \"name\": \"p\", \"pid\": 0, \"start_time\": 1}",
                "{\"project_dir\": \"/p\", \"name\": \"p\", \"pid\": 4294967297, "
                "\"start_time\": 1}",
                "{\"project_dir\": \"/p\", \"name\": \"p\", \"pid\": 5, \"start_time\": -1}",
                "{\"project_dir\": \"p\", \"name\": \"p\", \"pid\": 5, \"start_time\": 1}",
                "{\"project_dir\": \"/p\", \"name\": 3, \"pid\": 5, \"start_time\": 1}",
                "{\"project_dir\": \"/p\", \"project_dir\": \"/q\", \"name\": \"p\", \"pid\": 5, "
                "\"start_time\": 1}",
        };
        nbx_slot_owner o = {.pid = 77};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_slot_owner_parse(bad[i], strlen(bad[i]), &o, &err), -EBADMSG);
                assert_non_null(err);
                assert_int_equal(o.pid, 77); /* untouched */
        }
        char name[100];
        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        char text[300];
        snprintf(text, sizeof(text),
                 "{\"project_dir\": \"/p\", \"name\": \"%s\", \"pid\": 5, \"start_time\": 1}",
                 name);
        assert_int_equal(nbx_slot_owner_parse(text, strlen(text), &o, NULL), -EBADMSG);
        const char *good = "{\"project_dir\": \"/home/me/api\", \"name\": \"api\", \"pid\": 42, "
                           "\"start_time\": 7, \"since\": 1}";
        assert_int_equal(nbx_slot_owner_parse(good, strlen(good), &o, NULL), 0);
        assert_string_equal(o.project_dir, "/home/me/api");
        assert_string_equal(o.name, "api");
        assert_int_equal(o.pid, 42);
        assert_int_equal(o.start_time, 7);
}

/* The allocator's lock is root's alone: a lock another user could open is one it could hold. */
static void test_lock_is_private(void **state) {
        (void)state;
        char *rt = nbx_test_tmpdir();
        char *lock = nbx_path_join(rt, "slots.lock");
        nbx_test_write(rt, "slots.lock", "");
        assert_int_equal(chmod(lock, 0666), 0);
        nbx_slot_owner a = me("a");
        acquire_ok(rt, &a);
        struct stat st;
        assert_int_equal(stat(lock, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, geteuid());
        free(lock);
        nbx_test_rmdir(rt);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_acquire_release_get_find),
                cmocka_unit_test(test_stable_slot),
                cmocka_unit_test(test_65th_lists_holders),
                cmocka_unit_test(test_reclaim_dead_and_reused_pid),
                cmocka_unit_test(test_no_reclaim_while_resources_remain),
                cmocka_unit_test(test_race_all_distinct),
                cmocka_unit_test(test_damaged_record),
                cmocka_unit_test(test_record_parse),
                cmocka_unit_test(test_lock_is_private),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
