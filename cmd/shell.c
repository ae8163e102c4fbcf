#include "cli.h"

#include "../vm/lifecycle.h"

int cmd_shell(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "shell", argc, argv);
        if (usage >= 0)
                return usage;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui};
        fflush(cli->ui.out);
        (void)nbx_vm_shell(&p, &o, &err); /* replaced by ssh; back here only on failure */
        nbx_project_done(&p);
        return nbx_cli_fail(cli, err);
}
