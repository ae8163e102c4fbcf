#include "cli.h"

#include <stdio.h>
#include <unistd.h>

#include "../vm/doctor.h"

static const char *status_color(enum nbx_check_status s) {
        return s == NBX_CHECK_OK ? "32" : s == NBX_CHECK_WARN ? "33" : "31";
}

static void line(nbx_cli *cli, const nbx_check *c) {
        bool color = cli->ui.color && isatty(fileno(cli->ui.out));
        const char *word = nbx_check_status_name(c->status);
        if (color)
                fprintf(cli->ui.out, "\033[%sm%-8s\033[0m", status_color(c->status), word);
        else
                fprintf(cli->ui.out, "%-8s", word);
        fprintf(cli->ui.out, "%-20s %s\n", c->name, c->detail);
        if (c->fix[0] && c->status != NBX_CHECK_OK)
                fprintf(cli->ui.out, "        %-20s fix: %s\n", "", c->fix);
}

int cmd_doctor(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "doctor", argc, argv);
        if (usage >= 0)
                return usage;
        nbx_project p;
        bool in_project = nbx_cli_project(cli, &p, NULL) == 0;
        nbx_vm_opts o = {.ui = &cli->ui, .config_opts = &cli->config_opts};
        nbx_checks checks;
        nbx_doctor_run(in_project ? &p : NULL, &o, &checks);
        if (in_project)
                nbx_project_done(&p);
        for (size_t i = 0; i < checks.n; i++)
                line(cli, &checks.v[i]);
        if (!in_project)
                fprintf(cli->ui.out, "%-8s%-20s %s\n", "", "project",
                        "not inside a nixbox project (`nixbox init` creates one)");
        if (nbx_checks_failed(&checks)) {
                fprintf(cli->ui.out, "\nSomething required is missing: apply the fixes above.\n");
                return NBX_EXIT_PREREQ;
        }
        fprintf(cli->ui.out, "\nAll required prerequisites are present.\n");
        return NBX_EXIT_OK;
}
