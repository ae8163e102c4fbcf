/* Fuzz the readers of a network slot's records (net/): the first byte picks one, the rest is the
 * file.  0: slots/<s>.json (nbx_slot_owner_parse: the allocator trusts its pid and folder);
 * 1: slots/<s>/policy.json (nbx_net_policy_parse: what `net show` prints); 2: dnsmasq's query log
 * (nbx_dnsmasq_denied_parse: names a guest chose, printed to a terminal and into JSON);
 * 3: `dnsmasq --version` (nbx_dnsmasq_build_parse, doctor).  A refusal carries an error and
 * leaves the result untouched; what is accepted keeps its promises (below). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dnsmasq.h"
#include "net/info.h"
#include "net/net.h"
#include "net/slot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void owner(const char *text, size_t len) {
        nbx_slot_owner o = {.pid = -7};
        nbx_error *err = NULL;
        int r = nbx_slot_owner_parse(text, len, &o, &err);
        if ((r < 0) != (err != NULL))
                abort();
        if (r < 0) {
                if (o.pid != -7)
                        abort();
        } else if (o.pid <= 0 || o.project_dir[0] != '/' ||
                   strnlen(o.project_dir, sizeof(o.project_dir)) == sizeof(o.project_dir) ||
                   strnlen(o.name, sizeof(o.name)) == sizeof(o.name)) {
                abort();
        }
        nbx_error_free(err);
}

static void policy(const char *text, size_t len) {
        nbx_net_info info = {.mode = (enum nbx_net_mode)77};
        nbx_error *err = NULL;
        int r = nbx_net_policy_parse(text, len, &info, &err);
        if ((r < 0) != (err != NULL))
                abort();
        if (r < 0) {
                if (info.mode != (enum nbx_net_mode)77 || info.domains.n)
                        abort();
        } else {
                if (info.n_ports > NBX_MAX_PORTS || info.n_upstream_dns > NBX_MAX_DNS ||
                    info.domains.n > NBX_MAX_DOMAINS || !nbx_net_mode_name(info.mode))
                        abort();
                for (size_t i = 0; i < info.n_ports; i++)
                        if (!info.ports[i])
                                abort();
                char *json = NULL;
                if (nbx_net_info_json(&info, &json, NULL) == 0)
                        free(json);
        }
        nbx_net_info_done(&info);
        nbx_error_free(err);
}

static void denied(const char *text) {
        nbx_strv v = {0};
        if (nbx_dnsmasq_denied_parse(text, 20, &v, NULL) < 0)
                return;
        if (v.n > 20)
                abort();
        for (size_t i = 0; i < v.n; i++) {
                for (const unsigned char *p = (const unsigned char *)v.v[i]; *p; p++)
                        if (*p < 0x20 || *p == 0x7f)
                                abort(); /* a control character would reach the terminal */
                json_t *s = json_string(v.v[i]);
                if (!s)
                        abort(); /* not valid UTF-8: `net show --json` would fail */
                json_decref(s);
        }
        nbx_strv_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 65536)
                return 0;
        char *text = malloc(size);
        if (!text)
                return 0;
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        switch (data[0] % 4) {
        case 0:
                owner(text, size - 1);
                break;
        case 1:
                policy(text, size - 1);
                break;
        case 2:
                denied(text);
                break;
        default: {
                nbx_dnsmasq_build b = {.major = 99};
                nbx_error *err = NULL;
                int r = nbx_dnsmasq_build_parse(text, &b, &err);
                if ((r < 0) != (err != NULL) || (r < 0 && b.major != 99))
                        abort();
                nbx_error_free(err);
        }
        }
        free(text);
        return 0;
}
