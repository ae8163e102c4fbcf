/* vm/guest_inputs.c: guest.json (compared with tests/nix/fixtures/guest.json, which the Nix side
 * reads in `make check-nix`), the staged build folder, and the cache key over it. */
#include "support/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "vm/guest_inputs.h"

#define FIXTURE "tests/nix/fixtures/guest.json"

typedef struct fx {
        char *dir;
        nbx_config cfg;
} fx;

static void push_all(nbx_strv *v, const char *const *items) {
        for (; *items; items++)
                assert_int_equal(nbx_strv_push(v, *items), 0);
}

/* The config the fixture describes: two plugins, three packages, one library. */
static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        f->dir = nbx_test_tmpdir();
        static nbx_plugin plugins[] = {{.origin = "aws", .builtin = true},
                                       {.origin = "claude-code", .builtin = true}};
        f->cfg.plugins = plugins;
        f->cfg.n_plugins = 2;
        push_all(&f->cfg.nix_packages,
                 (const char *const[]){"awscli2", "claude-code", "python3Packages.requests", NULL});
        push_all(&f->cfg.nix_ld_libraries, (const char *const[]){"zlib", NULL});
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;
        nbx_strv_clear(&f->cfg.nix_packages);
        nbx_strv_clear(&f->cfg.nix_ld_libraries);
        nbx_strv_clear(&f->cfg.domains);
        nbx_test_rmdir(f->dir);
        free(f);
        return 0;
}

static char *slurp(const char *path) {
        char *data = NULL;
        nbx_error *err = NULL;
        if (nbx_read_file(path, 1 << 20, &data, NULL, &err) < 0)
                fail_msg("%s", err->msg);
        return data;
}

static char *json_of(const nbx_config *c) {
        char *s = NULL;
        nbx_error *err = NULL;
        if (nbx_guest_inputs_json(c, "x86_64-linux", &s, &err) < 0)
                fail_msg("%s", err->msg);
        return s;
}

static void test_guest_json_is_what_the_nix_side_reads(void **state) {
        fx *f = *state;
        _cleanup_free_ char *got = json_of(&f->cfg);
        _cleanup_free_ char *want = slurp(FIXTURE);
        assert_string_equal(got, want);
}

/* Only what changes the image: network, env, mounts, resources and the name do not. */
static void test_guest_json_ignores_runtime_settings(void **state) {
        fx *f = *state;
        _cleanup_free_ char *before = json_of(&f->cfg);
        nbx_config *c = &f->cfg;
        c->name = "other";
        c->vcpus = 7;
        c->memory_mb = 12345;
        c->net_mode = NBX_NET_OFF;
        assert_int_equal(nbx_strv_push(&c->domains, "example.com"), 0);
        nbx_env_var env = {.name = "TOKEN", .value = "secret"};
        c->env = &env;
        c->n_env = 1;
        c->image = "/somewhere";
        _cleanup_free_ char *after = json_of(c);
        c->env = NULL;
        c->n_env = 0;
        assert_string_equal(before, after);
        assert_null(strstr(after, "secret"));
}

/* A path plugin appears as written in config.nix, not as an absolute path: the same project in
 * another folder gets the same image. */
static void test_guest_json_names_path_plugins_relatively(void **state) {
        fx *f = *state;
        nbx_config c = {0};
        nbx_plugin tools = {.origin = "./tools",
                            .file = "/home/me/p/.nixbox/tools/default.nix",
                            .dir = "/home/me/p/.nixbox/tools"};
        c.plugins = &tools;
        c.n_plugins = 1;
        _cleanup_free_ char *s = json_of(&c);
        assert_non_null(strstr(s, "\"./tools\""));
        assert_null(strstr(s, "/home/me"));
        assert_non_null(strstr(s, "\"packages\": []"));
        (void)f;
}

static void test_lock_path_is_in_the_project_folder(void **state) {
        (void)state;
        nbx_project p;
        nbx_error *err = NULL;
        assert_int_equal(nbx_project_at("/work/proj", &p, &err), 0);
        _cleanup_free_ char *path = NULL;
        assert_int_equal(nbx_guest_inputs_lock_path(&p, &path, &err), 0);
        assert_string_equal(path, "/work/proj/.nixbox/flake.lock");
        nbx_project_done(&p);
}

static void test_system_is_this_machines(void **state) {
        (void)state;
        struct utsname u;
        assert_int_equal(uname(&u), 0);
        const char *s = nbx_guest_inputs_system();
        if (strcmp(u.machine, "x86_64") == 0)
                assert_string_equal(s, "x86_64-linux");
        else if (strcmp(u.machine, "aarch64") == 0)
                assert_string_equal(s, "aarch64-linux");
        else
                assert_null(s);
}

static char *stage(const fx *f, const char *name, const char *nix_dir, const char *json,
                   const char *lock) {
        char *dir = nbx_path_join(f->dir, name);
        assert_int_equal(mkdir(dir, 0700), 0);
        nbx_error *err = NULL;
        if (nbx_guest_inputs_stage(dir, nix_dir, json, lock, lock ? strlen(lock) : 0, &err) < 0)
                fail_msg("%s", err->msg);
        return dir;
}

static void key_of(const char *dir, char key[NBX_SHA256_HEX]) {
        nbx_error *err = NULL;
        if (nbx_guest_inputs_key(dir, key, &err) < 0)
                fail_msg("%s", err->msg);
        assert_int_equal(strlen(key), NBX_SHA256_HEX - 1);
}

static void assert_same_file(const char *a, const char *b) {
        _cleanup_free_ char *x = slurp(a), *y = slurp(b);
        assert_string_equal(x, y);
}

