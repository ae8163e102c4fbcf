#include "build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/strv.h"
#include "../config/base/timeutil.h"
#include "../config/base/user.h"
#include "guest_inputs.h"
#include "image.h"

#define NIX_FEATURES "--extra-experimental-features", "nix-command flakes"
#define NIX_MIN_MAJOR 2
#define NIX_MIN_MINOR 4 /* flakes and `nix flake archive` */
#define QUERY_TIMEOUT_MS 30000
#define LOCK_TIMEOUT_MS (30 * 60 * 1000) /* downloading nixpkgs on a slow line */
#define CACHE_KEEP_DAYS 30
#define NIXPKGS_WHERE "nixpkgs (github:NixOS/nixpkgs, the branch in nixbox's nix/build/flake.nix)"

extern char **environ;

/* One build, as the invoking user. */
typedef struct job {
        const nbx_build_opts *o;
        const char *system;
        const char *guest_json;
        const char *lock_path; /* the pin is read from here */
        const char *live_lock; /* the project's .nixbox/flake.lock */
        char *cache;           /* the cache folder */
        char *stage;           /* the staged flake (removed unless it became <key>/source) */
        char *nix;             /* the nix program */
        char *const *envp;     /* Nix's environment (NULL: ours) */
} job;

static void step(const job *j, const char *fmt, const char *arg) {
        if (j->o->ui)
                nbx_ui_step(j->o->ui, fmt, arg);
}

/* ---- Nix ------------------------------------------------------------------------------------- */

/* The last "error: ..." line of Nix's output (without colour codes), for messages. */
static char *nix_error_line(const char *out) {
        const char *last = NULL;
        for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                const char *q = p;
                while (*q == '\033') {
                        while (*q && *q != 'm')
                                q++;
                        if (*q)
                                q++;
                }
                if (strncmp(q, "error:", 6) == 0)
                        last = q;
        }
        if (!last)
                return strdup("(no error message)");
        size_t n = strcspn(last, "\n");
        char *s = strndup(last, n);
        if (!s)
                return NULL;
        char *w = s; /* drop colour codes inside the line */
        for (char *r = s; *r;) {
                if (*r == '\033') {
                        while (*r && *r != 'm')
                                r++;
                        if (*r)
                                r++;
                        continue;
                }
                *w++ = *r++;
        }
        *w = '\0';
        return s;
}

static int nix_capture(const job *j, char *const *argv, uint64_t timeout_ms, int *ret_status,
                       char **ret_out, char **ret_err, nbx_error **err) {
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.envp = j->envp;
        so.die_with_parent = true;
        return nbx_run_capture(argv, &so, nbx_now_ms() + timeout_ms, ret_status, ret_out, ret_err,
                               err);
}

/* Nix installed, and new enough for flakes? */
static int nix_check(job *j, nbx_error **err) {
        const char *name = j->o->nix ? j->o->nix : "nix";
        j->nix = nbx_find_program(name);
        if (!j->nix)
                return nbx_error_setx(
                        err, NBX_EXIT_PREREQ, 0,
                        "building the guest needs Nix, and `%s` is not in PATH: install Nix 2.4 or "
                        "newer (https://nixos.org/download; Debian: `sudo apt-get install "
                        "nix-bin`), or set vm.image to an image folder",
                        name);
        char *argv[] = {j->nix, "--version", NULL};
        int status = 0;
        _cleanup_free_ char *out = NULL, *errs = NULL;
        int r = nix_capture(j, argv, QUERY_TIMEOUT_MS, &status, &out, &errs, err);
        if (r < 0)
                return nbx_error_wrap(err, "asking %s for its version", j->nix);
        /* "nix (Nix) 2.18.1", "nix (Lix, like Nix) 2.91.1": the version is the last word */
        out[strcspn(out, "\n")] = '\0';
        const char *v = strrchr(out, ' ');
        v = v ? v + 1 : out;
        unsigned major = 0, minor = 0;
        if (nbx_status_code(status) != 0 || sscanf(v, "%u.%u", &major, &minor) != 2)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "%s --version did not say which Nix it is (\"%s\"): "
                                      "install Nix 2.4 or newer",
                                      j->nix, out);
        if (major < NIX_MIN_MAJOR || (major == NIX_MIN_MAJOR && minor < NIX_MIN_MINOR))
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "Nix %s has no flakes, which building the guest needs: "
                                      "install Nix 2.4 or newer (https://nixos.org/download)",
                                      v);
        return 0;
}

