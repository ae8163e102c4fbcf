/* nbx-probe: what a hostile guest tries, for tests/e2e/test_escape_matrix.  Built static by the
 * test and run from the shared workspace as guest root (`nixbox run sudo ./nbx-probe ...`), and
 * on the host for the local-user attempts.  Prints one word (and details) per attempt:
 *
 *   nbx-probe tcp ADDR PORT [TIMEOUT_MS [SRC]]       connected | refused | unreachable | timeout
 *   nbx-probe udp ADDR PORT MARK [TIMEOUT_MS [SRC]]  reply | refused | unreachable | timeout
 *   nbx-probe tcpscan ADDR                           "open P" lines, then a summary line
 *   nbx-probe udpscan ADDR MARK                      one datagram to every port; "sent N"
 *   nbx-probe rawudp IFACE GW SRC:SPORT DST:DPORT MARK [SRC_MAC]
 *                                   one UDP datagram in an Ethernet frame built by hand (IPv4),
 *                                   to the gateway's MAC (from the ARP table), from any source
 *                                   address (even 0.0.0.0) and MAC; "sent"
 *
 * ADDR is IPv4 or IPv6.  SRC: the source address (IPv4: ADDR or ADDR:PORT), bound with
 * IP_FREEBIND and IP_TRANSPARENT (needs root), so the guest sends from an address it does not own
 * (spoofing) without changing its interface. */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
        struct sockaddr_storage sa;
        socklen_t len;
} addr;

static int parse(const char *text, unsigned port, addr *ret) {
        memset(ret, 0, sizeof(*ret));
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ret->sa;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ret->sa;
        if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons((uint16_t)port);
                ret->len = sizeof(*a4);
                return 0;
        }
        if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons((uint16_t)port);
                ret->len = sizeof(*a6);
                return 0;
        }
        fprintf(stderr, "nbx-probe: not an address: %s\n", text);
        exit(2);
}

static const char *word(int e) {
        switch (e) {
        case 0:
                return "connected";
        case ECONNREFUSED:
                return "refused";
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EACCES:
        case EPERM:
                return "unreachable";
        case ETIMEDOUT:
                return "timeout";
        default:
                return "error";
        }
}

/* A socket of type to dst, bound to src (may be NULL), non-blocking. */
static int sock_for(const addr *dst, int type, const char *src) {
        int fd = socket(dst->sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                perror("socket");
                exit(2);
        }
        if (src) {
                /* ADDR or, for IPv4, ADDR:PORT */
                char host[64];
                unsigned port = 0;
                const char *colon = strrchr(src, ':');
                snprintf(host, sizeof(host), "%s", src);
                if (colon && strchr(src, '.') && (size_t)(colon - src) < sizeof(host)) {
                        host[colon - src] = '\0';
                        port = (unsigned)atoi(colon + 1);
                }
                int one = 1;
                addr s;
                parse(host, port, &s);
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                /* FREEBIND binds to any address; TRANSPARENT (root) lets the kernel route
                 * packets from it, so they really leave with that source */
                if (setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one)) < 0 ||
                    (s.sa.ss_family == AF_INET &&
                     setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0) ||
                    bind(fd, (struct sockaddr *)&s.sa, s.len) < 0) {
                        perror("bind");
                        exit(2);
                }
        }
        return fd;
}

/* 0 connected, else the errno. */
static int connect_wait(int fd, const addr *dst, int timeout_ms) {
        if (connect(fd, (const struct sockaddr *)&dst->sa, dst->len) == 0)
                return 0;
        if (errno != EINPROGRESS)
                return errno;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
                return ETIMEDOUT;
        int e = 0;
        socklen_t l = sizeof(e);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
        return e;
}

static int tcp(const char *dst_text, unsigned port, int timeout_ms, const char *src) {
        addr dst;
        parse(dst_text, port, &dst);
        int fd = sock_for(&dst, SOCK_STREAM, src);
        int e = connect_wait(fd, &dst, timeout_ms);
        printf("%s\n", word(e));
        close(fd);
        return e == 0 ? 0 : 1;
}