static void test_stage_layout(void **state) {
        fx *f = *state;
        _cleanup_free_ char *d = stage(f, "s", "nix", "{}\n", "{\"lock\":1}\n");
        char path[4096];
        snprintf(path, sizeof(path), "%s/flake.nix", d);
        assert_same_file(path, "nix/build/flake.nix");
        snprintf(path, sizeof(path), "%s/nix/guest/nixbox-guest.sh", d);
        assert_same_file(path, "nix/guest/nixbox-guest.sh");
        snprintf(path, sizeof(path), "%s/nix/builder.nix", d);
        assert_same_file(path, "nix/builder.nix");
        snprintf(path, sizeof(path), "%s/guest.json", d);
        _cleanup_free_ char *json = slurp(path);
        assert_string_equal(json, "{}\n");
        snprintf(path, sizeof(path), "%s/flake.lock", d);
        _cleanup_free_ char *lock = slurp(path);
        assert_string_equal(lock, "{\"lock\":1}\n");

        _cleanup_free_ char *unpinned = stage(f, "u", "nix", "{}\n", NULL);
        snprintf(path, sizeof(path), "%s/flake.lock", unpinned);
        assert_false(nbx_is_file(path));
}

/* Copy the repository's nix/ to dir, for variants. */
static char *nix_copy(const fx *f, const char *name) {
        char *dir = nbx_path_join(f->dir, name);
        assert_int_equal(mkdir(dir, 0700), 0);
        char *cmd = NULL;
        assert_true(asprintf(&cmd, "cp -R nix/. '%s'", dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        return dir;
}

static void test_key_covers_every_input_and_nothing_else(void **state) {
        fx *f = *state;
        char base[NBX_SHA256_HEX], k[NBX_SHA256_HEX];
        _cleanup_free_ char *a = stage(f, "a", "nix", "{\"p\":1}\n", "L1");
        key_of(a, base);

        _cleanup_free_ char *same = stage(f, "same", "nix", "{\"p\":1}\n", "L1");
        key_of(same, k);
        assert_string_equal(k, base); /* the stage's own name does not count */

        _cleanup_free_ char *json = stage(f, "json", "nix", "{\"p\":2}\n", "L1");
        key_of(json, k);
        assert_string_not_equal(k, base);

        _cleanup_free_ char *lock = stage(f, "lock", "nix", "{\"p\":1}\n", "L2");
        key_of(lock, k);
        assert_string_not_equal(k, base);

        _cleanup_free_ char *nolock = stage(f, "nolock", "nix", "{\"p\":1}\n", NULL);
        key_of(nolock, k);
        assert_string_not_equal(k, base);

        /* one byte in one of nixbox's Nix files */
        _cleanup_free_ char *edited = nix_copy(f, "nix-edited");
        char path[4096];
        snprintf(path, sizeof(path), "%s/guest/kernel.nix", edited);
        FILE *fp = fopen(path, "a");
        assert_non_null(fp);
        fputs(" ", fp);
        fclose(fp);
        _cleanup_free_ char *e = stage(f, "e", edited, "{\"p\":1}\n", "L1");
        key_of(e, k);
        assert_string_not_equal(k, base);

        /* the same bytes under another name */
        _cleanup_free_ char *renamed = nix_copy(f, "nix-renamed");
        char from[4096], to[4096];
        snprintf(from, sizeof(from), "%s/guest/kernel.nix", renamed);
        snprintf(to, sizeof(to), "%s/guest/kernel2.nix", renamed);
        assert_int_equal(rename(from, to), 0);
        _cleanup_free_ char *r = stage(f, "r", renamed, "{\"p\":1}\n", "L1");
        key_of(r, k);
        assert_string_not_equal(k, base);
}

static void test_stage_refuses_a_symlink_in_the_nix_files(void **state) {
        fx *f = *state;
        _cleanup_free_ char *nix = nix_copy(f, "nix-link");
        char link[4096];
        snprintf(link, sizeof(link), "%s/guest/leak.nix", nix);
        assert_int_equal(symlink("/etc/passwd", link), 0);
        _cleanup_free_ char *dir = nbx_path_join(f->dir, "st");
        assert_int_equal(mkdir(dir, 0700), 0);
        nbx_error *err = NULL;
        assert_true(nbx_guest_inputs_stage(dir, nix, "{}", NULL, 0, &err) < 0);
        assert_non_null(strstr(err->msg, "leak.nix: not a regular file or folder"));
        nbx_error_free(err);
}

static void test_stage_without_build_flake_is_a_broken_installation(void **state) {
        fx *f = *state;
        _cleanup_free_ char *nix = nix_copy(f, "nix-noflake");
        char path[4096];
        snprintf(path, sizeof(path), "%s/build/flake.nix", nix);
        assert_int_equal(unlink(path), 0);
        _cleanup_free_ char *dir = nbx_path_join(f->dir, "st2");
        assert_int_equal(mkdir(dir, 0700), 0);
        nbx_error *err = NULL;
        assert_true(nbx_guest_inputs_stage(dir, nix, "{}", NULL, 0, &err) < 0);
        assert_non_null(strstr(err->msg, "broken installation"));
        nbx_error_free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_guest_json_is_what_the_nix_side_reads, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_guest_json_ignores_runtime_settings, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_guest_json_names_path_plugins_relatively,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock_path_is_in_the_project_folder, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_system_is_this_machines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stage_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_key_covers_every_input_and_nothing_else, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_stage_refuses_a_symlink_in_the_nix_files,
                                                setup, teardown),
                cmocka_unit_test_setup_teardown(
                        test_stage_without_build_flake_is_a_broken_installation, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
