/* Rollback bookkeeping of `nixbox up` (vm/undo.h): reverse order, each undo once, failures
 * collected without stopping the rest. */
#include "support/testutil.h"

#include <stdio.h>
#include <string.h>

#include "vm/undo.h"

typedef struct trace {
        char log[256];
} trace;

typedef struct step {
        trace *t;
        const char *name;
        bool fail;
        int calls;
} step;

static int undo_step(void *data, nbx_error **err) {
        step *s = data;
        s->calls++;
        strncat(s->t->log, s->name, sizeof(s->t->log) - strlen(s->t->log) - 2);
        strcat(s->t->log, " ");
        if (s->fail)
                return nbx_error_set(err, EBUSY, "cannot undo %s", s->name);
        return 0;
}

static void test_reverse_order_once(void **state) {
        (void)state;
        trace t = {{0}};
        step a = {&t, "slot", false, 0}, b = {&t, "network", false, 0},
             c = {&t, "launch", false, 0};
        nbx_undo u = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_undo_push(&u, "slot", undo_step, &a, &err), 0);
        assert_int_equal(nbx_undo_push(&u, "network", undo_step, &b, &err), 0);
        assert_int_equal(nbx_undo_push(&u, "launch", undo_step, &c, &err), 0);
        assert_int_equal(nbx_undo_run(&u, NULL), 0);
        assert_string_equal(t.log, "launch network slot ");
        assert_int_equal(u.n, 0);
        /* running again does nothing: each undo ran exactly once */
        assert_int_equal(nbx_undo_run(&u, NULL), 0);
        assert_int_equal(a.calls + b.calls + c.calls, 3);
}

static void test_failure_does_not_stop_the_rest(void **state) {
        (void)state;
        trace t = {{0}};
        step a = {&t, "slot", false, 0}, b = {&t, "network", true, 0},
             c = {&t, "virtiofsd", true, 0}, d = {&t, "launch", false, 0};
        nbx_undo u = {0};
        _cleanup_error_ nbx_error *err = NULL;
        nbx_undo_push(&u, "slot", undo_step, &a, &err);
        nbx_undo_push(&u, "network", undo_step, &b, &err);
        nbx_undo_push(&u, "virtiofsd", undo_step, &c, &err);
        nbx_undo_push(&u, "launch", undo_step, &d, &err);
        nbx_strv failures = {0};
        assert_int_equal(nbx_undo_run(&u, &failures), 2);
        assert_string_equal(t.log, "launch virtiofsd network slot ");
        assert_int_equal(failures.n, 2);
        assert_string_equal(failures.v[0],
                            "virtiofsd: cannot undo virtiofsd: Device or resource busy");
        assert_string_equal(failures.v[1], "network: cannot undo network: Device or resource busy");
        nbx_strv_clear(&failures);
}

static void test_clear_on_success(void **state) {
        (void)state;
        trace t = {{0}};
        step a = {&t, "slot", false, 0};
        nbx_undo u = {0};
        _cleanup_error_ nbx_error *err = NULL;
        nbx_undo_push(&u, "slot", undo_step, &a, &err);
        nbx_undo_clear(&u);
        assert_int_equal(nbx_undo_run(&u, NULL), 0);
        assert_int_equal(a.calls, 0);
}

static void test_capacity(void **state) {
        (void)state;
        trace t = {{0}};
        step a = {&t, "x", false, 0};
        nbx_undo u = {0};
        _cleanup_error_ nbx_error *err = NULL;
        for (int i = 0; i < NBX_UNDO_MAX; i++)
                assert_int_equal(nbx_undo_push(&u, "x", undo_step, &a, &err), 0);
        assert_int_equal(nbx_undo_push(&u, "overflow", undo_step, &a, &err), -ENOSPC);
        assert_non_null(strstr(err->msg, "overflow"));
        nbx_undo_clear(&u);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reverse_order_once),
                cmocka_unit_test(test_failure_does_not_stop_the_rest),
                cmocka_unit_test(test_clear_on_success),
                cmocka_unit_test(test_capacity),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
