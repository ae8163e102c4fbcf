#include "approval.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/proc.h"
#include "base/timeutil.h"

#define DIFF_TIMEOUT_MS 30000

void nbx_tree_done(nbx_tree *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->v[i].path);
                free(t->v[i].data);
        }
        free(t->v);
        *t = (nbx_tree){0};
}

typedef struct reader {
        nbx_tree *t;
        size_t cap;
        size_t bytes;
        const char *root; /* for messages */
} reader;

static int add_entry(reader *rd, nbx_tree_entry e, nbx_error **err) {
        if (rd->t->n >= NBX_APPROVAL_MAX_FILES)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, E2BIG,
                                      "%s holds more than %d files and folders; nixbox reads all "
                                      "of it as configuration: keep other things elsewhere",
                                      rd->root, NBX_APPROVAL_MAX_FILES);
        if (rd->t->n == rd->cap) {
                size_t cap = rd->cap ? rd->cap * 2 : 32;
                nbx_tree_entry *nv = realloc(rd->t->v, cap * sizeof(*nv));
                if (!nv)
                        return nbx_error_set(err, ENOMEM, "read %s", rd->root);
                rd->t->v = nv;
                rd->cap = cap;
        }
        rd->t->v[rd->t->n++] = e;
        return 0;
}

static int read_dir(reader *rd, int dfd, const char *rel, unsigned depth, nbx_error **err);

static int read_one(reader *rd, int dfd, const char *name, const char *rel, unsigned depth,
                    nbx_error **err) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s%s%s", rel, *rel ? "/" : "", name) < 0)
                return nbx_error_set(err, ENOMEM, "read %s", rd->root);
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return nbx_error_set(err, errno, "read %s/%s", rd->root, path);
        if (S_ISDIR(st.st_mode)) {
                if (depth >= NBX_APPROVAL_MAX_DEPTH)
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, ELOOP,
                                              "%s/%s: folders nested deeper than %d", rd->root,
                                              path, NBX_APPROVAL_MAX_DEPTH);
                _cleanup_close_ int sub = nbx_open_beneath(dfd, name, O_RDONLY | O_DIRECTORY, 0);
                if (sub < 0)
                        return nbx_error_set(err, -sub, "read %s/%s", rd->root, path);
                int r = add_entry(rd, (nbx_tree_entry){.path = TAKE_PTR(path), .dir = true}, err);
                if (r < 0)
                        return r;
                return read_dir(rd, sub, rd->t->v[rd->t->n - 1].path, depth + 1, err);
        }
        if (!S_ISREG(st.st_mode))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, EPERM,
                                      "%s/%s is %s; nixbox reads only plain files and folders in "
                                      "%s (a link there could make it read what the guest "
                                      "chose): replace it with the file itself",
                                      rd->root, path,
                                      S_ISLNK(st.st_mode) ? "a symbolic link" : "not a plain file",
                                      rd->root);
        _cleanup_close_ int fd = nbx_open_beneath(dfd, name, O_RDONLY, 0);
        if (fd < 0)
                return nbx_error_set(err, -fd, "read %s/%s", rd->root, path);
        nbx_tree_entry e = {.exec = (st.st_mode & 0111) != 0};
        size_t left = NBX_APPROVAL_MAX_BYTES - rd->bytes;
        int r = nbx_read_fd(fd, path, left, &e.data, &e.len, err);
        if (r == -EFBIG)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, EFBIG,
                                      "%s holds more than %u bytes; nixbox reads all of it as "
                                      "configuration: keep other things elsewhere",
                                      rd->root, NBX_APPROVAL_MAX_BYTES);
        if (r < 0)
                return r;
        rd->bytes += e.len;
        e.path = TAKE_PTR(path);
        r = add_entry(rd, e, err);
        if (r < 0) {
                free(e.path);
                free(e.data);
        }
        return r;
}

static int read_dir(reader *rd, int dfd, const char *rel, unsigned depth, nbx_error **err) {
        int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (dup < 0)
                return nbx_error_set(err, errno, "read %s", rd->root);
        DIR *d = fdopendir(dup);
        if (!d) {
                close(dup);
                return nbx_error_set(err, errno, "read %s", rd->root);
        }
        _cleanup_free_ char *relcopy = strdup(rel);
        int r = relcopy ? 0 : nbx_error_set(err, ENOMEM, "read %s", rd->root);
        struct dirent *de;
        while (r >= 0 && (de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        r = read_one(rd, dirfd(d), de->d_name, relcopy, depth, err);
        closedir(d);
        return r;
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const nbx_tree_entry *)a)->path, ((const nbx_tree_entry *)b)->path);
}

