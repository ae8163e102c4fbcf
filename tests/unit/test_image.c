/* Image manifests: image.json parsing, path resolution, errors that name file and field. */
#include "support/testutil.h"

#include <stdlib.h>
#include <string.h>

#include "config/base/fsutil.h"
#include "vm/image.h"

static int setup(void **state) {
        *state = nbx_test_tmpdir();
        return 0;
}

static int teardown(void **state) {
        nbx_test_rmdir(*state);
        return 0;
}

/* Load dir and expect failure; returns the message (owned by the caller). */
static char *load_fails(const char *dir, int exit_code) {
        nbx_image img = {0};
        nbx_error *err = NULL;
        assert_true(nbx_image_load(dir, &img, &err) < 0);
        assert_null(img.kernel);
        assert_non_null(err);
        assert_int_equal(err->exit_code, exit_code);
        char *msg = strdup(err->msg);
        nbx_error_free(err);
        return msg;
}

static void test_full_manifest(void **state) {
        const char *dir = *state;
        nbx_test_write(dir, "vmlinuz", "k");
        nbx_test_write(dir, "boot/initrd.img", "i");
        nbx_test_write(dir, "root.img", "d");
        nbx_test_write(dir, "image.json",
                       "{\"kernel\": \"vmlinuz\", \"initrd\": \"boot/initrd.img\", "
                       "\"cmdline\": \"console=ttyS0 quiet\", \"disk\": \"root.img\", "
                       "\"name\": \"nixbox-guest\", \"version\": 1}");
        nbx_image img = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_image_load(dir, &img, &err), 0);
        _cleanup_free_ char *real = realpath(dir, NULL);
        _cleanup_free_ char *k = nbx_path_join(real, "vmlinuz");
        _cleanup_free_ char *i = nbx_path_join(real, "boot/initrd.img");
        _cleanup_free_ char *d = nbx_path_join(real, "root.img");
        assert_string_equal(img.dir, real);
        assert_string_equal(img.kernel, k);
        assert_string_equal(img.initrd, i);
        assert_string_equal(img.disk, d);
        assert_string_equal(img.cmdline, "console=ttyS0 quiet");
        assert_string_equal(img.name, "nixbox-guest");
        nbx_image_done(&img);
        assert_null(img.kernel);
        nbx_image_done(&img); /* twice is fine */
}

static void test_minimal_manifest_and_absolute_paths(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *other = nbx_test_tmpdir();
        nbx_test_write(other, "bzImage", "k");
        _cleanup_free_ char *kernel = nbx_path_join(other, "bzImage");
        _cleanup_free_ char *json = NULL;
        assert_true(asprintf(&json, "{\"kernel\": \"%s\"}", kernel) > 0);
        nbx_test_write(dir, "image.json", json);

        nbx_image img = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_image_load(dir, &img, &err), 0);
        assert_string_equal(img.kernel, kernel);
        assert_null(img.initrd);
        assert_null(img.disk);
        assert_null(img.name);
        assert_string_equal(img.cmdline, "");
        nbx_image_done(&img);
        nbx_test_rmdir(TAKE_PTR(other));
}

static void test_missing_folder_and_manifest(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *nodir = nbx_path_join(dir, "nope");
        _cleanup_free_ char *m1 = load_fails(nodir, NBX_EXIT_CONFIG);
        assert_non_null(strstr(m1, "vm.image"));
        assert_non_null(strstr(m1, "nope"));

        _cleanup_free_ char *m2 = load_fails(dir, NBX_EXIT_CONFIG);
        assert_non_null(strstr(m2, "image.json"));
        assert_non_null(strstr(m2, "No such file"));
}

static void test_errors_name_file_and_field(void **state) {
        const char *dir = *state;
        nbx_test_write(dir, "vmlinuz", "k");
        static const struct {
                const char *json;
                const char *expect;
        } cases[] = {
                {"{}", "field \"kernel\" is missing"},
                {"{\"kernel\": 5}", "field \"kernel\" must be a string"},
                {"{\"kernel\": \"\"}", "field \"kernel\" is empty"},
                {"{\"kernel\": \"missing\"}", "field \"kernel\": "},
                {"{\"kernel\": \"vmlinuz\", \"initrd\": \"initrd.img\"}", "field \"initrd\": "},
                {"{\"kernel\": \"vmlinuz\", \"disk\": \".\"}", "is not a regular file"},
                {"{\"kernel\": \"vmlinuz\", \"cmdline\": [1]}",
                 "field \"cmdline\" must be a string"},
                {"{\"kernel\": \"vmlinuz\", \"name\": {}}", "field \"name\" must be a string"},
                {"{\"kernel\": \"vmlinuz\", \"version\": 2}", "field \"version\": expected 1"},
                {"{\"kernel\": \"vmlinuz\", \"kernel\": \"vmlinuz\"}", "invalid JSON"},
                {"[\"vmlinuz\"]", "expected a JSON object"},
                {"{\"kernel\": ", "invalid JSON"},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                nbx_test_write(dir, "image.json", cases[i].json);
                _cleanup_free_ char *msg = load_fails(dir, NBX_EXIT_CONFIG);
                if (!strstr(msg, cases[i].expect) || !strstr(msg, "image.json"))
                        fail_msg("%s: got \"%s\", want \"%s\"", cases[i].json, msg,
                                 cases[i].expect);
        }
}

