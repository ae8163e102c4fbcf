#include "record.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../config/base/fsutil.h"
#include "image.h"

#define RECORD_MAX (1u << 20)
#define RECORD_VERSION 2

void nbx_vm_record_done(nbx_vm_record *r) {
        free(r->name);
        free(r->project_dir);
        free(r->guest_ip);
        free(r->user);
        free(r->workdir);
        for (size_t i = 0; i < r->n_mounts; i++) {
                free(r->mounts[i].source);
                free(r->mounts[i].target);
                free(r->mounts[i].tag);
        }
        free(r->mounts);
        free(r->settings);
        nbx_strv_clear(&r->hooks_pre_down);
        nbx_strv_clear(&r->hooks_post_down);
        *r = (nbx_vm_record)NBX_VM_RECORD_INIT;
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static int add_mount_tagged(nbx_vm_record *r, const char *source, const char *target,
                            const char *tag, bool readonly, bool hotplug, nbx_error **err) {
        if (r->n_mounts >= NBX_MAX_MOUNTS)
                return nbx_error_setx(err, NBX_EXIT_USAGE, E2BIG,
                                      "the VM has %d shares, the most it can have; unmount one "
                                      "first",
                                      NBX_MAX_MOUNTS);
        nbx_record_mount *nm = realloc(r->mounts, (r->n_mounts + 1) * sizeof(*nm));
        if (!nm)
                return nbx_error_set(err, ENOMEM, "VM record");
        r->mounts = nm;
        nbx_record_mount m = {.source = dup_or_null(source),
                              .target = dup_or_null(target),
                              .tag = dup_or_null(tag),
                              .readonly = readonly,
                              .hotplug = hotplug};
        if (!m.source || !m.target || !m.tag) {
                free(m.source);
                free(m.target);
                free(m.tag);
                return nbx_error_set(err, ENOMEM, "VM record");
        }
        r->mounts[r->n_mounts++] = m;
        return 0;
}

int nbx_vm_record_add_mount(nbx_vm_record *r, const char *source, const char *target, bool readonly,
                            bool hotplug, nbx_record_mount **ret, nbx_error **err) {
        char tag[24];
        snprintf(tag, sizeof(tag), "nbxfs%u", r->next_tag);
        int e = add_mount_tagged(r, source, target, tag, readonly, hotplug, err);
        if (e < 0)
                return e;
        r->next_tag++;
        if (ret)
                *ret = &r->mounts[r->n_mounts - 1];
        return 0;
}

int nbx_vm_record_add_image_share(nbx_vm_record *r, const char *source, const char *tag,
                                  nbx_record_mount **ret, nbx_error **err) {
        int e = add_mount_tagged(r, source, "(mounted by the image)", tag, true, false, err);
        if (e < 0)
                return e;
        r->mounts[r->n_mounts - 1].image = true;
        if (ret)
                *ret = &r->mounts[r->n_mounts - 1];
        return 0;
}

void nbx_vm_record_remove_mount(nbx_vm_record *r, size_t i) {
        if (i >= r->n_mounts)
                return;
        free(r->mounts[i].source);
        free(r->mounts[i].target);
        free(r->mounts[i].tag);
        memmove(&r->mounts[i], &r->mounts[i + 1], (r->n_mounts - i - 1) * sizeof(*r->mounts));
        r->n_mounts--;
}

nbx_record_mount *nbx_vm_record_find_mount(const nbx_vm_record *r, const char *target) {
        for (size_t i = 0; i < r->n_mounts; i++)
                if (strcmp(r->mounts[i].target, target) == 0)
                        return &r->mounts[i];
        return NULL;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_t *proc_json(const nbx_proc_ref *p) {
        return json_pack("{s:i, s:I}", "pid", (int)p->pid, "start_time", (json_int_t)p->start_time);
}

static json_t *mount_json(const nbx_record_mount *m) {
        return json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:o}", "source", m->source, "target",
                         m->target, "tag", m->tag, "readonly", m->readonly, "hotplug", m->hotplug,
                         "attached", m->attached, "image", m->image, "virtiofsd",
                         proc_json(&m->virtiofsd));
}

