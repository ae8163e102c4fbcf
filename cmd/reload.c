#include "cli.h"

#include "../vm/lifecycle.h"

int cmd_reload(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "reload", argc, argv);
        if (usage >= 0)
                return usage;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        _cleanup_free_ char *restart = NULL;
        int r = nbx_vm_reload(&p, &o, &restart, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        fputs("Network settings (mode, domains, ports) applied.\n", cli->ui.out);
        if (restart && *restart)
                fprintf(cli->ui.out,
                        "These changes take effect only after `sudo nixbox down && sudo nixbox "
                        "up`: %s\n",
                        restart);
        return NBX_EXIT_OK;
}