/* path:DIR with DIR percent-encoded where a flake reference needs it (spaces, '#', '?'). */
static char *flake_ref(const char *dir, const char *fragment) {
        static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789/._~-+";
        size_t cap = strlen("path:") + 3 * strlen(dir) + (fragment ? strlen(fragment) + 1 : 0) + 1;
        char *s = malloc(cap), *w = s;
        if (!s)
                return NULL;
        w += sprintf(w, "path:");
        for (const unsigned char *p = (const unsigned char *)dir; *p; p++)
                w += strchr(safe, *p) && *p ? sprintf(w, "%c", *p) : sprintf(w, "%%%02X", *p);
        if (fragment)
                sprintf(w, "#%s", fragment);
        return s;
}

static bool contains_any(const char *s, const char *const *needles) {
        for (; *needles; needles++)
                if (strstr(s, *needles))
                        return true;
        return false;
}

/* Lock (when the stage has no flake.lock, Nix writes one) and fetch the inputs: nixpkgs. */
static int nix_archive(const job *j, nbx_error **err) {
        _cleanup_free_ char *ref = flake_ref(j->stage, NULL);
        if (!ref)
                return nbx_error_set(err, ENOMEM, "locking the guest's inputs");
        char *argv[] = {j->nix, NIX_FEATURES, "flake", "archive", "--json", ref, NULL};
        int status = 0;
        _cleanup_free_ char *out = NULL, *errs = NULL;
        int r = nix_capture(j, argv, LOCK_TIMEOUT_MS, &status, &out, &errs, err);
        if (r < 0)
                return nbx_error_wrap(err, "fetching %s with %s", NIXPKGS_WHERE, j->nix);
        if (nbx_status_code(status) == 0)
                return 0;
        _cleanup_free_ char *line = nix_error_line(errs);
        static const char *const no_flakes[] = {"experimental Nix feature 'flakes'",
                                                "experimental Nix feature 'nix-command'", NULL};
        static const char *const unreachable[] = {"unable to download",
                                                  "resolve host",
                                                  "Could not resolve",
                                                  "Failed to connect",
                                                  "Connection refused",
                                                  "Connection timed out",
                                                  "Timeout was reached",
                                                  "HTTP error",
                                                  "unable to fetch",
                                                  "SSL",
                                                  NULL};
        if (contains_any(errs, no_flakes))
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "your Nix refuses flakes, which building the guest needs "
                                      "(%s): allow them in nix.conf (`experimental-features = "
                                      "nix-command flakes`)",
                                      line ? line : "");
        if (contains_any(errs, unreachable))
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "%s cannot be fetched (%s): the first build and `nixbox "
                                      "update` download it; check the network and proxy "
                                      "settings (also the nix-daemon's), then run the command "
                                      "again",
                                      NIXPKGS_WHERE, line ? line : "");
        return nbx_error_setx(err, NBX_EXIT_FAILURE, 0,
                              "Nix could not lock or fetch the guest's inputs: %s (the project's "
                              "lock: %s; `nixbox update` makes a new one)",
                              line ? line : "", j->lock_path);
}

/* nix build, streaming Nix's progress to our stderr (its stdout too: ours is for results). */
static int nix_build(const job *j, const char *link, nbx_error **err) {
        _cleanup_free_ char *attr = NULL;
        if (asprintf(&attr, "packages.%s.nixbox-guest", j->system) < 0)
                return nbx_error_set(err, ENOMEM, "building the guest");
        _cleanup_free_ char *ref = flake_ref(j->stage, attr);
        if (!ref)
                return nbx_error_set(err, ENOMEM, "building the guest");
        char *argv[] = {j->nix, NIX_FEATURES, "build", "--out-link", (char *)link, ref, NULL};
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.envp = j->envp;
        so.stdout_fd = STDERR_FILENO;
        so.die_with_parent = true;
        if (j->o->ui)
                fflush(j->o->ui->err);
        int code = 0;
        int r = nbx_run(argv, &so, &code, err);
        if (r < 0)
                return nbx_error_wrap(err, "running %s build", j->nix);
        if (code != 0)
                return nbx_error_setx(err, NBX_EXIT_FAILURE, 0,
                                      "nix build failed with exit code %d (Nix's messages are "
                                      "above)",
                                      code);
        return 0;
}

