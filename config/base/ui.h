/* Human-facing output channel, passed explicitly to library code that reports progress (the
 * library never writes to stdout/stderr on its own).  Progress goes to stderr, colour only on a
 * TTY and never with NO_COLOR. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

typedef struct nbx_ui {
        FILE *out;  /* results (stdout) */
        FILE *err;  /* progress, warnings (stderr) */
        bool color; /* on err */
        bool quiet; /* suppress progress lines */
} nbx_ui;

/* Initialise from the environment: colour iff stderr is a TTY and NO_COLOR is unset/empty. */
void nbx_ui_init(nbx_ui *ui, FILE *out, FILE *err);
/* "==> Configuring network…" */
void nbx_ui_step(const nbx_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "warning: …" */
void nbx_ui_warn(const nbx_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error: …" (used by cmd/ to print an nbx_error once) */
void nbx_ui_error(const nbx_ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Text that came from a guest or a config, made safe for a terminal: control characters and
 * non-UTF-8 bytes become \xNN (valid UTF-8 is kept).  Returns a malloc'd string (NULL on
 * ENOMEM; "" for NULL). */
char *nbx_ui_escape(const char *s);
