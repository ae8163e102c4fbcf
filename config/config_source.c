/* Errors and warnings about a field of a config source, all in one shape:
 *   network.domains[0]: "com" is a top-level domain: ... (/home/u/p/.nixbox/config.nix) */
#include "config_source.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* " (FILE)" or " (plugin ORIGIN: FILE)"; NULL on ENOMEM. */
static char *where(const nbx_config_source *s) {
        char *out = NULL;
        int n = s->is_user ? asprintf(&out, " (%s)", s->file)
                           : asprintf(&out, " (plugin %s: %s)", s->origin, s->file);
        return n < 0 ? NULL : out;
}

int nbx_config_fail(const nbx_config_source *s, nbx_error **err, const char *field, const char *fmt,
                    ...) {
        _cleanup_free_ char *body = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&body, fmt, ap) < 0)
                body = NULL;
        va_end(ap);
        _cleanup_free_ char *w = where(s);
        if (!body || !w)
                return nbx_error_set(err, ENOMEM, "reporting a config error");
        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s%s%s%s", field ? field : "",
                              field ? ": " : "", body, w);
}

static const char *type_words(const json_t *v) {
        switch (json_typeof(v)) {
        case JSON_STRING:
                return "a string";
        case JSON_INTEGER:
                return "an integer";
        case JSON_REAL:
                return "a float";
        case JSON_TRUE:
        case JSON_FALSE:
                return "a boolean";
        case JSON_NULL:
                return "null";
        case JSON_ARRAY:
                return "a list";
        case JSON_OBJECT:
                return "an attribute set";
        }
        return "a value";
}

int nbx_config_fail_type(const nbx_config_source *s, nbx_error **err, const char *field,
                         const char *expected, const json_t *v) {
        if (json_is_array(v) || json_is_object(v) || json_is_null(v))
                return nbx_config_fail(s, err, field, "expected %s, got %s", expected,
                                       type_words(v));
        _cleanup_free_ char *shown = json_is_string(v) ? nbx_quote(json_string_value(v), 80)
                                                       : json_dumps(v, JSON_ENCODE_ANY);
        return nbx_config_fail(s, err, field, "expected %s, got %s %s", expected, type_words(v),
                               shown ? shown : "");
}

int nbx_config_fail_wrap(const nbx_config_source *s, nbx_error **err, const char *field) {
        if (!err || !*err)
                return nbx_config_fail(s, err, field, "invalid");
        if ((*err)->errnum != ENOMEM)
                (*err)->exit_code = NBX_EXIT_CONFIG;
        _cleanup_free_ char *w = where(s);
        (void)nbx_error_wrap(err, "%s", field ? field : "config");
        return nbx_error_append(err, "%s", w ? w : "");
}

int nbx_config_warn(const nbx_config_source *s, nbx_strv *warnings, const char *field,
                    const char *text, nbx_error **err) {
        _cleanup_free_ char *w = where(s);
        if (!w || nbx_strv_pushf(warnings, "%s: %s%s", field, text, w) < 0)
                return nbx_error_set(err, ENOMEM, "recording a config warning");
        return 0;
}

char *nbx_config_field(const char *prefix, const char *key) {
        char *p = NULL;
        if (asprintf(&p, "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "", key) < 0)
                return NULL;
        return p;
}

char *nbx_config_field_index(const char *prefix, size_t i) {
        char *p = NULL;
        if (asprintf(&p, "%s[%zu]", prefix, i) < 0)
                return NULL;
        return p;
}

const char *nbx_config_nix_type(const char *type_of) {
        static const struct {
                const char *nix, *text;
        } map[] = {{"int", "an integer"},       {"float", "a float"}, {"bool", "a boolean"},
                   {"string", "a string"},      {"path", "a path"},   {"null", "null"},
                   {"set", "an attribute set"}, {"list", "a list"},   {"lambda", "a function"}};
        for (size_t i = 0; type_of && i < NBX_ARRAY_SIZE(map); i++)
                if (strcmp(map[i].nix, type_of) == 0)
                        return map[i].text;
        return type_of ? type_of : "something else";
}
