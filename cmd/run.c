#include "cli.h"

#include <string.h>

#include "../vm/lifecycle.h"

int cmd_run(nbx_cli *cli, int argc, char **argv) {
        /* everything after `run` (and an optional leading `--`) is the command */
        int first = 1;
        if (first < argc && strcmp(argv[first], "--") == 0)
                first++;
        else if (first < argc &&
                 (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0))
                return nbx_cli_print_usage(cli, "run");
        if (first >= argc)
                return nbx_cli_usage_error(cli, "run", "run needs a command");
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui};
        fflush(cli->ui.out);
        /* replaced by ssh: back here only on failure */
        (void)nbx_vm_run(&p, &o, argv + first, (size_t)(argc - first), &err);
        nbx_project_done(&p);
        return nbx_cli_fail(cli, err);
}
