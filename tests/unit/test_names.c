/* config/base/names.c: two-way name tables, the edit distance and the did-you-mean search. */
#include "support/testutil.h"

#include <stdint.h>
#include <string.h>

#include "config/base/names.h"

enum color { RED, GREEN, BLUE };
static const char *const color_words[] = {[RED] = "red", [GREEN] = "green", [BLUE] = "blue"};
static const nbx_names colors = {color_words, NBX_ARRAY_SIZE(color_words)};

static void test_edit_distance(void **state) {
        (void)state;
        assert_int_equal(nbx_edit_distance("status", "status"), 0);
        assert_int_equal(nbx_edit_distance("Status", "status"), 0); /* case-insensitive */
        assert_int_equal(nbx_edit_distance("stauts", "status"), 1); /* a swap of neighbours */
        assert_int_equal(nbx_edit_distance("domian", "domains"), 2);
        assert_int_equal(nbx_edit_distance("", "abc"), 3);
        assert_int_equal(nbx_edit_distance("kitten", "sitting"), 3);
        char long_word[80];
        memset(long_word, 'a', 79);
        long_word[79] = '\0';
        assert_int_equal(nbx_edit_distance(long_word, "a"), SIZE_MAX);
}

static const char *closest(const char *word, const char *const *candidates) {
        nbx_suggest s;
        nbx_suggest_init(&s, word);
        for (size_t i = 0; candidates[i]; i++)
                nbx_suggest_add(&s, candidates[i]);
        return nbx_suggest_best(&s);
}

static void test_suggest(void **state) {
        (void)state;
        const char *const commands[] = {"up", "down", "status", "config", "shell", NULL};
        assert_string_equal(closest("stauts", commands), "status");
        assert_string_equal(closest("confg", commands), "config");
        assert_string_equal(closest("DOWN", commands), "down");
        /* too far to be a typo, or a short word replaced entirely */
        assert_null(closest("zz", commands));
        assert_null(closest("frobnicate", commands));
        const char *const none[] = {NULL};
        assert_null(closest("up", none));
        /* longer words tolerate more edits: a third of their length */
        const char *const keys[] = {"allowPrivate", "upstreamDns", NULL};
        assert_string_equal(closest("alowprivat", keys), "allowPrivate");
}

static void test_table_both_ways(void **state) {
        (void)state;
        for (int i = RED; i <= BLUE; i++) {
                int back = -1;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_names_find(&colors, nbx_names_get(&colors, i), &back, &err),
                                 0);
                assert_int_equal(back, i);
        }
        assert_string_equal(nbx_names_get(&colors, GREEN), "green");
        assert_string_equal(nbx_names_get(&colors, 3), "?");
        assert_string_equal(nbx_names_get(&colors, -1), "?");
}

static void test_table_unknown_name(void **state) {
        (void)state;
        int v = 42;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_names_find(&colors, "gren", &v, &err), -EINVAL);
        assert_int_equal(v, 42); /* untouched on failure */
        assert_string_equal(err->msg,
                            "expected one of red, green, blue, got \"gren\" (did you mean "
                            "\"green\"?)");
        nbx_error_free(err);
        err = NULL;
        assert_int_equal(nbx_names_find(&colors, "purple", &v, &err), -EINVAL);
        assert_string_equal(err->msg, "expected one of red, green, blue, got \"purple\"");
        nbx_error_free(err);
        err = NULL;
        assert_int_equal(nbx_names_find(&colors, NULL, &v, &err), -EINVAL);
        assert_string_equal(err->msg, "expected one of red, green, blue, got null");
}

static void test_table_with_a_gap(void **state) {
        (void)state;
        /* a value without a name is skipped, never dereferenced */
        static const char *const gappy_words[] = {[0] = "zero", [2] = "two"};
        static const nbx_names gappy = {gappy_words, NBX_ARRAY_SIZE(gappy_words)};
        int v = -1;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_names_find(&gappy, "two", &v, &err), 0);
        assert_int_equal(v, 2);
        assert_string_equal(nbx_names_get(&gappy, 1), "?");
        assert_int_equal(nbx_names_find(&gappy, "one", &v, &err), -EINVAL);
        assert_string_equal(err->msg, "expected one of zero, two, got \"one\"");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_edit_distance),    cmocka_unit_test(test_suggest),
                cmocka_unit_test(test_table_both_ways),  cmocka_unit_test(test_table_unknown_name),
                cmocka_unit_test(test_table_with_a_gap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
