#include "undo.h"

int nbx_undo_push(nbx_undo *u, const char *name, nbx_undo_fn fn, void *data, nbx_error **err) {
        if (u->n >= NBX_UNDO_MAX)
                return nbx_error_set(err, ENOSPC, "too many rollback steps (at %s)", name);
        u->steps[u->n].name = name;
        u->steps[u->n].fn = fn;
        u->steps[u->n].data = data;
        u->n++;
        return 0;
}

size_t nbx_undo_run(nbx_undo *u, nbx_strv *ret_failures) {
        size_t failed = 0;
        while (u->n > 0) {
                u->n--;
                nbx_error *err = NULL;
                if (u->steps[u->n].fn(u->steps[u->n].data, &err) < 0) {
                        failed++;
                        if (ret_failures)
                                (void)nbx_strv_pushf(ret_failures, "%s: %s", u->steps[u->n].name,
                                                     err && err->msg ? err->msg : "failed");
                }
                nbx_error_free(err);
        }
        return failed;
}

void nbx_undo_clear(nbx_undo *u) {
        u->n = 0;
}
