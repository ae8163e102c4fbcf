#include "domain.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <errno.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "config.h"

static int bad(nbx_error **err, const char *in, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int bad(nbx_error **err, const char *in, const char *fmt, ...) {
        _cleanup_free_ char *q = nbx_quote(in, 80);
        _cleanup_free_ char *why = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&why, fmt, ap) < 0)
                why = NULL;
        va_end(ap);
        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "%s is not a valid domain name: %s",
                              q ? q : "(name)", why ? why : fmt);
}

static const char *char_name(unsigned char c, char buf[32]) {
        switch (c) {
        case ' ':
                return "a space";
        case '\t':
                return "a tab";
        case '\n':
                return "a newline";
        case '\r':
                return "a carriage return";
        case '/':
                return "'/'";
        case '#':
                return "'#'";
        default:
                if (c < 0x20 || c == 0x7f) {
                        snprintf(buf, 32, "control character 0x%02x", c);
                        return buf;
                }
                snprintf(buf, 32, "'%c'", c);
                return buf;
        }
}

int nbx_domain_normalize(const char *in, char **ret, nbx_error **err) {
        if (!in)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "missing domain name");
        size_t inlen = strnlen(in, NBX_DOMAIN_INPUT_MAX + 1);
        if (inlen > NBX_DOMAIN_INPUT_MAX)
                return bad(err, in, "longer than %d characters", NBX_DOMAIN_INPUT_MAX);
        if (inlen == 0)
                return bad(err, in, "empty");

        bool ascii = true;
        for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
                char buf[32];
                if (*p == '/' || *p == '#' || isspace(*p) || *p < 0x20 || *p == 0x7f)
                        return bad(err, in, "contains %s", char_name(*p, buf));
                if (*p >= 0x80)
                        ascii = false;
        }

        const char *s = in;
        if (strncmp(s, "*.", 2) == 0)
                s += 2;

        _cleanup_free_ char *work = NULL;
        if (ascii) {
                work = strdup(s);
                if (!work)
                        return nbx_error_set(err, ENOMEM, "domain name");
        } else {
                char *out = NULL;
                int rc = idn2_to_ascii_8z(s, &out, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
                if (rc != IDN2_OK) {
                        int r = bad(err, in, "not a valid internationalized name (%s)",
                                    idn2_strerror(rc));
                        (void)nbx_error_append(err, "\nhint: write the name in punycode "
                                                    "(xn--...), e.g. as `idn2` prints it");
                        return r;
                }
                /* libidn2 allocates with malloc(); hand it to our own free() */
                work = out;
        }

        size_t len = strlen(work);
        if (len > 0 && work[len - 1] == '.')
                work[--len] = '\0';
        if (len == 0)
                return bad(err, in, "empty");
        if (len > NBX_DOMAIN_MAX)
                return bad(err, in, "longer than %d characters", NBX_DOMAIN_MAX);

        for (char *p = work; *p; p++)
                *p = (char)tolower((unsigned char)*p);

        const char *label = work;
        bool all_digits = true;
        for (const char *p = work;; p++) {
                if (*p == '.' || *p == '\0') {
                        size_t l = (size_t)(p - label);
                        if (l == 0)
                                return bad(err, in,
                                           "empty label (two dots in a row, or a dot "
                                           "at the start)");
                        if (l > NBX_DOMAIN_LABEL_MAX)
                                return bad(err, in, "label longer than %d characters",
                                           NBX_DOMAIN_LABEL_MAX);
                        if (label[0] == '-' || p[-1] == '-')
                                return bad(err, in, "a label starts or ends with '-'");
                        if (*p == '\0')
                                break;
                        label = p + 1;
                        all_digits = true;
                        continue;
                }
                char buf[32];
                if (*p == '*')
                        return bad(err, in, "'*' is only allowed as a leading \"*.\"");
                if (!(isalnum((unsigned char)*p) || *p == '-'))
                        return bad(err, in, "contains %s (letters, digits, '-' and '.' only)",
                                   char_name((unsigned char)*p, buf));
                if (!isdigit((unsigned char)*p))
                        all_digits = false;
        }
        if (all_digits)
                return bad(err, in,
                           "looks like an IP address (the last label is all digits); "
                           "list domain names");
        *ret = TAKE_PTR(work);
        return 0;
}
