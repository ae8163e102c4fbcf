/* Test driver for net/nft.c, used by the network tier inside namespaces the tests create:
 *
 *   nftctl add|update SLOT off|filtered|open [ports=443,80] [private] [timeout=S] [owner=UID]
 *                                     [guard] [drop-allowed]
 *                                     (update keeps the allow set unless drop-allowed)
 *   nftctl del SLOT
 *   nftctl allow-list SLOT            one address a line
 *   nftctl counters SLOT              "dropped P B silent P B"
 *   nftctl probe                      "destroy=0|1" (nbx_nft_probe)
 *   nftctl genid-guard                "refused" when the kernel refuses a batch built against an
 *                                     older ruleset generation (ERESTART), as removals rely on
 *   nftctl addr SLOT                  "HOST_IP GUEST_IP MAC" (no kernel access)
 *
 * Slot addresses come from the library (default pool), the way `nixbox up` derives them.
 * NIXBOX_NFT_NO_DESTROY=1 in the environment takes the path of kernels without DESTROY. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/nft.h"
#include "net/nft/wire.h"

static int fail(nbx_error *err) {
        fprintf(stderr, "nftctl: %s\n", err ? err->msg : "error");
        nbx_error_free(err);
        return 1;
}

/* A table created and removed again between reading the generation and sending a batch built
 * against it: the batch must be refused.  Everything happens in a scratch table. */
static int genid_guard(void) {
        nbx_error *err = NULL;
        _cleanup_nl_ nbx_nl nl = {0};
        uint32_t genid;
        if (nbx_nl_open(&nl, NETLINK_NETFILTER, &err) < 0 || nbx_nft_genid(&nl, &genid, &err) < 0)
                return fail(err);
        const uint16_t types[] = {NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE, NFT_MSG_NEWTABLE};
        int r = 0;
        for (size_t i = 0; i < 3 && r >= 0; i++) {
                nbx_nft_batch b;
                nbx_nft_batch_start(&b, NFPROTO_INET, "nbx-genid-check");
                nbx_nft_put_table(&b, types[i]);
                /* the last batch carries the generation read before the first two */
                r = nbx_nft_batch_send(&nl, &b, i == 2 ? genid : 0, "genid check", &err);
                nbx_nft_batch_done(&b);
        }
        if (r == -ERESTART) {
                printf("refused\n");
                nbx_error_free(err);
                return 0;
        }
        printf("accepted (%s)\n", err ? err->msg : "no error");
        /* the kernel ignored the generation: remove what it created */
        nbx_nft_batch b;
        nbx_nft_batch_start(&b, NFPROTO_INET, "nbx-genid-check");
        nbx_nft_put_table(&b, NFT_MSG_DELTABLE);
        (void)nbx_nft_batch_send(&nl, &b, 0, "genid check cleanup", NULL);
        nbx_nft_batch_done(&b);
        nbx_error_free(err);
        return 1;
}

int main(int argc, char **argv) {
        if (argc < 2) {
                fprintf(stderr, "usage: nftctl add|update|del|allow-list|counters|addr SLOT ...\n"
                                "       nftctl probe\n");
                return 2;
        }
        nbx_error *err = NULL;
        const char *cmd = argv[1];
        if (!strcmp(cmd, "probe")) {
                nbx_nft_support s;
                if (nbx_nft_probe(&s, &err) < 0)
                        return fail(err);
                printf("destroy=%d\n", s.destroy);
                return 0;
        }
        if (!strcmp(cmd, "genid-guard"))
                return genid_guard();
        if (argc < 3)
                return 2;
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
                bool guard = false, keep = true;
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
                                p.allow_timeout_s = (uint32_t)strtoul(argv[i] + 8, NULL, 10);
                        } else if (!strncmp(argv[i], "owner=", 6)) {
                                p.owner_uid = (uid_t)strtoul(argv[i] + 6, NULL, 10);
                        } else if (!strcmp(argv[i], "guard")) {
                                guard = true;
                        } else if (!strcmp(argv[i], "drop-allowed")) {
                                keep = false;
                        } else {
                                return 2;
                        }
                }
                int r = !strcmp(cmd, "add") ? nbx_nft_slot_add(&nl, &a, &p, guard, &err)
                                            : nbx_nft_slot_update(&nl, &a, &p, keep, guard, &err);
                return r < 0 ? fail(err) : 0;
        }
        if (!strcmp(cmd, "del"))
                return nbx_nft_slot_del(&nl, &a, &err) < 0 ? fail(err) : 0;
        if (!strcmp(cmd, "allow-list")) {
                _cleanup_free_ struct in_addr *v = NULL;
                size_t n = 0;
                if (nbx_nft_allow_list(&nl, slot, &v, &n, &err) < 0)
                        return fail(err);
                for (size_t i = 0; i < n; i++) {
                        char ip[INET_ADDRSTRLEN];
                        printf("%s\n", inet_ntop(AF_INET, &v[i], ip, sizeof(ip)));
                }
                return 0;
        }
        if (!strcmp(cmd, "counters")) {
                nbx_net_counters c;
                if (nbx_nft_slot_counters(&nl, slot, &c, &err) < 0)
                        return fail(err);
                printf("dropped %llu %llu silent %llu %llu\n",
                       (unsigned long long)c.dropped_packets, (unsigned long long)c.dropped_bytes,
                       (unsigned long long)c.silent_packets, (unsigned long long)c.silent_bytes);
                return 0;
        }
        return 2;
}
