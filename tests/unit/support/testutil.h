/* Helpers shared by unit tests. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh temporary folder (mkdtemp under $TMPDIR or /tmp); removed by nbx_test_rmdir. */
char *nbx_test_tmpdir(void);
void nbx_test_rmdir(char *dir);
/* Write a file under dir (creating parent folders). */
void nbx_test_write(const char *dir, const char *rel, const char *content);

/* Run $NIXBOX_BUILD/nixbox (default build/nixbox) with args (NULL-terminated) and optional extra
 * environment entries (NULL-terminated, "NAME=value"; they replace inherited ones of that name;
 * a bare "NAME" removes the inherited one).
 * Captures stdout and stderr; returns the exit code (128+signal). */
typedef struct nbx_test_result {
        int code;
        char *out;
        char *err;
} nbx_test_result;
/* The absolute path of $NIXBOX_BUILD/nixbox (default build/nixbox): nixbox runs programs only by
 * absolute path. */
void nbx_test_nixbox_path(char ret[4096]);
int nbx_test_nixbox(nbx_test_result *r, const char *const *args, const char *const *extra_env);
void nbx_test_result_done(nbx_test_result *r);
