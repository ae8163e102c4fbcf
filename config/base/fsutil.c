#include "fsutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timeutil.h"

int nbx_mkdir_p(const char *path, mode_t mode, nbx_error **err) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return nbx_error_set(err, ENOMEM, "mkdir %s", path);
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char saved = *s;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return nbx_error_set(err, errno, "create directory %s", p);
                *s = saved;
                if (!saved)
                        break;
        }
        if (!nbx_is_dir(path))
                return nbx_error_set(err, ENOTDIR, "create directory %s", path);
        return 0;
}

int nbx_write_file(const char *path, const void *data, size_t len, mode_t mode, nbx_error **err) {
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
                return nbx_error_set(err, ENOMEM, "write %s", path);
        _cleanup_close_ int fd =
                open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return nbx_error_set(err, errno, "write %s", path);
        if (fchmod(fd, mode) < 0)
                goto fail;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, (const char *)data + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        goto fail;
                off += (size_t)n;
        }
        if (close(TAKE_FD(fd)) < 0 || rename(tmp, path) < 0)
                goto fail;
        return 0;
fail:;
        int e = errno;
        (void)unlink(tmp);
        return nbx_error_set(err, e, "write %s", path);
}

int nbx_read_fd(int fd, const char *what, size_t max, char **ret_data, size_t *ret_len,
                nbx_error **err) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        cap = cap ? cap * 2 : 8192;
                        char *nb = realloc(buf, cap);
                        if (!nb)
                                return nbx_error_set(err, ENOMEM, "read %s", what);
                        buf = nb;
                }
                ssize_t n = read(fd, buf + len, 4096);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return nbx_error_set(err, errno, "read %s", what);
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return nbx_error_set(err, EFBIG, "read %s (larger than %zu bytes)", what,
                                             max);
        }
        if (!buf && !(buf = calloc(1, 1)))
                return nbx_error_set(err, ENOMEM, "read %s", what);
        buf[len] = '\0';
        *ret_data = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int nbx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, nbx_error **err) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return nbx_error_set(err, errno, "read %s", path);
        return nbx_read_fd(fd, path, max, ret_data, ret_len, err);
}

/* openat2's RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, one component at a time, for kernels or
 * tools (valgrind) without openat2: no "..", no absolute path, no link anywhere. */
static int open_beneath_walk(int dirfd, const char *path, int flags, mode_t mode) {
        if (!*path || path[0] == '/')
                return -EXDEV;
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        int cur = dirfd, r = 0;
        char *save = NULL;
        char *comp = strtok_r(copy, "/", &save);
        while (comp) {
                char *next = strtok_r(NULL, "/", &save);
                if (strcmp(comp, "..") == 0) {
                        r = -EXDEV;
                        break;
                }
                int fd = next ? openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                              : openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
                struct stat st;
                if (fd < 0) {
                        r = errno == ENOTDIR && next ? -ELOOP : -errno;
                } else if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
                        r = S_ISLNK(st.st_mode) ? -ELOOP : -errno;
                        close(fd);
                }
                if (cur != dirfd)
                        close(cur);
                if (r < 0)
                        break;
                cur = fd;
                comp = next;
        }
        free(copy);
        if (r < 0)
                return r;
        return cur == dirfd ? -EINVAL : cur;
}

int nbx_open_beneath(int dirfd, const char *path, int flags, mode_t mode) {
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
                               .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                          RESOLVE_NO_MAGICLINKS};
        int fd;
        do
                fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        if (fd < 0 && errno == ENOSYS)
                return open_beneath_walk(dirfd, path, flags, mode);
        return fd < 0 ? -errno : fd;
}

int nbx_dir_private(const char *path, mode_t mode, uid_t uid, gid_t gid, nbx_error **err) {
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return nbx_error_set(err, errno, "create %s", path);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return nbx_error_set(err, errno == ELOOP ? ENOTDIR : errno,
                                     "open %s (it must be a folder, not a link)", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return nbx_error_set(err, errno, "stat %s", path);
        if (st.st_uid != uid && geteuid() == 0 && fchown(fd, uid, gid) < 0)
                return nbx_error_set(err, errno, "chown %s", path);
        if (fstat(fd, &st) < 0 || st.st_uid != uid)
                return nbx_error_set(err, EPERM,
                                     "%s belongs to uid %u, not %u: remove it and try again", path,
                                     (unsigned)st.st_uid, (unsigned)uid);
        if ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0)
                return nbx_error_set(err, errno, "chmod %s", path);
        return 0;
}

