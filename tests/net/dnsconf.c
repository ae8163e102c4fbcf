/* dnsconf: the dnsmasq configuration writer (nbx_dnsmasq_config) against generated policies, for
 * tests/net/test_dnsmasq_conf, which hands every file to dnsmasq's own `--test`.
 *
 *   dnsconf DIR COUNT SEED
 *
 * Writes DIR/<i>.conf for COUNT random policies nbx_dnsmasq_config must accept (every mode, any
 * slot, up to NBX_MAX_DOMAINS names of random labels at the length limits, IPv4 and IPv6
 * upstreams, TTLs from random allow-set timeouts) and DIR/<i>.domains with one domain a line.
 * Policies with a hostile name (a character dnsmasq's syntax gives meaning, a newline, space,
 * upper case, a wildcard, an address) must be refused before anything is written: one that is
 * accepted is a failure (exit 1, named on stderr). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/base/fsutil.h"
#include "config/base/strv.h"
#include "net/dnsmasq.h"
#include "net/net.h"

static unsigned long long state;
static unsigned rnd(unsigned n) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return (unsigned)((state >> 33) % n);
}

static void label(char *out, size_t len) {
        static const char first[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        static const char mid[] = "abcdefghijklmnopqrstuvwxyz0123456789-";
        /* an IDN label in its ASCII form (a valid one: the punycode is checked) */
        if (len >= 12 && rnd(8) == 0) {
                strcpy(out, "xn--bcher-kva");
                return;
        }
        for (size_t i = 0; i < len; i++)
                out[i] = i == 0 || i == len - 1 ? first[rnd(sizeof(first) - 1)]
                                                : mid[rnd(sizeof(mid) - 1)];
        out[len] = '\0';
        /* "ab--cd" is reserved for IDN prefixes like xn--: keep positions 3 and 4 apart */
        if (len >= 4 && out[2] == '-' && out[3] == '-')
                out[3] = 'x';
}

/* A name of 2..5 labels, each 1..63 bytes, at most 253 bytes, ending in a letter label. */
static void domain(char *out) {
        size_t n = 2 + rnd(4), len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                size_t l = rnd(4) == 0 ? 63 : 1 + rnd(20);
                if (len + l + 1 > 253 - 4)
                        break;
                char lab[64];
                label(lab, l);
                l = strlen(lab);
                len += (size_t)sprintf(out + len, "%s.", lab);
        }
        static const char *const tlds[] = {"com", "test", "org", "dev", "io"};
        strcpy(out + len, tlds[rnd(5)]);
}

static int check_one(unsigned slot, const nbx_net_policy *p, char **ret_text, nbx_error **err) {
        nbx_pool pool;
        nbx_slot_addr a;
        if (nbx_pool_parse("10.213.0.0", &pool, err) < 0 ||
            nbx_slot_addr_derive(&pool, slot, &a, err) < 0)
                return -1;
        return nbx_dnsmasq_config(&a, p, "/run/nixbox/slots/x", ret_text, err);
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: dnsconf DIR COUNT SEED\n");
                return 2;
        }
        const char *dir = argv[1];
        unsigned count = (unsigned)atoi(argv[2]);
        state = strtoull(argv[3], NULL, 10);
        static const char *const hostile[] = {
                "evil.com/#/1.2.3.4",
                "a.com\nserver=9.9.9.9",
                "a b.com",
                "Upper.com",
                "*.a.com",
                "1.2.3.4",
                "a.com#",
                "a.com/",
                "-a.com",
                "a..com",
                "a.com.",
                "",
        };
        int bad = 0;
        for (unsigned i = 0; i < count; i++) {
                nbx_strv doms = {0};
                uint16_t ports[NBX_MAX_PORTS];
                nbx_ip dns[NBX_MAX_DNS];
                nbx_net_policy p = {.mode = (enum nbx_net_mode)rnd(3),
                                    .domains = &doms,
                                    .ports = ports,
                                    .upstream_dns = dns,
                                    .allow_private = rnd(2),
                                    .allow_timeout_s = rnd(3) ? 0 : 1 + rnd(100000)};
                unsigned nd = rnd(5) == 0 ? NBX_MAX_DOMAINS : rnd(6);
                for (unsigned d = 0; d < nd; d++) {
                        char name[256];
                        domain(name);
                        if (nbx_strv_push(&doms, name) < 0)
                                return 1;
                }
                p.n_ports = 1 + rnd(4);
                for (size_t k = 0; k < p.n_ports; k++)
                        ports[k] = (uint16_t)(1 + rnd(65535));
                p.n_upstream_dns = 1 + rnd(NBX_MAX_DNS);
                for (size_t k = 0; k < p.n_upstream_dns; k++) {
                        dns[k].family = rnd(3) ? AF_INET : AF_INET6;
                        if (dns[k].family == AF_INET)
                                dns[k].v4.s_addr = htonl(0xc6336400u + rnd(256)); /* 198.51.100.x */
                        else
                                inet_pton(AF_INET6, "2001:db8::53", &dns[k].v6);
                }
                unsigned slot = rnd(NBX_SLOTS);
                char *text = NULL;
                nbx_error *err = NULL;
                if (check_one(slot, &p, &text, &err) < 0) {
                        fprintf(stderr, "dnsconf: policy %u refused: %s\n", i,
                                err ? err->msg : "?");
                        nbx_error_free(err);
                        nbx_strv_clear(&doms);
                        return 1;
                }
                char path[4096], dpath[4096];
                snprintf(path, sizeof(path), "%s/%u.conf", dir, i);
                snprintf(dpath, sizeof(dpath), "%s/%u.domains", dir, i);
                char *list = NULL;
                size_t llen = 0;
                FILE *f = open_memstream(&list, &llen);
                for (size_t d = 0; f && p.mode == NBX_NET_FILTERED && d < doms.n; d++)
                        fprintf(f, "%s\n", doms.v[d]);
                if (!f || fclose(f) != 0 ||
                    nbx_write_file(path, text, strlen(text), 0600, &err) < 0 ||
                    nbx_write_file(dpath, list, llen, 0600, &err) < 0) {
                        fprintf(stderr, "dnsconf: write %s: %s\n", path, err ? err->msg : "?");
                        return 1;
                }
                free(list);
                free(text);
                text = NULL;
                /* the same policy with one hostile name more: refused, nothing produced */
                if (p.mode == NBX_NET_FILTERED && doms.n < NBX_MAX_DOMAINS) {
                        const char *h = hostile[rnd(sizeof(hostile) / sizeof(hostile[0]))];
                        if (nbx_strv_push(&doms, h) < 0)
                                return 1;
                        if (check_one(slot, &p, &text, &err) == 0) {
                                fprintf(stderr, "dnsconf: hostile name \"%s\" accepted\n", h);
                                bad = 1;
                        }
                        free(text);
                        nbx_error_free(err);
                        err = NULL;
                }
                nbx_strv_clear(&doms);
        }
        return bad;
}
