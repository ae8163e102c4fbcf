/* Rollback bookkeeping for `nixbox up`: every step that creates something registers how to undo
 * it; on failure the registered undos run in reverse order, each once, and a failing undo does not
 * stop the others (their messages are collected). */
#pragma once

#include <stddef.h>

#include "../config/base/error.h"
#include "../config/base/strv.h"

#define NBX_UNDO_MAX 48

typedef int (*nbx_undo_fn)(void *data, nbx_error **err);

typedef struct nbx_undo {
        struct {
                const char *name; /* the step that registered it (static string) */
                nbx_undo_fn fn;
                void *data;
        } steps[NBX_UNDO_MAX];
        size_t n;
} nbx_undo;

/* Register an undo; -ENOSPC when full (a programming error, reported). */
int nbx_undo_push(nbx_undo *u, const char *name, nbx_undo_fn fn, void *data, nbx_error **err);
/* Run every registered undo, newest first, and empty the stack.  Messages of failed undos are
 * appended to *ret_failures ("STEP: message") when given.  Returns the number that failed. */
size_t nbx_undo_run(nbx_undo *u, nbx_strv *ret_failures);
/* Forget everything (success: nothing to undo). */
void nbx_undo_clear(nbx_undo *u);
