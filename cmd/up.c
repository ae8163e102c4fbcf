#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "../config/base/timeutil.h"
#include "../vm/lifecycle.h"

/* NIXBOX_STEP_TIMES=1: one line per step of `up` on stderr, "nixbox-step NAME START END" (µs,
 * CLOCK_MONOTONIC), and first "nixbox-step start T T" when the command starts, for the benchmarks
 * (docs/performance.md) */
static void print_step(void *data, const char *step, uint64_t start_us, uint64_t end_us) {
        fprintf(data, "nixbox-step %s %llu %llu\n", step, (unsigned long long)start_us,
                (unsigned long long)end_us);
}

int cmd_up(nbx_cli *cli, int argc, char **argv) {
        int usage = nbx_cli_no_args(cli, "up", argc, argv);
        if (usage >= 0)
                return usage;
        int rc = nbx_cli_require_net_admin(cli, "up", "configures the VM's network");
        if (rc != 0)
                return rc;
        _cleanup_error_ nbx_error *err = NULL;
        nbx_project p;
        if (nbx_cli_project(cli, &p, &err) < 0)
                return nbx_cli_fail(cli, err);
        /* NIXBOX_FAIL_AT=<step>: test hook, see docs/lifecycle.md */
        const char *fail_at = getenv("NIXBOX_FAIL_AT");
        nbx_vm_opts o = {.ui = &cli->ui,
                         .config_opts = &cli->config_opts,
                         .fail_at = fail_at && *fail_at ? fail_at : NULL,
                         /* NIXBOX_TEST_KVM_STALL=1: test hook, see docs/hypervisors.md */
                         .kvm_stall = getenv("NIXBOX_TEST_KVM_STALL") &&
                                      strcmp(getenv("NIXBOX_TEST_KVM_STALL"), "1") == 0};
        const char *times = getenv("NIXBOX_STEP_TIMES");
        if (times && strcmp(times, "1") == 0) {
                o.step_done = print_step;
                o.step_data = cli->ui.err;
                print_step(cli->ui.err, "start", nbx_now_us(), nbx_now_us());
        }
        nbx_vm_up_result res;
        int r = nbx_vm_up(&p, &o, &res, &err);
        nbx_project_done(&p);
        if (r < 0)
                return nbx_cli_fail(cli, err);
        if (res.already_running)
                fprintf(cli->ui.out, "VM %s is already running (slot %d, %s).\n", res.name,
                        res.slot, res.guest_ip);
        else
                fprintf(cli->ui.out,
                        "VM %s is up (slot %d, %s).\n"
                        "  nixbox shell         open a shell in the workspace\n"
                        "  nixbox run CMD ...   run a command\n"
                        "  sudo nixbox down     stop it\n"
                        "Its SSH identity (register it where the VM needs access, e.g. as a "
                        "deploy key):\n  %s",
                        res.name, res.slot, res.guest_ip, res.identity_pub);
        return NBX_EXIT_OK;
}
