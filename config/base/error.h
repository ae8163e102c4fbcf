/* One error type for the whole project (crun style): an errno, an exit code for the CLI and a
 * message that grows context on its way up ("configuring network: create TAP nbx3: ...").
 * Fallible functions return a negative errno and take `nbx_error **err` last; they write *err
 * only on failure.  Only cmd/ prints errors. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#include "cleanup.h"

/* Exit codes of the nixbox binary; documented in README.md and docs/nixbox.1. */
enum nbx_exit {
        NBX_EXIT_OK = 0,
        NBX_EXIT_FAILURE = 1,      /* a runtime step failed */
        NBX_EXIT_USAGE = 2,        /* bad command line */
        NBX_EXIT_CONFIG = 3,       /* .nixbox/config.nix (or a plugin) is invalid */
        NBX_EXIT_NO_PROJECT = 4,   /* no .nixbox/config.nix found */
        NBX_EXIT_NOT_RUNNING = 5,  /* the project's VM is not running */
        NBX_EXIT_PREREQ = 6,       /* a prerequisite (program, kernel feature) is missing */
        NBX_EXIT_PERMISSION = 7,   /* needs root / CAP_NET_ADMIN */
        NBX_EXIT_NO_SLOT = 8,      /* all network slots are taken */
        NBX_EXIT_NOT_APPROVED = 9, /* .nixbox/ changed since the user approved it (nixbox allow) */
};

typedef struct nbx_error {
        int errnum;    /* positive errno describing the failure */
        int exit_code; /* enum nbx_exit */
        char *msg;
} nbx_error;

/* Set *err (if err != NULL and *err == NULL) and return -errnum (errnum may be given negative).
 * errnum 0 means "no system error": EINVAL is used for the return value and errno text is not
 * appended.  Otherwise ": strerror(errnum)" is appended to the message. */
int nbx_error_set(nbx_error **err, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* As nbx_error_set with an explicit exit code. */
int nbx_error_setx(nbx_error **err, int exit_code, int errnum, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Prefix context: "ctx: <old message>".  Returns -errnum of the existing error (or -EINVAL). */
int nbx_error_wrap(nbx_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add text after the message (e.g. a hint on a new line). */
int nbx_error_append(nbx_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Return the current return value of an error: -errnum. */
int nbx_error_ret(const nbx_error *err);
void nbx_error_free(nbx_error *err);
/* s quoted for a message: "..." with quotes, backslashes and control characters escaped, cut
 * after max bytes with "..."; "null" for NULL.  NULL on ENOMEM. */
char *nbx_quote(const char *s, size_t max);
NBX_DEFINE_CLEANUP(nbx_error, nbx_error_free)
#define _cleanup_error_ _cleanup_(nbx_error_freep)
