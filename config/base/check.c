#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

nbx_check *nbx_checks_add(nbx_checks *l, const char *name, bool required) {
        if (l->n >= NBX_MAX_CHECKS)
                return NULL;
        nbx_check *c = &l->v[l->n++];
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->required = required;
        return c;
}

void nbx_check_set(nbx_check *c, enum nbx_check_status status, const char *fix,
                   const char *detail_fmt, ...) {
        c->status = status;
        va_list ap;
        va_start(ap, detail_fmt);
        vsnprintf(c->detail, sizeof(c->detail), detail_fmt, ap);
        va_end(ap);
        snprintf(c->fix, sizeof(c->fix), "%s", fix ? fix : "");
}

bool nbx_checks_failed(const nbx_checks *l) {
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].required && l->v[i].status == NBX_CHECK_MISSING)
                        return true;
        return false;
}

const char *nbx_check_status_name(enum nbx_check_status s) {
        return s == NBX_CHECK_OK ? "OK" : s == NBX_CHECK_WARN ? "WARN" : "MISSING";
}