/* ---- the cache ------------------------------------------------------------------------------- */

static int cache_dir(const nbx_build_opts *o, const nbx_invoker *inv, bool switched, char **ret,
                     nbx_error **err) {
        if (o->cache_dir)
                return (*ret = strdup(o->cache_dir)) ? 0 : nbx_error_set(err, ENOMEM, "cache");
        /* under sudo the environment is root's: only the invoker's home counts */
        const char *xdg = switched ? NULL : getenv("XDG_CACHE_HOME");
        int n = xdg && xdg[0] == '/' ? asprintf(ret, "%s/nixbox/guests", xdg)
                                     : asprintf(ret, "%s/.cache/nixbox/guests", inv->home);
        return n < 0 ? nbx_error_set(err, ENOMEM, "cache") : 0;
}

/* The image of key, when the cache has a valid one. */
static char *cached_image(const job *j, const char *key) {
        char *dir = NULL;
        if (asprintf(&dir, "%s/%s/result", j->cache, key) < 0)
                return NULL;
        nbx_image img;
        if (nbx_image_load(dir, &img, NULL) < 0) {
                free(dir);
                return NULL;
        }
        nbx_image_done(&img);
        return dir;
}

/* Mark <cache>/<key> as used now, and remove entries unused for CACHE_KEEP_DAYS (their out-links
 * are GC roots: removing them lets nix-collect-garbage free the images).  Best effort. */
static void cache_tidy(const job *j, const char *key) {
        _cleanup_free_ char *mine = nbx_path_join(j->cache, key);
        if (mine)
                (void)utimensat(AT_FDCWD, mine, NULL, 0);
        DIR *d = opendir(j->cache);
        if (!d)
                return;
        time_t cutoff = time(NULL) - (time_t)CACHE_KEEP_DAYS * 24 * 3600;
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (strlen(de->d_name) != NBX_SHA256_HEX - 1 || strcmp(de->d_name, key) == 0 ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode) || st.st_mtime >= cutoff)
                        continue;
                _cleanup_free_ char *old = nbx_path_join(j->cache, de->d_name);
                if (old)
                        (void)nbx_rm_rf(old, NULL);
        }
        closedir(d);
}

/* ---- the lock -------------------------------------------------------------------------------- */

/* The project's lock: *ret NULL when it has none.  Read as the invoking user, without following
 * a symlink in its last component (the folder may be shared with the guest). */
