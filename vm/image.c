#include "image.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../config/base/fsutil.h"

#define MANIFEST "image.json"
#define MANIFEST_MAX (64u << 10)
#define CMDLINE_MAX 4096 /* x86 COMMAND_LINE_SIZE is 2048; leave room for other archs */

/* Optional string field: *ret NULL when absent or null.  Anything else than a string is an
 * error naming the field. */
static int get_string(json_t *root, const char *manifest, const char *field, bool required,
                      const char **ret, nbx_error **err) {
        json_t *v = json_object_get(root, field);
        if (!v || json_is_null(v)) {
                if (required)
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                              "%s: field \"%s\" is missing", manifest, field);
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s: field \"%s\" must be a string",
                                      manifest, field);
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: field \"%s\" contains a NUL character", manifest, field);
        *ret = s;
        return 0;
}

/* Resolve a file field against dir and check that it is an existing regular file. */
static int resolve_file(const char *dir, const char *manifest, const char *field, const char *value,
                        char **ret, nbx_error **err) {
        if (!*value)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s: field \"%s\" is empty",
                                      manifest, field);
        _cleanup_free_ char *path = value[0] == '/' ? strdup(value) : nbx_path_join(dir, value);
        if (!path)
                return nbx_error_set(err, ENOMEM, "%s", manifest);
        if (strlen(path) >= PATH_MAX)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s: field \"%s\": path too long",
                                      manifest, field);
        struct stat st;
        if (stat(path, &st) < 0)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, errno, "%s: field \"%s\": %s", manifest,
                                      field, path);
        if (!S_ISREG(st.st_mode))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: field \"%s\": %s is not a regular file", manifest, field,
                                      path);
        *ret = TAKE_PTR(path);
        return 0;
}

/* Characters the hypervisors' option syntax cannot carry in a path (vm/hv.c refuses them too). */
static bool path_ok(const char *s) {
        return !strpbrk(s, ",=\"\n");
}

bool nbx_image_tag_ok(const char *s) {
        size_t n = strlen(s);
        if (n < 1 || n > 23 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                        return false;
        return strncmp(s, "nbxfs", 5) != 0;
}

static int load_share(json_t *v, size_t i, const char *manifest, nbx_image_share *ret,
                      nbx_error **err) {
        if (!json_is_object(v))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: shares[%zu]: expected an object", manifest, i);
        const char *tag, *source;
        int r;
        if ((r = get_string(v, manifest, "tag", true, &tag, err)) < 0 ||
            (r = get_string(v, manifest, "source", true, &source, err)) < 0)
                return nbx_error_wrap(err, "shares[%zu]", i);
        if (!nbx_image_tag_ok(tag))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: shares[%zu]: tag \"%s\": expected "
                                      "[A-Za-z][A-Za-z0-9_-]{0,22}, not starting with nbxfs",
                                      manifest, i, tag);
        struct stat st;
        if (source[0] != '/' || !path_ok(source) || strlen(source) >= PATH_MAX)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: shares[%zu]: source \"%s\": expected an absolute path "
                                      "without , = \" or newlines",
                                      manifest, i, source);
        int e = stat(source, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (e)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, e,
                                      "%s: shares[%zu]: source %s must be a folder of this host",
                                      manifest, i, source);
        ret->tag = strdup(tag);
        ret->source = strdup(source);
        if (!ret->tag || !ret->source)
                return nbx_error_set(err, ENOMEM, "%s", manifest);
        return 0;
}

