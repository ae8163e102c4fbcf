#include "cli.h"

#include <string.h>
#include <unistd.h>

#include "../vm/lifecycle.h"

int cmd_logs(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "logs");
        bool follow = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
                        follow = true;
                else
                        return nbx_cli_usage_error(cli, "logs", "unexpected argument '%s'",
                                                   argv[i]);
        }
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui};
        fflush(cli->ui.out);
        int r = nbx_vm_logs(&p, &o, follow, fileno(cli->ui.out), &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        return NBX_EXIT_OK;
}
