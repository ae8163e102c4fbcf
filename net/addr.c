/* Slot addresses: the host-wide /16 pool and what each of the 64 slots derives from it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../config/base/fsutil.h"
#include "../config/base/project.h"
#include "net.h"

#define NBX_POOL_FILE "pool"
#define NBX_POOL_FILE_MAX 64

static int pool_from_text(const char *str, nbx_pool *ret, nbx_error **err) {
        char buf[32];
        size_t len = strlen(str);
        /* trailing whitespace/newline from the pool file */
        while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == ' ' || str[len - 1] == '\t'))
                len--;
        if (len == 0 || len >= sizeof(buf))
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "address pool: expected A.B.0.0 or A.B.0.0/16, got \"%.*s\"",
                                      (int)(len < 40 ? len : 40), str);
        memcpy(buf, str, len);
        buf[len] = '\0';
        char *slash = strchr(buf, '/');
        if (slash) {
                if (strcmp(slash, "/16") != 0)
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                              "address pool: the pool is a /16, got \"%s\"", buf);
                *slash = '\0';
        }
        struct in_addr a;
        if (inet_pton(AF_INET, buf, &a) != 1)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "address pool: \"%s\" is not an IPv4 address (expected "
                                      "A.B.0.0, e.g. 172.16.0.0)",
                                      buf);
        uint32_t h = ntohl(a.s_addr);
        if (h & 0xffffu)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "address pool: %s is not /16 aligned (expected %u.%u.0.0)",
                                      buf, h >> 24, (h >> 16) & 0xff);
        unsigned first = h >> 24;
        if (first == 0 || first == 127 || first >= 224)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "address pool: %s is not usable for unicast guest networks "
                                      "(use a private range such as 172.16.0.0 or 10.99.0.0)",
                                      buf);
        ret->base = a;
        return 0;
}

int nbx_pool_load(const char *runtime_dir, nbx_pool *ret, nbx_error **err) {
        _cleanup_free_ char *path = nbx_path_join(runtime_dir, NBX_POOL_FILE);
        if (!path)
                return nbx_error_set(err, ENOMEM, "address pool");
        _cleanup_free_ char *data = NULL;
        int r = nbx_read_file(path, NBX_POOL_FILE_MAX, &data, NULL, NULL);
        if (r == -ENOENT)
                return pool_from_text(NBX_POOL_DEFAULT, ret, err);
        if (r < 0)
                return nbx_error_set(err, r, "read address pool %s", path);
        r = pool_from_text(data, ret, err);
        if (r < 0)
                return nbx_error_wrap(err, "%s (written by `nixbox setup --pool`)", path);
        return 0;
}

int nbx_pool_save(const char *runtime_dir, const nbx_pool *pool, nbx_error **err) {
        char text[INET_ADDRSTRLEN + 8];
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &pool->base, a, sizeof(a));
        int n = snprintf(text, sizeof(text), "%s/16\n", a);
        int r = nbx_mkdir_p(runtime_dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = nbx_path_join(runtime_dir, NBX_POOL_FILE);
        if (!path)
                return nbx_error_set(err, ENOMEM, "address pool");
        return nbx_write_file(path, text, (size_t)n, 0644, err);
}

int nbx_pool_parse(const char *str, nbx_pool *ret, nbx_error **err) {
        if (str)
                return pool_from_text(str, ret, err);
        _cleanup_free_ char *rt = nbx_runtime_dir();
        if (!rt)
                return nbx_error_set(err, ENOMEM, "address pool");
        return nbx_pool_load(rt, ret, err);
}

int nbx_net_setup(const char *runtime_dir, const char *pool_str, nbx_pool *ret_pool,
                  nbx_error **err) {
        nbx_pool pool;
        /* validate before anything is written */
        int r = pool_str ? pool_from_text(pool_str, &pool, err) : 0;
        if (r < 0) {
                nbx_error_wrap(err, "--pool");
                if (err && *err)
                        (*err)->exit_code = NBX_EXIT_USAGE;
                return r;
        }
        r = nbx_mkdir_p(runtime_dir, 0755, err);
        if (r < 0) {
                if ((r == -EACCES || r == -EPERM) && err && *err) {
                        (*err)->exit_code = NBX_EXIT_PERMISSION;
                        nbx_error_append(err, " (run `sudo nixbox setup`)");
                }
                return r;
        }
        if (pool_str && (r = nbx_pool_save(runtime_dir, &pool, err)) < 0)
                return r;
        return nbx_pool_load(runtime_dir, ret_pool, err);
}

static void fmt_in(struct in_addr a, char *buf) {
        inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

int nbx_slot_addr_derive(const nbx_pool *pool, unsigned slot, nbx_slot_addr *ret, nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "slot %u out of range (0..%u)", slot,
                                     NBX_SLOTS - 1);
        uint32_t base = ntohl(pool->base.s_addr);
        if (base & 0xffffu)
                return nbx_error_set(err, EINVAL, "address pool is not /16 aligned");
        nbx_slot_addr a = {.slot = slot, .prefix_len = 30, .vsock_cid = 3 + slot};
        snprintf(a.tap, sizeof(a.tap), "nbx%u", slot);
        uint32_t net = base + 4u * slot * 256u; /* A.B.(4s).0 */
        a.network.s_addr = htonl(net);
        a.host_ip.s_addr = htonl(net + 1);
        a.guest_ip.s_addr = htonl(net + 2);
        a.broadcast.s_addr = htonl(net + 3);
        const uint8_t mac[6] = {0x02, 0x6e, 0x62, 0x78, 0x00, (uint8_t)slot};
        memcpy(a.mac, mac, sizeof(mac));
        snprintf(a.mac_str, sizeof(a.mac_str), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
                 mac[2], mac[3], mac[4], mac[5]);
        *ret = a;
        return 0;
}

void nbx_slot_addr_str(const nbx_slot_addr *a, nbx_slot_addr_text *ret) {
        fmt_in(a->network, ret->network);
        fmt_in(a->host_ip, ret->host_ip);
        fmt_in(a->guest_ip, ret->guest_ip);
        fmt_in(a->broadcast, ret->broadcast);
}
