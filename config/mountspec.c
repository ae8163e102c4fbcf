#include "mountspec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fsutil.h"
#include "domain.h"

#define QUOTE_MAX 200

void nbx_mountspec_done(nbx_mountspec *m) {
        free(m->source);
        free(m->target);
        *m = (nbx_mountspec){0};
}

/* a usage error: what the user typed is refused */
#define usage(err, ...) nbx_error_setx(err, NBX_EXIT_USAGE, 0, __VA_ARGS__)

enum spec_key { KEY_SOURCE, KEY_TARGET, KEY_READONLY, KEY_TYPE, KEY_COUNT };

/* name → key; the first name of each key is the one errors use */
static const struct {
        const char *name;
        enum spec_key key;
} spec_names[] = {
        {"source", KEY_SOURCE}, {"src", KEY_SOURCE},         {"target", KEY_TARGET},
        {"dst", KEY_TARGET},    {"destination", KEY_TARGET}, {"readonly", KEY_READONLY},
        {"ro", KEY_READONLY},   {"type", KEY_TYPE},
};

static const char *key_name(enum spec_key k) {
        for (size_t i = 0; i < NBX_ARRAY_SIZE(spec_names); i++)
                if (spec_names[i].key == k)
                        return spec_names[i].name;
        return "?";
}

static int parse_bool(const char *v, bool *ret) {
        if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                *ret = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* One field "key" or "key=value" (field is modified: '=' becomes NUL). */
static int parse_field(char *field, nbx_mountspec *m, bool seen[KEY_COUNT], nbx_error **err) {
        char *value = strchr(field, '=');
        if (value)
                *value++ = '\0';
        _cleanup_free_ char *qk = nbx_quote(field, QUOTE_MAX);
        if (!*field)
                return usage(err, "mount spec: an empty field (fields are key=value, separated by "
                                  "single commas)");
        size_t i = 0;
        while (i < NBX_ARRAY_SIZE(spec_names) && strcmp(spec_names[i].name, field) != 0)
                i++;
        if (i == NBX_ARRAY_SIZE(spec_names))
                return usage(err,
                             "mount spec: unknown field %s (expected source=PATH, target=PATH, "
                             "readonly, type=bind)",
                             qk ? qk : "?");
        enum spec_key k = spec_names[i].key;
        if (seen[k])
                return usage(err, "mount spec: %s is given twice", key_name(k));
        seen[k] = true;
        switch (k) {
        case KEY_SOURCE:
        case KEY_TARGET: {
                if (!value || !*value)
                        return usage(err, "mount spec: %s needs a path (%s=PATH)", key_name(k),
                                     key_name(k));
                char *copy = strdup(value);
                if (!copy)
                        return nbx_error_set(err, ENOMEM, "mount spec");
                *(k == KEY_SOURCE ? &m->source : &m->target) = copy;
                return 0;
        }
        case KEY_READONLY:
                if (parse_bool(value, &m->readonly) < 0)
                        return usage(err, "mount spec: readonly takes true or false, not %s",
                                     value);
                return 0;
        case KEY_TYPE:
                if (!value || strcmp(value, "bind") != 0)
                        return usage(err,
                                     "mount spec: type %s is not supported (nixbox shares host "
                                     "folders: type=bind, or leave type out)",
                                     value ? value : "(empty)");
                return 0;
        default:
                return usage(err, "mount spec: unknown field");
        }
}

int nbx_mountspec_parse(const char *spec, nbx_mountspec *ret, nbx_error **err) {
        if (strlen(spec) > NBX_MOUNTSPEC_MAX)
                return usage(err, "mount spec longer than %d bytes", NBX_MOUNTSPEC_MAX);
        _cleanup_free_ char *copy = strdup(spec);
        if (!copy)
                return nbx_error_set(err, ENOMEM, "mount spec");
        nbx_mountspec m = {0};
        bool seen[KEY_COUNT] = {false};
        char *p = copy;
        int r = 0;
        for (;;) {
                char *comma = strchr(p, ',');
                if (comma)
                        *comma = '\0';
                if ((r = parse_field(p, &m, seen, err)) < 0)
                        break;
                if (!comma)
                        break;
                p = comma + 1;
        }
        if (r >= 0 && (!m.source || !m.target))
                r = usage(err, "mount spec: %s missing (source=PATH,target=PATH[,readonly])",
                          !m.source ? "source=PATH is" : "target=PATH is");
        if (r < 0) {
                nbx_mountspec_done(&m);
                return r;
        }
        *ret = m;
        return 0;
}

int nbx_mountspec_from_args(char *const *args, size_t n, bool readonly, nbx_mountspec *ret,
                            nbx_error **err) {
        if (n == 1) {
                if (!strchr(args[0], '='))
                        return usage(err, "expected SOURCE TARGET, or one spec "
                                          "source=PATH,target=PATH[,readonly]");
                int r = nbx_mountspec_parse(args[0], ret, err);
                if (r >= 0)
                        ret->readonly |= readonly;
                return r;
        }
        if (n != 2)
                return usage(err,
                             "expected SOURCE TARGET, or one spec "
                             "source=PATH,target=PATH[,readonly] (got %zu arguments)",
                             n);
        for (size_t i = 0; i < 2; i++) {
                if (!*args[i])
                        return usage(err, "%s is empty", i == 0 ? "SOURCE" : "TARGET");
                if (strlen(args[i]) > NBX_MOUNTSPEC_MAX)
                        return usage(err, "%s is longer than %d bytes",
                                     i == 0 ? "SOURCE" : "TARGET", NBX_MOUNTSPEC_MAX);
        }
        nbx_mountspec m = {
                .source = strdup(args[0]), .target = strdup(args[1]), .readonly = readonly};
        if (!m.source || !m.target) {
                nbx_mountspec_done(&m);
                return nbx_error_set(err, ENOMEM, "mount arguments");
        }
        *ret = m;
        return 0;
}

static bool has_control(const char *s) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return true;
        return false;
}

