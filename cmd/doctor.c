#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "../config/config.h"
#include "../config/base/fsutil.h"
#include "../config/prereq.h"
#include "../net/net.h"
#include "../vm/hv.h"

static const char *status_word(enum nbx_check_status s) {
        return s == NBX_CHECK_OK ? "OK" : s == NBX_CHECK_WARN ? "WARN" : "MISSING";
}

static const char *status_color(enum nbx_check_status s) {
        return s == NBX_CHECK_OK ? "32" : s == NBX_CHECK_WARN ? "33" : "31";
}

static void line(nbx_cli *cli, enum nbx_check_status s, const char *name, const char *detail,
                 const char *fix) {
        bool color = cli->ui.color && isatty(fileno(cli->ui.out));
        if (color)
                fprintf(cli->ui.out, "\033[%sm%-8s\033[0m", status_color(s), status_word(s));
        else
                fprintf(cli->ui.out, "%-8s", status_word(s));
        fprintf(cli->ui.out, "%-20s %s\n", name, detail);
        if (fix && *fix && s != NBX_CHECK_OK)
                fprintf(cli->ui.out, "        %-20s fix: %s\n", "", fix);
}

int cmd_doctor(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "doctor", argc, argv);
        if (usage >= 0)
                return usage;

        nbx_check checks[NBX_MAX_CHECKS];
        size_t n;
        nbx_prereq_run(checks, &n);
        /* /dev/kvm answering is not enough (a nested host may refuse to run a guest): ask the
         * same probe `up` uses */
        for (size_t i = 0; i < n; i++) {
                if (strcmp(checks[i].name, "KVM") != 0 || checks[i].status != NBX_CHECK_OK)
                        continue;
                _cleanup_error_ nbx_error *kerr = NULL;
                enum nbx_accel accel;
                if (nbx_accel_resolve(NBX_ACCEL_KVM, &accel, &kerr) < 0) {
                        checks[i].status = NBX_CHECK_WARN;
                        /* the probe's reason, without the advice meant for vm.accel */
                        const char *why = kerr && kerr->msg ? kerr->msg : "";
                        const char *here = strstr(why, "here: ");
                        why = here ? here + 6 : why;
                        int len = (int)(strstr(why, " (set vm.accel")
                                                ? strstr(why, " (set vm.accel") - why
                                                : (long)strlen(why));
                        snprintf(checks[i].detail, sizeof(checks[i].detail),
                                 "/dev/kvm cannot run a guest: %.*s; VMs will run under TCG "
                                 "(much slower)",
                                 len, why);
                        snprintf(checks[i].fix, sizeof(checks[i].fix),
                                 "on a nested host, enable nested virtualisation on the outer "
                                 "host; otherwise nothing to do");
                } else {
                        snprintf(checks[i].detail, sizeof(checks[i].detail),
                                 "/dev/kvm runs guests");
                }
        }
        bool missing = false;
        for (size_t i = 0; i < n; i++) {
                line(cli, checks[i].status, checks[i].name, checks[i].detail, checks[i].fix);
                missing |= checks[i].required && checks[i].status == NBX_CHECK_MISSING;
        }

        /* Docker's iptables FORWARD policy: a drop there would drop VM traffic too. */
        {
                _cleanup_error_ nbx_error *derr = NULL;
                nbx_docker_status d;
                if (nbx_net_docker_check(&d, &derr) < 0)
                        line(cli, NBX_CHECK_WARN, "iptables FORWARD",
                             derr ? derr->msg : "cannot read the ruleset",
                             "run `sudo nixbox doctor` to inspect it");
                else if (!d.filter_forward || !d.policy_drop)
                        line(cli, NBX_CHECK_OK, "iptables FORWARD",
                             d.filter_forward ? "policy accept" : "no iptables FORWARD chain",
                             NULL);
                else
                        line(cli, d.nixbox_rules ? NBX_CHECK_OK : NBX_CHECK_WARN,
                             "iptables FORWARD",
                             d.nixbox_rules ? "policy drop (Docker?); nixbox's accept rules for "
                                              "nbx* are in place"
                                            : "policy drop (Docker?); `nixbox up` adds accept "
                                              "rules for nbx* interfaces",
                             "nothing to do: up adds them, down removes them with the last VM");
        }

        /* The project's config, when run inside one. */
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0) {
                line(cli, NBX_CHECK_WARN, "project", "not inside a nixbox project",
                     "`nixbox init` creates one");
        } else {
                nbx_config cfg;
                if (nbx_config_load(p.root, &cli->config_opts, &cfg, &err) < 0) {
                        line(cli, NBX_CHECK_MISSING, "project config", err->msg,
                             "fix the field named above; `nixbox config` shows the result");
                        missing = true;
                } else {
                        char d[512];
                        snprintf(d, sizeof(d), "%s: valid (name %s, network %s)", p.config_path,
                                 cfg.name, nbx_net_mode_name(cfg.net_mode));
                        line(cli, NBX_CHECK_OK, "project config", d, NULL);
                        nbx_config_done(&cfg);
                }
                nbx_project_done(&p);
        }
        if (missing) {
                fprintf(cli->ui.out, "\nSomething required is missing: apply the fixes above.\n");
                return NBX_EXIT_PREREQ;
        }
        fprintf(cli->ui.out, "\nAll required prerequisites are present.\n");
        return NBX_EXIT_OK;
}