static int load_shares(json_t *root, const char *manifest, nbx_image *img, nbx_error **err) {
        json_t *a = json_object_get(root, "shares");
        if (!a || json_is_null(a))
                return 0;
        if (!json_is_array(a))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: field \"shares\" must be an array", manifest);
        size_t n = json_array_size(a);
        if (n > NBX_IMAGE_MAX_SHARES)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: field \"shares\": at most %d shares", manifest,
                                      NBX_IMAGE_MAX_SHARES);
        img->shares = calloc(n ? n : 1, sizeof(*img->shares));
        if (!img->shares)
                return nbx_error_set(err, ENOMEM, "%s", manifest);
        for (size_t i = 0; i < n; i++) {
                int r = load_share(json_array_get(a, i), i, manifest, &img->shares[i], err);
                img->n_shares = i + 1; /* what load_share filled in is freed by nbx_image_done */
                if (r < 0)
                        return r;
                for (size_t k = 0; k < i; k++)
                        if (strcmp(img->shares[k].tag, img->shares[i].tag) == 0)
                                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                                      "%s: shares: tag \"%s\" appears twice",
                                                      manifest, img->shares[i].tag);
        }
        return 0;
}

static int load(const char *dir, nbx_image *img, nbx_error **err) {
        int r;

        if (!dir || !*dir)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "vm.image: no image folder given");
        img->dir = realpath(dir, NULL);
        if (!img->dir)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, errno, "vm.image: %s", dir);
        _cleanup_free_ char *manifest = nbx_path_join(img->dir, MANIFEST);
        if (!manifest)
                return nbx_error_set(err, ENOMEM, "image %s", dir);

        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        r = nbx_read_file(manifest, MANIFEST_MAX, &data, &len, err);
        if (r < 0) {
                if (err && *err)
                        (*err)->exit_code = NBX_EXIT_CONFIG;
                return nbx_error_wrap(err, "vm.image");
        }

        json_error_t jerr;
        json_auto_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s:%d:%d: invalid JSON: %s",
                                      manifest, jerr.line, jerr.column, jerr.text);
        if (!json_is_object(root))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s: expected a JSON object",
                                      manifest);

        json_t *version = json_object_get(root, "version");
        if (version && !(json_is_integer(version) && json_integer_value(version) == 1))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: field \"version\": expected 1 (this nixbox reads "
                                      "manifest version 1; rebuild the image with this nixbox)",
                                      manifest);

        const char *kernel, *initrd, *cmdline, *disk, *name;
        if ((r = get_string(root, manifest, "kernel", true, &kernel, err)) < 0 ||
            (r = get_string(root, manifest, "initrd", false, &initrd, err)) < 0 ||
            (r = get_string(root, manifest, "cmdline", false, &cmdline, err)) < 0 ||
            (r = get_string(root, manifest, "disk", false, &disk, err)) < 0 ||
            (r = get_string(root, manifest, "name", false, &name, err)) < 0)
                return r;

        if ((r = resolve_file(img->dir, manifest, "kernel", kernel, &img->kernel, err)) < 0)
                return r;
        if (initrd &&
            (r = resolve_file(img->dir, manifest, "initrd", initrd, &img->initrd, err)) < 0)
                return r;
        if (disk && (r = resolve_file(img->dir, manifest, "disk", disk, &img->disk, err)) < 0)
                return r;
        if (cmdline && strlen(cmdline) >= CMDLINE_MAX)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s: field \"cmdline\" is longer than %d bytes", manifest,
                                      CMDLINE_MAX - 1);
        img->cmdline = strdup(cmdline ? cmdline : "");
        img->name = name ? strdup(name) : NULL;
        if (!img->cmdline || (name && !img->name))
                return nbx_error_set(err, ENOMEM, "%s", manifest);
        return load_shares(root, manifest, img, err);
}

int nbx_image_load(const char *dir, nbx_image *ret, nbx_error **err) {
        nbx_image img = {0};
        int r = load(dir, &img, err);
        if (r < 0) {
                nbx_image_done(&img);
                return r;
        }
        *ret = img;
        return 0;
}

void nbx_image_done(nbx_image *img) {
        if (!img)
                return;
        free(img->dir);
        free(img->kernel);
        free(img->initrd);
        free(img->cmdline);
        free(img->disk);
        free(img->name);
        for (size_t i = 0; i < img->n_shares; i++) {
                free(img->shares[i].tag);
                free(img->shares[i].source);
        }
        free(img->shares);
        *img = (nbx_image){0};
}