static int udp(const char *dst_text, unsigned port, const char *mark, int timeout_ms,
               const char *src) {
        addr dst;
        parse(dst_text, port, &dst);
        int fd = sock_for(&dst, SOCK_DGRAM, src);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
        /* connected: ICMP errors come back as ECONNREFUSED / EHOSTUNREACH */
        int e = connect(fd, (const struct sockaddr *)&dst.sa, dst.len) < 0 ? errno : 0;
        if (!e && send(fd, mark, strlen(mark), 0) < 0)
                e = errno;
        if (!e) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                char buf[512];
                if (poll(&p, 1, timeout_ms) == 0)
                        e = ETIMEDOUT;
                else if (recv(fd, buf, sizeof(buf), 0) < 0)
                        e = errno;
        }
        printf("%s\n", e == 0 ? "reply" : word(e));
        close(fd);
        return e == 0 ? 0 : 1;
}

/* Connect to every TCP port, 512 at a time, each given 1.5 s. */
static int tcpscan(const char *dst_text) {
        enum { BATCH = 512 };
        unsigned open_n = 0, refused = 0, silent = 0, other = 0;
        for (unsigned first = 1; first <= 65535; first += BATCH) {
                struct pollfd p[BATCH];
                unsigned ports[BATCH], n = 0;
                for (unsigned port = first; port < first + BATCH && port <= 65535; port++) {
                        addr dst;
                        parse(dst_text, port, &dst);
                        int fd = sock_for(&dst, SOCK_STREAM, NULL);
                        if (connect(fd, (struct sockaddr *)&dst.sa, dst.len) == 0 ||
                            errno == EINPROGRESS) {
                                p[n] = (struct pollfd){.fd = fd, .events = POLLOUT};
                                ports[n++] = port;
                        } else {
                                errno == ECONNREFUSED ? refused++ : other++;
                                close(fd);
                        }
                }
                unsigned left = n;
                for (int waited = 0; left && waited < 1500; waited += 50) {
                        if (poll(p, n, 50) <= 0)
                                continue;
                        for (unsigned i = 0; i < n; i++) {
                                if (p[i].fd < 0 || !p[i].revents)
                                        continue;
                                int e = 0;
                                socklen_t l = sizeof(e);
                                getsockopt(p[i].fd, SOL_SOCKET, SO_ERROR, &e, &l);
                                if (e == 0) {
                                        printf("open %u\n", ports[i]);
                                        open_n++;
                                } else if (e == ECONNREFUSED) {
                                        refused++;
                                } else {
                                        other++;
                                }
                                close(p[i].fd);
                                p[i].fd = -1;
                                left--;
                        }
                }
                for (unsigned i = 0; i < n; i++)
                        if (p[i].fd >= 0) {
                                silent++;
                                close(p[i].fd);
                        }
        }
        printf("scanned 65535: open=%u refused=%u timeout=%u other=%u\n", open_n, refused, silent,
               other);
        return 0;
}

static int udpscan(const char *dst_text, const char *mark) {
        addr dst;
        parse(dst_text, 0, &dst);
        int fd = sock_for(&dst, SOCK_DGRAM, NULL);
        unsigned sent = 0;
        for (unsigned port = 1; port <= 65535; port++) {
                ((struct sockaddr_in *)&dst.sa)->sin_port = htons((uint16_t)port);
                for (int tries = 0; tries < 50; tries++) {
                        if (sendto(fd, mark, strlen(mark), 0, (struct sockaddr *)&dst.sa,
                                   dst.len) >= 0) {
                                sent++;
                                break;
                        }
                        if (errno != EAGAIN && errno != ENOBUFS)
                                break; /* an ICMP error of an earlier datagram: go on */
                        usleep(1000);
                }
        }
        printf("sent %u\n", sent);
        close(fd);
        return 0;
}

