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
