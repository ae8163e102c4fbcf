/* The credentials archive is checked with the real tar(1) and the quoting with the real sh(1). */
#include "support/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "vm/creds.h"

/* Values a shell would mangle if quoting were wrong. */
static const char *const tricky[] = {
        "plain",
        "",
        "it's",
        "''",
        "a'b'c'",
        "$HOME `id` $(id) \\ \" ; & | < > * ? [ ] ~ # !",
        "line1\nline2\n",
        "  leading and trailing  ",
        "tab\there",
        "'; touch /tmp/nbx-pwned; '",
        "\\'",
};

/* sh -c 'printf %s VALUE_QUOTED' must print the value byte for byte. */
static void test_sh_quote_round_trips_through_sh(void **state) {
        (void)state;
        for (size_t i = 0; i < NBX_ARRAY_SIZE(tricky); i++) {
                char *q = nbx_sh_quote(tricky[i]);
                assert_non_null(q);
                char *script = NULL;
                assert_true(asprintf(&script, "printf .%%s %s", q) > 0);
                char *argv[] = {"sh", "-c", script, NULL};
                char *out = NULL;
                int status = 0;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_run_capture(argv, NULL, 0, &status, &out, NULL, &err), 0);
                assert_int_equal(nbx_status_code(status), 0);
                assert_int_equal(out[0], '.');
                assert_string_equal(out + 1, tricky[i]);
                free(out);
                free(script);
                free(q);
        }
}

static void test_sh_quote_shape(void **state) {
        (void)state;
        char *q = nbx_sh_quote("a'b");
        assert_string_equal(q, "'a'\\''b'");
        free(q);
        q = nbx_sh_quote("");
        assert_string_equal(q, "''");
        free(q);
}

static void test_env_render_sources_back(void **state) {
        (void)state;
        nbx_env_var env[NBX_ARRAY_SIZE(tricky)];
        char names[NBX_ARRAY_SIZE(tricky)][16];
        for (size_t i = 0; i < NBX_ARRAY_SIZE(tricky); i++) {
                snprintf(names[i], sizeof(names[i]), "V_%zu", i);
                env[i].name = names[i];
                env[i].value = (char *)tricky[i];
        }
        char *text = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_creds_env_render(env, NBX_ARRAY_SIZE(tricky), &text, &err), 0);
        assert_non_null(strstr(text, "export V_0='plain'\n"));
        assert_non_null(strstr(text, "export V_2='it'\\''s'\n"));

        char *dir = nbx_test_tmpdir();
        nbx_test_write(dir, "environment", text);
        for (size_t i = 0; i < NBX_ARRAY_SIZE(tricky); i++) {
                char *script = NULL;
                assert_true(asprintf(&script, ". ./environment && printf .%%s \"$V_%zu\"", i) > 0);
                char *argv[] = {"sh", "-c", script, NULL};
                nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
                o.cwd = dir;
                char *out = NULL;
                int status = 0;
                assert_int_equal(nbx_run_capture(argv, &o, 0, &status, &out, NULL, &err), 0);
                assert_int_equal(nbx_status_code(status), 0);
                assert_int_equal(out[0], '.');
                assert_string_equal(out + 1, tricky[i]);
                free(out);
                free(script);
        }
        assert_false(nbx_is_file("/tmp/nbx-pwned"));
        free(text);
        nbx_test_rmdir(dir);
}

static void test_env_render_rejects_bad_names(void **state) {
        (void)state;
        const char *bad[] = {"", "1A", "A-B", "A B", "A=B", "A;B", "$A"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(bad); i++) {
                nbx_env_var v = {.name = (char *)bad[i], .value = (char *)"x"};
                char *text = NULL;
                _cleanup_error_ nbx_error *err = NULL;
                assert_true(nbx_creds_env_render(&v, 1, &text, &err) < 0);
                assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
                assert_null(text);
        }
        nbx_env_var ok = {.name = (char *)"_a9", .value = (char *)"x"};
        char *text = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_creds_env_render(&ok, 1, &text, &err), 0);
        assert_string_equal(text, "export _a9='x'\n");
        free(text);
}

static char *slurp(const char *dir, const char *name) {
        char *path = nbx_path_join(dir, name);
        char *data = NULL;
        size_t len;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_read_file(path, 1 << 20, &data, &len, &err), 0);
        free(path);
        return data;
}

/* Extract archive into dir with the real tar; returns its combined output and "rc=N". */
static char *tar_run(const char *archive, const char *dir, const nbx_spawn_opts *o) {
        char *argv[] = {
                "sh",        "-c", "tar -xf \"$0\" -C \"$1\" 2>&1; echo rc=$?", (char *)archive,
                (char *)dir, NULL};
        char *out = NULL;
        int status = 0;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_run_capture(argv, o, 0, &status, &out, NULL, &err), 0);
        assert_int_equal(nbx_status_code(status), 0);
        return out;
}

