#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

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
        nbx_pool pool;
        int r = runtime ? nbx_net_setup(runtime, pool_str, &pool, &err)
                        : nbx_error_set(&err, ENOMEM, "runtime folder");
        if (r < 0)
                return nbx_cli_fail(cli, err);
        char first[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &pool.base, first, sizeof(first));
        fprintf(cli->ui.out,
                "Runtime folder: %s\nAddress pool:   %s/16 (slot s uses the /30 at offset 4s)\n"
                "Run `nixbox doctor` to check the remaining prerequisites.\n",
                runtime, first);
        return NBX_EXIT_OK;
}
