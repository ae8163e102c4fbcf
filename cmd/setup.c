#include "cli.h"

int cmd_setup(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "setup");
        return nbx_cli_not_available(cli, "setup", "host setup");
}