static int lock_read(const char *path, char **ret, size_t *ret_len, nbx_error **err) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return nbx_error_set(err, errno, "reading the project's pinned inputs %s", path);
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t)NBX_GUEST_LOCK_MAX)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: not a regular file of at most %u bytes", path,
                                      NBX_GUEST_LOCK_MAX);
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return nbx_error_set(err, ENOMEM, "reading %s", path);
        size_t len = 0;
        while (len < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return nbx_error_set(err, errno, "reading %s", path);
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* ---- the build ------------------------------------------------------------------------------- */

static int finish(job *j, const char *key, bool built, nbx_build_result *res, nbx_error **err) {
        _cleanup_free_ char *dir = NULL;
        if (asprintf(&dir, "%s/%s/result", j->cache, key) < 0)
                return nbx_error_set(err, ENOMEM, "the built image");
        nbx_image img;
        if (nbx_image_load(dir, &img, err) < 0) {
                if (err && *err)
                        (*err)->exit_code = NBX_EXIT_FAILURE;
                return nbx_error_wrap(err, "the image Nix built is not usable");
        }
        nbx_image_done(&img);
        res->image_dir = TAKE_PTR(dir);
        snprintf(res->key, sizeof(res->key), "%s", key);
        res->built = built;
        cache_tidy(j, key);
        return 0;
}

/* Keep the staged flake as <key>/source: what the image was built from. */
static void keep_source(job *j, const char *key) {
        _cleanup_free_ char *source = NULL;
        if (asprintf(&source, "%s/%s/source", j->cache, key) < 0)
                return;
        (void)nbx_rm_rf(source, NULL);
        if (rename(j->stage, source) == 0) {
                free(j->stage);
                j->stage = NULL;
        }
}

/* The project's lock as it was (NULL: none), and the one Nix pinned. */
typedef struct pins {
        char *old, *new;
        size_t old_len, new_len;
} pins;

static void pins_done(pins *p) {
        free(p->old);
        free(p->new);
}

/* Stage the build folder: guest.json, nixbox's Nix files, and the project's lock unless Nix is
 * to lock afresh (`update`: the old lock then only tells whether the pin moved). */
static int stage(job *j, pins *p, nbx_error **err) {
        int r;
        if ((r = nbx_mkdir_p(j->cache, 0700, err)) < 0)
                return nbx_error_wrap(err, "the guest cache");
        if (asprintf(&j->stage, "%s/.stage-XXXXXX", j->cache) < 0) {
                j->stage = NULL;
                return nbx_error_set(err, ENOMEM, "staging the guest build");
        }
        if (!mkdtemp(j->stage))
                return nbx_error_set(err, errno, "staging the guest build in %s", j->cache);
        if ((r = lock_read(j->lock_path, &p->old, &p->old_len, err)) < 0)
                return r;
        const char *lock = j->o->update ? NULL : p->old;
        if ((r = nbx_guest_inputs_stage(j->stage, j->o->nix_dir, j->guest_json, lock, p->old_len,
                                        err)) < 0)
                return nbx_error_wrap(err, "staging the guest build");
        return 0;
}

/* Let Nix lock (when the stage has no lock) and fetch nixpkgs; the key then covers the pin. */
static int pin(job *j, bool staged_lock, pins *p, char key[NBX_SHA256_HEX], nbx_error **err) {
        int r;
        if ((r = nix_check(j, err)) < 0)
                return r;
        step(j, "%s",
             j->o->update  ? "Updating the pinned nixpkgs"
             : staged_lock ? "Fetching the pinned nixpkgs"
                           : "Pinning nixpkgs (flake.lock)");
        if ((r = nix_archive(j, err)) < 0)
                return r;
        _cleanup_free_ char *path = nbx_path_join(j->stage, NBX_GUEST_LOCK);
        if (!path)
                return nbx_error_set(err, ENOMEM, "the guest's lock");
        if ((r = nbx_read_file(path, NBX_GUEST_LOCK_MAX, &p->new, &p->new_len, err)) < 0)
                return nbx_error_wrap(err, "Nix wrote no lock for the guest's inputs");
        return nbx_guest_inputs_key(j->stage, key, err);
}

/* nix build into <cache>/<key>/result. */
static int build(job *j, const char *key, nbx_error **err) {
        _cleanup_free_ char *entry = nbx_path_join(j->cache, key);
        _cleanup_free_ char *link = entry ? nbx_path_join(entry, "result") : NULL;
        if (!link)
                return nbx_error_set(err, ENOMEM, "building the guest");
        int r = nbx_mkdir_p(entry, 0700, err);
        if (r < 0)
                return r;
        char short_key[13];
        memcpy(short_key, key, sizeof(short_key) - 1);
        short_key[sizeof(short_key) - 1] = '\0';
        step(j, "Building the guest image with Nix (key %s...)", short_key);
        return nix_build(j, link, err);
}

static int run(job *j, nbx_build_result *res, nbx_error **err) {
        _cleanup_(pins_done) pins p = {0};
        char key[NBX_SHA256_HEX];
        int r;

        /* 1. the folder Nix will build, and its key when the project is pinned */
        if ((r = stage(j, &p, err)) < 0)
                return r;
        bool staged_lock = p.old && !j->o->update;
        if (staged_lock && !j->o->force) {
                if ((r = nbx_guest_inputs_key(j->stage, key, err)) < 0)
                        return r;
                _cleanup_free_ char *hit = cached_image(j, key);
                if (hit) /* unchanged: Nix is not even asked */
                        return finish(j, key, false, res, err);
        }
        /* 2. Nix pins and fetches nixpkgs */
        if ((r = pin(j, staged_lock, &p, key, err)) < 0)
                return r;
        /* 3. the image: from the cache, or built */
        _cleanup_free_ char *hit = j->o->force ? NULL : cached_image(j, key);
        if (!hit && (r = build(j, key, err)) < 0)
                return r;
        keep_source(j, key);
        if ((r = finish(j, key, !hit, res, err)) < 0)
                return r;
        /* 4. the pin is the project's once an image was made with it */
        if (!p.old || p.old_len != p.new_len || memcmp(p.old, p.new, p.new_len) != 0) {
                if ((r = nbx_write_file(j->live_lock, p.new, p.new_len, 0644, err)) < 0 ||
                    (j->o->approved_lock &&
                     (r = nbx_write_file(j->o->approved_lock, p.new, p.new_len, 0600, err)) < 0))
                        return nbx_error_wrap(err, "saving the pinned inputs");
                res->lock_written = true;
        }
        return 0;
}

/* Run, and remove the staged flake unless it was kept as <key>/source. */
static int run_and_clean(job *j, nbx_build_result *res, nbx_error **err) {
        int r = run(j, res, err);
        if (j->stage)
                (void)nbx_rm_rf(j->stage, NULL);
        if (r < 0)
                nbx_build_result_done(res);
        return r;
}

/* ---- as the invoking user -------------------------------------------------------------------- */

/* Under sudo a child switches to the invoking user (with the user's groups: Debian's nix-daemon
 * socket belongs to nix-users) and runs the build; the result comes back through a pipe. */

#define BLOB_MAX (64u << 10)

static void put_blob(FILE *f, const char *s) {
        uint32_t n = s ? (uint32_t)strnlen(s, BLOB_MAX) : UINT32_MAX;
        (void)fwrite(&n, sizeof(n), 1, f);
        if (s)
                (void)fwrite(s, 1, n, f);
}

static char *get_blob(FILE *f, bool *ok) {
        uint32_t n;
        if (fread(&n, sizeof(n), 1, f) != 1 || (n != UINT32_MAX && n > BLOB_MAX)) {
                *ok = false;
                return NULL;
        }
        if (n == UINT32_MAX)
                return NULL;
        char *s = calloc(1, (size_t)n + 1);
        if (!s || fread(s, 1, n, f) != n) {
                free(s);
                *ok = false;
                return NULL;
        }
        return s;
}

static __attribute__((noreturn)) void worker(const nbx_invoker *inv, job *j, int fd) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        nbx_error *e = NULL;
        nbx_build_result res = {0};
        int r;
        if (initgroups(inv->name, inv->gid) < 0 && setgroups(1, &inv->gid) < 0)
                r = nbx_error_set(&e, errno, "switching to user %s for the build", inv->name);
        else if (setresgid(inv->gid, inv->gid, inv->gid) < 0 ||
                 setresuid(inv->uid, inv->uid, inv->uid) < 0)
                r = nbx_error_set(&e, errno, "switching to user %s for the build", inv->name);
        else
                r = run_and_clean(j, &res, &e);
        FILE *f = fdopen(fd, "w");
        if (f) {
                int32_t head[3] = {r, e ? e->exit_code : 0, e ? e->errnum : 0};
                uint8_t flags[2] = {res.built, res.lock_written};
                (void)fwrite(head, sizeof(head), 1, f);
                (void)fwrite(flags, sizeof(flags), 1, f);
                put_blob(f, e ? e->msg : NULL);
                put_blob(f, r < 0 ? NULL : res.key);
                put_blob(f, res.image_dir);
                (void)fclose(f);
        }
        nbx_error_free(e);
        nbx_build_result_done(&res);
        fflush(NULL);
        _exit(0);
}

