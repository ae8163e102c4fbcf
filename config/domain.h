/* Domain names as nixbox accepts them: what reaches dnsmasq's configuration and the firewall's
 * allow list.  Every module that takes a name from outside calls nbx_domain_normalize first. */
#pragma once

#include <stdbool.h>

#include "base/error.h"

#define NBX_DOMAIN_LABEL_MAX 63
#define NBX_DOMAIN_INPUT_MAX 1024 /* longer input is rejected before any processing */

/* Normalize a user-supplied domain name: strip one leading "*." and one trailing ".", convert a
 * non-ASCII (IDN) name to punycode (IDNA2008, libidn2), lowercase, then check: total length
 * <= 253, labels 1..63 of letters, digits and inner hyphens, the last label not all digits (an IP
 * address is not a domain).  '/', '#', whitespace and control characters are rejected with a
 * message saying which character.  *ret is a malloc'd string.  Errors: -EINVAL with
 * NBX_EXIT_CONFIG and a message quoting the input ("\"evil.com/#\" is not a valid domain name:
 * contains '/'"); callers add the field name with nbx_error_wrap. */
int nbx_domain_normalize(const char *in, char **ret, nbx_error **err);

/* Quote s for an error message: "..." with control characters, quotes and backslashes escaped,
 * cut after max bytes with "...".  NULL on ENOMEM. */
char *nbx_quote(const char *s, size_t max);
