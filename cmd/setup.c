#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "../config/base/fsutil.h"
#include "../net/net.h"

int cmd_setup(nbx_cli *cli, int argc, char **argv) {
        static const struct option opts[] = {
                {"pool", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'}, {0}};
        const char *pool_str = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+p:h", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        pool_str = optarg;
                        break;
                case 'h':
                        return nbx_cli_print_usage(cli, "setup");
                default:
                        return nbx_cli_usage_error(cli, "setup", "unknown option");
                }
        }
        if (optind < argc)
                return nbx_cli_usage_error(cli, "setup", "unexpected argument '%s'", argv[optind]);

        _cleanup_error_ nbx_error *err = NULL;
        _cleanup_free_ char *runtime = nbx_runtime_dir();
        if (!runtime)
                return nbx_cli_fail(cli, NULL);
        nbx_pool pool;
        /* validate before anything is written */
        if (pool_str && nbx_pool_parse(pool_str, &pool, &err) < 0) {
                nbx_error_wrap(&err, "--pool");
                err->exit_code = NBX_EXIT_USAGE;
                return nbx_cli_fail(cli, err);
        }
        if (nbx_mkdir_p(runtime, 0755, &err) < 0) {
                if (err->errnum == EACCES || err->errnum == EPERM) {
                        err->exit_code = NBX_EXIT_PERMISSION;
                        nbx_error_append(&err, " (run `sudo nixbox setup`)");
                }
                return nbx_cli_fail(cli, err);
        }
        if (pool_str && nbx_pool_save(runtime, &pool, &err) < 0)
                return nbx_cli_fail(cli, err);
        if (nbx_pool_load(runtime, &pool, &err) < 0)
                return nbx_cli_fail(cli, err);
        char first[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &pool.base, first, sizeof(first));
        fprintf(cli->ui.out,
                "Runtime folder: %s\nAddress pool:   %s/16 (slot s uses the /30 at offset 4s)\n"
                "Run `nixbox doctor` to check the remaining prerequisites.\n",
                runtime, first);
        return NBX_EXIT_OK;
}