/* The sealed memfd is read by the real tar through /proc/self/fd/N, as the hypervisor will. */
static void test_memfd_extracts_with_tar(void **state) {
        (void)state;
        nbx_env_var env[] = {{.name = (char *)"TOKEN", .value = (char *)"s3cr'et $x"},
                             {.name = (char *)"EMPTY", .value = (char *)""}};
        const nbx_creds_mount mounts[] = {
                {.type = "virtiofs", .source = "nbxfs0", .target = "/home/alice/my work"},
                {.type = "tmpfs",
                 .source = "tmpfs",
                 .target = "/home/alice/.cache",
                 .readonly = true}};
        nbx_creds c = {.user = "alice",
                       .uid = 1000,
                       .gid = 100,
                       .hostname = "dev",
                       .authorized_keys = "ssh-ed25519 AAAAkey alice@host\n",
                       .host_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nxyz\n"
                                   "-----END OPENSSH PRIVATE KEY-----\n",
                       .env = env,
                       .n_env = 2,
                       .identity = "-----BEGIN OPENSSH PRIVATE KEY-----\nid\n"
                                   "-----END OPENSSH PRIVATE KEY-----\n",
                       .identity_pub = "ssh-ed25519 AAAAid nixbox@dev\n",
                       .mounts = mounts,
                       .n_mounts = 2};
        int fd = -1;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_creds_memfd(&c, &fd, &err), 0);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size % 512, 0);
        /* sealed: neither writes nor resizing are possible any more */
        assert_true(pwrite(fd, "x", 1, 0) < 0);
        assert_true(ftruncate(fd, 0) < 0);
        int seals = fcntl(fd, F_GET_SEALS);
        assert_true(seals & F_SEAL_WRITE);
        assert_true(seals & F_SEAL_SEAL);

        char *dir = nbx_test_tmpdir();
        char src[64];
        snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        o.keep_fds = &fd;
        o.n_keep_fds = 1;
        char *out = tar_run(src, dir, &o);
        assert_string_equal(out, "rc=0\n"); /* no checksum or format complaints */
        free(out);
        int status = 0;

        char *meta = slurp(dir, "meta");
        assert_string_equal(meta, "user=alice\nuid=1000\ngid=100\nhostname=dev\n");
        char *keys = slurp(dir, "authorized_keys");
        assert_string_equal(keys, c.authorized_keys);
        char *hk = slurp(dir, "ssh_host_ed25519_key");
        assert_string_equal(hk, c.host_key);
        char *envf = slurp(dir, "environment");
        assert_string_equal(envf, "export TOKEN='s3cr'\\''et $x'\nexport EMPTY=''\n");
        char *p = nbx_path_join(dir, "ssh_host_ed25519_key");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        free(p);

        char *mf = slurp(dir, "mounts");
        assert_string_equal(mf, "virtiofs\tnbxfs0\t/home/alice/my work\trw\n"
                                "tmpfs\ttmpfs\t/home/alice/.cache\tro\n");
        free(mf);
        char *id = slurp(dir, "identity");
        assert_string_equal(id, c.identity);
        free(id);
        p = nbx_path_join(dir, "identity");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        free(p);

        /* tar lists exactly the members, in order */
        char *argv2[] = {"tar", "-tf", src, NULL};
        assert_int_equal(nbx_run_capture(argv2, &o, 0, &status, &out, NULL, &err), 0);
        assert_string_equal(out, "meta\nauthorized_keys\nssh_host_ed25519_key\nenvironment\n"
                                 "mounts\nidentity\nidentity.pub\n");
        free(out);

        free(meta);
        free(keys);
        free(hk);
        free(envf);
        close(fd);
        nbx_test_rmdir(dir);
}