static void digest(nbx_tree *t) {
        nbx_sha256 s;
        nbx_sha256_init(&s);
        for (size_t i = 0; i < t->n; i++) {
                const nbx_tree_entry *e = &t->v[i];
                char head[64];
                int n = snprintf(head, sizeof(head), "%c %d %zu ", e->dir ? 'd' : 'f', e->exec,
                                 e->len);
                nbx_sha256_update(&s, head, (size_t)n);
                nbx_sha256_update(&s, e->path, strlen(e->path) + 1);
                if (e->len)
                        nbx_sha256_update(&s, e->data, e->len);
        }
        uint8_t d[NBX_SHA256_LEN];
        nbx_sha256_final(&s, d);
        nbx_sha256_to_hex(d, t->digest);
}

int nbx_tree_read(const char *dir, const nbx_invoker *inv, nbx_tree *ret, nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(inv, &fs, err);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return nbx_error_set(err, errno == ELOOP ? ENOTDIR : errno,
                                     "read %s (it must be a folder, not a link)", dir);
        nbx_tree t = {0};
        reader rd = {.t = &t, .root = dir};
        if ((r = read_dir(&rd, dfd, "", 0, err)) < 0) {
                nbx_tree_done(&t);
                return r;
        }
        qsort(t.v, t.n, sizeof(*t.v), cmp_entry);
        digest(&t);
        *ret = t;
        return 0;
}

int nbx_tree_write(const nbx_tree *t, const char *dir, const nbx_invoker *inv, nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(inv, &fs, err);
        if (r < 0)
                return r;
        if (mkdir(dir, 0700) < 0)
                return nbx_error_set(err, errno, "create %s", dir);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return nbx_error_set(err, errno, "open %s", dir);
        for (size_t i = 0; i < t->n; i++) {
                const nbx_tree_entry *e = &t->v[i];
                if (e->dir) {
                        if (mkdirat(dfd, e->path, 0700) < 0)
                                return nbx_error_set(err, errno, "create %s/%s", dir, e->path);
                        continue;
                }
                _cleanup_close_ int fd = nbx_open_beneath(dfd, e->path, O_WRONLY | O_CREAT | O_EXCL,
                                                          e->exec ? 0700 : 0600);
                if (fd < 0)
                        return nbx_error_set(err, -fd, "create %s/%s", dir, e->path);
                for (size_t off = 0; off < e->len;) {
                        ssize_t n = write(fd, e->data + off, e->len - off);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return nbx_error_set(err, errno, "write %s/%s", dir, e->path);
                        off += (size_t)n;
                }
        }
        return 0;
}

int nbx_approval_state(const char *config_dir, const char *approved_dir, const nbx_invoker *inv,
                       enum nbx_approval_state *ret, nbx_error **err) {
        nbx_tree live = {0}, approved = {0};
        int r = nbx_tree_read(config_dir, inv, &live, err);
        if (r < 0)
                return r;
        _cleanup_error_ nbx_error *aerr = NULL;
        r = nbx_tree_read(approved_dir, inv, &approved, &aerr);
        if (r == -ENOENT)
                *ret = NBX_APPROVAL_NONE;
        else if (r < 0)
                *ret = NBX_APPROVAL_CHANGED; /* an unreadable copy approves nothing */
        else
                *ret = strcmp(live.digest, approved.digest) == 0 ? NBX_APPROVAL_APPROVED
                                                                 : NBX_APPROVAL_CHANGED;
        nbx_tree_done(&live);
        nbx_tree_done(&approved);
        return 0;
}

int nbx_approval_require(const char *config_dir, const char *approved_dir, const nbx_invoker *inv,
                         nbx_error **err) {
        enum nbx_approval_state st;
        int r = nbx_approval_state(config_dir, approved_dir, inv, &st, err);
        if (r < 0)
                return r;
        if (st == NBX_APPROVAL_APPROVED)
                return 0;
        return nbx_error_setx(err, NBX_EXIT_NOT_APPROVED, 0,
                              "%s %s: nixbox acts only on a configuration you approved (the VM "
                              "can write this folder); review it with `nixbox allow --diff`, then "
                              "approve it with `nixbox allow`",
                              config_dir,
                              st == NBX_APPROVAL_NONE ? "was never approved"
                                                      : "changed since you approved it");
}

