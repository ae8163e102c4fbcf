#include "cli.h"

int cmd_update(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "update");
        return nbx_cli_not_available(cli, "update", "the Nix guest build (nix/)");
}
