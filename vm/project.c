/* The commands on the project's configuration: allow (the user's approval of .nixbox/, kept in
 * the project's state folder) and build (the guest from the approved copy). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#include "../config/approval.h"
#include "../config/base/fsutil.h"
#include "build.h"

int nbx_vm_allow(const nbx_project *p, const nbx_vm_opts *o, int diff_fd, bool dry_run,
                 bool *ret_changed, nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        if ((r = nbx_vm_paths_prepare_state(&c.paths, &c.inv, err)) >= 0)
                r = nbx_approval_approve(p->nixbox_dir, c.paths.approved_dir, &c.inv, diff_fd,
                                         dry_run, ret_changed, err);
        nbx_vm_ctx_close(&c);
        return r;
}

int nbx_vm_approval(const nbx_project *p, const nbx_vm_opts *o, enum nbx_approval_state *ret,
                    nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        r = nbx_approval_state(p->nixbox_dir, c.paths.approved_dir, &c.inv, ret, err);
        nbx_vm_ctx_close(&c);
        return r;
}

int nbx_vm_build(const nbx_project *p, const nbx_vm_opts *o, bool force, bool update,
                 nbx_build_result *ret, char **ret_image, nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        nbx_config cfg;
        bool have_cfg = false;
        _cleanup_free_ char *lock = nbx_path_join(c.paths.approved_dir, "flake.lock");
        if (!lock)
                r = nbx_error_set(err, ENOMEM, "build");
        if (r >= 0)
                r = nbx_vm_config_load_approved(&c, &cfg, err);
        have_cfg = r >= 0;
        if (r >= 0) {
                /* the pin of the approved copy is built; a new pin goes to both copies, so the
                 * approval stays */
                nbx_build_opts bo = {.ui = o->ui,
                                     .nix_dir = o->config_opts ? o->config_opts->nix_dir : NULL,
                                     .lock_path = lock,
                                     .approved_lock = lock,
                                     .force = force,
                                     .update = update};
                r = nbx_guest_build(p, &cfg, &bo, ret, err);
                if (ret_image)
                        *ret_image = cfg.image ? strdup(cfg.image) : NULL;
        }
        if (have_cfg)
                nbx_config_done(&cfg);
        nbx_vm_ctx_close(&c);
        return r;
}
