/* What an allow-list entry reaches, by the Public Suffix List: libpsl says whether a name is a
 * suffix itself; the list's own text says which suffixes lie below a name, which libpsl cannot
 * enumerate ("amazonaws.com" is no suffix, but "s3.amazonaws.com" below it is).  Why a shared
 * suffix warns instead of failing: docs/decisions/0008-public-suffixes-in-allow-lists.md. */
#include "domain.h"

#include <errno.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"

#define LIST_FILE_MAX (16 << 20) /* today's list is 240 kB */
#define ICANN_BEGIN "// ===BEGIN ICANN DOMAINS==="
#define PRIVATE_BEGIN "// ===BEGIN PRIVATE DOMAINS==="

/* A suffix rule as written in the list (UTF-8, lowercase): "s3.amazonaws.com", or
 * "*.compute.amazonaws.com" (every name directly under compute.amazonaws.com is a suffix). */
typedef struct rule {
        const char *text; /* points into nbx_psl.text */
        size_t len;
        bool private_section;
} rule;

struct nbx_psl {
        psl_ctx_t *owned; /* psl_latest's or psl_load_file's data, freed with the list */
        const psl_ctx_t *ctx;
        char *text; /* the list file, cut into rules */
        rule *rules;
        size_t n_rules, cap_rules;
        char *warning;
};

void nbx_psl_free(nbx_psl *p) {
        if (!p)
                return;
        psl_free(p->owned);
        free(p->text);
        free(p->rules);
        free(p->warning);
        free(p);
}

const char *nbx_psl_warning(const nbx_psl *p) {
        return p->warning;
}

static int add_rule(nbx_psl *p, const char *text, bool private_section, nbx_error **err) {
        if (p->n_rules == p->cap_rules) {
                size_t cap = p->cap_rules ? p->cap_rules * 2 : 1024;
                rule *n = reallocarray(p->rules, cap, sizeof(*n));
                if (!n)
                        return nbx_error_set(err, ENOMEM, "reading the Public Suffix List");
                p->rules = n;
                p->cap_rules = cap;
        }
        p->rules[p->n_rules++] =
                (rule){.text = text, .len = strlen(text), .private_section = private_section};
        return 0;
}

/* The suffix rules of a list file: the first word of each line that is not a comment; exception
 * rules ("!www.ck": a name that is NOT a suffix) are left out. */
static int read_rules(nbx_psl *p, const char *path, nbx_error **err) {
        int r = nbx_read_file(path, LIST_FILE_MAX, &p->text, NULL, err);
        if (r < 0)
                return r;
        bool private_section = false;
        char *save = NULL;
        for (char *line = strtok_r(p->text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, ICANN_BEGIN, strlen(ICANN_BEGIN)) == 0)
                        private_section = false;
                else if (strncmp(line, PRIVATE_BEGIN, strlen(PRIVATE_BEGIN)) == 0)
                        private_section = true;
                line[strcspn(line, " \t\r")] = '\0';
                if (!*line || strncmp(line, "//", 2) == 0 || line[0] == '!')
                        continue;
                if ((r = add_rule(p, line, private_section, err)) < 0)
                        return r;
        }
        return 0;
}

int nbx_psl_open(const char *list_file, const char *text_file, nbx_psl **ret, nbx_error **err) {
        _cleanup_(nbx_psl_freep) nbx_psl *p = calloc(1, sizeof(*p));
        if (!p)
                return nbx_error_set(err, ENOMEM, "loading the Public Suffix List");
        const char *rules_file = text_file   ? text_file
                                 : list_file ? list_file
                                             : psl_builtin_filename();
        p->owned = list_file ? psl_load_file(list_file) : psl_latest(NULL);
        p->ctx = p->owned ? p->owned : list_file ? NULL : psl_builtin();
        if (!p->ctx)
                return nbx_error_setx(
                        err, NBX_EXIT_PREREQ, 0,
                        "no Public Suffix List data (%s), needed to check network.domains; "
                        "install it (Debian: sudo apt-get install publicsuffix)",
                        list_file ? list_file : psl_dist_filename());
        _cleanup_error_ nbx_error *read_err = NULL;
        if (!rules_file || read_rules(p, rules_file, &read_err) < 0) {
                if (read_err && read_err->errnum == ENOMEM)
                        return nbx_error_set(err, ENOMEM, "loading the Public Suffix List");
                if (asprintf(&p->warning,
                             "cannot read the Public Suffix List's text (%s), so shared suffixes "
                             "below allowed domains are not found; install it (Debian: sudo "
                             "apt-get install publicsuffix)",
                             read_err ? read_err->msg : "libpsl names no file") < 0)
                        return nbx_error_set(err, ENOMEM, "loading the Public Suffix List");
        }
        *ret = TAKE_PTR(p);
        return 0;
}

