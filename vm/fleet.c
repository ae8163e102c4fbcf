/* `nixbox status`: every VM on the host, from the VM records (<runtime>/vms/) and the slot
 * records (a slot without a VM record is an `up` in progress or a crash's leftover). */
#include "internal.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"

const char *nbx_vm_state_name(enum nbx_vm_state s) {
        static const char *const names[] = {"running", "starting", "stopped", "dead", "stale"};
        return (unsigned)s < NBX_ARRAY_SIZE(names) ? names[s] : "unknown";
}

void nbx_vm_fleet_free(nbx_vm_status *v, size_t n) {
        for (size_t i = 0; v && i < n; i++) {
                free(v[i].name);
                free(v[i].project_dir);
                free(v[i].guest_ip);
                free(v[i].identity_pub);
                for (size_t j = 0; j < v[i].n_shares; j++) {
                        free(v[i].shares[j].source);
                        free(v[i].shares[j].target);
                }
                free(v[i].shares);
        }
        free(v);
}

static int row_from_record(const nbx_vm_record *r, nbx_vm_status *row) {
        bool alive = nbx_vm_hv_alive(r);
        *row = (nbx_vm_status){.slot = r->slot,
                               .have_mode = true,
                               .mode = r->mode,
                               .state = alive ? (r->ready ? NBX_VM_RUNNING : NBX_VM_STARTING)
                                              : NBX_VM_DEAD,
                               .pid = r->hv.pid,
                               .uptime_s = -1};
        if (alive && r->started_at > 0)
                row->uptime_s = (int64_t)time(NULL) - r->started_at;
        row->name = strdup(r->name);
        row->project_dir = strdup(r->project_dir);
        row->guest_ip = r->guest_ip ? strdup(r->guest_ip) : NULL;
        row->shares = r->n_mounts ? calloc(r->n_mounts, sizeof(*row->shares)) : NULL;
        if (!row->name || !row->project_dir || (r->guest_ip && !row->guest_ip) ||
            (r->n_mounts && !row->shares))
                return -ENOMEM;
        for (size_t i = 0; i < r->n_mounts; i++) {
                nbx_vm_share_row *s = &row->shares[row->n_shares++];
                *s = (nbx_vm_share_row){.source = strdup(r->mounts[i].source),
                                        .target = strdup(r->mounts[i].target),
                                        .readonly = r->mounts[i].readonly,
                                        .hotplug = r->mounts[i].hotplug,
                                        .attached = r->mounts[i].attached};
                if (!s->source || !s->target)
                        return -ENOMEM;
        }
        return 0;
}

static int row_from_slot(unsigned slot, const nbx_slot_owner *o, nbx_vm_status *row) {
        *row = (nbx_vm_status){.slot = (int)slot,
                               .state = nbx_pid_alive(o->pid, o->start_time) ? NBX_VM_STARTING
                                                                             : NBX_VM_STALE,
                               .pid = o->pid,
                               .uptime_s = -1};
        row->name = strdup(o->name);
        row->project_dir = strdup(o->project_dir);
        return row->name && row->project_dir ? 0 : -ENOMEM;
}

static int row_stopped(const char *project_dir, nbx_vm_status *row) {
        const char *base = strrchr(project_dir, '/');
        *row = (nbx_vm_status){.slot = -1, .state = NBX_VM_STOPPED, .uptime_s = -1};
        row->name = strdup(base && base[1] ? base + 1 : project_dir);
        row->project_dir = strdup(project_dir);
        return row->name && row->project_dir ? 0 : -ENOMEM;
}

static bool listed(const nbx_vm_status *v, size_t n, const char *project_dir) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].project_dir, project_dir) == 0)
                        return true;
        return false;
}

/* The records in <runtime>/vms/, each checked to live where its project's identity says. */
static int add_records(const char *runtime_dir, nbx_vm_status *v, size_t *n, size_t cap) {
        _cleanup_free_ char *vms = nbx_path_join(runtime_dir, "vms");
        if (!vms)
                return -ENOMEM;
        DIR *d = opendir(vms);
        if (!d)
                return 0;
        struct dirent *de;
        int r = 0;
        while (r >= 0 && *n < cap && (de = readdir(d))) {
                if (strlen(de->d_name) != NBX_VM_ID_LEN)
                        continue;
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s/vm.json", vms, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                nbx_vm_record rec = NBX_VM_RECORD_INIT;
                if (nbx_vm_record_load(path, &rec, NULL) < 0)
                        continue;
                char id[NBX_VM_ID_LEN + 1];
                nbx_vm_id(rec.project_dir, id);
                if (strcmp(id, de->d_name) == 0 && !listed(v, *n, rec.project_dir))
                        r = row_from_record(&rec, &v[(*n)++]);
                nbx_vm_record_done(&rec);
        }
        closedir(d);
        return r;
}

int nbx_vm_fleet(const char *runtime_dir, const char *current_project, nbx_vm_status **ret,
                 size_t *ret_n, nbx_error **err) {
        size_t cap = 2 * NBX_SLOTS + 1, n = 0;
        nbx_vm_status *v = calloc(cap, sizeof(*v));
        if (!v)
                return nbx_error_set(err, ENOMEM, "status");
        int r = add_records(runtime_dir, v, &n, cap - 1);
        for (unsigned s = 0; r >= 0 && s < NBX_SLOTS && n < cap - 1; s++) {
                nbx_slot_owner owner;
                if (nbx_slot_get(runtime_dir, s, &owner, NULL) == 0 &&
                    !listed(v, n, owner.project_dir))
                        r = row_from_slot(s, &owner, &v[n++]);
        }
        if (r >= 0 && current_project && !listed(v, n, current_project))
                r = row_stopped(current_project, &v[n++]);
        if (r < 0) {
                nbx_vm_fleet_free(v, n);
                return nbx_error_set(err, -r, "status");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static json_t *share_json(const nbx_vm_share_row *s) {
        return json_pack("{s:s, s:s, s:b, s:b, s:b}", "source", s->source, "target", s->target,
                         "readonly", s->readonly, "hotplug", s->hotplug, "attached", s->attached);
}

static json_t *row_json(const nbx_vm_status *s) {
        json_t *shares = json_array();
        for (size_t j = 0; shares && j < s->n_shares; j++)
                if (json_array_append_new(shares, share_json(&s->shares[j])) < 0)
                        return NULL;
        return json_pack(
                "{s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "name", s->name, "project",
                s->project_dir, "slot", s->slot >= 0 ? json_integer(s->slot) : json_null(), "mode",
                s->have_mode ? json_string(nbx_net_mode_name(s->mode)) : json_null(), "state",
                nbx_vm_state_name(s->state), "pid", s->pid > 0 ? json_integer(s->pid) : json_null(),
                "uptime", s->uptime_s >= 0 ? json_integer(s->uptime_s) : json_null(), "guest_ip",
                s->guest_ip ? json_string(s->guest_ip) : json_null(), "mounts",
                shares ? shares : json_array(), "identity",
                s->identity_pub ? json_string(s->identity_pub) : json_null());
}

int nbx_vm_fleet_json(const nbx_vm_status *v, size_t n, char **ret, nbx_error **err) {
        json_auto_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                if (json_array_append_new(a, row_json(&v[i])) < 0)
                        return nbx_error_set(err, ENOMEM, "status JSON");
        char *s = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
        if (!s)
                return nbx_error_set(err, ENOMEM, "status JSON");
        *ret = s;
        return 0;
}
