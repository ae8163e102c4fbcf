#include "cli.h"

#include "../config/base/user.h"
#include "../vm/lifecycle.h"

int cmd_init(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "init");
        if (argc > 2)
                return nbx_cli_usage_error(cli, "init", "init takes at most one folder");
        const char *dir = argc == 2 ? argv[1] : (cli->project_opt ? cli->project_opt : ".");

        _cleanup_error_ nbx_error *err = NULL;
        nbx_invoker inv;
        if (nbx_invoker_get(&inv, &err) < 0)
                return nbx_cli_fail(cli, err);
        /* the folder is the user's (and a guest's, if shared): written with the user's identity */
        nbx_fsid fs;
        int r = nbx_fsid_enter(&inv, &fs, &err);
        if (r >= 0)
                r = nbx_project_init(dir, inv.uid, inv.gid, &err);
        nbx_fsid_leave(&fs);
        nbx_invoker_done(&inv);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        /* the template is the user's own: approved as written */
        nbx_project p;
        if (nbx_project_find(dir, &p, &err) == 0) {
                nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
                r = nbx_vm_allow(&p, &o, -1, false, NULL, &err);
                nbx_project_done(&p);
                if (r < 0)
                        return nbx_cli_fail(cli, err);
        }
        fprintf(cli->ui.out,
                "Created %s/.nixbox/config.nix; edit it, approve your changes with `nixbox allow`, "
                "then run `sudo nixbox up`.\n",
                dir);
        return NBX_EXIT_OK;
}
