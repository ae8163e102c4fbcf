#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/base/fsutil.h"

char *nbx_test_tmpdir(void) {
        const char *base = getenv("TMPDIR");
        char *t = NULL;
        assert_true(asprintf(&t, "%s/nbx-test-XXXXXX", base && *base ? base : "/tmp") > 0);
        assert_non_null(mkdtemp(t));
        return t;
}

void nbx_test_rmdir(char *dir) {
        if (!dir)
                return;
        nbx_error *err = NULL;
        assert_int_equal(nbx_rm_rf(dir, &err), 0);
        free(dir);
}

void nbx_test_write(const char *dir, const char *rel, const char *content) {
        char *path = nbx_path_join(dir, rel);
        assert_non_null(path);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        nbx_error *err = NULL;
        assert_int_equal(nbx_mkdir_p(path, 0755, &err), 0);
        *slash = '/';
        assert_int_equal(nbx_write_file(path, content, strlen(content), 0644, &err), 0);
        free(path);
}

#include <limits.h>

#include "config/base/proc.h"
#include "config/base/strv.h"
#include "config/base/timeutil.h"

extern char **environ;

/* entry is NAME=... of an extra "NAME=value" (replaced) or "NAME" (removed) */
static bool replaced(const char *entry, const char *const *extra) {
        for (size_t i = 0; extra && extra[i]; i++) {
                const char *eq = strchr(extra[i], '=');
                size_t n = eq ? (size_t)(eq - extra[i]) : strlen(extra[i]);
                if (strncmp(entry, extra[i], n) == 0 && entry[n] == '=')
                        return true;
        }
        return false;
}

void nbx_test_nixbox_path(char ret[PATH_MAX]) {
        const char *b = getenv("NIXBOX_BUILD");
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), "%s/nixbox", b && *b ? b : "build");
        assert_non_null(realpath(rel, ret));
}

int nbx_test_nixbox(nbx_test_result *r, const char *const *args, const char *const *extra_env) {
        char bin[PATH_MAX];
        nbx_test_nixbox_path(bin);
        nbx_strv argv = {0}, env = {0};
        assert_int_equal(nbx_strv_push(&argv, bin), 0);
        for (size_t i = 0; args[i]; i++)
                assert_int_equal(nbx_strv_push(&argv, args[i]), 0);
        for (char **e = environ; *e; e++)
                if (!replaced(*e, extra_env))
                        assert_int_equal(nbx_strv_push(&env, *e), 0);
        for (size_t i = 0; extra_env && extra_env[i]; i++)
                if (strchr(extra_env[i], '='))
                        assert_int_equal(nbx_strv_push(&env, extra_env[i]), 0);
        nbx_spawn_opts so = NBX_SPAWN_OPTS_INIT;
        so.envp = env.v;
        int status = 0;
        nbx_error *err = NULL;
        *r = (nbx_test_result){0};
        if (nbx_run_capture(argv.v, &so, nbx_now_ms() + 60000, &status, &r->out, &r->err, &err) < 0)
                fail_msg("running %s: %s", bin, err->msg);
        r->code = nbx_status_code(status);
        nbx_strv_clear(&argv);
        nbx_strv_clear(&env);
        return r->code;
}

void nbx_test_result_done(nbx_test_result *r) {
        free(r->out);
        free(r->err);
        *r = (nbx_test_result){0};
}