int nbx_mountspec_guest_path(const char *in, const char *guest_home, char **ret, nbx_error **err) {
        _cleanup_free_ char *q = nbx_quote(in, QUOTE_MAX);
        const char *qs = q ? q : "(path)";
        if (strlen(in) > NBX_GUEST_PATH_MAX)
                return usage(err, "guest path longer than %d bytes", NBX_GUEST_PATH_MAX);
        _cleanup_free_ char *abs = NULL;
        if (in[0] == '~') {
                if (in[1] != '\0' && in[1] != '/')
                        return usage(err, "%s: only ~ and ~/... are supported (not ~user)", qs);
                if (!guest_home || guest_home[0] != '/')
                        return nbx_error_set(err, EINVAL, "%s: no guest home folder for ~", qs);
                if (asprintf(&abs, "%s/%s", guest_home, in + 1) < 0)
                        abs = NULL;
        } else if (in[0] == '/') {
                abs = strdup(in);
        } else {
                return usage(err, "expected an absolute path or ~/..., got %s", qs);
        }
        if (!abs)
                return nbx_error_set(err, ENOMEM, "guest path");
        if (strlen(abs) > NBX_GUEST_PATH_MAX)
                return usage(err, "guest path longer than %d bytes", NBX_GUEST_PATH_MAX);
        if (has_control(abs))
                return usage(err, "%s contains a control character", qs);
        if (strstr(abs, ".."))
                return usage(err, "%s: \"..\" is not allowed in a guest path", qs);
        /* abs is absolute: every component follows a '/' */
        size_t len = strlen(abs);
        if (strstr(abs, "/./") || (len >= 2 && strcmp(abs + len - 2, "/.") == 0))
                return usage(err, "%s: a \".\" component is not allowed", qs);
        /* without "." and "..", only repeated and trailing slashes go */
        _cleanup_free_ char *out = nbx_path_lexical(abs);
        if (!out)
                return nbx_error_set(err, ENOMEM, "guest path");
        if (strcmp(out, "/") == 0)
                return usage(err, "%s: cannot mount over the guest's root folder", qs);
        *ret = TAKE_PTR(out);
        return 0;
}
