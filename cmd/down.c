#include "cli.h"

int cmd_down(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "down");
        return nbx_cli_not_available(cli, "down", "the VM lifecycle (vm/)");
}
