#include "cli.h"

int cmd_reload(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "reload");
        return nbx_cli_not_available(cli, "reload", "the VM lifecycle (vm/)");
}
