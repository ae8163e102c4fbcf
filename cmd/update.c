#include "cli.h"

/* nixbox update: pin the newest nixpkgs of the guest's branch, then build (cmd/build.c). */
int cmd_update(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "update", argc, argv);
        if (usage >= 0)
                return usage;
        return nbx_cli_guest_build(cli, false, true);
}
