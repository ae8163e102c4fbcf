/* What an allow-list entry reaches, by the Public Suffix List: libpsl says whether a name is a
 * suffix itself; the list's own text says which suffixes lie below a name, which libpsl cannot
 * enumerate ("amazonaws.com" is no suffix, but "s3.amazonaws.com" below it is).  Why a shared
 * suffix warns instead of failing: docs/decisions/0004-public-suffixes-in-allow-lists.md. */
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

/* A suffix rule in ASCII, as written in the list: "s3.amazonaws.com" or "*.compute.amazonaws.com"
 * (every name directly under compute.amazonaws.com is a suffix). */
typedef struct rule {
        char *text;
        size_t len;
        bool private_section;
} rule;

struct nbx_psl {
        psl_ctx_t *owned; /* psl_latest's or psl_load_file's data, freed with the list */
        const psl_ctx_t *ctx;
        rule *rules;
        size_t n_rules;
        char *warning;
};

void nbx_psl_free(nbx_psl *p) {
        if (!p)
                return;
        psl_free(p->owned);
        for (size_t i = 0; i < p->n_rules; i++)
                free(p->rules[i].text);
        free(p->rules);
        free(p->warning);
        free(p);
}

const char *nbx_psl_warning(const nbx_psl *p) {
        return p->warning;
}

/* The rule as ASCII (IDN labels to punycode, keeping a leading "*."); NULL when it does not
 * convert, which only drops that rule from the below-a-name search. */
static char *rule_ascii(const char *r) {
        bool wild = strncmp(r, "*.", 2) == 0;
        const char *body = wild ? r + 2 : r;
        char *ascii = NULL;
        if (idn2_to_ascii_8z(body, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
                return NULL;
        char *out = NULL;
        if (asprintf(&out, "%s%s", wild ? "*." : "", ascii) < 0)
                out = NULL;
        free(ascii);
        return out;
}

static int add_rule(nbx_psl *p, const char *text, bool private_section, nbx_error **err) {
        _cleanup_free_ char *ascii = rule_ascii(text);
        if (!ascii)
                return 0;
        rule *n = realloc(p->rules, (p->n_rules + 1) * sizeof(*n));
        if (!n)
                return nbx_error_set(err, ENOMEM, "reading the Public Suffix List");
        p->rules = n;
        size_t len = strlen(ascii);
        p->rules[p->n_rules++] =
                (rule){.text = TAKE_PTR(ascii), .len = len, .private_section = private_section};
        return 0;
}

/* The suffix rules of a list file: the first word of each line that is not a comment; exception
 * rules ("!www.ck": a name that is NOT a suffix) are left out. */
static int read_rules(nbx_psl *p, const char *path, nbx_error **err) {
        _cleanup_free_ char *data = NULL;
        int r = nbx_read_file(path, LIST_FILE_MAX, &data, NULL, err);
        if (r < 0)
                return r;
        bool private_section = false;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
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

/* The shortest rule strictly below name ("s3.amazonaws.com" below "amazonaws.com"; a wildcard
 * "*.compute.amazonaws.com" is below "compute.amazonaws.com" too), in the given section. */
static const rule *rule_below(const nbx_psl *p, const char *name, bool private_section) {
        size_t n = strlen(name);
        const rule *best = NULL;
        for (size_t i = 0; i < p->n_rules; i++) {
                const rule *r = &p->rules[i];
                if (r->private_section != private_section || r->len <= n + 1 ||
                    r->text[r->len - n - 1] != '.' || memcmp(r->text + r->len - n, name, n) != 0)
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
