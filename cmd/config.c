#include "cli.h"

int cmd_config(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "config");
        return nbx_cli_not_available(cli, "config", "config resolution (config/)");
}
