#include "cli.h"

#include <string.h>

#include "../vm/lifecycle.h"

int cmd_unmount(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "unmount");
        bool force = false, options = true;
        const char *target = NULL;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (options && strcmp(a, "--") == 0)
                        options = false;
                else if (options && (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0))
                        force = true;
                else if (options && a[0] == '-' && a[1])
                        return nbx_cli_usage_error(cli, "unmount", "unknown option '%s'", a);
                else if (target)
                        return nbx_cli_usage_error(cli, "unmount", "unexpected argument '%s'", a);
                else
                        target = a;
        }
        if (!target || !*target)
                return nbx_cli_usage_error(cli, "unmount",
                                           "which share? (TARGET, as `nixbox "
                                           "status` lists it)");
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        nbx_vm_unmount_result res;
        int r = nbx_vm_unmount(&p, &o, target, force, &res, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        _cleanup_free_ char *src = nbx_ui_escape(res.source), *tgt = nbx_ui_escape(res.target);
        fprintf(cli->ui.out, "Unmounted %s (%s) from the VM.\n", tgt ? tgt : "?", src ? src : "?");
        nbx_vm_unmount_result_done(&res);
        return NBX_EXIT_OK;
}
