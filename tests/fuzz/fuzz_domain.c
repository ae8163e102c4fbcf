/* Fuzz the domain normalizer: whatever it accepts must be safe to write into dnsmasq's config
 * (LDH labels separated by dots, lowercase, length limits) — the promise net/dnsmasq.c relies on.
 * Each accepted name is then checked for its reach (the Public Suffix List): refused with an
 * error, or accepted with or without a warning — never a crash, never a silent failure. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/domain.h"

static nbx_psl *psl;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void)argc;
        (void)argv;
        if (nbx_psl_open(NULL, NULL, &psl, NULL) < 0)
                abort();
        return 0;
}

static void check_reach(const char *name) {
        char *warning = NULL;
        nbx_error *err = NULL;
        int r = nbx_domain_check_reach(psl, name, &warning, &err);
        if ((r < 0) != (err != NULL) || (r < 0 && warning) || (err && !err->msg))
                abort();
        if (r == 0 && !strchr(name, '.'))
                abort(); /* a single label is never allowed */
        free(warning);
        nbx_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 1024)
                return 0;
        char *in = malloc(size + 1);
        if (!in)
                return 0;
        memcpy(in, data, size);
        in[size] = '\0';
        char *out = NULL;
        nbx_error *err = NULL;
        if (nbx_domain_normalize(in, &out, &err) == 0) {
                size_t n = strlen(out);
                if (n == 0 || n > 253 || out[0] == '.' || out[n - 1] == '.')
                        abort();
                size_t label = 0;
                for (const char *p = out; *p; p++) {
                        char c = *p;
                        if (c == '.') {
                                if (label == 0)
                                        abort();
                                label = 0;
                                continue;
                        }
                        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                                abort();
                        if (++label > 63)
                                abort();
                }
                check_reach(out);
                free(out);
        } else if (!err || !err->msg) {
                abort();
        }
        nbx_error_free(err);
        free(in);
        return 0;
}
