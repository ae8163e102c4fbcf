#include "configproj.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "config/base/fsutil.h"
#include "config/base/proc.h"

static char *absolute(const char *rel) {
        char *r = realpath(rel, NULL);
        assert_non_null(r);
        return r;
}

void nbx_test_proj_init(nbx_test_proj *p, const char *config) {
        p->tmp = nbx_test_tmpdir();
        p->dir = nbx_path_join(p->tmp, "proj");
        p->home = nbx_path_join(p->tmp, "home");
        p->resolv = nbx_path_join(p->tmp, "resolv.conf");
        p->fallback = nbx_path_join(p->tmp, "resolved.conf");
        p->host = (nbx_host_facts){.cores = 4, .memory_mb = 16384};
        nbx_test_write(p->dir, ".nixbox/config.nix", config);
        nbx_test_write(p->dir, ".nixbox/setup.sh", "#!/bin/sh\n");
        nbx_test_write(p->dir, "data/.keep", "");
        nbx_test_write(p->dir, "noimage/.keep", "");
        nbx_test_write(p->dir, "file.txt", "x");
        nbx_test_write(p->dir, "image/image.json", "{}");
        nbx_test_write(p->home, ".keep", "");
        nbx_test_write(p->tmp, "resolv.conf", "# test\nnameserver 192.0.2.53\n");
        /* a copy, not a link: Nix evaluates .nixbox/ in restricted mode, where a link out of it
         * leads nowhere (as it must: what it points at was never approved) */
        char *plugins = absolute(NBX_TEST_CONFIG_FIXTURES "/plugins");
        char *dest = nbx_path_join(p->dir, ".nixbox/plugins");
        char *argv[] = {"cp", "-R", plugins, dest, NULL};
        int status = 0;
        assert_int_equal(nbx_run_capture(argv, NULL, 0, &status, NULL, NULL, NULL), 0);
        assert_int_equal(nbx_status_code(status), 0);
        free(plugins);
        free(dest);
}

void nbx_test_proj_done(nbx_test_proj *p) {
        nbx_test_rmdir(p->tmp);
        free(p->dir);
        free(p->home);
        free(p->resolv);
        free(p->fallback);
}

int nbx_test_proj_load(nbx_test_proj *p, nbx_config *c, nbx_error **err) {
        nbx_config_opts o = {.plugins_dir = "plugins",
                             .nix_dir = "nix",
                             .host_home = p->home,
                             .guest_home = "/home/tester",
                             .host = &p->host,
                             .resolv_conf = p->resolv,
                             .resolv_conf_fallback = p->fallback};
        return nbx_config_load(p->dir, &o, c, err);
}

void nbx_test_config_ok(nbx_test_proj *p, const char *config, nbx_config *c) {
        nbx_test_proj_init(p, config);
        _cleanup_error_ nbx_error *err = NULL;
        if (nbx_test_proj_load(p, c, &err) < 0)
                fail_msg("config rejected: %s\n%s", err ? err->msg : "?", config);
}

char *nbx_test_config_bad(const char *config) {
        nbx_test_proj p;
        nbx_test_proj_init(&p, config);
        nbx_config c;
        nbx_error *err = NULL;
        assert_true(nbx_test_proj_load(&p, &c, &err) < 0);
        assert_non_null(err);
        assert_int_equal(err->exit_code, NBX_EXIT_CONFIG);
        char *msg = strdup(err->msg);
        nbx_error_free(err);
        nbx_test_proj_done(&p);
        return msg;
}

void nbx_test_assert_contains(const char *hay, const char *needle) {
        if (!strstr(hay, needle))
                fail_msg("expected \"%s\" in: %s", needle, hay);
}
