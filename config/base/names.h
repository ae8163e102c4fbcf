/* Closed sets of names.  A two-way table maps an enum's values to the words users and records
 * spell them with ("filtered" ↔ NBX_NET_FILTERED), so a name and its value cannot drift apart;
 * the closest-name search turns a typo into a "did you mean". */
#pragma once

#include <stddef.h>

#include "error.h"

/* v[i] is the name of value i (values 0..n-1). */
typedef struct nbx_names {
        const char *const *v;
        size_t n;
} nbx_names;

/* The name of value i; "?" for a value outside the table. */
const char *nbx_names_get(const nbx_names *t, int i);
/* The value named name.  -EINVAL when there is none, with a message that lists the names and
 * suggests the closest: `expected one of off, filtered, open, got "filterd" (did you mean
 * "filtered"?)`.  Callers add the field ("network.mode: ...") with nbx_error_wrap. */
int nbx_names_find(const nbx_names *t, const char *name, int *ret, nbx_error **err);

/* Define a table for an enum from words (an array of names indexed by the enum's values) and its
 * two typed accessors, declared in the enum's header as
 *   extern const nbx_names PREFIX_table;
 *   const char *PREFIX_name(TYPE v);
 *   int PREFIX_from_name(const char *name, TYPE *ret, nbx_error **err);
 * LAST is the enum's last value: the build fails when the table and the enum differ in size. */
#define NBX_DEFINE_NAMES(prefix, type, last, words)                                                \
        _Static_assert(NBX_ARRAY_SIZE(words) == (size_t)(last) + 1,                                \
                       "one name for each value of " #type);                                       \
        const nbx_names prefix##_table = {words, NBX_ARRAY_SIZE(words)};                           \
        const char *prefix##_name(type v) {                                                        \
                return nbx_names_get(&prefix##_table, (int)v);                                     \
        }                                                                                          \
        int prefix##_from_name(const char *name, type *ret, nbx_error **err) {                     \
                int i = 0;                                                                         \
                int r = nbx_names_find(&prefix##_table, name, &i, err);                            \
                if (r < 0)                                                                         \
                        return r;                                                                  \
                *ret = (type)i;                                                                    \
                return 0;                                                                          \
        }

/* Edit distance (optimal string alignment: insertions, deletions, substitutions and swaps of two
 * neighbours), ASCII case-insensitive.  SIZE_MAX when either string is longer than 64 bytes. */
size_t nbx_edit_distance(const char *a, const char *b);

/* The closest of a set of candidates, for "did you mean": init with the word as typed, add each
 * candidate, then read nbx_suggest_best. */
typedef struct nbx_suggest {
        const char *word;
        const char *best;
        size_t best_distance;
} nbx_suggest;

void nbx_suggest_init(nbx_suggest *s, const char *word);
void nbx_suggest_add(nbx_suggest *s, const char *candidate);
/* The closest candidate when it is a likely typo of the word (at most max(2, length/3) edits,
 * and fewer edits than the candidate has characters), else NULL. */
const char *nbx_suggest_best(const nbx_suggest *s);
