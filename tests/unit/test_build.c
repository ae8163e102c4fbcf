/* vm/build.c and `nixbox build` / `nixbox update`, with a STAND-IN `nix` (tests/vm/standin-nix)
 * first on PATH: the real Nix cannot build a NixOS guest here (nixpkgs cannot be fetched).  The
 * stand-in records every call (arguments, uid, HOME, the staged files) and writes an image
 * folder; these tests check the argv nixbox gives Nix, that Nix's progress reaches the user, the
 * cache (hit, miss, -f, update), the manifest read back, and the exit-6 messages. */
#include "support/testutil.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/proc.h"
#include "vm/build.h"

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct fx {
        char *dir;
        char *bin;   /* holds `nix` → the stand-in */
        char *proj;  /* a project with .nixbox/config.nix */
        char *cache; /* XDG_CACHE_HOME */
        char *guests;
        char *log;
        char *store;
        char *lock;
        char path_env[8192];
} fx;

static char *join(const char *a, const char *b) {
        char *s = nbx_path_join(a, b);
        assert_non_null(s);
        return s;
}

static void write_config(const fx *f, const char *body) {
        nbx_test_write(f->proj, ".nixbox/config.nix", body);
}

static int setup(void **state) {
        fx *f = calloc(1, sizeof(*f));
        f->dir = nbx_test_tmpdir();
        f->bin = join(f->dir, "bin");
        f->proj = join(f->dir, "proj");
        f->cache = join(f->dir, "cache");
        f->guests = join(f->cache, "nixbox/guests");
        f->log = join(f->dir, "nix.log");
        f->store = join(f->dir, "store");
        f->lock = join(f->proj, ".nixbox/flake.lock");
        assert_int_equal(mkdir(f->bin, 0755), 0);
        char cwd[4096], standin[4200], nix[4200];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        snprintf(standin, sizeof(standin), "%s/tests/vm/standin-nix", cwd);
        snprintf(nix, sizeof(nix), "%s/nix", f->bin);
        assert_int_equal(symlink(standin, nix), 0);
        snprintf(f->path_env, sizeof(f->path_env), "PATH=%s:%s", f->bin, getenv("PATH"));
        write_config(f, "{ plugins = [ \"aws\" ]; nix.packages = [ \"git\" ]; }\n");
        *state = f;
        return 0;
}

static int teardown(void **state) {
        fx *f = *state;
        nbx_test_rmdir(f->dir);
        free(f->bin);
        free(f->proj);
        free(f->cache);
        free(f->guests);
        free(f->log);
        free(f->store);
        free(f->lock);
        free(f);
        return 0;
}

static char *slurp(const char *path) {
        char *data = NULL;
        if (nbx_read_file(path, 1 << 20, &data, NULL, NULL) < 0)
                return NULL;
        return data;
}

/* Run nixbox -C proj ARGS with the stand-in (and extra environment); the stand-in's log starts
 * empty. */
static int nixbox(const fx *f, nbx_test_result *r, const char *const *args,
                  const char *const *extra) {
        (void)unlink(f->log);
        char home[4200], xdg[4200], log[4200], store[4200];
        snprintf(home, sizeof(home), "HOME=%s", f->dir);
        snprintf(xdg, sizeof(xdg), "XDG_CACHE_HOME=%s", f->cache);
        snprintf(log, sizeof(log), "STANDIN_LOG=%s", f->log);
        snprintf(store, sizeof(store), "STANDIN_STORE=%s", f->store);
        const char *env[16] = {home, xdg, log, store, "NO_COLOR=1"};
        size_t n = 5;
        bool own_path = false;
        for (size_t i = 0; extra && extra[i] && n < 14; i++) {
                env[n++] = extra[i];
                own_path |= strncmp(extra[i], "PATH=", 5) == 0;
        }
        if (!own_path)
                env[n++] = f->path_env;
        env[n] = NULL;
        /* build and update act only on an approved .nixbox/: the tests approve what they wrote,
         * as a user would after editing */
        if (strcmp(args[0], "build") == 0 || strcmp(args[0], "update") == 0) {
                const char *allow[] = {"-C", f->proj, "allow", NULL};
                nbx_test_result ar;
                int code = nbx_test_nixbox(&ar, allow, env);
                if (code != 0)
                        fail_msg("nixbox allow: %s", ar.err);
                nbx_test_result_done(&ar);
        }
        const char *argv[16] = {"-C", f->proj};
        size_t a = 2;
        for (size_t i = 0; args[i] && a < 15; i++)
                argv[a++] = args[i];
        argv[a] = NULL;
        return nbx_test_nixbox(r, argv, env);
}

