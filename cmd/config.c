#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../config/config.h"
#include "../vm/lifecycle.h"

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
        /* what nixbox up would do about it: approved or not, and the VM's identity */
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        enum nbx_approval_state approval = NBX_APPROVAL_NONE;
        _cleanup_free_ char *identity = NULL;
        if (r >= 0) {
                (void)nbx_vm_approval(&p, &o, &approval, NULL);
                (void)nbx_vm_identity(&p, &o, &identity, NULL);
        }
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
        static const char *const approval_words[] = {
                [NBX_APPROVAL_APPROVED] = "approved",
                [NBX_APPROVAL_CHANGED] = "changed since approved: run `nixbox allow`",
                [NBX_APPROVAL_NONE] = "not approved: run `nixbox allow`"};
        if (json) {
                json_auto_t *j = json_loads(out, 0, NULL);
                if (j) {
                        json_object_set_new(
                                j, "approval",
                                json_string(approval == NBX_APPROVAL_APPROVED  ? "approved"
                                            : approval == NBX_APPROVAL_CHANGED ? "changed"
                                                                               : "none"));
                        if (identity)
                                json_object_set_new(j, "identity", json_string(identity));
                        if (show_secrets)
                                explicit_bzero(out, strlen(out));
                        free(out);
                        out = json_dumps(j, JSON_INDENT(2));
                        if (!out)
                                return nbx_cli_fail(
                                        cli, (nbx_error_set(&err, ENOMEM, "config JSON"), err));
                }
                fputs(out, cli->ui.out);
                fputc('\n', cli->ui.out);
        } else {
                fputs(out, cli->ui.out);
                fprintf(cli->ui.out, "%-24s %s\n", "approval", approval_words[approval]);
                if (identity)
                        fprintf(cli->ui.out, "%-24s %s", "identity (ssh)", identity);
        }
        if (show_secrets)
                explicit_bzero(out, strlen(out));
        return NBX_EXIT_OK;
}