static int rm_at(int parent_fd, const char *name, nbx_error **err) {
        struct stat st;
        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : nbx_error_set(err, errno, "remove %s", name);
        if (S_ISDIR(st.st_mode)) {
                int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return nbx_error_set(err, errno, "remove %s", name);
                DIR *d = fdopendir(fd);
                if (!d) {
                        close(fd);
                        return nbx_error_set(err, errno, "remove %s", name);
                }
                struct dirent *de;
                int r = 0;
                while (r == 0 && (de = readdir(d)))
                        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                                r = rm_at(dirfd(d), de->d_name, err);
                closedir(d);
                if (r < 0)
                        return r;
                if (unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        return nbx_error_set(err, errno, "remove %s", name);
                return 0;
        }
        if (unlinkat(parent_fd, name, 0) < 0 && errno != ENOENT)
                return nbx_error_set(err, errno, "remove %s", name);
        return 0;
}

int nbx_rm_rf(const char *path, nbx_error **err) {
        return rm_at(AT_FDCWD, path, err);
}

char *nbx_path_lexical(const char *path) {
        _cleanup_free_ char *abs = NULL;
        if (path[0] == '/') {
                abs = strdup(path);
        } else {
                char cwd[PATH_MAX];
                if (!getcwd(cwd, sizeof(cwd)))
                        return NULL;
                abs = nbx_path_join(cwd, path);
        }
        if (!abs)
                return NULL;
        char *out = malloc(strlen(abs) + 2);
        if (!out)
                return NULL;
        size_t o = 0;
        for (char *p = abs; *p;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *end = strchrnul(p, '/');
                size_t n = (size_t)(end - p);
                if (n == 1 && p[0] == '.') {
                        /* nothing */
                } else if (n == 2 && p[0] == '.' && p[1] == '.') {
                        while (o > 0 && out[o - 1] != '/')
                                o--;
                        if (o > 0)
                                o--; /* the '/' before the dropped component */
                } else {
                        out[o++] = '/';
                        memcpy(out + o, p, n);
                        o += n;
                }
                p = end;
        }
        if (o == 0)
                out[o++] = '/';
        out[o] = '\0';
        return out;
}

bool nbx_path_within(const char *path, const char *root) {
        size_t n = strlen(root);
        while (n > 0 && root[n - 1] == '/')
                n--;
        return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

char *nbx_path_join(const char *a, const char *b) {
        char *r = NULL;
        size_t la = strlen(a);
        if (asprintf(&r, "%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b) < 0)
                return NULL;
        return r;
}

bool nbx_is_dir(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool nbx_is_file(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int nbx_chown_if_root(const char *path, uid_t uid, gid_t gid, nbx_error **err) {
        if (geteuid() != 0 || uid == 0)
                return 0;
        if (lchown(path, uid, gid) < 0)
                return nbx_error_set(err, errno, "chown %s", path);
        return 0;
}

int nbx_lock_file(const char *path, uint64_t deadline_ms, const char *holder, int *ret_fd,
                  nbx_error **err) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return nbx_error_set(err, errno, "open the lock %s", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return nbx_error_set(err, errno, "stat the lock %s", path);
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return nbx_error_set(err, EPERM,
                                     "the lock %s is not a file of user %u (remove it; nixbox "
                                     "creates it again)",
                                     path, (unsigned)geteuid());
        if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0)
                return nbx_error_set(err, errno, "make the lock %s private", path);
        nbx_backoff b = NBX_BACKOFF_INIT;
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return nbx_error_set(err, errno, "lock %s", path);
                if (!nbx_backoff_sleep(&b, deadline_ms))
                        return nbx_error_set(err, EBUSY,
                                             "%s (it holds %s); wait for it to finish and try "
                                             "again",
                                             holder, path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}
