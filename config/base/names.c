#include "names.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *nbx_names_get(const nbx_names *t, int i) {
        return i >= 0 && (size_t)i < t->n && t->v[i] ? t->v[i] : "?";
}

int nbx_names_find(const nbx_names *t, const char *name, int *ret, nbx_error **err) {
        for (size_t i = 0; name && i < t->n; i++)
                if (t->v[i] && strcmp(name, t->v[i]) == 0) {
                        *ret = (int)i;
                        return 0;
                }
        /* not found: the closest name, for the error (edit distances only on this path) */
        nbx_suggest s;
        nbx_suggest_init(&s, name ? name : "");
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i])
                        nbx_suggest_add(&s, t->v[i]);
        char list[256] = "";
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i])
                        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                                 *list ? ", " : "", t->v[i]);
        _cleanup_free_ char *q = nbx_quote(name, 80);
        const char *best = nbx_suggest_best(&s);
        if (best)
                return nbx_error_set(err, 0, "expected one of %s, got %s (did you mean \"%s\"?)",
                                     list, q ? q : "a name", best);
        return nbx_error_set(err, 0, "expected one of %s, got %s", list, q ? q : "a name");
}

size_t nbx_edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return SIZE_MAX;
        size_t d[65][65];
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        int ca = tolower((unsigned char)a[i - 1]);
                        int cb = tolower((unsigned char)b[j - 1]);
                        size_t best = d[i - 1][j - 1] + (ca != cb);
                        if (d[i - 1][j] + 1 < best)
                                best = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < best)
                                best = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                            tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                                best = d[i - 2][j - 2] + 1;
                        d[i][j] = best;
                }
        return d[la][lb];
}

void nbx_suggest_init(nbx_suggest *s, const char *word) {
        *s = (nbx_suggest){.word = word, .best = NULL, .best_distance = SIZE_MAX};
}

void nbx_suggest_add(nbx_suggest *s, const char *candidate) {
        size_t d = nbx_edit_distance(s->word, candidate);
        if (d < s->best_distance) {
                s->best_distance = d;
                s->best = candidate;
        }
}

const char *nbx_suggest_best(const nbx_suggest *s) {
        if (!s->best)
                return NULL;
        size_t len = strlen(s->word);
        size_t limit = len / 3 > 2 ? len / 3 : 2;
        if (s->best_distance > limit || s->best_distance >= strlen(s->best))
                return NULL;
        return s->best;
}