static json_t *record_json(const nbx_vm_record *r) {
        json_auto_t *o = json_pack(
                "{s:i, s:s?, s:s?, s:I, s:I, s:i, s:s, s:s, s:o, s:o, s:s?, s:s?, s:s?, s:s, "
                "s:I, s:I, s:b, s:o, s:o}",
                "version", RECORD_VERSION, "name", r->name, "project_dir", r->project_dir, "uid",
                (json_int_t)r->uid, "gid", (json_int_t)r->gid, "slot", r->slot, "backend",
                nbx_hypervisor_name(r->backend), "accel", nbx_accel_name(r->accel), "hypervisor",
                proc_json(&r->hv), "ssh_master", proc_json(&r->ssh_master), "guest_ip", r->guest_ip,
                "user", r->user, "workdir", r->workdir, "mode", nbx_net_mode_name(r->mode),
                "next_tag", (json_int_t)r->next_tag, "started_at", (json_int_t)r->started_at,
                "ready", r->ready, "hooks_pre_down", nbx_strv_to_json(&r->hooks_pre_down),
                "hooks_post_down", nbx_strv_to_json(&r->hooks_post_down));
        if (!o)
                return NULL;
        json_t *mounts = json_array();
        if (!mounts || json_object_set_new(o, "mounts", mounts) < 0)
                return NULL;
        for (size_t i = 0; i < r->n_mounts; i++)
                if (json_array_append_new(mounts, mount_json(&r->mounts[i])) < 0)
                        return NULL;
        if (r->settings) {
                json_t *st = json_loads(r->settings, 0, NULL);
                if (!st || json_object_set_new(o, "settings", st) < 0)
                        return NULL;
        }
        return json_incref(o);
}

int nbx_vm_record_save(const char *path, const nbx_vm_record *r, nbx_error **err) {
        json_auto_t *o = record_json(r);
        _cleanup_free_ char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        _cleanup_free_ char *withnl = NULL;
        if (!text || asprintf(&withnl, "%s\n", text) < 0)
                return nbx_error_set(err, ENOMEM, "VM record");
        int e = nbx_write_file(path, withnl, strlen(withnl), 0644, err);
        return e < 0 ? nbx_error_wrap(err, "save the VM record") : 0;
}

