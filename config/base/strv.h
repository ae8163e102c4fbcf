/* A growable vector of owned strings, always NULL-terminated (usable as an argv). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

typedef struct nbx_strv {
        char **v; /* NULL-terminated once anything was pushed; NULL when empty */
        size_t n;
        size_t cap;
} nbx_strv;

int nbx_strv_push(nbx_strv *s, const char *str); /* copies str; -ENOMEM */
int nbx_strv_push_take(nbx_strv *s, char *str);  /* takes ownership (frees on failure) */
int nbx_strv_pushf(nbx_strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append copies of every string of from; -ENOMEM (s keeps what was appended). */
int nbx_strv_extend(nbx_strv *s, const nbx_strv *from);
bool nbx_strv_contains(const nbx_strv *s, const char *str);
/* Push only if not already present (first occurrence kept). */
int nbx_strv_push_unique(nbx_strv *s, const char *str);
void nbx_strv_clear(nbx_strv *s);
/* A new JSON array of the strings (jansson); NULL on ENOMEM. */
struct json_t;
struct json_t *nbx_strv_to_json(const nbx_strv *s);
static inline void nbx_strv_clearp(nbx_strv *s) {
        nbx_strv_clear(s);
}
#define _cleanup_strv_ _cleanup_(nbx_strv_clearp)
