#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/fsutil.h"

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
