#include "cli.h"

int cmd_net(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "net");
        return nbx_cli_not_available(cli, "net", "the network layer (net/)");
}
