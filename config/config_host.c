/* Facts about the host that config defaults come from: CPUs and RAM, and the resolvers of
 * resolv.conf (upstream DNS for the VM unless config.nix names its own). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "base/fsutil.h"

#define RESOLV_CONF_SYSTEMD "/run/systemd/resolve/resolv.conf"

int nbx_host_facts_get(nbx_host_facts *ret, nbx_error **err) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (cores < 1)
                cores = 1;
        _cleanup_free_ char *mi = NULL;
        int r = nbx_read_file("/proc/meminfo", 1 << 20, &mi, NULL, err);
        if (r < 0)
                return r;
        const char *p = strstr(mi, "MemTotal:");
        unsigned long long kb = 0;
        if (!p || sscanf(p, "MemTotal: %llu kB", &kb) != 1 || kb == 0)
                return nbx_error_set(err, 0, "no MemTotal in /proc/meminfo");
        *ret = (nbx_host_facts){.cores = (unsigned)cores, .memory_mb = kb / 1024};
        return 0;
}

bool nbx_ip_from_string(const char *s, nbx_ip *ret) {
        nbx_ip ip = {0};
        if (inet_pton(AF_INET, s, &ip.v4) == 1)
                ip.family = AF_INET;
        else if (inet_pton(AF_INET6, s, &ip.v6) == 1)
                ip.family = AF_INET6;
        else
                return false;
        *ret = ip;
        return true;
}

bool nbx_ip_equal(const nbx_ip *a, const nbx_ip *b) {
        if (a->family != b->family)
                return false;
        return a->family == AF_INET ? memcmp(&a->v4, &b->v4, sizeof(a->v4)) == 0
                                    : memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
}

const char *nbx_ip_to_string(const nbx_ip *ip, char *buf, size_t size) {
        const void *a = ip->family == AF_INET6 ? (const void *)&ip->v6 : (const void *)&ip->v4;
        if (!inet_ntop(ip->family == AF_INET6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)size))
                snprintf(buf, size, "?");
        return buf;
}

/* nameserver lines of path, at most NBX_MAX_DNS, deduplicated.  A missing file gives none. */
static int read_nameservers(const char *path, nbx_ip *out, size_t *n, nbx_error **err) {
        _cleanup_free_ char *data = NULL;
        *n = 0;
        int r = nbx_read_file(path, 1 << 20, &data, NULL, NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return nbx_error_set(err, -r, "read %s", path);
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char word[16], addr[64];
                if (sscanf(line, " %15s %63s", word, addr) != 2 || strcmp(word, "nameserver") != 0)
                        continue;
                char *pct = strchr(addr, '%'); /* fe80::1%eth0: a zone we cannot use */
                if (pct)
                        continue;
                nbx_ip ip;
                if (!nbx_ip_from_string(addr, &ip))
                        continue;
                bool dup = false;
                for (size_t i = 0; i < *n; i++)
                        dup = dup || nbx_ip_equal(&out[i], &ip);
                if (!dup && *n < NBX_MAX_DNS)
                        out[(*n)++] = ip;
        }
        return 0;
}

static bool is_resolved_stub(const nbx_ip *ip) {
        if (ip->family != AF_INET)
                return false;
        uint32_t a = ntohl(ip->v4.s_addr);
        return a == 0x7f000035 /* 127.0.0.53 */ || a == 0x7f000036 /* 127.0.0.54 */;
}

int nbx_resolv_conf_read(const char *path, const char *fallback, nbx_ip **ret, size_t *ret_n,
                         nbx_error **err) {
        if (!path)
                path = NBX_RESOLV_CONF;
        if (!fallback)
                fallback = RESOLV_CONF_SYSTEMD;
        nbx_ip ips[NBX_MAX_DNS] = {0};
        size_t n = 0;
        int r = read_nameservers(path, ips, &n, err);
        if (r < 0)
                return r;
        bool only_stub = n > 0;
        for (size_t i = 0; i < n; i++)
                only_stub = only_stub && is_resolved_stub(&ips[i]);
        if (only_stub) {
                r = read_nameservers(fallback, ips, &n, err);
                if (r < 0)
                        return r;
        }
        nbx_ip *out = NULL;
        if (n) {
                out = calloc(n, sizeof(*out));
                if (!out)
                        return nbx_error_set(err, ENOMEM, "resolvers");
                memcpy(out, ips, n * sizeof(*out));
        }
        *ret = out;
        *ret_n = n;
        return 0;
}