static void test_cmdline_length_cap(void **state) {
        const char *dir = *state;
        nbx_test_write(dir, "vmlinuz", "k");
        size_t n = 5000;
        char *json = malloc(n + 64);
        assert_non_null(json);
        int off = sprintf(json, "{\"kernel\": \"vmlinuz\", \"cmdline\": \"");
        memset(json + off, 'a', n);
        strcpy(json + off + n, "\"}");
        nbx_test_write(dir, "image.json", json);
        free(json);
        _cleanup_free_ char *msg = load_fails(dir, NBX_EXIT_CONFIG);
        assert_non_null(strstr(msg, "field \"cmdline\" is longer than"));
}

static void test_shares(void **state) {
        const char *dir = *state;
        nbx_test_write(dir, "vmlinuz", "k");
        _cleanup_free_ char *json = NULL;
        assert_true(asprintf(&json,
                             "{\"kernel\": \"vmlinuz\", \"shares\": [{\"tag\": \"nixstore\", "
                             "\"source\": \"%s\", \"future\": 1}, {\"tag\": \"b_2-x\", "
                             "\"source\": \"/\"}]}",
                             dir) > 0);
        nbx_test_write(dir, "image.json", json);
        nbx_image img = {0};
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_image_load(dir, &img, &err), 0);
        assert_int_equal(img.n_shares, 2);
        assert_string_equal(img.shares[0].tag, "nixstore");
        assert_string_equal(img.shares[0].source, dir);
        assert_string_equal(img.shares[1].tag, "b_2-x");
        assert_string_equal(img.shares[1].source, "/");
        nbx_image_done(&img);
        assert_null(img.shares);

        nbx_test_write(dir, "image.json", "{\"kernel\": \"vmlinuz\", \"shares\": []}");
        assert_int_equal(nbx_image_load(dir, &img, &err), 0);
        assert_int_equal(img.n_shares, 0);
        nbx_image_done(&img);
}

static void test_share_errors(void **state) {
        const char *dir = *state;
        nbx_test_write(dir, "vmlinuz", "k");
        nbx_test_write(dir, "file", "f");
        static const struct {
                const char *shares;
                const char *expect;
        } cases[] = {
                {"{}", "field \"shares\" must be an array"},
                {"[1]", "shares[0]: expected an object"},
                {"[{\"source\": \"/\"}]", "shares[0]: "},
                {"[{\"tag\": \"t\"}]", "field \"source\" is missing"},
                {"[{\"tag\": \"nbxfs0\", \"source\": \"/\"}]", "not starting with nbxfs"},
                {"[{\"tag\": \"a b\", \"source\": \"/\"}]", "tag \"a b\""},
                {"[{\"tag\": \"0a\", \"source\": \"/\"}]", "tag \"0a\""},
                {"[{\"tag\": \"a23456789012345678901234\", \"source\": \"/\"}]",
                 "expected [A-Za-z]"},
                {"[{\"tag\": \"t\", \"source\": \"relative\"}]", "expected an absolute path"},
                {"[{\"tag\": \"t\", \"source\": \"/a,b\"}]", "without , ="},
                {"[{\"tag\": \"t\", \"source\": \"/nonexistent-nixbox\"}]",
                 "must be a folder of this host: No such file"},
                {"[{\"tag\": \"t\", \"source\": \"/\"}, {\"tag\": \"t\", \"source\": \"/\"}]",
                 "tag \"t\" appears twice"},
                {"[{\"tag\": \"a\", \"source\": \"/\"}, {\"tag\": \"b\", \"source\": \"/\"}, "
                 "{\"tag\": \"c\", \"source\": \"/\"}, {\"tag\": \"d\", \"source\": \"/\"}, "
                 "{\"tag\": \"e\", \"source\": \"/\"}]",
                 "at most 4 shares"},
        };
        for (size_t i = 0; i < NBX_ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *json = NULL;
                assert_true(asprintf(&json, "{\"kernel\": \"vmlinuz\", \"shares\": %s}",
                                     cases[i].shares) > 0);
                nbx_test_write(dir, "image.json", json);
                _cleanup_free_ char *msg = load_fails(dir, NBX_EXIT_CONFIG);
                if (!strstr(msg, cases[i].expect) || !strstr(msg, "image.json"))
                        fail_msg("%s: got \"%s\", want \"%s\"", cases[i].shares, msg,
                                 cases[i].expect);
        }
        /* a regular file is not a folder */
        _cleanup_free_ char *json = NULL;
        assert_true(asprintf(&json,
                             "{\"kernel\": \"vmlinuz\", \"shares\": [{\"tag\": \"t\", "
                             "\"source\": \"%s/file\"}]}",
                             dir) > 0);
        nbx_test_write(dir, "image.json", json);
        _cleanup_free_ char *msg = load_fails(dir, NBX_EXIT_CONFIG);
        assert_non_null(strstr(msg, "Not a directory"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_full_manifest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_minimal_manifest_and_absolute_paths, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_missing_folder_and_manifest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors_name_file_and_field, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cmdline_length_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shares, setup, teardown),
                cmocka_unit_test_setup_teardown(test_share_errors, setup, teardown),
        };
        return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
