/* Fuzz the QMP client's reading of what QEMU says (vm/qmp.c): any bytes as the stream of one
 * connection, cut into lines as the client cuts them, each parsed (nbx_qmp_parse_line) and
 * taken as a message while waiting for the reply to command id "nbx-0" (nbx_qmp_reply) and for
 * DEVICE_DELETED of "nbxfs1" (nbx_qmp_event_is).  A hypervisor is the guest's neighbour: nothing
 * it writes may crash nixbox, and every refusal is an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void message(const char *line, size_t len) {
        json_t *msg = NULL;
        nbx_error *err = NULL;
        int r = nbx_qmp_parse_line(line, len, &msg, &err);
        if ((r < 0) != (err != NULL) || (r < 0 && msg) || (msg && !json_is_object(msg)))
                abort();
        nbx_error_free(err);
        err = NULL;
        if (!msg)
                return;
        json_t *value = NULL;
        char *cls = NULL;
        r = nbx_qmp_reply(msg, "nbx-0", "device_del", &value, &cls, &err);
        if ((r < 0) != (err != NULL) || (r == 0 && !value) || (r != 0 && value))
                abort();
        (void)nbx_qmp_event_is(msg, "DEVICE_DELETED", "nbxfs1");
        (void)nbx_qmp_event_is(msg, "SHUTDOWN", NULL);
        json_decref(value);
        free(cls);
        nbx_error_free(err);
        json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        const char *p = (const char *)data, *end = p + size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
                message(p, len);
                p += len;
        }
        return 0;
}