static int mac_parse(const char *text, uint8_t mac[6]) {
        unsigned m[6];
        if (sscanf(text, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
                return -1;
        for (int i = 0; i < 6; i++)
                mac[i] = (uint8_t)m[i];
        return 0;
}

/* The MAC of ip in the ARP table, or of the interface (own = 1). */
static int mac_of(const char *ip, const char *iface, uint8_t mac[6]) {
        char line[256], path[128];
        if (!ip) {
                snprintf(path, sizeof(path), "/sys/class/net/%s/address", iface);
                FILE *f = fopen(path, "r");
                int r = f && fgets(line, sizeof(line), f) ? mac_parse(line, mac) : -1;
                if (f)
                        fclose(f);
                return r;
        }
        FILE *f = fopen("/proc/net/arp", "r");
        int r = -1;
        while (f && r < 0 && fgets(line, sizeof(line), f)) {
                char a[64], m[64];
                if (sscanf(line, "%63s %*s %*s %63s", a, m) == 2 && !strcmp(a, ip))
                        r = mac_parse(m, mac);
        }
        if (f)
                fclose(f);
        return r;
}

static uint16_t ip_sum(const void *data, size_t len) {
        const uint16_t *w = data;
        uint32_t sum = 0;
        for (size_t i = 0; i < len / 2; i++)
                sum += w[i];
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)~sum;
}

static void split(const char *text, char *host, size_t size, unsigned *port) {
        snprintf(host, size, "%s", text);
        char *c = strrchr(host, ':');
        *port = c ? (unsigned)atoi(c + 1) : 0;
        if (c)
                *c = '\0';
}

static int rawudp(const char *iface, const char *gw, const char *src, const char *dst,
                  const char *mark, const char *src_mac) {
        uint8_t frame[1514] = {0}, dmac[6], smac[6];
        if (mac_of(gw, iface, dmac) < 0 ||
            (src_mac ? mac_parse(src_mac, smac) : mac_of(NULL, iface, smac)) < 0) {
                fprintf(stderr, "nbx-probe: no MAC for %s or %s\n", gw, iface);
                return 2;
        }
        char sh[64], dh[64];
        unsigned sp, dp;
        split(src, sh, sizeof(sh), &sp);
        split(dst, dh, sizeof(dh), &dp);
        size_t plen = strlen(mark);
        struct ether_header *eth = (struct ether_header *)frame;
        struct iphdr *ip = (struct iphdr *)(frame + sizeof(*eth));
        struct udphdr *udp = (struct udphdr *)(ip + 1);
        memcpy(eth->ether_dhost, dmac, 6);
        memcpy(eth->ether_shost, smac, 6);
        eth->ether_type = htons(ETHERTYPE_IP);
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + plen));
        if (inet_pton(AF_INET, sh, &ip->saddr) != 1 || inet_pton(AF_INET, dh, &ip->daddr) != 1) {
                fprintf(stderr, "nbx-probe: bad address\n");
                return 2;
        }
        ip->check = ip_sum(ip, sizeof(*ip));
        udp->source = htons((uint16_t)sp);
        udp->dest = htons((uint16_t)dp);
        udp->len = htons((uint16_t)(sizeof(*udp) + plen));
        memcpy(udp + 1, mark, plen);
        int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
        struct sockaddr_ll ll = {.sll_family = AF_PACKET,
                                 .sll_protocol = htons(ETH_P_IP),
                                 .sll_ifindex = (int)if_nametoindex(iface),
                                 .sll_halen = 6};
        memcpy(ll.sll_addr, dmac, 6);
        size_t len = sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + plen;
        if (fd < 0 || sendto(fd, frame, len, 0, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
                perror("nbx-probe: send");
                return 2;
        }
        printf("sent\n");
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc >= 4 && !strcmp(argv[1], "tcp"))
                return tcp(argv[2], (unsigned)atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 3000,
                           argc > 5 ? argv[5] : NULL);
        if (argc >= 5 && !strcmp(argv[1], "udp"))
                return udp(argv[2], (unsigned)atoi(argv[3]), argv[4],
                           argc > 5 ? atoi(argv[5]) : 2000, argc > 6 ? argv[6] : NULL);
        if (argc == 3 && !strcmp(argv[1], "tcpscan"))
                return tcpscan(argv[2]);
        if (argc == 4 && !strcmp(argv[1], "udpscan"))
                return udpscan(argv[2], argv[3]);
        if (argc >= 7 && !strcmp(argv[1], "rawudp"))
                return rawudp(argv[2], argv[3], argv[4], argv[5], argv[6],
                              argc > 7 ? argv[7] : NULL);
        fprintf(stderr, "usage: nbx-probe tcp|udp|tcpscan|udpscan|rawudp ...\n");
        return 2;
}
