#include "cli.h"

int cmd_unmount(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "unmount");
        return nbx_cli_not_available(cli, "unmount", "share hot-plug (vm/)");
}
