#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "../net/net.h"

static void print_list(FILE *f, const char *label, const nbx_strv *v, const char *none) {
        fprintf(f, "%-13s", label);
        if (v->n == 0)
                fprintf(f, "%s", none);
        for (size_t i = 0; i < v->n; i++)
                fprintf(f, "%s%s", i ? ", " : "", v->v[i]);
        fputc('\n', f);
}

static json_t *strv_json(const nbx_strv *v) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < v->n; i++)
                json_array_append_new(a, json_string(v->v[i]));
        return a;
}

static int show(nbx_cli *cli, bool json) {
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        _cleanup_free_ char *rt = nbx_runtime_dir();
        unsigned slot;
        int r = rt ? nbx_slot_find(rt, p.root, &slot, &err) : -ENOMEM;
        if (r == -ENOENT) {
                nbx_error_setx(&err, NBX_EXIT_NOT_RUNNING, 0,
                               "%s holds no network slot: the VM is not running (start it with "
                               "`sudo nixbox up`)",
                               p.root);
                nbx_project_done(&p);
                return nbx_cli_fail(cli, err);
        }
        nbx_project_done(&p);
        if (r < 0) {
                if (!err)
                        nbx_error_set(&err, r, "find the project's network slot");
                return nbx_cli_fail(cli, err);
        }
        nbx_pool pool;
        if (nbx_pool_load(rt, &pool, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_slot_addr a;
        if (nbx_slot_addr_derive(&pool, slot, &a, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_slot_addr_text t;
        nbx_slot_addr_str(&a, &t);
        nbx_net_info info;
        if (nbx_net_info_get(rt, &pool, slot, &info, &err) < 0)
                return nbx_cli_fail(cli, err);

        FILE *o = cli->ui.out;
        if (json) {
                json_t *j =
                        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I}", "slot", (json_int_t)slot,
                                  "tap", a.tap, "guest_ip", t.guest_ip, "host_ip", t.host_ip, "mac",
                                  a.mac_str, "mode", nbx_net_mode_name(info.mode), "dnsmasq_pid",
                                  (json_int_t)info.dnsmasq_pid);
                if (j) {
                        json_object_set_new(j, "domains", strv_json(&info.domains));
                        json_t *ports = json_array();
                        for (size_t i = 0; ports && i < info.ports.n; i++)
                                json_array_append_new(ports, json_integer(atoi(info.ports.v[i])));
                        json_object_set_new(j, "ports", ports);
                        json_object_set_new(j, "allowed_addresses", strv_json(&info.allowed_addrs));
                        json_object_set_new(j, "dropped_packets",
                                            json_integer((json_int_t)info.dropped_packets));
                        json_object_set_new(j, "dropped_bytes",
                                            json_integer((json_int_t)info.dropped_bytes));
                        json_object_set_new(j, "denied_names", strv_json(&info.denied_names));
                        char *text = json_dumps(j, JSON_INDENT(2));
                        if (text)
                                fprintf(o, "%s\n", text);
                        free(text);
                        json_decref(j);
                }
        } else {
                fprintf(o, "%-13sslot %u: %s, guest %s (%s), gateway %s\n", "network:", slot, a.tap,
                        t.guest_ip, a.mac_str, t.host_ip);
                fprintf(o, "%-13s%s\n", "mode:", nbx_net_mode_name(info.mode));
                if (info.mode == NBX_NET_FILTERED) {
                        print_list(o, "domains:", &info.domains, "(none: every name is refused)");
                        print_list(o, "ports:", &info.ports, "(none)");
                        print_list(o, "allow set:", &info.allowed_addrs,
                                   "(empty: no allowed name resolved yet)");
                }
                fprintf(o, "%-13s%llu packets, %llu bytes\n",
                        "dropped:", (unsigned long long)info.dropped_packets,
                        (unsigned long long)info.dropped_bytes);
                if (info.mode == NBX_NET_FILTERED)
                        print_list(o, "refused DNS:", &info.denied_names, "(none)");
                if (info.dnsmasq_pid)
                        fprintf(o, "%-13spid %d\n", "dnsmasq:", (int)info.dnsmasq_pid);
                else
                        fprintf(o, "%-13snot running (DHCP/DNS for the guest are down)\n",
                                "dnsmasq:");
        }
        nbx_net_info_done(&info);
        return NBX_EXIT_OK;
}

int cmd_net(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "net");
        if (argc < 2 || strcmp(argv[1], "show") != 0)
                return nbx_cli_usage_error(cli, "net", "expected `nixbox net show [--json]`");
        bool json = cli->json;
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return nbx_cli_usage_error(cli, "net", "unknown option %s", argv[i]);
        }
        return show(cli, json);
}
