/* Fuzz the mount spec parser and the guest path normalizer: whatever they accept must be safe to
 * send to the guest as one line `virtiofs<TAB>TAG<TAB>TARGET<TAB>rw|ro` (docs/guest-contract.md
 * section 5) — an absolute, normalized TARGET without control characters or "..", within the
 * length limit — and every refusal must carry a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/mountspec.h"
#include "vm/mount.h"

static void check_target(const char *t) {
        size_t n = strlen(t);
        if (n < 2 || n > NBX_GUEST_PATH_MAX || t[0] != '/' || t[n - 1] == '/' || strstr(t, "//") ||
            strstr(t, "..") || strstr(t, "/./"))
                abort();
        for (const unsigned char *p = (const unsigned char *)t; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        abort();
        char *line = NULL;
        nbx_error *err = NULL;
        if (nbx_vm_mount_line("nbxfs0", t, false, &line, &err) < 0)
                abort();
        size_t tabs = 0, newlines = 0;
        for (const char *p = line; *p; p++) {
                tabs += *p == '\t';
                newlines += *p == '\n';
        }
        if (tabs != 3 || newlines != 1 || line[strlen(line) - 1] != '\n')
                abort();
        free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 2 * NBX_MOUNTSPEC_MAX)
                return 0;
        char *in = malloc(size + 1);
        if (!in)
                return 0;
        memcpy(in, data, size);
        in[size] = '\0';
        nbx_mountspec m;
        nbx_error *err = NULL;
        if (nbx_mountspec_parse(in, &m, &err) == 0) {
                if (!m.source || !m.target || !*m.source || !*m.target || strchr(m.source, ',') ||
                    strchr(m.target, ','))
                        abort();
                char *t = NULL;
                if (nbx_mountspec_guest_path(m.target, "/home/u", &t, &err) == 0) {
                        check_target(t);
                        free(t);
                } else if (!err || !err->msg) {
                        abort();
                }
                nbx_mountspec_done(&m);
        } else if (!err || !err->msg) {
                abort();
        }
        nbx_error_free(err);
        err = NULL;
        /* the whole input as a target, too */
        char *t = NULL;
        if (nbx_mountspec_guest_path(in, "/home/u", &t, &err) == 0) {
                check_target(t);
                free(t);
        } else if (!err || !err->msg) {
                abort();
        }
        nbx_error_free(err);
        free(in);
        return 0;
}
