#include "virtiofsd.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "seccomp.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
struct mount_attr {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

#define SETUP_TIMEOUT_MS 10000
/* in the runtime folder: which flavour the virtiofsd found last is, and which file it was */
#define VIRTIOFSD_CACHE "virtiofsd-flavour"

void nbx_virtiofsd_done(nbx_virtiofsd *v) {
        free(v->path);
        *v = (nbx_virtiofsd){0};
}

/* Whether the virtiofsd at path is QEMU's C one: it says so in --version. */
static bool ask_c_flavour(const char *path) {
        char *argv[] = {(char *)path, "--version", NULL};
        int status = 0;
        _cleanup_free_ char *out = NULL, *errout = NULL;
        return nbx_run_capture(argv, NULL, nbx_deadline_in(5000), &status, &out, &errout, NULL) ==
                       0 &&
               out && (strstr(out, "FUSE kernel interface") || strstr(out, "QEMU Project"));
}

/* The answer for this very file (device, inode, size, modification time) from cache_dir's
 * record, or asked and recorded there: running virtiofsd --version costs every `up` ~2 ms. */
static bool c_flavour_of(const char *path, const char *cache_dir) {
        struct stat st;
        _cleanup_free_ char *cache = cache_dir ? nbx_path_join(cache_dir, VIRTIOFSD_CACHE) : NULL;
        if (!cache || stat(path, &st) < 0)
                return ask_c_flavour(path);
        char key[PATH_MAX + 128];
        int n = snprintf(key, sizeof(key), "%llu %llu %lld %lld.%09ld %s\n",
                         (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                         (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                         (long)st.st_mtim.tv_nsec, path);
        if (n < 0 || (size_t)n >= sizeof(key))
                return ask_c_flavour(path);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        if (nbx_read_file(cache, sizeof(key) + 8, &text, &len, NULL) == 0 && len == (size_t)n + 2 &&
            strncmp(text + 2, key, (size_t)n) == 0 && text[1] == ' ')
                return text[0] == 'c';
        bool c = ask_c_flavour(path);
        _cleanup_free_ char *line = NULL;
        if (asprintf(&line, "%c %s", c ? 'c' : 'r', key) >= 0)
                (void)nbx_write_file(cache, line, strlen(line), 0644, NULL);
        return c;
}

int nbx_virtiofsd_find_cached(const char *cache_dir, nbx_virtiofsd *ret, nbx_error **err) {
        static const char *const candidates[] = {"virtiofsd", "/usr/libexec/virtiofsd",
                                                 "/usr/lib/qemu/virtiofsd"};
        for (size_t i = 0; i < NBX_ARRAY_SIZE(candidates); i++) {
                char *path = nbx_find_program(candidates[i]);
                if (!path)
                        continue;
                *ret = (nbx_virtiofsd){.path = path, .c_flavour = c_flavour_of(path, cache_dir)};
                return 0;
        }
        return nbx_error_setx(err, NBX_EXIT_PREREQ, ENOENT,
                              "virtiofsd not found (install the Debian package qemu-system-common "
                              "or virtiofsd)");
}

int nbx_virtiofsd_find(nbx_virtiofsd *ret, nbx_error **err) {
        return nbx_virtiofsd_find_cached(NULL, ret, err);
}

int nbx_virtiofsd_argv(const nbx_virtiofsd *v, int fd, nbx_strv *ret, nbx_error **err) {
        nbx_strv a = {0};
        int r = nbx_strv_push(&a, v->path);
        if (r >= 0)
                r = nbx_strv_pushf(&a, "--fd=%d", fd);
        if (v->c_flavour) {
                static const char *const c_opts[] = {
                        "-o", ("source=" NBX_VIRTIOFSD_ROOT), "-o", "cache=auto", "-o",
                        "sandbox=namespace", "-o", "no_xattr",
                        /* no device nodes, no file capabilities, whatever the filter allows */
                        "-o", "modcaps=-mknod:-setfcap", "--rlimit-nofile=0"};
                for (size_t i = 0; r >= 0 && i < NBX_ARRAY_SIZE(c_opts); i++)
                        r = nbx_strv_push(&a, c_opts[i]);
        } else {
                static const char *const rust_opts[] = {
                        "--shared-dir", NBX_VIRTIOFSD_ROOT, "--cache",         "auto",
                        "--sandbox",    "namespace",        "--rlimit-nofile", "0"};
                for (size_t i = 0; r >= 0 && i < NBX_ARRAY_SIZE(rust_opts); i++)
                        r = nbx_strv_push(&a, rust_opts[i]);
        }
        if (r < 0) {
                nbx_strv_clear(&a);
                return nbx_error_set(err, ENOMEM, "virtiofsd argv");
        }
        *ret = a;
        return 0;
}

/* ---- the listening socket ------------------------------------------------------------------- */

static int listen_socket(const char *path, uid_t uid, gid_t gid, nbx_error **err) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return nbx_error_set(err, ENAMETOOLONG, "socket path %s", path);
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return nbx_error_set(err, errno, "socket for %s", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return nbx_error_set(err, errno, "remove the old socket %s", path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return nbx_error_set(err, errno, "bind %s", path);
        /* only the invoker's hypervisor may connect */
        if ((geteuid() == 0 && lchown(path, uid, gid) < 0) || chmod(path, 0600) < 0 ||
            listen(fd, 4) < 0) {
                int e = errno;
                (void)unlink(path);
                return nbx_error_set(err, e, "set up the socket %s", path);
        }
        return TAKE_FD(fd);
}

/* ---- the child's namespaces ----------------------------------------------------------------- */

typedef struct setup {
        int to_child[2];   /* parent writes 'g' once the id maps are written */
        int from_child[2]; /* child writes 'u' once it is in its user namespace */
        int source_fd;     /* O_PATH of the share, opened as the invoker */
        int protect_fd;    /* O_PATH of the share's .nixbox/, or -1 */
        bool readonly;
        const nbx_idmap *map;
} setup;

/* A detached copy of the mount tree at fd, with attrs set on all of it (before any namespace
 * change: the copy is made in the host's mount namespace, where fd's mount lives). */
static int clone_tree(int fd, uint64_t attrs) {
        int tree = (int)syscall(SYS_open_tree, fd, "",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree < 0)
                return -errno;
        struct mount_attr a = {.attr_set = attrs};
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0) {
                int e = errno;
                close(tree);
                return -e;
        }
        return tree;
}

static int attach(int tree, const char *target) {
        return syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0
                       ? -errno
                       : 0;
}

#define STEP(call, name)                                                                           \
        do {                                                                                       \
                int _r = (call);                                                                   \
                if (_r < 0) {                                                                      \
                        *ret_what = name;                                                          \
                        return _r;                                                                 \
                }                                                                                  \
        } while (0)
#define SYSCALL(call) ((call) < 0 ? -errno : 0)

/* In the host's user namespace still: a private mount namespace where the share (and its
 * .nixbox/, read-only) is mounted at NBX_VIRTIOFSD_ROOT with nosuid,nodev (and ro). */
static int mount_share(setup *s, const char **ret_what) {
        uint64_t attrs =
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (s->readonly ? MOUNT_ATTR_RDONLY : 0);
        int tree = clone_tree(s->source_fd, attrs);
        STEP(tree, "copy the share's mount");
        int ptree = -1;
        if (s->protect_fd >= 0) {
                ptree = clone_tree(s->protect_fd,
                                   MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
                STEP(ptree, "copy .nixbox's mount");
        }
        STEP(SYSCALL(unshare(CLONE_NEWNS)), "enter a mount namespace");
        STEP(SYSCALL(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)), "make mounts private");
        STEP(SYSCALL(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")),
             "mount /run");
        STEP(SYSCALL(mkdir(NBX_VIRTIOFSD_ROOT, 0755)), "create the share's mount point");
        STEP(attach(tree, NBX_VIRTIOFSD_ROOT), "mount the share");
        if (ptree >= 0)
                STEP(attach(ptree, NBX_VIRTIOFSD_ROOT "/.nixbox"), "mount .nixbox read-only");
        return 0;
}

static int child_setup(void *data, const char **ret_what) {
        setup *s = data;
        close(s->to_child[1]);
        close(s->from_child[0]);
        /* as many open files as large trees need; where root may not raise the hard limit (no
         * CAP_SYS_RESOURCE, e.g. in a container), the hard limit it has */
        struct rlimit nofile = {NBX_VIRTIOFSD_NOFILE, NBX_VIRTIOFSD_NOFILE};
        if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) {
                STEP(SYSCALL(getrlimit(RLIMIT_NOFILE, &nofile)), "read the file limit");
                nofile.rlim_cur = nofile.rlim_max;
                STEP(SYSCALL(setrlimit(RLIMIT_NOFILE, &nofile)), "raise the file limit");
        }
        int r = mount_share(s, ret_what);
        if (r < 0)
                return r;
        STEP(SYSCALL(unshare(CLONE_NEWUSER)), "enter a user namespace");
        char c = 'u';
        STEP(write(s->from_child[1], &c, 1) == 1 ? 0 : -EPIPE, "report the user namespace");
        STEP(read(s->to_child[0], &c, 1) == 1 && c == 'g' ? 0 : -EPIPE, "wait for the id map");
        /* root of the namespace: the invoker's first subordinate id on the host */
        STEP(SYSCALL(setgroups(0, NULL)), "drop the groups");
        STEP(SYSCALL(setresgid(0, 0, 0)), "switch group");
        STEP(SYSCALL(setresuid(0, 0, 0)), "switch user");
        /* a mount namespace of the new user namespace: the kernel locks the mounts it copies
         * (ro, nosuid, nodev cannot be undone from inside, even by a compromised virtiofsd) */
        STEP(SYSCALL(unshare(CLONE_NEWNS)), "lock the mounts");
        close(s->source_fd);
        if (s->protect_fd >= 0)
                close(s->protect_fd);
        STEP(SYSCALL(chdir("/")), "change directory");
        STEP(nbx_seccomp_share_install(), "install the seccomp filter");
        return 0;
}

static int write_map(pid_t pid, const char *file, const char *text, nbx_error **err) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
                return nbx_error_set(err, errno, "write %s", path);
        return 0;
}

static int read_byte(int fd, uint64_t deadline_ms) {
        for (;;) {
                uint64_t now = nbx_now_ms();
                if (now >= deadline_ms)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int n = poll(&p, 1, (int)(deadline_ms - now));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        continue;
                char c;
                ssize_t got = read(fd, &c, 1);
                return got == 1 ? c : -EPIPE;
        }
}

static int parent_setup(pid_t pid, void *data, nbx_error **err) {
        setup *s = data;
        close(s->to_child[0]);
        close(s->from_child[1]);
        s->to_child[0] = s->from_child[1] = -1;
        int c = read_byte(s->from_child[0], nbx_deadline_in(SETUP_TIMEOUT_MS));
        if (c != 'u')
                return c == -EPIPE ? 0 /* the child failed: its report says why */
                                   : nbx_error_set(err, c < 0 ? -c : EPROTO,
                                                   "virtiofsd's namespace setup");
        char um[160], gm[160];
        if (nbx_idmap_format(s->map, 'u', um, sizeof(um)) < 0 ||
            nbx_idmap_format(s->map, 'g', gm, sizeof(gm)) < 0)
                return nbx_error_set(err, EINVAL, "id map for uid %u / gid %u",
                                     (unsigned)s->map->uid, (unsigned)s->map->gid);
        int r;
        if ((r = write_map(pid, "uid_map", um, err)) < 0 ||
            (r = write_map(pid, "gid_map", gm, err)) < 0)
                return r;
        char g = 'g';
        if (write(s->to_child[1], &g, 1) != 1)
                return 0; /* the child is gone: its report says why */
        return 0;
}

static void setup_done(setup *s) {
        for (int i = 0; i < 2; i++) {
                nbx_closep(&s->to_child[i]);
                nbx_closep(&s->from_child[i]);
        }
        nbx_closep(&s->source_fd);
        nbx_closep(&s->protect_fd);
}

/* The share and its .nixbox/, opened as the invoker: what the invoker cannot read is refused,
 * and a link planted as the share's last component or as .nixbox is not followed. */
static int open_share(const nbx_share_start *sh, setup *s, nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(sh->inv, &fs, err);
        if (r < 0)
                return r;
        size_t bl = sh->beneath ? strlen(sh->beneath) : 0;
        if (bl && strncmp(sh->source, sh->beneath, bl) == 0 && sh->source[bl] == '/') {
                _cleanup_close_ int root =
                        open(sh->beneath, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int fd = root < 0 ? -errno
                                  : nbx_open_beneath(root, sh->source + bl + 1,
                                                     O_PATH | O_DIRECTORY, 0);
                if (fd == -ELOOP || fd == -EXDEV)
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, ELOOP,
                                              "share %s: a folder on its way from %s is a "
                                              "symbolic link, which the VM could have planted; "
                                              "nixbox shares no folder through a link there",
                                              sh->source, sh->beneath);
                s->source_fd = fd < 0 ? (errno = -fd, -1) : fd;
        } else {
                s->source_fd = open(sh->source, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (s->source_fd < 0)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, errno,
                                      "share %s: %s cannot open it as a folder", sh->source,
                                      sh->inv->name);
        char p[32];
        snprintf(p, sizeof(p), "/proc/self/fd/%d", s->source_fd);
        if (faccessat(AT_FDCWD, p, R_OK | X_OK, AT_EACCESS) < 0) /* with the fsuid */
                return nbx_error_setx(err, NBX_EXIT_CONFIG, errno, "share %s: %s may not read it",
                                      sh->source, sh->inv->name);
        struct stat st;
        if (fstatat(s->source_fd, ".nixbox", &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0;
                return nbx_error_set(err, errno, "share %s: look at .nixbox", sh->source);
        }
        int pfd = S_ISDIR(st.st_mode)
                          ? nbx_open_beneath(s->source_fd, ".nixbox", O_PATH | O_DIRECTORY, 0)
                          : -ELOOP;
        if (pfd < 0)
                return nbx_error_set(err, -pfd,
                                     "share %s: .nixbox is not a plain folder (a link?); "
                                     "nixbox shares no project whose .nixbox it cannot protect",
                                     sh->source);
        s->protect_fd = pfd;
        return 0;
}

int nbx_virtiofsd_check_source(const char *source, const char *beneath, const nbx_invoker *inv,
                               nbx_error **err) {
        nbx_share_start st = {.source = source, .inv = inv, .beneath = beneath};
        setup s = {.to_child = {-1, -1}, .from_child = {-1, -1}, .source_fd = -1, .protect_fd = -1};
        int r = open_share(&st, &s, err);
        setup_done(&s);
        return r;
}

int nbx_virtiofsd_start(const nbx_virtiofsd *v, const nbx_share_start *st, pid_t *ret_pid,
                        nbx_error **err) {
        setup s = {.to_child = {-1, -1},
                   .from_child = {-1, -1},
                   .source_fd = -1,
                   .protect_fd = -1,
                   .readonly = st->readonly,
                   .map = st->map};
        int r = open_share(st, &s, err);
        _cleanup_close_ int lfd = -1;
        if (r >= 0 && (lfd = listen_socket(st->socket, st->inv->uid, st->inv->gid, err)) < 0)
                r = lfd;
        if (r >= 0 && (pipe2(s.to_child, O_CLOEXEC) < 0 || pipe2(s.from_child, O_CLOEXEC) < 0))
                r = nbx_error_set(err, errno, "virtiofsd: pipe");
        _cleanup_strv_ nbx_strv argv = {0};
        if (r >= 0)
                r = nbx_virtiofsd_argv(v, lfd, &argv, err);
        if (r >= 0) {
                nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
                so.new_session = true;
                so.envp = st->envp;
                so.stdout_fd = st->log_fd;
                so.stderr_fd = st->log_fd;
                so.keep_fds = &lfd;
                so.n_keep_fds = 1;
                so.child_setup = child_setup;
                so.parent_setup = parent_setup;
                so.setup_data = &s;
                r = nbx_spawn(argv.v, &so, ret_pid, err);
                if (r < 0)
                        (void)unlink(st->socket);
        }
        setup_done(&s);
        return r < 0 ? nbx_error_wrap(err, "virtiofsd for %s", st->source) : 0;
}

void nbx_virtiofsd_check(nbx_checks *l, const nbx_invoker *inv) {
        nbx_check *c = nbx_checks_add(l, "virtiofsd", true);
        if (!c)
                return;
        nbx_virtiofsd v;
        if (nbx_virtiofsd_find(&v, NULL) < 0) {
                nbx_check_set(c, NBX_CHECK_MISSING,
                              "sudo apt-get install qemu-system-common (Debian 12 ships "
                              "/usr/lib/qemu/virtiofsd) or the virtiofsd package",
                              "virtiofsd not found");
                return;
        }
        nbx_check_set(c, NBX_CHECK_OK, NULL, "%s (%s), confined in a user namespace", v.path,
                      v.c_flavour ? "QEMU's C virtiofsd" : "Rust virtiofsd");
        nbx_virtiofsd_done(&v);

        c = nbx_checks_add(l, "subordinate ids", false);
        if (!c)
                return;
        if (!inv || inv->uid == 0) {
                nbx_check_set(c, NBX_CHECK_WARN,
                              "run `sudo nixbox doctor` from the account that will run VMs",
                              "not checked: VMs run for a user account, and this is root's");
                return;
        }
        nbx_idmap m;
        if (nbx_idmap_get(inv, NULL, NULL, false, &m, NULL, NULL) < 0)
                nbx_check_set(c, NBX_CHECK_WARN,
                              "nothing to do: `sudo nixbox up` reserves a range in /etc/subuid "
                              "and /etc/subgid",
                              "%s has none in /etc/subuid and /etc/subgid (shares map guest ids "
                              "there)",
                              inv->name);
        else
                nbx_check_set(c, NBX_CHECK_OK, NULL, "%s: uids %u-%u, gids %u-%u", inv->name,
                              (unsigned)m.sub_uid, (unsigned)(m.sub_uid + NBX_IDMAP_RANGE - 1),
                              (unsigned)m.sub_gid, (unsigned)(m.sub_gid + NBX_IDMAP_RANGE - 1));
}
