/* Fuzz the global option parser with arbitrary argv vectors (NUL-separated words). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        char *argv[66] = {"nixbox"};
        int argc = 1;
        for (size_t i = 0; i <= size && argc < 65;) {
                argv[argc++] = buf + i;
                i += strlen(buf + i) + 1;
        }
        argv[argc] = NULL;
        nbx_cli_args a;
        nbx_error *err = NULL;
        if (nbx_cli_parse_global(argc, argv, &a, &err) == 0) {
                if (a.command_index > argc)
                        abort();
                if (a.project_dir && !*a.project_dir)
                        abort();
        } else if (!err || !err->msg || err->exit_code != NBX_EXIT_USAGE) {
                abort();
        }
        nbx_error_free(err);
        free(buf);
        return 0;
}
