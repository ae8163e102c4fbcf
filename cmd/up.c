#include "cli.h"

int cmd_up(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "up");
        return nbx_cli_not_available(cli, "up", "the VM lifecycle (vm/)");
}
