#include "cli.h"

#include <getopt.h>
#include <stdio.h>

#include "../vm/build.h"
#include "../vm/lifecycle.h"

int nbx_cli_guest_build(nbx_cli *cli, bool force, bool update) {
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        nbx_build_result res = {0};
        _cleanup_free_ char *image = NULL;
        int r = nbx_vm_build(&p, &o, force, update, &res, &image, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        if (image)
                nbx_ui_warn(&cli->ui,
                            "vm.image is set (%s): `nixbox up` boots that folder, not "
                            "this build",
                            image);
        fprintf(cli->ui.out, "Guest image %s: %s\n", res.built ? "built" : "up to date",
                res.image_dir);
        if (res.lock_written)
                fprintf(cli->ui.out, "nixpkgs is pinned in .nixbox/flake.lock (and in the approved "
                                     "copy): commit it with the project.\n");
        nbx_build_result_done(&res);
        return NBX_EXIT_OK;
}

/* nixbox build [-f] */
int cmd_build(nbx_cli *cli, int argc, char **argv) {
        static const struct option opts[] = {
                {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {0}};
        bool force = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
                switch (c) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        return nbx_cli_print_usage(cli, "build");
                default:
                        return nbx_cli_usage_error(cli, "build", "unknown option");
                }
        }
        if (optind < argc)
                return nbx_cli_usage_error(cli, "build", "unexpected argument '%s'", argv[optind]);
        return nbx_cli_guest_build(cli, force, false);
}