static bool ends_with_label(const rule *r, const char *name, size_t n) {
        return r->len > n + 1 && r->text[r->len - n - 1] == '.' &&
               memcmp(r->text + r->len - n, name, n) == 0;
}

/* The shortest rule strictly below name ("s3.amazonaws.com" below "amazonaws.com"; a wildcard
 * "*.compute.amazonaws.com" is below "compute.amazonaws.com" too), in the given section.  The
 * list writes IDN labels in UTF-8, so a name with punycode labels is compared in UTF-8 too. */
static const rule *rule_below(const nbx_psl *p, const char *name, bool private_section) {
        _cleanup_free_ char *utf8 = NULL;
        if (strstr(name, "xn--") && idn2_to_unicode_8z8z(name, &utf8, 0) != IDN2_OK)
                utf8 = NULL;
        size_t n = strlen(name), nu = utf8 ? strlen(utf8) : 0;
        const rule *best = NULL;
        for (size_t i = 0; i < p->n_rules; i++) {
                const rule *r = &p->rules[i];
                if (r->private_section != private_section ||
                    !(ends_with_label(r, name, n) || (utf8 && ends_with_label(r, utf8, nu))))
                        continue;
                if (!best || r->len < best->len)
                        best = r;
        }
        return best;
}

/* example_suffix: what an example host ends with ("co.uk" → "api.example.co.uk"). */
static int refuse(nbx_error **err, const char *q, const char *what, const char *name,
                  const char *example_suffix) {
        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                              "%s %s: allowing it would allow every .%s host; name the hosts you "
                              "need (e.g. \"api.example.%s\")",
                              q, what, name, example_suffix);
}

static int warn(char **ret_warning, nbx_error **err, const char *q, const char *what,
                const char *under) {
        if (asprintf(ret_warning,
                     "%s %s (Public Suffix List, private section): anyone can own a name under "
                     "%s, an attacker too; name the hosts you need instead",
                     q, what, under) < 0)
                return nbx_error_set(err, ENOMEM, "checking a domain");
        return 0;
}

int nbx_domain_check_reach(const nbx_psl *p, const char *name, char **ret_warning,
                           nbx_error **err) {
        _cleanup_free_ char *q = nbx_quote(name, 80);
        if (!q)
                return nbx_error_set(err, ENOMEM, "checking a domain");
        if (!strchr(name, '.')) {
                bool tld =
                        psl_is_public_suffix2(p->ctx, name, PSL_TYPE_ICANN | PSL_TYPE_NO_STAR_RULE);
                return refuse(err, q, tld ? "is a top-level domain" : "is a single-label name",
                              name, tld ? name : "com");
        }
        if (psl_is_public_suffix2(p->ctx, name, PSL_TYPE_ICANN))
                return refuse(err, q, "is a public suffix (names under it belong to many owners)",
                              name, name);
        const rule *below = rule_below(p, name, false);
        if (below) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what,
                             "holds public suffixes such as \"%s\" (names under them belong "
                             "to many owners)",
                             below->text) < 0)
                        return nbx_error_set(err, ENOMEM, "checking a domain");
                return refuse(err, q, what, name, name);
        }
        _cleanup_free_ char *warning = NULL;
        int r = 0;
        if (psl_is_public_suffix2(p->ctx, name, PSL_TYPE_PRIVATE)) {
                r = warn(&warning, err, q, "is a shared suffix", "it");
        } else if ((below = rule_below(p, name, true))) {
                _cleanup_free_ char *what = NULL;
                if (asprintf(&what, "holds shared suffixes such as \"%s\"", below->text) < 0)
                        return nbx_error_set(err, ENOMEM, "checking a domain");
                r = warn(&warning, err, q, what, "them");
        }
        if (r < 0)
                return r;
        *ret_warning = TAKE_PTR(warning);
        return 0;
}