static char *get_str(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static bool get_int(json_t *o, const char *key, json_int_t lo, json_int_t hi, json_int_t *ret) {
        json_t *v = json_object_get(o, key);
        if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
                return false;
        *ret = json_integer_value(v);
        return true;
}

/* A PID without its start time is not trusted: nixbox never signals what it cannot tell from a
 * process that reused the number. */
static void get_proc(json_t *o, const char *key, nbx_proc_ref *ret) {
        json_t *p = json_object_get(o, key);
        json_int_t pid = 0, st = 0;
        *ret = (nbx_proc_ref){0};
        if (get_int(p, "pid", 1, (1 << 30), &pid) && get_int(p, "start_time", 1, INT64_MAX, &st))
                *ret = (nbx_proc_ref){.pid = (pid_t)pid, .start_time = (uint64_t)st};
}

static int get_strv(json_t *o, const char *key, nbx_strv *ret) {
        json_t *a = json_object_get(o, key);
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) {
                if (i >= NBX_MAX_HOOKS || !json_is_string(v))
                        return -EBADMSG;
                if (nbx_strv_push(ret, json_string_value(v)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int parse_mounts(json_t *o, nbx_vm_record *r) {
        json_t *mounts = json_object_get(o, "mounts");
        size_t i;
        json_t *m;
        json_array_foreach(mounts, i, m) {
                const char *src = json_string_value(json_object_get(m, "source"));
                const char *tgt = json_string_value(json_object_get(m, "target"));
                const char *tag = json_string_value(json_object_get(m, "tag"));
                bool image = json_is_true(json_object_get(m, "image"));
                /* a config mount's tag is nixbox's own (nbxfs<n>), an image share's is the
                 * image's (never nbxfs*): the same rules as when they were made */
                bool ours = tag && strncmp(tag, "nbxfs", 5) == 0 && tag[5] && strlen(tag) <= 15 &&
                            strspn(tag + 5, "0123456789") == strlen(tag + 5);
                if (!src || !tgt || !tag || !(image ? nbx_image_tag_ok(tag) : ours))
                        return -EBADMSG;
                int e = add_mount_tagged(r, src, tgt, tag,
                                         json_is_true(json_object_get(m, "readonly")),
                                         json_is_true(json_object_get(m, "hotplug")), NULL);
                if (e < 0)
                        return e == -ENOMEM ? e : -EBADMSG;
                nbx_record_mount *rm = &r->mounts[r->n_mounts - 1];
                rm->attached = json_is_true(json_object_get(m, "attached"));
                rm->image = image;
                get_proc(m, "virtiofsd", &rm->virtiofsd);
        }
        return 0;
}

int nbx_vm_record_parse(const char *text, size_t len, const char *what, nbx_vm_record *ret,
                        nbx_error **err) {
        json_error_t jerr;
        json_auto_t *o = json_loadb(text, len, 0, &jerr);
        json_int_t v = 0;
        if (!json_is_object(o) || !get_int(o, "version", RECORD_VERSION, RECORD_VERSION, &v))
                return nbx_error_set(err, EBADMSG, "%s is unreadable (%s); treating it as stale",
                                     what, !o ? jerr.text : "not a version 2 record");
        nbx_vm_record r = NBX_VM_RECORD_INIT;
        int e = 0;
        r.name = get_str(o, "name");
        r.project_dir = get_str(o, "project_dir");
        r.guest_ip = get_str(o, "guest_ip");
        r.user = get_str(o, "user");
        r.workdir = get_str(o, "workdir");
        if (get_int(o, "slot", 0, 4095, &v))
                r.slot = (int)v;
        if (!get_int(o, "uid", 0, UINT32_MAX - 1, &v))
                e = -EBADMSG;
        r.uid = (uid_t)v;
        if (!get_int(o, "gid", 0, UINT32_MAX - 1, &v))
                e = -EBADMSG;
        r.gid = (gid_t)v;
        /* the config's own name tables, both ways */
        if (nbx_hypervisor_from_name(json_string_value(json_object_get(o, "backend")), &r.backend,
                                     NULL) < 0 ||
            nbx_accel_from_name(json_string_value(json_object_get(o, "accel")), &r.accel, NULL) <
                    0 ||
            nbx_net_mode_from_name(json_string_value(json_object_get(o, "mode")), &r.mode, NULL) <
                    0)
                e = -EBADMSG;
        get_proc(o, "hypervisor", &r.hv);
        get_proc(o, "ssh_master", &r.ssh_master);
        if (get_int(o, "next_tag", 0, UINT32_MAX, &v))
                r.next_tag = (unsigned)v;
        if (get_int(o, "started_at", 0, INT64_MAX, &v))
                r.started_at = v;
        r.ready = json_is_true(json_object_get(o, "ready"));
        json_t *st = json_object_get(o, "settings");
        if (json_is_object(st))
                r.settings = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
        if (e == 0)
                e = parse_mounts(o, &r);
        if (e == 0)
                e = get_strv(o, "hooks_pre_down", &r.hooks_pre_down);
        if (e == 0)
                e = get_strv(o, "hooks_post_down", &r.hooks_post_down);
        if (e == 0 && (!r.name || !r.project_dir))
                e = -EBADMSG;
        if (e < 0) {
                nbx_vm_record_done(&r);
                return e == -ENOMEM ? nbx_error_set(err, ENOMEM, "read %s", what)
                                    : nbx_error_set(err, EBADMSG,
                                                    "%s is unreadable (a field is missing or "
                                                    "out of range); treating it as stale",
                                                    what);
        }
        *ret = r;
        return 0;
}

int nbx_vm_record_load(const char *path, nbx_vm_record *ret, nbx_error **err) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return -ENOENT; /* no record: not an error worth a message */
        if (fd < 0)
                return nbx_error_set(err, errno == ELOOP ? EBADMSG : errno, "open the VM record %s",
                                     path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return nbx_error_set(err, errno, "stat %s", path);
        /* root writes records; a record of anyone else (or writable by others) is not ours */
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
            (st.st_mode & 022))
                return nbx_error_set(err, EBADMSG,
                                     "%s was not written by nixbox (owner %u, mode %o); ignoring "
                                     "it",
                                     path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        _cleanup_free_ char *text = NULL;
        size_t len;
        int e = nbx_read_fd(fd, path, RECORD_MAX, &text, &len, err);
        if (e < 0)
                return e;
        return nbx_vm_record_parse(text, len, path, ret, err);
}

int nbx_vm_record_remove(const char *path, nbx_error **err) {
        if (unlink(path) < 0 && errno != ENOENT)
                return nbx_error_set(err, errno, "remove %s", path);
        return 0;
}
char *nbx_vm_settings_json(const nbx_config *c) {
        json_auto_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "resources.vcpus", json_integer(c->vcpus));
        json_object_set_new(o, "resources.memoryMB", json_integer(c->memory_mb));
        json_object_set_new(o, "vm.image", c->image ? json_string(c->image) : json_null());
        json_object_set_new(o, "vm.hypervisor", json_string(nbx_hypervisor_name(c->hypervisor)));
        json_object_set_new(o, "vm.accel", json_string(nbx_accel_name(c->accel)));
        json_t *mounts = json_array();
        for (size_t i = 0; mounts && i < c->n_mounts; i++)
                json_array_append_new(mounts, nbx_config_mount_json(&c->mounts[i]));
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
        json_auto_t *a = old_json ? json_loads(old_json, 0, NULL) : NULL;
        json_auto_t *b = new_json ? json_loads(new_json, 0, NULL) : NULL;
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
