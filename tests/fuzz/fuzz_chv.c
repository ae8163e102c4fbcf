/* Fuzz the cloud-hypervisor client's reading of API answers (vm/chv.c): the first two bytes are
 * the HTTP status (their value mod 600), the rest the body.  Each answer is checked as the reply
 * of a request expecting 200 (and parsed like vm.info's body), and of one expecting 200 or 204
 * without a body.  Nothing the hypervisor answers may crash nixbox; a refusal is an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/hv_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 2 || size > 65536)
                return 0;
        long status = ((long)data[0] << 8 | data[1]) % 600;
        char *body = malloc(size - 1);
        if (!body)
                return 0;
        memcpy(body, data + 2, size - 2);
        body[size - 2] = '\0';
        static const long ok200[] = {200, 0}, ok204[] = {200, 204, 0};
        json_t *j = NULL;
        nbx_error *err = NULL;
        int r = nbx_chv_reply("GET", "vm.info", status, body, ok200, "the VM is not created", &j,
                              &err);
        if ((r < 0) != (err != NULL) || (r < 0 && j) || (r == 0 && status != 200))
                abort();
        nbx_error_free(err);
        err = NULL;
        if (j) {
                nbx_vm_info info;
                r = nbx_chv_info_parse(j, &info, &err);
                if ((r < 0) != (err != NULL))
                        abort();
                for (const char *p = r == 0 ? info.state : ""; *p; p++)
                        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '?'))
                                abort();
                nbx_error_free(err);
                err = NULL;
                json_decref(j);
        }
        r = nbx_chv_reply("PUT", "vm.add-fs", status, body, ok204, NULL, NULL, &err);
        if ((r < 0) != (err != NULL) || (r == 0 && status != 200 && status != 204))
                abort();
        nbx_error_free(err);
        free(body);
        return 0;
}