static int run_as(const nbx_invoker *inv, job *j, nbx_build_result *ret, nbx_error **err) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return nbx_error_set(err, errno, "starting the build as %s", inv->name);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(fds[0]);
                close(fds[1]);
                return nbx_error_set(err, e, "starting the build as %s", inv->name);
        }
        if (pid == 0) {
                close(fds[0]);
                worker(inv, j, fds[1]);
        }
        close(fds[1]);
        _cleanup_fclose_ FILE *f = fdopen(fds[0], "r");
        if (!f) {
                close(fds[0]);
                (void)nbx_stop_pid(pid, nbx_now_ms());
                return nbx_error_set(err, errno, "reading the build's result");
        }
        int32_t head[3];
        uint8_t flags[2];
        bool ok = fread(head, sizeof(head), 1, f) == 1 && fread(flags, sizeof(flags), 1, f) == 1;
        _cleanup_free_ char *msg = ok ? get_blob(f, &ok) : NULL;
        _cleanup_free_ char *key = ok ? get_blob(f, &ok) : NULL;
        _cleanup_free_ char *image = ok ? get_blob(f, &ok) : NULL;
        int status = 0;
        (void)nbx_wait_pid(pid, 0, &status, NULL);
        if (!ok)
                return nbx_error_setx(err, NBX_EXIT_FAILURE, 0,
                                      "the build (as %s) ended without a result (exit status %d)",
                                      inv->name, nbx_status_code(status));
        if (head[0] < 0) {
                int errnum = head[2] > 0 ? head[2] : EINVAL;
                nbx_error_setx(err, head[1] ? head[1] : NBX_EXIT_FAILURE, 0, "%s",
                               msg ? msg : "the build failed");
                if (err && *err)
                        (*err)->errnum = errnum;
                return -errnum;
        }
        if (!key || !image || strlen(key) != NBX_SHA256_HEX - 1)
                return nbx_error_setx(err, NBX_EXIT_FAILURE, 0, "the build returned no image");
        *ret = (nbx_build_result){
                .image_dir = TAKE_PTR(image), .built = flags[0], .lock_written = flags[1]};
        memcpy(ret->key, key, NBX_SHA256_HEX);
        return 0;
}

