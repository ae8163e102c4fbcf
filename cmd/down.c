#include "cli.h"

#include "../vm/lifecycle.h"

int cmd_down(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "down", argc, argv);
        if (usage >= 0)
                return usage;
        int rc = nbx_cli_require_net_admin(cli, "down", "removes the VM's network");
        if (rc != 0)
                return rc;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        bool was_running = false;
        int r = nbx_vm_down(&p, &o, &was_running, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        fputs(was_running ? "VM stopped; its network and slot are removed.\n"
                          : "The VM is not running; nothing to do.\n",
              cli->ui.out);
        return NBX_EXIT_OK;
}
