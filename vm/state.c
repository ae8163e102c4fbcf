#include "state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../config/base/fsutil.h"

/* jansson provides json_decrefp */
#define _cleanup_json_ _cleanup_(json_decrefp)

#define STATE_MAX (1u << 20)

void nbx_vm_state_done(nbx_vm_state *s) {
        free(s->name);
        free(s->project_dir);
        free(s->backend);
        free(s->accel);
        free(s->api_socket);
        free(s->serial_log);
        free(s->control_path);
        free(s->guest_ip);
        free(s->user);
        free(s->workdir);
        free(s->mode);
        for (size_t i = 0; i < s->n_mounts; i++) {
                free(s->mounts[i].source);
                free(s->mounts[i].target);
                free(s->mounts[i].tag);
                free(s->mounts[i].socket);
        }
        free(s->mounts);
        free(s->settings);
        *s = (nbx_vm_state){.slot = -1};
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

int nbx_vm_state_add_mount(nbx_vm_state *s, const char *source, const char *target, const char *tag,
                           bool readonly, const char *socket, nbx_error **err) {
        if (s->n_mounts >= NBX_MAX_MOUNTS)
                return nbx_error_set(err, E2BIG, "too many mounts");
        nbx_state_mount *nm = realloc(s->mounts, (s->n_mounts + 1) * sizeof(*nm));
        if (!nm)
                return nbx_error_set(err, ENOMEM, "state");
        s->mounts = nm;
        nbx_state_mount m = {.source = dup_or_null(source),
                             .target = dup_or_null(target),
                             .tag = dup_or_null(tag),
                             .readonly = readonly,
                             .socket = dup_or_null(socket)};
        if ((source && !m.source) || (target && !m.target) || (tag && !m.tag) ||
            (socket && !m.socket)) {
                free(m.source);
                free(m.target);
                free(m.tag);
                free(m.socket);
                return nbx_error_set(err, ENOMEM, "state");
        }
        s->mounts[s->n_mounts++] = m;
        return 0;
}

static int set_str(json_t *o, const char *key, const char *v) {
        return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

static json_t *proc_json(const nbx_proc_ref *p) {
        return json_pack("{s:i, s:I}", "pid", (int)p->pid, "start_time", (json_int_t)p->start_time);
}

static json_t *state_to_json(const nbx_vm_state *s) {
        json_t *o = json_object();
        if (!o)
                return NULL;
        int r = 0;
        r |= json_object_set_new(o, "version", json_integer(1));
        r |= set_str(o, "name", s->name);
        r |= set_str(o, "project_dir", s->project_dir);
        r |= json_object_set_new(o, "slot", json_integer(s->slot));
        r |= set_str(o, "backend", s->backend);
        r |= set_str(o, "accel", s->accel);
        r |= json_object_set_new(o, "hypervisor", proc_json(&s->hv));
        r |= json_object_set_new(o, "ssh_master", proc_json(&s->ssh_master));
        r |= set_str(o, "api_socket", s->api_socket);
        r |= set_str(o, "serial_log", s->serial_log);
        r |= set_str(o, "control_path", s->control_path);
        r |= set_str(o, "guest_ip", s->guest_ip);
        r |= set_str(o, "user", s->user);
        r |= set_str(o, "workdir", s->workdir);
        r |= set_str(o, "mode", s->mode);
        r |= json_object_set_new(o, "started_at", json_integer(s->started_at));
        r |= json_object_set_new(o, "ready", json_boolean(s->ready));
        json_t *mounts = json_array();
        for (size_t i = 0; mounts && i < s->n_mounts; i++) {
                const nbx_state_mount *m = &s->mounts[i];
                json_t *mo = json_object();
                if (!mo) {
                        r = -1;
                        break;
                }
                r |= set_str(mo, "source", m->source);
                r |= set_str(mo, "target", m->target);
                r |= set_str(mo, "tag", m->tag);
                r |= json_object_set_new(mo, "readonly", json_boolean(m->readonly));
                r |= set_str(mo, "socket", m->socket);
                r |= json_object_set_new(mo, "virtiofsd", proc_json(&m->virtiofsd));
                r |= json_array_append_new(mounts, mo);
        }
        r |= json_object_set_new(o, "mounts", mounts);
        if (s->settings) {
                json_t *st = json_loads(s->settings, 0, NULL);
                r |= st ? json_object_set_new(o, "settings", st) : -1;
        }
        if (r) {
                json_decref(o);
                return NULL;
        }
        return o;
}

int nbx_vm_state_save(const char *state_dir, const nbx_vm_state *s, uid_t uid, gid_t gid,
                      nbx_error **err) {
        int r = nbx_mkdir_p(state_dir, 0755, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *o = state_to_json(s);
        if (!o)
                return nbx_error_set(err, ENOMEM, "VM record");
        _cleanup_free_ char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
        _cleanup_free_ char *path = nbx_path_join(state_dir, NBX_STATE_FILE);
        if (!text || !path)
                return nbx_error_set(err, ENOMEM, "VM record");
        size_t len = strlen(text);
        _cleanup_free_ char *withnl = NULL;
        if (asprintf(&withnl, "%s\n", text) < 0)
                return nbx_error_set(err, ENOMEM, "VM record");
        if ((r = nbx_write_file(path, withnl, len + 1, 0644, err)) < 0)
                return nbx_error_wrap(err, "save VM record");
        return nbx_chown_if_root(path, uid, gid, err);
}

static char *get_str(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static void get_proc(json_t *o, const char *key, nbx_proc_ref *ret) {
        json_t *p = json_object_get(o, key);
        json_t *pid = json_object_get(p, "pid"), *st = json_object_get(p, "start_time");
        *ret = (nbx_proc_ref){0};
        if (json_is_integer(pid) && json_integer_value(pid) > 0 &&
            json_integer_value(pid) < (1 << 30))
                ret->pid = (pid_t)json_integer_value(pid);
        if (json_is_integer(st) && json_integer_value(st) >= 0)
                ret->start_time = (uint64_t)json_integer_value(st);
}

int nbx_vm_state_load(const char *state_dir, nbx_vm_state *ret, nbx_error **err) {
        _cleanup_free_ char *path = nbx_path_join(state_dir, NBX_STATE_FILE);
        if (!path)
                return nbx_error_set(err, ENOMEM, "VM record");
        if (access(path, F_OK) < 0)
                return -ENOENT; /* no record: not an error worth a message */
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = nbx_read_file(path, STATE_MAX, &text, &len, err);
        if (r < 0)
                return r == -ENOENT ? -ENOENT : r;
        json_error_t jerr;
        _cleanup_json_ json_t *o = json_loadb(text, len, 0, &jerr);
        if (!json_is_object(o))
                return nbx_error_set(err, EBADMSG, "%s is unreadable (%s); treating it as stale",
                                     path, o ? "not an object" : jerr.text);
        nbx_vm_state s = {.slot = -1};
        s.name = get_str(o, "name");
        s.project_dir = get_str(o, "project_dir");
        json_t *slot = json_object_get(o, "slot");
        if (json_is_integer(slot) && json_integer_value(slot) >= 0 &&
            json_integer_value(slot) < 4096)
                s.slot = (int)json_integer_value(slot);
        s.backend = get_str(o, "backend");
        s.accel = get_str(o, "accel");
        get_proc(o, "hypervisor", &s.hv);
        get_proc(o, "ssh_master", &s.ssh_master);
        s.api_socket = get_str(o, "api_socket");
        s.serial_log = get_str(o, "serial_log");
        s.control_path = get_str(o, "control_path");
        s.guest_ip = get_str(o, "guest_ip");
        s.user = get_str(o, "user");
        s.workdir = get_str(o, "workdir");
        s.mode = get_str(o, "mode");
        json_t *sa = json_object_get(o, "started_at");
        s.started_at = json_is_integer(sa) ? json_integer_value(sa) : 0;
        s.ready = json_is_true(json_object_get(o, "ready"));
        json_t *mounts = json_object_get(o, "mounts");
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                if (i >= NBX_MAX_MOUNTS || !json_is_object(m))
                        break;
                _cleanup_free_ char *src = get_str(m, "source"), *tgt = get_str(m, "target"),
                                    *tag = get_str(m, "tag"), *sock = get_str(m, "socket");
                if (nbx_vm_state_add_mount(&s, src, tgt, tag,
                                           json_is_true(json_object_get(m, "readonly")), sock,
                                           err) < 0) {
                        nbx_vm_state_done(&s);
                        return -ENOMEM;
                }
                get_proc(m, "virtiofsd", &s.mounts[s.n_mounts - 1].virtiofsd);
        }
        json_t *st = json_object_get(o, "settings");
        if (json_is_object(st))
                s.settings = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
        *ret = s;
        return 0;
}

int nbx_vm_state_remove(const char *state_dir, nbx_error **err) {
        _cleanup_free_ char *path = nbx_path_join(state_dir, NBX_STATE_FILE);
        if (!path)
                return nbx_error_set(err, ENOMEM, "VM record");
        if (unlink(path) < 0 && errno != ENOENT)
                return nbx_error_set(err, errno, "remove %s", path);
        return 0;
}

char *nbx_vm_settings_json(const nbx_config *c) {
        _cleanup_json_ json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "resources.vcpus", json_integer(c->vcpus));
        json_object_set_new(o, "resources.memoryMB", json_integer(c->memory_mb));
        json_object_set_new(o, "vm.image", c->image ? json_string(c->image) : json_null());
        json_object_set_new(o, "vm.hypervisor", json_string(nbx_hypervisor_name(c->hypervisor)));
        json_object_set_new(o, "vm.accel", json_string(nbx_accel_name(c->accel)));
        json_t *mounts = json_array();
        for (size_t i = 0; mounts && i < c->n_mounts; i++)
                json_array_append_new(mounts,
                                      json_pack("{s:s?, s:s?, s:b}", "source", c->mounts[i].source,
                                                "target", c->mounts[i].target, "readonly",
                                                c->mounts[i].readonly));
        json_object_set_new(o, "mounts", mounts);
        json_object_set_new(o, "nix.packages", nbx_strv_to_json(&c->nix_packages));
        json_object_set_new(o, "nix.ldLibraries", nbx_strv_to_json(&c->nix_ld_libraries));
        json_object_set_new(o, "scripts", nbx_strv_to_json(&c->scripts));
        json_t *env = json_array(); /* names only: values are secrets */
        for (size_t i = 0; env && i < c->n_env; i++)
                json_array_append_new(env, json_string(c->env[i].name));
        json_object_set_new(o, "env", env);
        json_object_set_new(o, "network.upstreamDns", json_integer((json_int_t)c->n_upstream_dns));
        json_object_set_new(o, "network.allowPrivate", json_boolean(c->allow_private));
        return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
}

int nbx_vm_settings_diff(const char *old_json, const char *new_json, char **ret, nbx_error **err) {
        _cleanup_json_ json_t *a = old_json ? json_loads(old_json, 0, NULL) : NULL;
        _cleanup_json_ json_t *b = new_json ? json_loads(new_json, 0, NULL) : NULL;
        if (!json_is_object(b))
                return nbx_error_set(err, EINVAL, "settings: bad JSON");
        nbx_strv names = {0};
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) {
                json_t *old = json_is_object(a) ? json_object_get(a, key) : NULL;
                if (!old || !json_equal(old, v))
                        nbx_strv_push(&names, key);
        }
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
                nbx_strv_clear(&names);
                return nbx_error_set(err, ENOMEM, "settings");
        }
        for (size_t i = 0; i < names.n; i++)
                fprintf(f, "%s%s", i ? ", " : "", names.v[i]);
        nbx_strv_clear(&names);
        if (fclose(f) != 0) {
                free(buf);
                return nbx_error_set(err, ENOMEM, "settings");
        }
        *ret = buf;
        return 0;
}
