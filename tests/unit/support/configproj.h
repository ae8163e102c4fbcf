/* A scratch project for config tests: tmp/proj with data/, file.txt, image/image.json, noimage/,
 * .nixbox/setup.sh and .nixbox/plugins (a copy of tests/fixtures/config/plugins); tmp/home (empty);
 * tmp/resolv.conf (nameserver 192.0.2.53).  Host facts (4 cores, 16 GiB), homes and resolvers
 * are injected so results do not depend on this machine. */
#pragma once

#include "config/config.h"

#define NBX_TEST_CONFIG_FIXTURES "tests/fixtures/config"

typedef struct nbx_test_proj {
        char *tmp, *dir, *home, *resolv, *fallback;
        nbx_host_facts host;
} nbx_test_proj;

void nbx_test_proj_init(nbx_test_proj *p, const char *config);
void nbx_test_proj_done(nbx_test_proj *p);
/* nbx_config_load on the project with the real nix-instantiate and the injected facts. */
int nbx_test_proj_load(nbx_test_proj *p, nbx_config *c, nbx_error **err);
/* Load config text that must be accepted (p stays for the caller's checks). */
void nbx_test_config_ok(nbx_test_proj *p, const char *config, nbx_config *c);
/* Load config text that must be refused with NBX_EXIT_CONFIG; the message (caller frees). */
char *nbx_test_config_bad(const char *config);
void nbx_test_assert_contains(const char *hay, const char *needle);
