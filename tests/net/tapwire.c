/* tapwire: stands in for a hypervisor's network backend in integration tests.  Opens the slot's
 * TAP exactly as a hypervisor does (TUNSETIFF on /dev/net/tun with the same name and flags,
 * IFF_VNET_HDR included) and forwards frames between it and an AF_PACKET socket on a veth in a
 * "wire" namespace, whose peer sits in the guest namespace with the slot's MAC.  Both ends carry
 * a virtio_net_hdr (PACKET_VNET_HDR on the packet socket), so checksum-offload and GSO metadata
 * pass through unchanged, as between a virtio-net guest and its TAP.
 *
 *   tapwire [-m] TAP WIRE_NETNS IFNAME      (run in the namespace that holds TAP)
 *
 * Prints "ready" on stdout once both ends are open; runs until SIGTERM/SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
        (void)sig;
        stop = 1;
}

static void die(const char *what) {
        fprintf(stderr, "tapwire: %s: %s\n", what, strerror(errno));
        exit(1);
}

int main(int argc, char **argv) {
        bool mq = false;
        int i = 1;
        if (argc > 1 && strcmp(argv[1], "-m") == 0) {
                mq = true;
                i++;
        }
        if (argc - i != 3) {
                fprintf(stderr, "usage: tapwire [-m] TAP WIRE_NETNS IFNAME\n");
                return 2;
        }
        const char *tap = argv[i], *ns = argv[i + 1], *ifname = argv[i + 2];

        int tfd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (tfd < 0)
                die("open /dev/net/tun");
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
        if (ioctl(tfd, TUNSETIFF, &ifr) < 0)
                die("TUNSETIFF (attach to the TAP)");
        int hdr = 10; /* struct virtio_net_hdr, as the packet socket uses */
        if (ioctl(tfd, TUNSETVNETHDRSZ, &hdr) < 0)
                die("TUNSETVNETHDRSZ");

        char path[256];
        snprintf(path, sizeof(path), "/run/netns/%s", ns);
        int nsfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
                die("enter the wire namespace");
        close(nsfd);
        int pfd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (pfd < 0)
                die("packet socket");
        int one = 1;
        if (setsockopt(pfd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
                die("PACKET_VNET_HDR");
        (void)setsockopt(pfd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
        struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                                  .sll_protocol = htons(ETH_P_ALL),
                                  .sll_ifindex = (int)if_nametoindex(ifname)};
        if (!sll.sll_ifindex || bind(pfd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
                die("bind the packet socket");

        struct sigaction sa = {.sa_handler = on_signal};
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        printf("ready\n");
        fflush(stdout);

        static char buf[65536 + 64];
        struct pollfd p[2] = {{.fd = tfd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
        while (!stop) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        die("poll");
                }
                if (p[0].revents & POLLIN) { /* host -> guest */
                        ssize_t n = read(tfd, buf, sizeof(buf));
                        if (n > 0 && send(pfd, buf, (size_t)n, 0) < 0 && errno != ENOBUFS)
                                perror("tapwire: to guest");
                }
                if (p[1].revents & POLLIN) { /* guest -> host */
                        ssize_t n = recv(pfd, buf, sizeof(buf), 0);
                        if (n > 0 && write(tfd, buf, (size_t)n) < 0 && errno != EIO)
                                perror("tapwire: to host");
                }
                if ((p[0].revents | p[1].revents) & (POLLERR | POLLHUP | POLLNVAL))
                        break;
        }
        return 0;
}
