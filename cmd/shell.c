#include "cli.h"

#include "../vm/lifecycle.h"

int cmd_shell(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "shell");
        (void)argv;
        if (argc > 1)
                return nbx_cli_usage_error(cli, "shell", "shell takes no arguments");
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui};
        int code = 0;
        fflush(cli->ui.out);
        int r = nbx_vm_shell(&p, &o, &code, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        return code;
}
