#include "cli.h"

#include "../config/fsutil.h"
#include "../vm/lifecycle.h"

int cmd_down(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "down");
        (void)argv;
        if (argc > 1)
                return nbx_cli_usage_error(cli, "down", "down takes no arguments");
        _cleanup_error_ nbx_error *err = NULL;
        if (!nbx_vm_have_net_admin()) {
                nbx_error_setx(&err, NBX_EXIT_PERMISSION, 0,
                               "nixbox down removes the VM's network and needs CAP_NET_ADMIN: "
                               "run with sudo (`sudo nixbox down`)");
                return nbx_cli_fail(cli, err);
        }
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        _cleanup_free_ char *plugins = nbx_path_join(cli->data_dir, "plugins");
        _cleanup_free_ char *nix = nbx_path_join(cli->data_dir, "nix");
        nbx_config_opts copts = {.plugins_dir = plugins, .nix_dir = nix};
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &copts};
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
