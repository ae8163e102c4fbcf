/* Domain names as nixbox accepts them: what reaches dnsmasq's configuration and the firewall's
 * allow list.  Every module that takes a name from outside calls nbx_domain_normalize first; an
 * allow-list entry is then checked for what it reaches with nbx_domain_check_reach. */
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

/* The Public Suffix List (https://publicsuffix.org), through libpsl: which names are suffixes
 * that many owners register under.  Its ICANN section holds the registries' suffixes ("com",
 * "co.uk"), its private section the suffixes companies hand out to their customers
 * ("github.io", "s3.amazonaws.com").  Read-only once open. */
typedef struct nbx_psl nbx_psl;

/* list_file: a list in the PSL's format that libpsl loads (NULL = libpsl's newest data: the
 * distribution's file or its built-in copy).  text_file: the list's text, read for the suffixes
 * below a name, which libpsl cannot list (NULL = list_file, or without one the file libpsl's
 * data was built from: /usr/share/publicsuffix/public_suffix_list.dat on Debian).  No suffix data
 * at all fails with NBX_EXIT_PREREQ.  An unreadable text file is not an error: see
 * nbx_psl_warning. */
int nbx_psl_open(const char *list_file, const char *text_file, nbx_psl **ret, nbx_error **err);
void nbx_psl_free(nbx_psl *p);
NBX_DEFINE_CLEANUP(nbx_psl, nbx_psl_free)
/* Why suffixes below a name cannot be found ("cannot read FILE: ...; install publicsuffix"),
 * or NULL when the list file was read. */
const char *nbx_psl_warning(const nbx_psl *p);

/* What an allow-list entry reaches.  An entry allows its name and every name under it, so:
 *  - a single label ("com", "intranet") or an ICANN suffix ("co.uk"), or a name holding ICANN
 *    suffixes below it, is refused: -EINVAL with NBX_EXIT_CONFIG and a message saying what it
 *    would allow and what to write instead;
 *  - a private-section suffix ("github.io") or a name holding one below it ("amazonaws.com" holds
 *    "s3.amazonaws.com") is accepted with a warning in *ret_warning (malloc'd): anyone can own a
 *    name under it, an attacker too;
 *  - anything else is one owner's zone: 0 and *ret_warning = NULL.
 * name is nbx_domain_normalize's output. */
int nbx_domain_check_reach(const nbx_psl *p, const char *name, char **ret_warning, nbx_error **err);
