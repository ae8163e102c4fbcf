#include "cli.h"

#include <string.h>

#include "../vm/lifecycle.h"

int cmd_allow(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "allow");
        bool dry_run = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--diff") == 0 || strcmp(argv[i], "--dry-run") == 0)
                        dry_run = true;
                else
                        return nbx_cli_usage_error(cli, "allow", "unexpected argument '%s'",
                                                   argv[i]);
        }
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        bool changed = false;
        fflush(cli->ui.out);
        int r = nbx_vm_allow(&p, &o, fileno(cli->ui.out), dry_run, &changed, &err);
        if (r < 0) {
                nbx_project_done(&p);
                return nbx_cli_fail(cli, err);
        }
        if (!changed)
                fprintf(cli->ui.out, "%s is approved as it is; nothing new to approve.\n",
                        p.nixbox_dir);
        else if (dry_run)
                fprintf(cli->ui.out, "\nNot approved yet: run `nixbox allow` to approve the changes "
                                     "above.\n");
        else
                fprintf(cli->ui.out, "\nApproved %s as shown above: `nixbox up` and `reload` use it.\n",
                        p.nixbox_dir);
        nbx_project_done(&p);
        return NBX_EXIT_OK;
}
