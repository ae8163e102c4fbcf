#include "guest_inputs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/strv.h"

#define BUILD_FLAKE "build/flake.nix"

const char *nbx_guest_inputs_system(void) {
        struct utsname u;
        if (uname(&u) < 0)
                return NULL;
        if (strcmp(u.machine, "x86_64") == 0)
                return "x86_64-linux";
        if (strcmp(u.machine, "aarch64") == 0)
                return "aarch64-linux";
        return NULL;
}

int nbx_guest_inputs_json(const nbx_config *c, const char *system, char **ret, nbx_error **err) {
        /* plugins by their display names: a path plugin's absolute path would make the image
         * depend on where the project lives */
        json_t *plugins = json_array();
        for (size_t i = 0; plugins && i < c->n_plugins; i++)
                if (json_array_append_new(plugins, json_string(c->plugins[i].origin)) < 0)
                        return nbx_error_set(err, ENOMEM, "writing guest.json");
        json_auto_t *root = json_pack("{s:i, s:s, s:o, s:o, s:o}", "version",
                                      NBX_GUEST_JSON_VERSION, "system", system, "plugins", plugins,
                                      "packages", nbx_strv_to_json(&c->nix_packages), "ldLibraries",
                                      nbx_strv_to_json(&c->nix_ld_libraries));
        char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        char *out = NULL;
        if (!s || asprintf(&out, "%s\n", s) < 0)
                out = NULL;
        free(s);
        if (!out)
                return nbx_error_set(err, ENOMEM, "writing guest.json");
        *ret = out;
        return 0;
}

int nbx_guest_inputs_lock_path(const nbx_project *p, char **ret, nbx_error **err) {
        char *path = nbx_path_join(p->nixbox_dir, NBX_GUEST_LOCK);
        if (!path)
                return nbx_error_set(err, ENOMEM, "the project's %s", NBX_GUEST_LOCK);
        *ret = path;
        return 0;
}

/* ---- walking a folder: regular files and folders only, in path order ---------------------- */

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void closedirp(DIR **d) {
        if (*d)
                (void)closedir(*d);
}

