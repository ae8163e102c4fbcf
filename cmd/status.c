#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "../vm/lifecycle.h"

static void uptime_str(int64_t s, char *buf, size_t n) {
        if (s < 0)
                snprintf(buf, n, "-");
        else if (s < 3600)
                snprintf(buf, n, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
        else
                snprintf(buf, n, "%lldh%02lldm", (long long)s / 3600, (long long)(s % 3600) / 60);
}

int cmd_status(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "status");
        bool json = cli->json;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else
                        return nbx_cli_usage_error(cli, "status", "unexpected argument '%s'",
                                                   argv[i]);
        }
        _cleanup_error_ nbx_error *err = NULL;
        /* inside a project, that project is listed even when stopped */
        nbx_project p = {0};
        bool in_project = nbx_cli_project(cli, &p, NULL) == 0;
        _cleanup_free_ char *runtime = nbx_runtime_dir();
        nbx_vm_status *v = NULL;
        size_t n = 0;
        int r = nbx_vm_fleet(runtime, in_project ? p.root : NULL, &v, &n, &err);
        if (in_project)
                nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        if (json) {
                _cleanup_free_ char *s = NULL;
                r = nbx_vm_fleet_json(v, n, &s, &err);
                nbx_vm_fleet_free(v, n);
                if (r < 0)
                        return nbx_cli_fail(cli, err);
                fprintf(cli->ui.out, "%s\n", s);
                return NBX_EXIT_OK;
        }
        if (n == 0) {
                fputs("No nixbox VMs on this host.\n", cli->ui.out);
        } else {
                fprintf(cli->ui.out, "%-16s %-4s %-8s %-8s %-7s %-8s %-15s %s\n", "NAME", "SLOT",
                        "MODE", "STATE", "PID", "UPTIME", "GUEST IP", "PROJECT");
                for (size_t i = 0; i < n; i++) {
                        char slot[12], pid[16], up[32];
                        snprintf(slot, sizeof(slot), v[i].slot >= 0 ? "%d" : "-", v[i].slot);
                        snprintf(pid, sizeof(pid), v[i].pid > 0 ? "%d" : "-", (int)v[i].pid);
                        uptime_str(v[i].uptime_s, up, sizeof(up));
                        fprintf(cli->ui.out, "%-16s %-4s %-8s %-8s %-7s %-8s %-15s %s\n",
                                v[i].name ? v[i].name : "?", slot,
                                v[i].mode && *v[i].mode ? v[i].mode : "-", v[i].state, pid, up,
                                v[i].guest_ip ? v[i].guest_ip : "-",
                                v[i].project_dir ? v[i].project_dir : "?");
                        for (size_t j = 0; j < v[i].mounts.n; j++)
                                fprintf(cli->ui.out, "%-16s mount %s\n", "", v[i].mounts.v[j]);
                }
        }
        nbx_vm_fleet_free(v, n);
        return NBX_EXIT_OK;
}
