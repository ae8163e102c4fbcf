#include "cli.h"

int cmd_run(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "run");
        return nbx_cli_not_available(cli, "run", "the VM lifecycle (vm/)");
}