/* The stand-in's log ("" when Nix was never called). */
static char *nix_log(const fx *f) {
        char *s = slurp(f->log);
        return s ? s : strdup("");
}

/* The key in "Guest image built: <guests>/<key>/result". */
static void key_from(const fx *f, const char *out, char key[NBX_SHA256_HEX]) {
        const char *p = strstr(out, f->guests);
        assert_non_null(p);
        p += strlen(f->guests) + 1;
        assert_true(strlen(p) > NBX_SHA256_HEX);
        memcpy(key, p, NBX_SHA256_HEX - 1);
        key[NBX_SHA256_HEX - 1] = '\0';
        assert_int_equal(strncmp(p + NBX_SHA256_HEX - 1, "/result\n", 8), 0);
}

static void assert_contains(const char *hay, const char *needle) {
        if (!strstr(hay, needle))
                fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

static void assert_no_stage_left(const fx *f) {
        char cmd[4400];
        snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' 2>/dev/null | grep '^\\.stage-')\"",
                 f->guests);
        assert_int_equal(system(cmd), 0);
}

static void test_first_build_pins_nixpkgs_and_builds(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        char key[NBX_SHA256_HEX];
        key_from(f, r.out, key);
        _cleanup_free_ char *log = nix_log(f);

        /* the argv nixbox gives Nix, in order: version, lock + fetch, build */
        const char *s = strstr(log, "| path:");
        assert_non_null(s);
        _cleanup_free_ char *stage = strndup(s + 7, strcspn(s + 7, "\n"));
        _cleanup_free_ char *want = NULL;
        assert_int_equal(strncmp(stage, f->guests, strlen(f->guests)), 0);
        assert_int_equal(strncmp(stage + strlen(f->guests), "/.stage-", 8), 0);
        assert_true(
                asprintf(
                        &want,
                        "--version\nuid=%u home=%s\n"
                        "--extra-experimental-features | nix-command flakes | flake | archive | "
                        "--json | "
                        "path:%s\nuid=%u home=%s\nlock: none\n"
                        "--extra-experimental-features | nix-command flakes | build | --out-link | "
                        "%s/%s/result | path:%s#packages.x86_64-linux.nixbox-guest\nuid=%u "
                        "home=%s\n",
                        (unsigned)getuid(), f->dir, stage, (unsigned)getuid(), f->dir, f->guests,
                        key, stage, (unsigned)getuid(), f->dir) > 0);
        if (strncmp(log, want, strlen(want)) != 0)
                fail_msg("Nix was called with:\n%s\nexpected:\n%s", log, want);
        /* what was staged: the flake, guest.json, nixbox's Nix files, the new lock */
        for (const char *const *p =
                     (const char *const[]){"staged: flake.lock\n", "staged: flake.nix\n",
                                           "staged: guest.json\n", "staged: nix/build/flake.nix\n",
                                           "staged: nix/builder.nix\n",
                                           "staged: nix/settings.nix\n",
                                           "staged: nix/guest/nixbox-guest.sh\n", NULL};
             *p; p++)
                assert_contains(log, *p);

        /* Nix's progress reached the user, after nixbox's own steps */
        assert_contains(r.err, "==> Pinning nixpkgs (flake.lock)");
        assert_contains(r.err, "building '/nix/store/00000000000000000000000000000000-nixbox-guest-"
                               "image.drv'...");
        assert_contains(r.out, "Guest image built: ");
        assert_contains(r.out, "nixpkgs is pinned in .nixbox/flake.lock");

        /* the lock Nix wrote is the project's now; the cache keeps the image and its source */
        _cleanup_free_ char *lock = slurp(f->lock);
        assert_string_equal(lock, "{\"nodes\":{\"nixpkgs\":{\"locked\":{\"rev\":\"rev1\"}}},"
                                  "\"version\":7}\n");
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s/result/image.json", f->guests, key);
        assert_true(nbx_is_file(path));
        snprintf(path, sizeof(path), "%s/%s/source/guest.json", f->guests, key);
        _cleanup_free_ char *json = slurp(path);
        assert_non_null(json);
        assert_contains(json, "\"packages\": [\n    \"awscli2\",\n    \"git\"\n  ]");
        assert_contains(json, "\"plugins\": [\n    \"aws\"\n  ]");
        snprintf(path, sizeof(path), "%s/%s/source/flake.lock", f->guests, key);
        assert_true(nbx_is_file(path));
        assert_no_stage_left(f);
        nbx_test_result_done(&r);
}

