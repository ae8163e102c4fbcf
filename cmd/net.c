#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "../net/net.h"

/* v's strings are safe to print: domains are validated names, denied names escaped by net/. */
static void print_strv(FILE *f, const char *label, const nbx_strv *v, const char *none) {
        fprintf(f, "%-13s", label);
        if (v->n == 0)
                fputs(none, f);
        for (size_t i = 0; i < v->n; i++)
                fprintf(f, "%s%s", i ? ", " : "", v->v[i]);
        fputc('\n', f);
}

static void print_ports(FILE *f, const nbx_net_info *i) {
        fprintf(f, "%-13s", "ports:");
        if (i->n_ports == 0)
                fputs("(none)", f);
        for (size_t k = 0; k < i->n_ports; k++)
                fprintf(f, "%s%u", k ? ", " : "", (unsigned)i->ports[k]);
        fputc('\n', f);
}

static void print_allowed(FILE *f, const nbx_net_info *i) {
        fprintf(f, "%-13s", "allow set:");
        if (i->n_allowed == 0)
                fputs("(empty: no allowed name resolved yet)", f);
        for (size_t k = 0; k < i->n_allowed; k++) {
                char ip[INET_ADDRSTRLEN];
                fprintf(f, "%s%s", k ? ", " : "",
                        inet_ntop(AF_INET, &i->allowed[k], ip, sizeof(ip)) ? ip : "?");
        }
        fputc('\n', f);
}

static void print_text(FILE *o, const nbx_net_info *i) {
        nbx_slot_addr_text t;
        nbx_slot_addr_str(&i->addr, &t);
        fprintf(o, "%-13sslot %u: %s, guest %s (%s), gateway %s\n", "network:", i->addr.slot,
                i->addr.tap, t.guest_ip, i->addr.mac_str, t.host_ip);
        fprintf(o, "%-13s%s%s\n", "mode:", nbx_net_mode_name(i->mode),
                i->allow_private ? " (private addresses allowed)" : "");
        if (i->owner_uid)
                fprintf(o, "%-13sroot and uid %u may connect into the guest from this host\n",
                        "local users:", (unsigned)i->owner_uid);
        else
                fprintf(o, "%-13sroot alone may connect into the guest from this host\n",
                        "local users:");
        if (i->mode == NBX_NET_FILTERED) {
                print_strv(o, "domains:", &i->domains, "(none: every name is refused)");
                print_ports(o, i);
                print_allowed(o, i);
        }
        fprintf(o, "%-13s%llu packets, %llu bytes\n",
                "dropped:", (unsigned long long)i->counters.dropped_packets,
                (unsigned long long)i->counters.dropped_bytes);
        if (i->mode == NBX_NET_FILTERED)
                print_strv(o, "refused DNS:", &i->denied_names, "(none)");
        if (i->dnsmasq_pid)
                fprintf(o, "%-13spid %d\n", "dnsmasq:", (int)i->dnsmasq_pid);
        else
                fprintf(o, "%-13snot running (DHCP/DNS for the guest are down)\n", "dnsmasq:");
}

static int show(nbx_cli *cli, bool json) {
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        _cleanup_free_ char *rt = nbx_runtime_dir();
        nbx_net_info info;
        int r = rt ? nbx_net_info_for_project(rt, p.root, &info, &err)
                   : nbx_error_set(&err, ENOMEM, "runtime folder");
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        _cleanup_free_ char *text = NULL;
        if (json && nbx_net_info_json(&info, &text, &err) < 0) {
                nbx_net_info_done(&info);
                return nbx_cli_fail(cli, err);
        }
        if (json)
                fprintf(cli->ui.out, "%s\n", text);
        else
                print_text(cli->ui.out, &info);
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
