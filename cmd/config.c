#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"

/* nixbox config [--json] [--show-secrets]: evaluate, merge, validate, print. */
int cmd_config(nbx_cli *cli, int argc, char **argv) {
        if (nbx_cli_wants_help(argc, argv))
                return nbx_cli_print_usage(cli, "config");
        bool json = cli->json, show_secrets = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0)
                        json = true;
                else if (strcmp(argv[i], "--show-secrets") == 0)
                        show_secrets = true;
                else
                        return nbx_cli_usage_error(cli, "config", "unexpected argument '%s'",
                                                   argv[i]);
        }

        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        nbx_config c;
        int r = nbx_config_load(p.root, &cli->config_opts, &c, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        for (size_t i = 0; i < c.warnings.n; i++)
                nbx_ui_warn(&cli->ui, "%s", c.warnings.v[i]);

        _cleanup_free_ char *out = NULL;
        r = json ? nbx_config_to_json(&c, show_secrets, &out, &err)
                 : nbx_config_to_text(&c, show_secrets, &out, &err);
        nbx_config_done(&c);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        fputs(out, cli->ui.out);
        if (json)
                fputc('\n', cli->ui.out);
        if (show_secrets)
                explicit_bzero(out, strlen(out));
        return NBX_EXIT_OK;
}
