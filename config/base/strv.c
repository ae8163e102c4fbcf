#include "strv.h"

#include <jansson.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nbx_strv_push_take(nbx_strv *s, char *str) {
        if (!str)
                return -ENOMEM;
        if (s->n + 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 8;
                char **v = realloc(s->v, cap * sizeof(char *));
                if (!v) {
                        free(str);
                        return -ENOMEM;
                }
                s->v = v;
                s->cap = cap;
        }
        s->v[s->n++] = str;
        s->v[s->n] = NULL;
        return 0;
}

int nbx_strv_push(nbx_strv *s, const char *str) {
        return nbx_strv_push_take(s, strdup(str));
}

int nbx_strv_pushf(nbx_strv *s, const char *fmt, ...) {
        char *str = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&str, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return nbx_strv_push_take(s, str);
}

int nbx_strv_extend(nbx_strv *s, const nbx_strv *from) {
        for (size_t i = 0; i < from->n; i++)
                if (nbx_strv_push(s, from->v[i]) < 0)
                        return -ENOMEM;
        return 0;
}

bool nbx_strv_contains(const nbx_strv *s, const char *str) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->v[i], str) == 0)
                        return true;
        return false;
}

int nbx_strv_push_unique(nbx_strv *s, const char *str) {
        if (nbx_strv_contains(s, str))
                return 0;
        return nbx_strv_push(s, str);
}

void nbx_strv_clear(nbx_strv *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->v[i]);
        free(s->v);
        *s = (nbx_strv){0};
}

json_t *nbx_strv_to_json(const nbx_strv *s) {
        json_auto_t *a = json_array();
        for (size_t i = 0; a && i < s->n; i++)
                if (json_array_append_new(a, json_string(s->v[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}