static void test_ustar_large_member_and_names(void **state) {
        (void)state;
        nbx_ustar t = {0};
        _cleanup_error_ nbx_error *err = NULL;
        size_t big = 70000; /* several blocks, size field > 6 octal digits of small files */
        char *data = malloc(big);
        for (size_t i = 0; i < big; i++)
                data[i] = (char)('a' + i % 26);
        assert_int_equal(nbx_ustar_add(&t, "big", 0600, data, big, &err), 0);
        assert_int_equal(nbx_ustar_add(&t, "empty", 0644, "", 0, &err), 0);
        assert_true(nbx_ustar_add(&t, "../evil", 0600, "x", 1, &err) < 0);
        nbx_error_free(err), err = NULL;
        assert_true(nbx_ustar_add(&t, "/abs", 0600, "x", 1, &err) < 0);
        nbx_error_free(err), err = NULL;
        assert_int_equal(nbx_ustar_finish(&t, &err), 0);
        assert_int_equal(t.len % 10240, 0);

        char *dir = nbx_test_tmpdir();
        char *tarpath = nbx_path_join(dir, "a.tar");
        assert_int_equal(nbx_write_file(tarpath, t.data, t.len, 0600, &err), 0);
        char *out = tar_run(tarpath, dir, NULL);
        assert_string_equal(out, "rc=0\n");
        char *path = nbx_path_join(dir, "big");
        char *back = NULL;
        size_t len = 0;
        assert_int_equal(nbx_read_file(path, 1 << 20, &back, &len, &err), 0);
        assert_int_equal(len, big);
        assert_memory_equal(back, data, big);
        free(back);
        free(path);
        free(out);
        free(tarpath);
        free(data);
        nbx_ustar_done(&t);
        nbx_test_rmdir(dir);
}

/* Targets the guest would misread are refused before anything is built. */
static void test_mounts_render_refuses_bad_targets(void **state) {
        (void)state;
        static const char *const bad[] = {"relative/x", "/a/../etc",  "/..", "/a\tb",
                                          "/a\nb",      "/a\x1b[31m", ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                nbx_creds_mount m = {.type = "virtiofs", .source = "nbxfs0", .target = bad[i]};
                char *out = NULL;
                _cleanup_error_ nbx_error *err = NULL;
                assert_int_equal(nbx_creds_mounts_render(&m, 1, &out, &err), -EINVAL);
                assert_null(out);
        }
        nbx_creds_mount weird = {
                .type = "virtiofs", .source = "nbxfs1", .target = "/a..b/$(x) 'q'"};
        char *out = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_creds_mounts_render(&weird, 1, &out, &err), 0);
        assert_string_equal(out, "virtiofs\tnbxfs1\t/a..b/$(x) 'q'\trw\n");
        free(out);
        nbx_creds_mount type = {.type = "9p", .source = "x", .target = "/x"};
        assert_int_equal(nbx_creds_mounts_render(&type, 1, &out, &err), -EINVAL);
}

/* Parents first: a RAM folder listed before the share it sits in is still mounted after it (the
 * share would hide it otherwise); mounts of equal depth keep their order. */
static void test_mounts_render_parents_first(void **state) {
        (void)state;
        const nbx_creds_mount m[] = {
                {.type = "tmpfs", .source = "tmpfs", .target = "/home/u/.claude/todos"},
                {.type = "virtiofs", .source = "nbxfs0", .target = "/home/u/workspace"},
                {.type = "virtiofs", .source = "nbxfs1", .target = "/home/u/.claude"},
                {.type = "virtiofs", .source = "nbxfs2", .target = "/data", .readonly = true},
                {.type = "tmpfs", .source = "tmpfs", .target = "/home/u/workspace/build/cache"},
        };
        char *out = NULL;
        _cleanup_error_ nbx_error *err = NULL;
        assert_int_equal(nbx_creds_mounts_render(m, NBX_ARRAY_SIZE(m), &out, &err), 0);
        assert_string_equal(out, "virtiofs\tnbxfs2\t/data\tro\n"
                                 "virtiofs\tnbxfs0\t/home/u/workspace\trw\n"
                                 "virtiofs\tnbxfs1\t/home/u/.claude\trw\n"
                                 "tmpfs\ttmpfs\t/home/u/.claude/todos\trw\n"
                                 "tmpfs\ttmpfs\t/home/u/workspace/build/cache\trw\n");
        free(out);
        nbx_creds_mount many[NBX_CREDS_MAX_MOUNTS + 1];
        for (size_t i = 0; i < NBX_ARRAY_SIZE(many); i++)
                many[i] = (nbx_creds_mount){.type = "tmpfs", .source = "tmpfs", .target = "/t"};
        nbx_error *e2 = NULL;
        assert_int_equal(nbx_creds_mounts_render(many, NBX_ARRAY_SIZE(many), &out, &e2), -E2BIG);
        nbx_error_free(e2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sh_quote_shape),
                cmocka_unit_test(test_sh_quote_round_trips_through_sh),
                cmocka_unit_test(test_env_render_sources_back),
                cmocka_unit_test(test_env_render_rejects_bad_names),
                cmocka_unit_test(test_memfd_extracts_with_tar),
                cmocka_unit_test(test_mounts_render_refuses_bad_targets),
                cmocka_unit_test(test_mounts_render_parents_first),
                cmocka_unit_test(test_ustar_large_member_and_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
