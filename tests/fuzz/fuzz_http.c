/* libFuzzer: the HTTP response parser of the cloud-hypervisor client (vm/http.h) — a hypervisor
 * is the guest's neighbour.  A complete parse must describe a body inside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        for (int eof = 0; eof < 2; eof++) {
                char *copy = malloc(size + 1);
                if (!copy)
                        break;
                memcpy(copy, buf, size + 1);
                nbx_http_response r;
                if (nbx_http_parse(copy, size, eof, &r) == 0) {
                        if (r.body_off > size || r.body_len > size - r.body_off || r.status < 100 ||
                            r.status > 599)
                                abort();
                }
                free(copy);
        }
        free(buf);
        return 0;
}