static void test_unchanged_project_builds_nothing(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        char first[NBX_SHA256_HEX], again[NBX_SHA256_HEX];
        key_from(f, r.out, first);
        nbx_test_result_done(&r);

        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        key_from(f, r.out, again);
        assert_string_equal(first, again);
        assert_contains(r.out, "Guest image up to date: ");
        assert_null(strstr(r.out, "pinned"));
        _cleanup_free_ char *log = nix_log(f);
        assert_string_equal(log, ""); /* pinned and cached: Nix is not even asked */
        assert_no_stage_left(f);
        nbx_test_result_done(&r);

        /* a change that does not reach the image: still nothing to do */
        write_config(f, "{ plugins = [ \"aws\" ]; nix.packages = [ \"git\" ]; network.domains = "
                        "[ \"example.com\" ]; resources.vcpus = 1; }\n");
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        key_from(f, r.out, again);
        assert_string_equal(first, again);
        _cleanup_free_ char *log2 = nix_log(f);
        assert_string_equal(log2, "");
        nbx_test_result_done(&r);
}

static void test_force_builds_again(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        char first[NBX_SHA256_HEX], again[NBX_SHA256_HEX];
        key_from(f, r.out, first);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(f, &r, ARGS("build", "-f"), NULL), 0);
        key_from(f, r.out, again);
        assert_string_equal(first, again);
        assert_contains(r.out, "Guest image built: ");
        _cleanup_free_ char *log = nix_log(f);
        assert_contains(log, "| build | --out-link |");
        assert_contains(log, "lock: {\"nodes\""); /* the pin is kept */
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(f, &r, ARGS("build", "--bogus"), NULL), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
}

static void test_new_package_builds_a_new_image(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        char first[NBX_SHA256_HEX], second[NBX_SHA256_HEX];
        key_from(f, r.out, first);
        nbx_test_result_done(&r);
        write_config(f, "{ plugins = [ \"aws\" ]; nix.packages = [ \"git\" \"jq\" ]; }\n");
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        key_from(f, r.out, second);
        assert_string_not_equal(first, second);
        assert_contains(r.out, "Guest image built: ");
        _cleanup_free_ char *log = nix_log(f);
        assert_contains(log, "| build | --out-link |");
        nbx_test_result_done(&r);
}