/* Append the relative paths of the regular files below root/rel to out ("" = root itself). */
static int list_files(const char *root, const char *rel, nbx_strv *out, nbx_error **err) {
        _cleanup_free_ char *dir = *rel ? nbx_path_join(root, rel) : strdup(root);
        if (!dir)
                return nbx_error_set(err, ENOMEM, "list %s", root);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return nbx_error_set(err, errno, "open folder %s", dir);
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                return nbx_error_set(err, e, "open folder %s", dir);
        }
        _cleanup_strv_ nbx_strv names = {0};
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (nbx_strv_push(&names, de->d_name) < 0)
                        return nbx_error_set(err, ENOMEM, "list %s", dir);
        }
        if (errno)
                return nbx_error_set(err, errno, "read folder %s", dir);
        if (names.n)
                qsort(names.v, names.n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < names.n; i++) {
                struct stat st;
                if (fstatat(dirfd(d), names.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return nbx_error_set(err, errno, "%s/%s", dir, names.v[i]);
                _cleanup_free_ char *sub =
                        *rel ? nbx_path_join(rel, names.v[i]) : strdup(names.v[i]);
                if (!sub)
                        return nbx_error_set(err, ENOMEM, "list %s", dir);
                int r;
                if (S_ISDIR(st.st_mode))
                        r = list_files(root, sub, out, err);
                else if (S_ISREG(st.st_mode))
                        r = nbx_strv_push(out, sub) < 0 ? nbx_error_set(err, ENOMEM, "list %s", dir)
                                                        : 0;
                else
                        r = nbx_error_setx(err, NBX_EXIT_FAILURE, 0,
                                           "%s/%s: not a regular file or folder (broken "
                                           "installation?)",
                                           dir, names.v[i]);
                if (r < 0)
                        return r;
                if (out->n > NBX_GUEST_MAX_FILES)
                        return nbx_error_setx(err, NBX_EXIT_FAILURE, 0, "%s: more than %d files",
                                              root, NBX_GUEST_MAX_FILES);
        }
        return 0;
}

static int read_rel(const char *root, const char *rel, char **ret, size_t *ret_len,
                    nbx_error **err) {
        _cleanup_free_ char *path = nbx_path_join(root, rel);
        if (!path)
                return nbx_error_set(err, ENOMEM, "read %s", rel);
        return nbx_read_file(path, NBX_GUEST_FILE_MAX, ret, ret_len, err);
}

/* ---- staging -------------------------------------------------------------------------------- */

static int write_rel(const char *root, const char *rel, const void *data, size_t len,
                     nbx_error **err) {
        _cleanup_free_ char *path = nbx_path_join(root, rel);
        if (!path)
                return nbx_error_set(err, ENOMEM, "write %s", rel);
        _cleanup_free_ char *parent = strdup(path);
        if (!parent)
                return nbx_error_set(err, ENOMEM, "write %s", rel);
        *strrchr(parent, '/') = '\0';
        int r = nbx_mkdir_p(parent, 0755, err);
        if (r < 0)
                return r;
        return nbx_write_file(path, data, len, 0644, err);
}

static int copy_tree(const char *from, const char *to, nbx_error **err) {
        _cleanup_strv_ nbx_strv files = {0};
        int r = list_files(from, "", &files, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < files.n; i++) {
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                if ((r = read_rel(from, files.v[i], &data, &len, err)) < 0 ||
                    (r = write_rel(to, files.v[i], data, len, err)) < 0)
                        return r;
        }
        return 0;
}

int nbx_guest_inputs_stage(const char *dir, const char *nix_dir, const char *guest_json,
                           const char *lock, size_t lock_len, nbx_error **err) {
        int r;
        _cleanup_free_ char *nix_copy = nbx_path_join(dir, "nix");
        if (!nix_copy)
                return nbx_error_set(err, ENOMEM, "stage %s", dir);
        if ((r = copy_tree(nix_dir, nix_copy, err)) < 0)
                return nbx_error_wrap(err, "copy nixbox's Nix files");
        _cleanup_free_ char *flake = NULL;
        size_t flake_len = 0;
        if ((r = read_rel(nix_dir, BUILD_FLAKE, &flake, &flake_len, err)) < 0)
                return nbx_error_wrap(err, "nixbox's guest build flake (broken installation?)");
        if ((r = write_rel(dir, "flake.nix", flake, flake_len, err)) < 0 ||
            (r = write_rel(dir, NBX_GUEST_JSON, guest_json, strlen(guest_json), err)) < 0)
                return r;
        if (lock && (r = write_rel(dir, NBX_GUEST_LOCK, lock, lock_len, err)) < 0)
                return r;
        return 0;
}

/* ---- the key -------------------------------------------------------------------------------- */

int nbx_guest_inputs_key(const char *dir, char ret[NBX_SHA256_HEX], nbx_error **err) {
        _cleanup_strv_ nbx_strv files = {0};
        int r = list_files(dir, "", &files, err);
        if (r < 0)
                return r;
        nbx_sha256 h;
        nbx_sha256_init(&h);
        static const char head[] = "nixbox guest inputs 1\n";
        nbx_sha256_update(&h, head, sizeof(head) - 1);
        for (size_t i = 0; i < files.n; i++) {
                _cleanup_free_ char *data = NULL;
                size_t len = 0;
                if ((r = read_rel(dir, files.v[i], &data, &len, err)) < 0)
                        return r;
                /* the path and the length first: no two folders hash alike by shifting bytes
                 * between names and contents */
                char line[64];
                int n = snprintf(line, sizeof(line), "\n%zu %zu\n", strlen(files.v[i]), len);
                nbx_sha256_update(&h, line, (size_t)n);
                nbx_sha256_update(&h, files.v[i], strlen(files.v[i]));
                nbx_sha256_update(&h, "\n", 1);
                nbx_sha256_update(&h, data, len);
        }
        uint8_t d[NBX_SHA256_LEN];
        nbx_sha256_final(&h, d);
        nbx_sha256_to_hex(d, ret);
        return 0;
}
