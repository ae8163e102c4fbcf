/* A host check, as `nixbox doctor` reports it: OK / WARN / MISSING, what was found, and the exact
 * fix.  Each module checks what it owns (net/ nf_tables and dnsmasq, vm/ KVM and virtiofsd, ...)
 * by filling one of these; doctor collects them.  Checks only look; they change nothing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum nbx_check_status { NBX_CHECK_OK, NBX_CHECK_WARN, NBX_CHECK_MISSING };

typedef struct nbx_check {
        char name[32]; /* "dnsmasq" */
        enum nbx_check_status status;
        bool required;    /* MISSING on a required check makes doctor fail */
        char detail[512]; /* what was found ("/usr/sbin/dnsmasq", "not in PATH") */
        char fix[256];    /* the exact command or step that fixes it ("" when OK) */
} nbx_check;

#define NBX_MAX_CHECKS 32

typedef struct nbx_checks {
        nbx_check v[NBX_MAX_CHECKS];
        size_t n;
} nbx_checks;

/* The next free entry, named and cleared (status OK, no detail); NULL when the list is full. */
nbx_check *nbx_checks_add(nbx_checks *l, const char *name, bool required);
/* Set the outcome: detail is printf-formatted; fix may be NULL.  WARN/MISSING need a fix. */
void nbx_check_set(nbx_check *c, enum nbx_check_status status, const char *fix,
                   const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));
/* true when a required check is MISSING. */
bool nbx_checks_failed(const nbx_checks *l);
const char *nbx_check_status_name(enum nbx_check_status s); /* "OK" | "WARN" | "MISSING" */
