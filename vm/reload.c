/* reload: apply the config's network settings to the running VM without a reboot. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int nbx_vm_reload(const nbx_project *p, const nbx_vm_opts *o, char **ret_restart, nbx_error **err) {
        nbx_vm_ctx c;
        int r = nbx_vm_ctx_open(&c, p, o, true, err);
        if (r < 0)
                return r;
        nbx_vm_record rec = NBX_VM_RECORD_INIT;
        nbx_config cfg;
        bool have_cfg = false;
        nbx_pool pool;
        _cleanup_free_ char *settings = NULL, *diff = NULL;
        if ((r = nbx_vm_load_running(&c, &rec, err)) < 0)
                goto out;
        if ((r = nbx_vm_config_load_approved(&c, &cfg, err)) < 0)
                goto out;
        have_cfg = true;
        if ((r = nbx_pool_load(c.runtime_dir, &pool, err)) < 0)
                goto out;
        nbx_invoker owner;
        if ((r = nbx_vm_owner(&c, &rec, &owner, err)) < 0)
                goto out;
        nbx_net_params np =
                nbx_vm_net_params(c.runtime_dir, &pool, (unsigned)rec.slot, &cfg, &owner);
        nbx_invoker_done(&owner);
        nbx_ui_step(c.ui, "Applying network settings (%s, %zu domain(s), %zu port(s))",
                    nbx_net_mode_name(cfg.net_mode), cfg.domains.n, cfg.n_ports);
        if ((r = nbx_net_reload(&np, err)) < 0) {
                nbx_error_wrap(err, "reload");
                goto out;
        }
        rec.mode = cfg.net_mode;
        if ((r = nbx_vm_record_save(c.paths.record, &rec, err)) < 0)
                goto out;
        if (!(settings = nbx_vm_settings_json(&cfg))) {
                r = nbx_error_set(err, ENOMEM, "settings");
                goto out;
        }
        if ((r = nbx_vm_settings_diff(rec.settings, settings, &diff, err)) < 0)
                goto out;
        *ret_restart = TAKE_PTR(diff);
        r = 0;
out:
        if (have_cfg)
                nbx_config_done(&cfg);
        nbx_vm_record_done(&rec);
        nbx_vm_ctx_close(&c);
        return r;
}
