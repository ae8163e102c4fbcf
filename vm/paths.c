#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "../config/base/sha256.h"

void nbx_vm_id(const char *project_root, char ret[NBX_VM_ID_LEN + 1]) {
        char hex[NBX_SHA256_HEX];
        nbx_sha256_hex(project_root, strlen(project_root), hex);
        memcpy(ret, hex, NBX_VM_ID_LEN);
        ret[NBX_VM_ID_LEN] = '\0';
}

void nbx_vm_paths_done(nbx_vm_paths *p) {
        free(p->vm_dir);
        free(p->record);
        free(p->lock);
        free(p->sock_dir);
        free(p->api_socket);
        free(p->control_path);
        free(p->state_dir);
        free(p->ssh_dir);
        free(p->log_dir);
        free(p->serial_log);
        free(p->approved_dir);
        free(p->mounts_dir);
        *p = (nbx_vm_paths){0};
}

int nbx_vm_paths_get(const char *runtime_dir, const char *project_root, const char *home,
                     nbx_vm_paths *ret, nbx_error **err) {
        if (!runtime_dir || runtime_dir[0] != '/' || !project_root || project_root[0] != '/' ||
            !home || home[0] != '/')
                return nbx_error_set(err, EINVAL,
                                     "VM paths need absolute runtime, project and home folders");
        nbx_vm_paths p = {0};
        nbx_vm_id(project_root, p.id);
        int fail = asprintf(&p.vm_dir, "%s/vms/%s", runtime_dir, p.id) < 0;
        fail |= asprintf(&p.state_dir, "%s/.local/state/nixbox/%s", home, p.id) < 0;
        if (fail) {
                nbx_vm_paths_done(&p);
                return nbx_error_set(err, ENOMEM, "VM paths");
        }
        p.record = nbx_path_join(p.vm_dir, "vm.json");
        p.lock = nbx_path_join(p.vm_dir, "lock");
        p.sock_dir = nbx_path_join(p.vm_dir, "sock");
        p.ssh_dir = nbx_path_join(p.state_dir, "ssh");
        p.log_dir = nbx_path_join(p.state_dir, "log");
        p.approved_dir = nbx_path_join(p.state_dir, "approved");
        p.mounts_dir = nbx_path_join(p.state_dir, "state");
        if (p.sock_dir) {
                p.api_socket = nbx_path_join(p.sock_dir, "api.sock");
                p.control_path = nbx_path_join(p.sock_dir, "ssh.sock");
        }
        if (p.log_dir)
                p.serial_log = nbx_path_join(p.log_dir, "console.log");
        if (!p.record || !p.lock || !p.sock_dir || !p.ssh_dir || !p.log_dir || !p.approved_dir ||
            !p.mounts_dir || !p.api_socket || !p.control_path || !p.serial_log) {
                nbx_vm_paths_done(&p);
                return nbx_error_set(err, ENOMEM, "VM paths");
        }
        /* sockets must fit sun_path with room for the longest name used in sock_dir */
        if (strlen(p.sock_dir) + sizeof("/nbxfs4294967295.sock") > 108) {
                int r = nbx_error_setx(err, NBX_EXIT_PREREQ, ENAMETOOLONG,
                                       "the runtime folder %s is too long for unix sockets; use a "
                                       "shorter NIXBOX_RUNTIME_DIR",
                                       runtime_dir);
                nbx_vm_paths_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

char *nbx_vm_share_socket(const nbx_vm_paths *p, const char *tag) {
        char *s = NULL;
        return asprintf(&s, "%s/%s.sock", p->sock_dir, tag) < 0 ? NULL : s;
}

char *nbx_vm_log_path(const nbx_vm_paths *p, const char *name) {
        return nbx_path_join(p->log_dir, name);
}

/* mkdir -p of the parents of state_dir as the invoker: they are ordinary folders of the home
 * (~/.local, ~/.local/state), created 0755 / 0700 like XDG tools do. */
static int state_parents(const char *state_dir, nbx_error **err) {
        _cleanup_free_ char *parent = strdup(state_dir);
        if (!parent)
                return nbx_error_set(err, ENOMEM, "state folder");
        char *slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return nbx_error_set(err, EINVAL, "state folder %s", state_dir);
        *slash = '\0';
        int r = nbx_mkdir_p(parent, 0700, err);
        return r < 0 ? nbx_error_wrap(err, "create the nixbox state folder") : 0;
}

int nbx_vm_paths_prepare_state(const nbx_vm_paths *p, const nbx_invoker *inv, nbx_error **err) {
        _cleanup_fsid_ nbx_fsid fs = {0};
        int r = nbx_fsid_enter(inv, &fs, err);
        if (r < 0)
                return r;
        if ((r = state_parents(p->state_dir, err)) < 0 ||
            (r = nbx_dir_private(p->state_dir, 0700, inv->uid, inv->gid, err)) < 0 ||
            (r = nbx_dir_private(p->ssh_dir, 0700, inv->uid, inv->gid, err)) < 0 ||
            (r = nbx_dir_private(p->log_dir, 0700, inv->uid, inv->gid, err)) < 0)
                return r;
        return 0;
}

int nbx_vm_state_mount_dir(const nbx_vm_paths *p, const char *name, const nbx_invoker *inv,
                           bool prepare, char **ret_path, nbx_error **err) {
        if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return nbx_error_set(err, EINVAL, "state folder name \"%s\"", name);
        _cleanup_free_ char *path = nbx_path_join(p->mounts_dir, name);
        if (!path)
                return nbx_error_set(err, ENOMEM, "state folder %s", name);
        if (prepare) {
                _cleanup_fsid_ nbx_fsid fs = {0};
                int r = nbx_fsid_enter(inv, &fs, err);
                if (r >= 0)
                        r = nbx_dir_private(p->mounts_dir, 0700, inv->uid, inv->gid, err);
                if (r >= 0)
                        r = nbx_dir_private(path, 0700, inv->uid, inv->gid, err);
                if (r < 0)
                        return r;
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

int nbx_vm_paths_prepare(const nbx_vm_paths *p, const nbx_invoker *inv, nbx_error **err) {
        _cleanup_free_ char *vms = strdup(p->vm_dir);
        if (!vms)
                return nbx_error_set(err, ENOMEM, "VM folder");
        *strrchr(vms, '/') = '\0';
        _cleanup_free_ char *runtime = strdup(vms);
        if (!runtime)
                return nbx_error_set(err, ENOMEM, "VM folder");
        *strrchr(runtime, '/') = '\0';
        uid_t me = geteuid();
        gid_t mygid = getegid();
        int r;
        if ((r = nbx_mkdir_p(runtime, 0755, err)) < 0 ||
            (r = nbx_dir_private(vms, 0755, me, mygid, err)) < 0 ||
            (r = nbx_dir_private(p->vm_dir, 0755, me, mygid, err)) < 0 ||
            (r = nbx_dir_private(p->sock_dir, 0700, inv->uid, inv->gid, err)) < 0)
                return r;
        return nbx_vm_paths_prepare_state(p, inv, err);
}
