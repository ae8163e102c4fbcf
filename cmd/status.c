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

static void print_row(FILE *out, const nbx_vm_status *v) {
        char slot[12], pid[16], up[32];
        snprintf(slot, sizeof(slot), v->slot >= 0 ? "%d" : "-", v->slot);
        snprintf(pid, sizeof(pid), v->pid > 0 ? "%d" : "-", (int)v->pid);
        uptime_str(v->uptime_s, up, sizeof(up));
        _cleanup_free_ char *name = nbx_ui_escape(v->name);
        _cleanup_free_ char *project = nbx_ui_escape(v->project_dir);
        fprintf(out, "%-16s %-4s %-8s %-8s %-7s %-8s %-15s %s\n", name ? name : "?", slot,
                v->have_mode ? nbx_net_mode_name(v->mode) : "-", nbx_vm_state_name(v->state), pid,
                up, v->guest_ip ? v->guest_ip : "-", project ? project : "?");
        for (size_t j = 0; j < v->n_shares; j++) {
                const nbx_vm_share_row *s = &v->shares[j];
                _cleanup_free_ char *src = nbx_ui_escape(s->source);
                _cleanup_free_ char *tgt = nbx_ui_escape(s->target);
                fprintf(out, "%-16s share %s -> %s%s%s%s\n", "", src ? src : "?", tgt ? tgt : "?",
                        s->readonly ? " (read-only)" : "", s->hotplug ? " (mounted later)" : "",
                        s->attached ? ""
                                    : " (half-attached: the next `sudo nixbox mount`, "
                                      "`unmount` or `down` removes it)");
        }
        if (v->identity_pub)
                fprintf(out, "%-16s identity %s", "", v->identity_pub);
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
        /* inside a project, that project is listed even when stopped, with its identity */
        nbx_project p = {0};
        bool in_project = nbx_cli_project(cli, &p, NULL) == 0;
        _cleanup_free_ char *runtime = nbx_runtime_dir();
        nbx_vm_status *v = NULL;
        size_t n = 0;
        int r = nbx_vm_fleet(runtime, in_project ? p.root : NULL, &v, &n, &err);
        if (r >= 0 && in_project) {
                nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
                for (size_t i = 0; i < n; i++)
                        if (strcmp(v[i].project_dir, p.root) == 0)
                                (void)nbx_vm_identity(&p, &o, &v[i].identity_pub, NULL);
        }
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
        if (n == 0)
                fputs("No nixbox VMs on this host.\n", cli->ui.out);
        else
                fprintf(cli->ui.out, "%-16s %-4s %-8s %-8s %-7s %-8s %-15s %s\n", "NAME", "SLOT",
                        "MODE", "STATE", "PID", "UPTIME", "GUEST IP", "PROJECT");
        for (size_t i = 0; i < n; i++)
                print_row(cli->ui.out, &v[i]);
        nbx_vm_fleet_free(v, n);
        return NBX_EXIT_OK;
}