static void test_update_repins_and_rebuilds_only_when_the_pin_moves(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        char first[NBX_SHA256_HEX], second[NBX_SHA256_HEX], third[NBX_SHA256_HEX];
        key_from(f, r.out, first);
        nbx_test_result_done(&r);

        assert_int_equal(nixbox(f, &r, ARGS("update"), ARGS("STANDIN_NIXPKGS_REV=rev2")), 0);
        key_from(f, r.out, second);
        assert_string_not_equal(first, second);
        _cleanup_free_ char *log = nix_log(f);
        assert_contains(log, "lock: none\n"); /* the old pin was not handed to Nix */
        assert_contains(log, "| build | --out-link |");
        assert_contains(r.err, "==> Updating the pinned nixpkgs");
        assert_contains(r.out, "Guest image built: ");
        assert_contains(r.out, "nixpkgs is pinned");
        _cleanup_free_ char *lock = slurp(f->lock);
        assert_contains(lock, "\"rev2\"");
        nbx_test_result_done(&r);

        /* nixpkgs did not move: Nix locks again, but nothing is built or rewritten */
        assert_int_equal(nixbox(f, &r, ARGS("update"), ARGS("STANDIN_NIXPKGS_REV=rev2")), 0);
        key_from(f, r.out, third);
        assert_string_equal(second, third);
        _cleanup_free_ char *log2 = nix_log(f);
        assert_contains(log2, "| flake | archive |");
        assert_null(strstr(log2, "| build |"));
        assert_contains(r.out, "Guest image up to date: ");
        assert_null(strstr(r.out, "pinned"));
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(f, &r, ARGS("update", "x"), NULL), NBX_EXIT_USAGE);
        nbx_test_result_done(&r);
}

/* A failure changes nothing: no lock, no cache entry, no staged folder left. */
static void assert_nothing_written(const fx *f) {
        assert_false(nbx_is_file(f->lock));
        char cmd[4400];
        snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' 2>/dev/null)\"", f->guests);
        assert_int_equal(system(cmd), 0);
}

static void test_without_nix_exit_6(void **state) {
        fx *f = *state;
        /* a PATH with nix-instantiate (for the config) but no nix */
        _cleanup_free_ char *only = join(f->dir, "only");
        _cleanup_free_ char *ni = nbx_find_program("nix-instantiate");
        assert_non_null(ni);
        _cleanup_free_ char *link = join(only, "nix-instantiate");
        assert_int_equal(mkdir(only, 0755), 0);
        assert_int_equal(symlink(ni, link), 0);
        char path[4200];
        snprintf(path, sizeof(path), "PATH=%s", only);
        nbx_test_result r;
        if (nixbox(f, &r, ARGS("build"), ARGS(path)) != NBX_EXIT_PREREQ)
                fail_msg("exit %d: %s", r.code, r.err);
        assert_contains(r.err, "building the guest needs Nix, and `nix` is not in PATH: install "
                               "Nix 2.4 or newer");
        assert_contains(r.err, "or set vm.image");
        assert_string_equal(r.out, "");
        assert_nothing_written(f);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(f, &r, ARGS("update"), ARGS(path)), NBX_EXIT_PREREQ);
        assert_contains(r.err, "`nix` is not in PATH");
        nbx_test_result_done(&r);
}

static void test_nix_without_flakes_exit_6(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), ARGS("STANDIN_NIX_VERSION=2.3.16")),
                         NBX_EXIT_PREREQ);
        assert_contains(r.err, "Nix 2.3.16 has no flakes, which building the guest needs: install "
                               "Nix 2.4 or newer");
        assert_nothing_written(f);
        nbx_test_result_done(&r);

        assert_int_equal(nixbox(f, &r, ARGS("build"), ARGS("STANDIN_FAIL=no-flakes")),
                         NBX_EXIT_PREREQ);
        assert_contains(r.err, "your Nix refuses flakes, which building the guest needs (error: "
                               "experimental Nix feature 'flakes' is disabled");
        assert_contains(r.err, "experimental-features = nix-command flakes");
        assert_nothing_written(f);
        nbx_test_result_done(&r);
}

static void test_unreachable_nixpkgs_exit_6(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), ARGS("STANDIN_FAIL=offline")),
                         NBX_EXIT_PREREQ);
        assert_contains(r.err, "nixpkgs (github:NixOS/nixpkgs");
        assert_contains(r.err, "cannot be fetched (error: unable to download "
                               "'https://api.github.com/repos/NixOS/nixpkgs/commits/nixos-26.05': "
                               "Couldn't resolve host name (6))");
        assert_contains(r.err, "check the network and proxy settings");
        assert_nothing_written(f);
        nbx_test_result_done(&r);
        assert_int_equal(nixbox(f, &r, ARGS("update"), ARGS("STANDIN_FAIL=offline")),
                         NBX_EXIT_PREREQ);
        assert_contains(r.err, "cannot be fetched");
        nbx_test_result_done(&r);
}

