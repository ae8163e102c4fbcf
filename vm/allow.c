/* allow: the user's approval of .nixbox/, kept in the project's state folder. */
#include "internal.h"

#include "../config/approval.h"

int nbx_vm_allow(const nbx_project *p, const nbx_vm_opts *o, int diff_fd, bool dry_run,
                 bool *ret_changed, nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, false, err);
        if (r < 0)
                return r;
        if ((r = nbx_invoker_require_user(&c.inv, "allow", err)) >= 0 &&
            (r = nbx_vm_paths_prepare_state(&c.paths, &c.inv, err)) >= 0)
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
