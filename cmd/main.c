#include "cli.h"

int main(int argc, char **argv) {
        return nbx_cli_main(argc, argv);
}
