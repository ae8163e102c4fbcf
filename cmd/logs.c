#include "cli.h"

int cmd_logs(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "logs");
        return nbx_cli_not_available(cli, "logs", "the VM lifecycle (vm/)");
}