/* Nix's environment under sudo: ours with the invoking user's HOME, USER and LOGNAME (Nix keeps
 * its caches and settings under HOME). */
static int invoker_env(const nbx_invoker *inv, nbx_strv *ret) {
        for (char **e = environ; e && *e; e++)
                if (strncmp(*e, "HOME=", 5) && strncmp(*e, "USER=", 5) &&
                    strncmp(*e, "LOGNAME=", 8) && nbx_strv_push(ret, *e) < 0)
                        return -ENOMEM;
        if (nbx_strv_pushf(ret, "HOME=%s", inv->home) < 0 ||
            nbx_strv_pushf(ret, "USER=%s", inv->name) < 0 ||
            nbx_strv_pushf(ret, "LOGNAME=%s", inv->name) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- the API --------------------------------------------------------------------------------- */

int nbx_guest_build(const nbx_project *p, const nbx_config *c, const nbx_build_opts *o,
                    nbx_build_result *ret, nbx_error **err) {
        if (!o || !o->nix_dir)
                return nbx_error_set(err, EINVAL, "building the guest: no Nix folder given");
        const char *system = o->system ? o->system : nbx_guest_inputs_system();
        if (!system)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "nixbox builds guests for x86_64 and aarch64 Linux only; "
                                      "set vm.image to an image folder");
        int r;
        _cleanup_free_ char *guest_json = NULL, *live_lock = NULL;
        if ((r = nbx_guest_inputs_json(c, system, &guest_json, err)) < 0 ||
            (r = nbx_guest_inputs_lock_path(p, &live_lock, err)) < 0)
                return r;

        nbx_invoker inv;
        if ((r = nbx_invoker_get(&inv, err)) < 0)
                return r;
        bool switched = geteuid() == 0 && inv.uid != 0;
        _cleanup_strv_ nbx_strv env = {0};
        job j = {.o = o,
                 .system = system,
                 .guest_json = guest_json,
                 .lock_path = o->lock_path ? o->lock_path : live_lock,
                 .live_lock = live_lock};
        if (switched && invoker_env(&inv, &env) < 0)
                r = nbx_error_set(err, ENOMEM, "building the guest");
        else
                r = cache_dir(o, &inv, switched, &j.cache, err);
        j.envp = switched ? env.v : NULL;
        nbx_build_result res = {0};
        if (r >= 0)
                r = switched ? run_as(&inv, &j, &res, err) : run_and_clean(&j, &res, err);
        free(j.cache);
        free(j.stage);
        free(j.nix);
        nbx_invoker_done(&inv);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

void nbx_build_result_done(nbx_build_result *r) {
        if (!r)
                return;
        free(r->image_dir);
        *r = (nbx_build_result){0};
}

int nbx_guest_image_ensure(const nbx_project *p, const nbx_config *c, const nbx_build_opts *o,
                           char **ret_image_dir, nbx_error **err) {
        nbx_build_result res;
        int r = nbx_guest_build(p, c, o, &res, err);
        if (r < 0)
                return nbx_error_wrap(err, "vm.image is not set, so nixbox builds the guest");
        *ret_image_dir = TAKE_PTR(res.image_dir);
        nbx_build_result_done(&res);
        return 0;
}
