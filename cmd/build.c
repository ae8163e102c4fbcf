#include "cli.h"

int cmd_build(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "build");
        return nbx_cli_not_available(cli, "build", "the Nix guest build (nix/)");
}