static void test_broken_lock_says_update(void **state) {
        fx *f = *state;
        nbx_test_write(f->proj, ".nixbox/flake.lock", "x");
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), ARGS("STANDIN_FAIL=bad-lock")),
                         NBX_EXIT_FAILURE);
        assert_contains(r.err, "Nix could not lock or fetch the guest's inputs: error: "
                               "[json.exception.parse_error.101]");
        assert_contains(r.err, "`nixbox update` makes a new one");
        _cleanup_free_ char *lock = slurp(f->lock);
        assert_string_equal(lock, "x");
        nbx_test_result_done(&r);
}

static void test_failed_build_changes_nothing(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), ARGS("STANDIN_FAIL=build")),
                         NBX_EXIT_FAILURE);
        /* Nix's own error was streamed; nixbox says where to look */
        assert_contains(r.err, "error: builder for '/nix/store/00000000000000000000000000000000-"
                               "nixbox-guest-image.drv' failed with exit code 1");
        assert_contains(r.err, "nix build failed with exit code 1 (Nix's messages are above)");
        assert_false(nbx_is_file(f->lock));
        assert_no_stage_left(f);
        nbx_test_result_done(&r);
}

static void test_built_manifest_is_read_back(void **state) {
        fx *f = *state;
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), ARGS("STANDIN_FAIL=bad-manifest")),
                         NBX_EXIT_FAILURE);
        assert_contains(r.err, "the image Nix built is not usable: ");
        assert_contains(r.err, "field \"kernel\" is missing");
        nbx_test_result_done(&r);
}

static void test_vm_image_set_is_noted(void **state) {
        fx *f = *state;
        char config[4400], want[4400];
        snprintf(config, sizeof(config), "{ vm.image = \"%s\"; }\n", f->store);
        nbx_test_write(f->store, "image.json", "{\"version\":1,\"kernel\":\"k\"}");
        nbx_test_write(f->store, "k", "stand-in kernel");
        write_config(f, config);
        nbx_test_result r;
        assert_int_equal(nixbox(f, &r, ARGS("build"), NULL), 0);
        snprintf(want, sizeof(want),
                 "vm.image is set (%s): `nixbox up` boots that folder, not this build", f->store);
        assert_contains(r.err, want);
        nbx_test_result_done(&r);
}

/* ---- the library, as `up` calls it ---------------------------------------------------------- */

static nbx_config sample_config(void) {
        nbx_config c = {0};
        assert_int_equal(nbx_strv_push(&c.nix_packages, "git"), 0);
        return c;
}

static void test_image_ensure_builds_once(void **state) {
        fx *f = *state;
        _cleanup_free_ char *nix = join(f->bin, "nix");
        setenv("STANDIN_LOG", f->log, 1);
        setenv("STANDIN_STORE", f->store, 1);
        nbx_project p;
        nbx_error *err = NULL;
        assert_int_equal(nbx_project_at(f->proj, &p, &err), 0);
        nbx_config c = sample_config();
        nbx_build_opts o = {.nix_dir = "nix", .cache_dir = f->guests, .nix = nix};
        _cleanup_free_ char *image = NULL, *again = NULL;
        if (nbx_guest_image_ensure(&p, &c, &o, &image, &err) < 0)
                fail_msg("%s", err->msg);
        char manifest[4400];
        snprintf(manifest, sizeof(manifest), "%s/image.json", image);
        assert_true(nbx_is_file(manifest));
        assert_true(nbx_is_file(f->lock)); /* the default lock path: the project's */
        (void)unlink(f->log);
        if (nbx_guest_image_ensure(&p, &c, &o, &again, &err) < 0)
                fail_msg("%s", err->msg);
        assert_string_equal(image, again);
        assert_false(nbx_is_file(f->log));

        /* and the errors `up` would show */
        o.nix = "/nonexistent/nix";
        o.force = true;
        _cleanup_free_ char *none = NULL;
        assert_true(nbx_guest_image_ensure(&p, &c, &o, &none, &err) < 0);
        assert_null(none);
        assert_int_equal(err->exit_code, NBX_EXIT_PREREQ);
        assert_contains(err->msg, "vm.image is not set, so nixbox builds the guest: building the "
                                  "guest needs Nix");
        nbx_error_free(err);
        nbx_strv_clear(&c.nix_packages);
        nbx_project_done(&p);
        unsetenv("STANDIN_LOG");
        unsetenv("STANDIN_STORE");
}

