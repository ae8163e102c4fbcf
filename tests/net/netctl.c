/* netctl: drives the network library for integration tests (the VM lifecycle will call the same
 * functions).  Runs in the namespace it is started in.
 *
 *   netctl RT acquire PROJECT OWNER_PID           print the slot, or the error (exit code)
 *   netctl RT release SLOT
 *   netctl RT up SLOT MODE [-d DOMAIN]... [-p PORT]... [-s DNS]... [-m] [-a] [-u OWNER_UID]
 *   netctl RT reload SLOT MODE [...same options]
 *   netctl RT down SLOT
 *   netctl RT info SLOT                           key=value lines
 *   netctl RT docker-check                        key=value lines
 *   netctl RT checks                              doctor's net checks: "NAME|STATUS|DETAIL|FIX"
 *
 * NIXBOX_NFT_NO_DESTROY=1 in the environment takes the path of kernels without DESTROY. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/base/proc.h"
#include "net/net.h"

static int fail(nbx_error *err) {
        fprintf(stderr, "netctl: %s\n", err ? err->msg : "failed");
        int code = err && err->exit_code ? err->exit_code : 1;
        nbx_error_free(err);
        return code;
}

static int parse_policy(int argc, char **argv, int i, nbx_net_params *p, nbx_strv *domains,
                        uint16_t *ports, nbx_ip *dns) {
        const char *m = argv[i++];
        if (strcmp(m, "off") == 0)
                p->policy.mode = NBX_NET_OFF;
        else if (strcmp(m, "filtered") == 0)
                p->policy.mode = NBX_NET_FILTERED;
        else if (strcmp(m, "open") == 0)
                p->policy.mode = NBX_NET_OPEN;
        else
                return -1;
        for (; i < argc; i++) {
                if (strcmp(argv[i], "-m") == 0) {
                        p->multi_queue = true;
                } else if (strcmp(argv[i], "-a") == 0) {
                        p->policy.allow_private = true;
                } else if (i + 1 < argc && strcmp(argv[i], "-u") == 0) {
                        p->policy.owner_uid = (uid_t)atoi(argv[++i]);
                } else if (i + 1 < argc && strcmp(argv[i], "-d") == 0) {
                        if (nbx_strv_push(domains, argv[++i]) < 0)
                                return -1;
                } else if (i + 1 < argc && strcmp(argv[i], "-p") == 0) {
                        ports[p->policy.n_ports++] = (uint16_t)atoi(argv[++i]);
                } else if (i + 1 < argc && strcmp(argv[i], "-s") == 0) {
                        nbx_ip *ip = &dns[p->policy.n_upstream_dns++];
                        ip->family = AF_INET;
                        if (inet_pton(AF_INET, argv[++i], &ip->v4) != 1)
                                return -1;
                } else {
                        return -1;
                }
                if (p->policy.n_ports >= NBX_MAX_PORTS || p->policy.n_upstream_dns >= NBX_MAX_DNS)
                        return -1;
        }
        p->policy.domains = domains;
        p->policy.ports = ports;
        p->policy.upstream_dns = dns;
        return 0;
}

int main(int argc, char **argv) {
        if (argc < 3) {
                fprintf(stderr, "usage: netctl RUNTIME_DIR COMMAND ...\n");
                return 2;
        }
        const char *rt = argv[1], *cmd = argv[2];
        nbx_error *err = NULL;
        nbx_pool pool;
        if (nbx_pool_load(rt, &pool, &err) < 0)
                return fail(err);

        if (strcmp(cmd, "acquire") == 0 && argc == 5) {
                nbx_slot_owner o = {.pid = atoi(argv[4])};
                o.start_time = nbx_pid_start_time(o.pid);
                snprintf(o.project_dir, sizeof(o.project_dir), "%s", argv[3]);
                const char *base = strrchr(argv[3], '/');
                snprintf(o.name, sizeof(o.name), "%s", base ? base + 1 : argv[3]);
                unsigned s;
                if (nbx_slot_acquire(rt, &o, &s, &err) < 0)
                        return fail(err);
                printf("%u\n", s);
                return 0;
        }
        if (strcmp(cmd, "checks") == 0) {
                nbx_checks l = {0};
                nbx_net_check_cap_net_admin(&l);
                nbx_net_check_nftables(&l);
                nbx_net_check_dnsmasq(&l);
                nbx_net_check_forwarding(&l);
                nbx_net_check_docker(&l);
                for (size_t k = 0; k < l.n; k++)
                        printf("%s|%s|%s|%s\n", l.v[k].name, nbx_check_status_name(l.v[k].status),
                               l.v[k].detail, l.v[k].fix);
                return nbx_checks_failed(&l) ? 1 : 0;
        }
        if (strcmp(cmd, "docker-check") == 0) {
                nbx_docker_status d;
                if (nbx_net_docker_check(&d, &err) < 0)
                        return fail(err);
                printf("filter_forward=%d\npolicy_drop=%d\ndocker_user=%d\nnixbox_rules=%d\n",
                       d.filter_forward, d.policy_drop, d.docker_user, d.nixbox_rules);
                return 0;
        }
        if (argc < 4)
                return 2;
        unsigned slot = (unsigned)atoi(argv[3]);
        if (strcmp(cmd, "release") == 0)
                return nbx_slot_release(rt, slot, &err) < 0 ? fail(err) : 0;
        if (strcmp(cmd, "down") == 0)
                return nbx_net_down(rt, &pool, slot, &err) < 0 ? fail(err) : 0;
        if (strcmp(cmd, "info") == 0) {
                nbx_net_info i;
                if (nbx_net_info_get(rt, &pool, slot, &i, &err) < 0)
                        return fail(err);
                printf("mode=%s\ndnsmasq_pid=%d\ndropped_packets=%llu\n", nbx_net_mode_name(i.mode),
                       (int)i.dnsmasq_pid, (unsigned long long)i.counters.dropped_packets);
                for (size_t k = 0; k < i.domains.n; k++)
                        printf("domain=%s\n", i.domains.v[k]);
                for (size_t k = 0; k < i.n_ports; k++)
                        printf("port=%u\n", (unsigned)i.ports[k]);
                for (size_t k = 0; k < i.n_allowed; k++) {
                        char ip[INET_ADDRSTRLEN];
                        printf("allowed=%s\n", inet_ntop(AF_INET, &i.allowed[k], ip, sizeof(ip)));
                }
                for (size_t k = 0; k < i.denied_names.n; k++)
                        printf("denied=%s\n", i.denied_names.v[k]);
                nbx_net_info_done(&i);
                return 0;
        }
        if ((strcmp(cmd, "up") == 0 || strcmp(cmd, "reload") == 0) && argc >= 5) {
                nbx_net_params p = {.runtime_dir = rt, .pool = pool, .slot = slot};
                nbx_strv domains = {0};
                uint16_t ports[NBX_MAX_PORTS];
                nbx_ip dns[NBX_MAX_DNS];
                if (parse_policy(argc, argv, 4, &p, &domains, ports, dns) < 0) {
                        fprintf(stderr, "netctl: bad policy arguments\n");
                        return 2;
                }
                int r = strcmp(cmd, "up") == 0 ? nbx_net_up(&p, &err) : nbx_net_reload(&p, &err);
                nbx_strv_clear(&domains);
                return r < 0 ? fail(err) : 0;
        }
        fprintf(stderr, "netctl: unknown command %s\n", cmd);
        return 2;
}
