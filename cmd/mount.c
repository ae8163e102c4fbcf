#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "../vm/lifecycle.h"

int cmd_mount(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "mount");
        bool readonly = false, options = true;
        char *args[2];
        size_t n = 0;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (options && strcmp(a, "--") == 0)
                        options = false;
                else if (options && (strcmp(a, "--readonly") == 0 || strcmp(a, "-r") == 0))
                        readonly = true;
                else if (options && a[0] == '-' && a[1])
                        return nbx_cli_usage_error(cli, "mount", "unknown option '%s'", a);
                else if (n == NBX_ARRAY_SIZE(args))
                        return nbx_cli_usage_error(cli, "mount", "unexpected argument '%s'", a);
                else
                        args[n++] = argv[i];
        }
        _cleanup_error_ nbx_error *err = NULL;
        nbx_mountspec spec;
        if (nbx_mountspec_from_args(args, n, readonly, &spec, &err) < 0)
                return nbx_cli_usage_error(cli, "mount", "%s", err->msg);
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0) {
                nbx_mountspec_done(&spec);
                return nbx_cli_fail(cli, err);
        }
        /* NIXBOX_FAIL_AT=<mount step>: test hook, see docs/mounts.md */
        const char *fail_at = getenv("NIXBOX_FAIL_AT");
        nbx_vm_opts o = {.ui = &cli->ui,
                         .config_opts = &cli->config_opts,
                         .fail_at = fail_at && *fail_at ? fail_at : NULL};
        nbx_vm_mount_result res;
        int r = nbx_vm_mount(&p, &o, &spec, &res, &err);
        nbx_mountspec_done(&spec);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        _cleanup_free_ char *src = nbx_ui_escape(res.source), *tgt = nbx_ui_escape(res.target);
        fprintf(cli->ui.out, "Mounted %s at %s in the VM (%s, %s).\n", src ? src : "?",
                tgt ? tgt : "?", res.readonly ? "read-only" : "read-write", res.tag);
        nbx_vm_mount_result_done(&res);
        return NBX_EXIT_OK;
}
