/* Starting a share's confined virtiofsd: what `up` (boot shares) and `nixbox mount` (hot-plugged
 * ones) share. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "idmap.h"
#include "virtiofsd.h"

static bool strictly_inside(const char *path, const char *root) {
        return nbx_path_within(path, root) && strcmp(path, root) != 0;
}

const char *nbx_vm_guest_writable_root(const char *project_dir, const nbx_vm_record *rec,
                                       const char *source) {
        const char *best = project_dir && strictly_inside(source, project_dir) ? project_dir : NULL;
        for (size_t i = 0; rec && i < rec->n_mounts; i++) {
                const nbx_record_mount *o = &rec->mounts[i];
                if (!o->readonly && !o->image && strictly_inside(source, o->source) &&
                    (!best || strlen(o->source) < strlen(best)))
                        best = o->source;
        }
        return best;
}

int nbx_vm_shares_prepare(const nbx_vm_ctx *c, nbx_idmap *ret_map, nbx_virtiofsd *ret_v,
                          nbx_error **err) {
        bool allocated = false;
        int r = nbx_idmap_get(&c->inv, NULL, NULL, true, ret_map, &allocated, err);
        if (r < 0)
                return r;
        if (allocated)
                nbx_ui_step(c->ui,
                            "Reserved subordinate ids %u-%u for %s in /etc/subuid and "
                            "/etc/subgid (files the guest's other users write on shares)",
                            (unsigned)ret_map->sub_uid,
                            (unsigned)(ret_map->sub_uid + NBX_IDMAP_RANGE - 1), c->inv.name);
        return nbx_virtiofsd_find_cached(c->runtime_dir, ret_v, err);
}

int nbx_vm_share_start(const nbx_vm_ctx *c, const nbx_virtiofsd *v, const nbx_idmap *map,
                       char *const *envp, const nbx_vm_record *rec, nbx_record_mount *m,
                       char **ret_log, nbx_error **err) {
        char logname[48];
        snprintf(logname, sizeof(logname), "virtiofsd-%s.log", m->tag);
        _cleanup_free_ char *sock = nbx_vm_share_socket(&c->paths, m->tag);
        if (!sock)
                return nbx_error_set(err, ENOMEM, "virtiofsd");
        _cleanup_close_ int logfd = nbx_vm_open_log(&c->paths, &c->inv, logname, ret_log, err);
        if (logfd < 0)
                return logfd;
        nbx_share_start st = {.source = m->source,
                              .readonly = m->readonly,
                              .socket = sock,
                              .log_fd = logfd,
                              .inv = &c->inv,
                              .map = map,
                              .envp = envp,
                              .beneath = nbx_vm_guest_writable_root(c->p->root, rec, m->source)};
        pid_t pid;
        int r = nbx_virtiofsd_start(v, &st, &pid, err);
        if (r < 0)
                return r;
        m->virtiofsd = (nbx_proc_ref){.pid = pid, .start_time = nbx_pid_start_time(pid)};
        return 0;
}