/* diff -ruN OLD NEW (names in cwd) as the invoker, to fd (diff exits 1 when they differ). */
static int show_diff(const char *cwd, const char *old, const char *new, const nbx_invoker *inv,
                     int fd, nbx_error **err) {
        _cleanup_free_ char *prog = nbx_find_program("diff");
        if (!prog) {
                dprintf(fd, "(no diff shown: diff is not installed; Debian: apt-get install "
                            "diffutils)\n");
                return 0;
        }
        char *argv[] = {prog, "-ruN", (char *)old, (char *)new, NULL};
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.cwd = cwd;
        so.drop_privileges = inv->uid != 0;
        so.uid = inv->uid;
        so.gid = inv->gid;
        so.stdout_fd = fd;
        pid_t pid;
        int r = nbx_spawn(argv, &so, &pid, err);
        if (r < 0)
                return r;
        int status = 0;
        if ((r = nbx_wait_pid(pid, nbx_deadline_in(DIFF_TIMEOUT_MS), &status, err)) < 0)
                return r;
        int code = nbx_status_code(status);
        return code <= 1 ? 0 : nbx_error_set(err, EIO, "diff exited with %d", code);
}

int nbx_approval_approve(const char *config_dir, const char *approved_dir, const nbx_invoker *inv,
                         int diff_fd, bool dry_run, bool *ret_changed, nbx_error **err) {
        nbx_tree live = {0}, approved = {0};
        _cleanup_free_ char *next = NULL, *prev = NULL;
        int r = nbx_tree_read(config_dir, inv, &live, err);
        if (r < 0)
                return r;
        bool had = nbx_tree_read(approved_dir, inv, &approved, NULL) == 0;
        bool changed = !had || strcmp(live.digest, approved.digest) != 0;
        if (asprintf(&next, "%s.new", approved_dir) < 0 ||
            asprintf(&prev, "%s.old", approved_dir) < 0) {
                r = nbx_error_set(err, ENOMEM, "approve");
                goto out;
        }
        if (!changed)
                goto out;
        {
                _cleanup_fsid_ nbx_fsid fs = {0};
                if ((r = nbx_fsid_enter(inv, &fs, err)) < 0 || (r = nbx_rm_rf(next, err)) < 0 ||
                    (r = nbx_rm_rf(prev, err)) < 0)
                        goto out;
        }
        if ((r = nbx_tree_write(&live, next, inv, err)) < 0)
                goto out;
        if (diff_fd >= 0) {
                /* names relative to the state folder: "approved/config.nix" reads better */
                _cleanup_free_ char *parent = strdup(approved_dir);
                char *slash = parent ? strrchr(parent, '/') : NULL;
                if (!slash) {
                        r = nbx_error_set(err, ENOMEM, "approve");
                        goto out;
                }
                *slash = '\0';
                const char *base = slash + 1;
                _cleanup_free_ char *nbase = NULL, *ebase = NULL;
                if (asprintf(&nbase, "%s.new", base) < 0 || asprintf(&ebase, "%s.none", base) < 0) {
                        r = nbx_error_set(err, ENOMEM, "approve");
                        goto out;
                }
                if (!had) { /* compared with an empty folder */
                        nbx_tree none = {0};
                        _cleanup_free_ char *empty = nbx_path_join(parent, ebase);
                        if (empty) {
                                _cleanup_fsid_ nbx_fsid fs = {0};
                                if (nbx_fsid_enter(inv, &fs, NULL) == 0)
                                        (void)nbx_rm_rf(empty, NULL); /* a crash's leftover */
                        }
                        if (!empty || (r = nbx_tree_write(&none, empty, inv, err)) < 0) {
                                r = r < 0 ? r : nbx_error_set(err, ENOMEM, "approve");
                                goto out;
                        }
                }
                r = show_diff(parent, had ? base : ebase, nbase, inv, diff_fd, err);
                if (!had) {
                        _cleanup_fsid_ nbx_fsid fs = {0};
                        _cleanup_free_ char *empty = nbx_path_join(parent, ebase);
                        if (empty && nbx_fsid_enter(inv, &fs, NULL) == 0)
                                (void)rmdir(empty);
                }
                if (r < 0)
                        goto out;
        }
        {
                _cleanup_fsid_ nbx_fsid fs = {0};
                if ((r = nbx_fsid_enter(inv, &fs, err)) < 0)
                        goto out;
                if (dry_run) {
                        r = nbx_rm_rf(next, err);
                        goto out;
                }
                /* the old copy steps aside, the new one takes its name, the old one goes */
                if ((had && rename(approved_dir, prev) < 0) || rename(next, approved_dir) < 0) {
                        r = nbx_error_set(err, errno, "approve %s", config_dir);
                        goto out;
                }
                r = had ? nbx_rm_rf(prev, err) : 0;
        }
out:
        if (r >= 0 && ret_changed)
                *ret_changed = changed;
        nbx_tree_done(&live);
        nbx_tree_done(&approved);
        return r;
}
