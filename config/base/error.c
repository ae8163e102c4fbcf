#include "error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_va(nbx_error **err, int exit_code, int errnum, const char *fmt, va_list ap) {
        int e = errnum < 0 ? -errnum : errnum;
        int ret = -(e ? e : EINVAL);

        if (!err || *err)
                return ret;

        nbx_error *n = calloc(1, sizeof(*n));
        if (!n)
                return ret;
        n->errnum = e ? e : EINVAL;
        n->exit_code = exit_code;

        char *body = NULL;
        if (vasprintf(&body, fmt, ap) < 0)
                body = NULL;
        if (body && e) {
                char *full = NULL;
                if (asprintf(&full, "%s: %s", body, strerror(e)) >= 0) {
                        free(body);
                        body = full;
                }
        }
        n->msg = body ? body : strdup("out of memory while formatting an error");
        *err = n;
        return ret;
}

int nbx_error_set(nbx_error **err, int errnum, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = set_va(err, NBX_EXIT_FAILURE, errnum, fmt, ap);
        va_end(ap);
        return r;
}

int nbx_error_setx(nbx_error **err, int exit_code, int errnum, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = set_va(err, exit_code, errnum, fmt, ap);
        va_end(ap);
        return r;
}

static int join(nbx_error **err, bool prefix, const char *fmt, va_list ap) {
        if (!err || !*err)
                return -EINVAL;
        char *extra = NULL, *joined = NULL;
        if (vasprintf(&extra, fmt, ap) < 0)
                return nbx_error_ret(*err);
        int n = prefix ? asprintf(&joined, "%s: %s", extra, (*err)->msg ? (*err)->msg : "")
                       : asprintf(&joined, "%s%s", (*err)->msg ? (*err)->msg : "", extra);
        free(extra);
        if (n >= 0) {
                free((*err)->msg);
                (*err)->msg = joined;
        }
        return nbx_error_ret(*err);
}

int nbx_error_wrap(nbx_error **err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = join(err, true, fmt, ap);
        va_end(ap);
        return r;
}

int nbx_error_append(nbx_error **err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = join(err, false, fmt, ap);
        va_end(ap);
        return r;
}

int nbx_error_ret(const nbx_error *err) {
        return err && err->errnum ? -err->errnum : -EINVAL;
}

void nbx_error_free(nbx_error *err) {
        if (!err)
                return;
        free(err->msg);
        free(err);
}

char *nbx_quote(const char *s, size_t max) {
        if (!s)
                return strdup("null");
        size_t len = strlen(s);
        bool cut = len > max;
        if (cut)
                len = max;
        char *out = malloc(len * 4 + 8);
        if (!out)
                return NULL;
        char *o = out;
        *o++ = '"';
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        *o++ = '\\';
                        *o++ = (char)c;
                } else if (c < 0x20 || c == 0x7f) {
                        o += sprintf(o, "\\x%02x", c);
                } else {
                        *o++ = (char)c;
                }
        }
        *o++ = '"';
        if (cut)
                o = stpcpy(o, "...");
        *o = '\0';
        return out;
}
