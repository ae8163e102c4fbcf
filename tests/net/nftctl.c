/* Test driver for net/nft.c, used by tests/net/test_firewall inside its own namespaces:
 *
 *   nftctl add|update SLOT off|filtered|open [ports=443,80] [private] [timeout=S]
 *   nftctl del SLOT
 *   nftctl allow-add SLOT A.B.C.D [TIMEOUT_S]
 *   nftctl allow-list SLOT            one address a line
 *   nftctl counters SLOT              "dropped P B silent P B"
 *   nftctl addr SLOT                  "HOST_IP GUEST_IP MAC" (no kernel access)
 *
 * Slot addresses come from the library (default pool), the way `nixbox up` derives them. */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/nft.h"

static int fail(nbx_error *err) {
        fprintf(stderr, "nftctl: %s\n", err ? err->msg : "error");
        nbx_error_free(err);
        return 1;
}

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr,
                        "usage: nftctl add|update|del|allow-add|allow-list|counters SLOT ...\n");
                return 2;
        }
        nbx_error *err = NULL;
        const char *cmd = argv[1];
        unsigned slot = (unsigned)strtoul(argv[2], NULL, 10);
        nbx_pool pool;
        nbx_slot_addr a;
        if (nbx_pool_parse(NULL, &pool, &err) < 0 ||
            nbx_slot_addr_derive(&pool, slot, &a, &err) < 0)
                return fail(err);
        if (!strcmp(cmd, "addr")) {
                char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &a.host_ip, h, sizeof(h));
                inet_ntop(AF_INET, &a.guest_ip, g, sizeof(g));
                printf("%s %s %s\n", h, g, a.mac_str);
                return 0;
        }
        _cleanup_nl_ nbx_nl nl = {0};
        if (nbx_nl_open(&nl, NETLINK_NETFILTER, &err) < 0)
                return fail(err);

        if (!strcmp(cmd, "add") || !strcmp(cmd, "update")) {
                if (argc < 4)
                        return 2;
                uint16_t ports[NBX_MAX_PORTS];
                nbx_net_policy p = {.ports = ports};
                nbx_nft_opts o = {0};
                if (!strcmp(argv[3], "off"))
                        p.mode = NBX_NET_OFF;
                else if (!strcmp(argv[3], "filtered"))
                        p.mode = NBX_NET_FILTERED;
                else if (!strcmp(argv[3], "open"))
                        p.mode = NBX_NET_OPEN;
                else
                        return 2;
                for (int i = 4; i < argc; i++) {
                        if (!strncmp(argv[i], "ports=", 6)) {
                                for (char *s = argv[i] + 6; *s && p.n_ports < NBX_MAX_PORTS;) {
                                        ports[p.n_ports++] = (uint16_t)strtoul(s, &s, 10);
                                        if (*s == ',')
                                                s++;
                                }
                        } else if (!strcmp(argv[i], "private")) {
                                p.allow_private = true;
                        } else if (!strncmp(argv[i], "timeout=", 8)) {
                                o.allow_timeout_s = (uint32_t)strtoul(argv[i] + 8, NULL, 10);
                        } else {
                                return 2;
                        }
                }
                int r = !strcmp(cmd, "add") ? nbx_nft_slot_add_opts(&nl, &a, &p, &o, &err)
                                            : nbx_nft_slot_update_opts(&nl, &a, &p, &o, &err);
                return r < 0 ? fail(err) : 0;
        }
        if (!strcmp(cmd, "del"))
                return nbx_nft_slot_del(&nl, &a, &err) < 0 ? fail(err) : 0;
        if (!strcmp(cmd, "allow-add") && argc >= 4) {
                struct in_addr x;
                if (inet_pton(AF_INET, argv[3], &x) != 1)
                        return 2;
                uint32_t t = argc >= 5 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0;
                return nbx_nft_allow_add(&nl, slot, x, t, &err) < 0 ? fail(err) : 0;
        }
        if (!strcmp(cmd, "allow-list")) {
                _cleanup_strv_ nbx_strv v = {0};
                if (nbx_nft_allow_list(&nl, slot, &v, &err) < 0)
                        return fail(err);
                for (size_t i = 0; i < v.n; i++)
                        printf("%s\n", v.v[i]);
                return 0;
        }
        if (!strcmp(cmd, "counters")) {
                nbx_nft_counters c;
                if (nbx_nft_slot_counters(&nl, slot, &c, &err) < 0)
                        return fail(err);
                printf("dropped %llu %llu silent %llu %llu\n",
                       (unsigned long long)c.dropped_packets, (unsigned long long)c.dropped_bytes,
                       (unsigned long long)c.silent_packets, (unsigned long long)c.silent_bytes);
                return 0;
        }
        return 2;
}