/* The caller hands the pin of the approved copy of .nixbox/: that one is built, whatever the
 * live folder (the guest can write it) holds; a new pin goes to both.  The cache folder has a
 * space and a '#': the flake reference is percent-encoded. */
static void test_pin_from_the_approved_copy(void **state) {
        fx *f = *state;
        _cleanup_free_ char *nix = join(f->bin, "nix");
        _cleanup_free_ char *cache = join(f->dir, "my cache#1");
        _cleanup_free_ char *approved = join(f->dir, "approved/flake.lock");
        setenv("STANDIN_LOG", f->log, 1);
        setenv("STANDIN_STORE", f->store, 1);
        nbx_project p;
        nbx_error *err = NULL;
        assert_int_equal(nbx_project_at(f->proj, &p, &err), 0);
        nbx_config c = sample_config();
        nbx_build_opts o = {.nix_dir = "nix",
                            .cache_dir = cache,
                            .nix = nix,
                            .lock_path = approved,
                            .approved_lock = approved};

        /* no pin yet: Nix pins, the pin goes to the live folder and to the approved copy */
        nbx_test_write(f->dir, "approved/.keep", "");
        nbx_build_result res;
        if (nbx_guest_build(&p, &c, &o, &res, &err) < 0)
                fail_msg("%s", err->msg);
        assert_true(res.built);
        assert_true(res.lock_written);
        _cleanup_free_ char *a = slurp(approved), *l = slurp(f->lock);
        assert_non_null(a);
        assert_non_null(l);
        assert_string_equal(a, l);
        struct stat st;
        assert_int_equal(stat(approved, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        _cleanup_free_ char *log = nix_log(f);
        char want[4400];
        snprintf(want, sizeof(want), "| path:%s/my%%20cache%%231/.stage-", f->dir);
        assert_contains(log, want);
        nbx_build_result_done(&res);

        /* the guest rewrites the live pin: the approved one is built, the live one left alone */
        nbx_test_write(f->dir, "approved/flake.lock", "{\"approved\":1}");
        nbx_test_write(f->proj, ".nixbox/flake.lock", "{\"guest\":1}");
        (void)unlink(f->log);
        if (nbx_guest_build(&p, &c, &o, &res, &err) < 0)
                fail_msg("%s", err->msg);
        _cleanup_free_ char *log2 = nix_log(f);
        assert_contains(log2, "lock: {\"approved\":1}\n");
        assert_null(strstr(log2, "{\"guest\":1}"));
        assert_false(res.lock_written);
        _cleanup_free_ char *live = slurp(f->lock);
        assert_string_equal(live, "{\"guest\":1}");
        nbx_build_result_done(&res);
        nbx_strv_clear(&c.nix_packages);
        nbx_project_done(&p);
        unsetenv("STANDIN_LOG");
        unsetenv("STANDIN_STORE");
}

/* Under sudo (root with SUDO_UID): Nix runs as the invoking user with the user's HOME, and the
 * cache and the lock are the user's. */
static void test_under_sudo_nix_runs_as_the_invoker(void **state) {
        fx *f = *state;
        if (geteuid() != 0) {
                if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
                        fail_msg("this test switches users and needs root");
                skip();
        }
        struct passwd *pw = getpwnam("nobody");
        assert_non_null(pw);
        uid_t uid = pw->pw_uid;
        gid_t gid = pw->pw_gid;
        /* a folder the invoker owns, with the stand-in inside (the repository may be closed) */
        _cleanup_free_ char *own = join(f->dir, "nobody");
        _cleanup_free_ char *nix = join(own, "nix");
        _cleanup_free_ char *cache = join(own, "cache");
        _cleanup_free_ char *log = join(own, "nix.log");
        _cleanup_free_ char *store = join(own, "store");
        assert_int_equal(mkdir(own, 0755), 0);
        assert_int_equal(chown(own, uid, gid), 0);
        char nixbox_dir[4400];
        snprintf(nixbox_dir, sizeof(nixbox_dir), "%s/.nixbox", f->proj);
        assert_int_equal(chown(nixbox_dir, uid, gid), 0); /* the project is the user's */
        assert_int_equal(chmod(f->dir, 0755), 0);
        char cmd[4400];
        snprintf(cmd, sizeof(cmd), "install -m 0755 tests/vm/standin-nix '%s'", nix);
        assert_int_equal(system(cmd), 0);
        char sudo_uid[32], sudo_gid[32];
        snprintf(sudo_uid, sizeof(sudo_uid), "%u", (unsigned)uid);
        snprintf(sudo_gid, sizeof(sudo_gid), "%u", (unsigned)gid);
        setenv("SUDO_UID", sudo_uid, 1);
        setenv("SUDO_GID", sudo_gid, 1);
        setenv("STANDIN_LOG", log, 1);
        setenv("STANDIN_STORE", store, 1);
        nbx_project p;
        nbx_error *err = NULL;
        assert_int_equal(nbx_project_at(f->proj, &p, &err), 0);
        nbx_config c = sample_config();
        _cleanup_free_ char *nix_dir = realpath("nix", NULL);
        nbx_build_opts o = {.nix_dir = nix_dir, .cache_dir = cache, .nix = nix};
        nbx_build_result res;
        int r = nbx_guest_build(&p, &c, &o, &res, &err);
        unsetenv("SUDO_UID");
        unsetenv("SUDO_GID");
        unsetenv("STANDIN_LOG");
        unsetenv("STANDIN_STORE");
        if (r < 0)
                fail_msg("%s", err->msg);
        assert_true(res.built);
        _cleanup_free_ char *calls = slurp(log);
        assert_non_null(calls);
        char want[4400];
        snprintf(want, sizeof(want), "uid=%u home=%s\n", (unsigned)uid, pw->pw_dir);
        assert_contains(calls, want);
        snprintf(want, sizeof(want), "uid=0 ");
        assert_null(strstr(calls, want));
        struct stat st;
        assert_int_equal(stat(f->lock, &st), 0);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(stat(cache, &st), 0);
        assert_int_equal(st.st_uid, uid);
        char entry[4400];
        snprintf(entry, sizeof(entry), "%s/%s/source/guest.json", cache, res.key);
        assert_int_equal(stat(entry, &st), 0);
        assert_int_equal(st.st_uid, uid);
        /* the image folder came back through the worker's pipe */
        snprintf(entry, sizeof(entry), "%s/%s/result", cache, res.key);
        assert_string_equal(res.image_dir, entry);
        nbx_build_result_done(&res);
        nbx_strv_clear(&c.nix_packages);
        nbx_project_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_first_build_pins_nixpkgs_and_builds, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_unchanged_project_builds_nothing, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_force_builds_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_new_package_builds_a_new_image, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(
                        test_update_repins_and_rebuilds_only_when_the_pin_moves, setup, teardown),
                cmocka_unit_test_setup_teardown(test_without_nix_exit_6, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nix_without_flakes_exit_6, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unreachable_nixpkgs_exit_6, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken_lock_says_update, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_build_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_built_manifest_is_read_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vm_image_set_is_noted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_image_ensure_builds_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pin_from_the_approved_copy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_under_sudo_nix_runs_as_the_invoker, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
