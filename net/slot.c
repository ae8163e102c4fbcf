/* The slot allocator: 64 slots shared by every nixbox process on the host.
 *
 * Layout under the runtime folder:
 *   slots.lock            flock(LOCK_EX) serialises every change (root's, 0600, waited for with a
 *                         deadline: no other user can open it, so none can hold it)
 *   slots/<s>.json        owner record of a held slot (absent = free), written atomically
 *   slots/history.json    {"<s>": "<project_dir>"}: who held each slot last (stable slots)
 *   slots/<s>/            the slot's network files (dnsmasq config, records, log), see net.c
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "dnsmasq.h"
#include "link.h"
#include "net.h"
#include "slot.h"

#define RECORD_MAX (16 * 1024)
#define HISTORY_MAX (512 * 1024)
/* every holder of the lock only reads and writes a few small files */
#define LOCK_TIMEOUT_MS 30000

static char *slots_path(const char *runtime_dir, const char *name) {
        char *p = NULL;
        if (asprintf(&p, "%s/slots/%s", runtime_dir, name) < 0)
                return NULL;
        return p;
}

static char *record_path(const char *runtime_dir, unsigned slot) {
        char *p = NULL;
        if (asprintf(&p, "%s/slots/%u.json", runtime_dir, slot) < 0)
                return NULL;
        return p;
}

char *nbx_slot_dir(const char *runtime_dir, unsigned slot) {
        char *p = NULL;
        if (asprintf(&p, "%s/slots/%u", runtime_dir, slot) < 0)
                return NULL;
        return p;
}

/* Take the allocator lock; returns the fd (close releases it). */
static int lock_slots(const char *runtime_dir, nbx_error **err) {
        _cleanup_free_ char *sdir = nbx_path_join(runtime_dir, "slots");
        if (!sdir)
                return nbx_error_set(err, ENOMEM, "slot lock");
        int r = nbx_mkdir_p(sdir, 0755, err);
        if (r < 0)
                return nbx_error_wrap(err, "create slot folder");
        _cleanup_free_ char *path = nbx_path_join(runtime_dir, "slots.lock");
        if (!path)
                return nbx_error_set(err, ENOMEM, "slot lock");
        int fd = -1;
        r = nbx_lock_file(path, nbx_deadline_in(LOCK_TIMEOUT_MS),
                          "another nixbox is allocating a network slot", &fd, err);
        return r < 0 ? r : fd;
}

int nbx_slot_owner_parse(const char *text, size_t len, nbx_slot_owner *ret, nbx_error **err) {
        json_error_t jerr;
        json_auto_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        const char *dir = NULL, *name = NULL;
        json_int_t pid = 0, start = 0;
        if (!j || json_unpack(j, "{s:s, s:s, s:I, s:I}", "project_dir", &dir, "name", &name, "pid",
                              &pid, "start_time", &start) < 0)
                return nbx_error_set(err, EBADMSG, "not a slot record");
        nbx_slot_owner o = {.pid = (pid_t)pid, .start_time = (uint64_t)start};
        if (pid <= 0 || pid > INT32_MAX || start < 0 || dir[0] != '/' ||
            strlen(dir) >= sizeof(o.project_dir) || strlen(name) >= sizeof(o.name))
                return nbx_error_set(err, EBADMSG,
                                     "a slot record with a value out of range (pid, start "
                                     "time, project folder or name)");
        memcpy(o.project_dir, dir, strlen(dir) + 1);
        memcpy(o.name, name, strlen(name) + 1);
        *ret = o;
        return 0;
}

/* The owner record of a slot; *ret_held false (and *ret untouched) when the slot is free. */
static int record_read(const char *runtime_dir, unsigned slot, bool *ret_held, nbx_slot_owner *ret,
                       nbx_error **err) {
        _cleanup_free_ char *path = record_path(runtime_dir, slot);
        if (!path)
                return nbx_error_set(err, ENOMEM, "slot record");
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = nbx_read_file(path, RECORD_MAX, &data, &len, NULL);
        *ret_held = r != -ENOENT;
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return nbx_error_set(err, r, "read slot record %s", path);
        r = nbx_slot_owner_parse(data, len, ret, err);
        if (r < 0)
                return nbx_error_wrap(err,
                                      "slot record %s is damaged (remove it if no VM uses slot "
                                      "%u)",
                                      path, slot);
        return 0;
}

static int record_write(const char *runtime_dir, unsigned slot, const nbx_slot_owner *o,
                        nbx_error **err) {
        _cleanup_free_ char *path = record_path(runtime_dir, slot);
        if (!path)
                return nbx_error_set(err, ENOMEM, "slot record");
        json_auto_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I}", "project_dir", o->project_dir,
                                   "name", o->name, "pid", (json_int_t)o->pid, "start_time",
                                   (json_int_t)o->start_time, "since", (json_int_t)time(NULL));
        if (!j)
                return nbx_error_set(err, EINVAL,
                                     "slot record: project folder or name is not "
                                     "valid UTF-8");
        _cleanup_free_ char *text = json_dumps(j, JSON_SORT_KEYS);
        if (!text)
                return nbx_error_set(err, ENOMEM, "slot record");
        return nbx_write_file(path, text, strlen(text), 0644, err);
}

/* The history, or an empty one when it is missing or damaged (it is only a preference). */
static int history_load(const char *runtime_dir, json_t **ret, nbx_error **err) {
        _cleanup_free_ char *path = slots_path(runtime_dir, "history.json");
        _cleanup_free_ char *data = NULL;
        json_auto_t *j = NULL;
        if (path && nbx_read_file(path, HISTORY_MAX, &data, NULL, NULL) == 0)
                j = json_loads(data, 0, NULL);
        if (json_is_object(j)) {
                *ret = TAKE_PTR(j);
                return 0;
        }
        json_t *fresh = json_object();
        if (!fresh)
                return nbx_error_set(err, ENOMEM, "slot history");
        *ret = fresh;
        return 0;
}

static int history_save(const char *runtime_dir, json_t *h, nbx_error **err) {
        _cleanup_free_ char *path = slots_path(runtime_dir, "history.json");
        _cleanup_free_ char *text = json_dumps(h, JSON_SORT_KEYS);
        if (!path || !text)
                return nbx_error_set(err, ENOMEM, "slot history");
        return nbx_write_file(path, text, strlen(text), 0644, err);
}

static const char *history_get(json_t *h, unsigned slot) {
        char key[8];
        snprintf(key, sizeof(key), "%u", slot);
        return json_string_value(json_object_get(h, key));
}

bool nbx_slot_resources_present(const char *runtime_dir, unsigned slot) {
        char tap[IFNAMSIZ];
        snprintf(tap, sizeof(tap), "nbx%u", slot);
        if (nbx_link_exists(tap))
                return true;
        _cleanup_free_ char *dir = nbx_slot_dir(runtime_dir, slot);
        return dir && nbx_dnsmasq_running(dir);
}

enum slot_state { SLOT_FREE, SLOT_LIVE, SLOT_STALE, SLOT_STALE_BUSY };

static bool owner_alive(const nbx_slot_owner *o) {
        return nbx_pid_alive(o->pid, o->start_time);
}

static int no_slot_error(const nbx_slot_owner *owners, const enum slot_state *st, nbx_error **err) {
        char *list = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&list, &len);
        if (!f)
                return nbx_error_set(err, ENOMEM, "no free slot");
        fprintf(f, "all %u network slots are taken; holders:", NBX_SLOTS);
        for (unsigned s = 0; s < NBX_SLOTS; s++) {
                const nbx_slot_owner *o = &owners[s];
                fprintf(f, "\n  slot %2u: %s (%s), pid %d%s", s, o->name[0] ? o->name : "?",
                        o->project_dir, (int)o->pid,
                        st[s] == SLOT_STALE_BUSY ? " — gone, but its TAP or dnsmasq is left: "
                                                   "run `nixbox down` in that folder"
                                                 : "");
        }
        fprintf(f, "\nstop a VM with `nixbox down` in its project folder, then retry");
        fclose(f);
        int r = nbx_error_setx(err, NBX_EXIT_NO_SLOT, EBUSY, "%s", list);
        free(list);
        return r;
}

int nbx_slot_acquire(const char *runtime_dir, const nbx_slot_owner *owner, unsigned *ret_slot,
                     nbx_error **err) {
        if (!owner->project_dir[0])
                return nbx_error_set(err, EINVAL, "slot owner without a project folder");
        _cleanup_close_ int lock = lock_slots(runtime_dir, err);
        if (lock < 0)
                return lock;

        static_assert(NBX_SLOTS <= 64, "slot bitmap");
        /* heap: 64 records of 4 KiB each */
        _cleanup_free_ nbx_slot_owner *owners = calloc(NBX_SLOTS, sizeof(*owners));
        if (!owners)
                return nbx_error_set(err, ENOMEM, "slot table");
        enum slot_state st[NBX_SLOTS];
        for (unsigned s = 0; s < NBX_SLOTS; s++) {
                bool held;
                int r = record_read(runtime_dir, s, &held, &owners[s], err);
                if (r < 0)
                        return r;
                if (!held) {
                        st[s] = SLOT_FREE;
                        continue;
                }
                if (strcmp(owners[s].project_dir, owner->project_dir) == 0) {
                        if (owner_alive(&owners[s]) && !(owners[s].pid == owner->pid &&
                                                         owners[s].start_time == owner->start_time))
                                return nbx_error_set(
                                        err, EBUSY,
                                        "%s already holds network slot %u (pid %d is running); "
                                        "run `nixbox down` there first",
                                        owner->project_dir, s, (int)owners[s].pid);
                        /* our own earlier slot (crashed run): take it back; the caller clears
                         * what is left of its network (nbx_net_up does) */
                        r = record_write(runtime_dir, s, owner, err);
                        if (r < 0)
                                return r;
                        *ret_slot = s;
                        return 0;
                }
                if (owner_alive(&owners[s]))
                        st[s] = SLOT_LIVE;
                else
                        st[s] = nbx_slot_resources_present(runtime_dir, s) ? SLOT_STALE_BUSY
                                                                           : SLOT_STALE;
        }

        json_auto_t *hist = NULL;
        int r = history_load(runtime_dir, &hist, err);
        if (r < 0)
                return r;

        int pick = -1;
        /* 1. the slot this project had last, if free or reclaimable */
        for (unsigned s = 0; s < NBX_SLOTS && pick < 0; s++) {
                const char *h = history_get(hist, s);
                if (h && strcmp(h, owner->project_dir) == 0 &&
                    (st[s] == SLOT_FREE || st[s] == SLOT_STALE))
                        pick = (int)s;
        }
        /* 2. a free slot nobody remembers, 3. any free slot, 4. a stale one */
        for (unsigned s = 0; s < NBX_SLOTS && pick < 0; s++)
                if (st[s] == SLOT_FREE && !history_get(hist, s))
                        pick = (int)s;
        for (unsigned s = 0; s < NBX_SLOTS && pick < 0; s++)
                if (st[s] == SLOT_FREE)
                        pick = (int)s;
        for (unsigned s = 0; s < NBX_SLOTS && pick < 0; s++)
                if (st[s] == SLOT_STALE)
                        pick = (int)s;
        if (pick < 0)
                return no_slot_error(owners, st, err);

        unsigned s = (unsigned)pick;
        if (st[s] == SLOT_STALE) {
                /* owner dead, nothing of it left running: drop its leftover files */
                _cleanup_free_ char *dir = nbx_slot_dir(runtime_dir, s);
                if (!dir)
                        return nbx_error_set(err, ENOMEM, "slot folder");
                r = nbx_rm_rf(dir, err);
                if (r < 0)
                        return nbx_error_wrap(err, "reclaim slot %u", s);
        }
        r = record_write(runtime_dir, s, owner, err);
        if (r < 0)
                return r;
        char key[8];
        snprintf(key, sizeof(key), "%u", s);
        json_t *v = json_string(owner->project_dir);
        if (v && json_object_set_new(hist, key, v) == 0)
                (void)history_save(runtime_dir, hist, NULL); /* a preference only */
        *ret_slot = s;
        return 0;
}

int nbx_slot_set_owner(const char *runtime_dir, unsigned slot, const nbx_slot_owner *owner,
                       nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "slot %u out of range", slot);
        _cleanup_close_ int lock = lock_slots(runtime_dir, err);
        if (lock < 0)
                return lock;
        nbx_slot_owner cur;
        bool held;
        int r = record_read(runtime_dir, slot, &held, &cur, err);
        if (r < 0)
                return r;
        if (!held)
                return nbx_error_set(err, ENOENT, "slot %u is not held", slot);
        if (strcmp(cur.project_dir, owner->project_dir) != 0)
                return nbx_error_set(err, EPERM, "slot %u is held by %s, not %s", slot,
                                     cur.project_dir, owner->project_dir);
        return record_write(runtime_dir, slot, owner, err);
}

int nbx_slot_release(const char *runtime_dir, unsigned slot, nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "slot %u out of range", slot);
        _cleanup_close_ int lock = lock_slots(runtime_dir, err);
        if (lock < 0)
                return lock;
        _cleanup_free_ char *path = record_path(runtime_dir, slot);
        if (!path)
                return nbx_error_set(err, ENOMEM, "slot record");
        if (unlink(path) < 0 && errno != ENOENT)
                return nbx_error_set(err, errno, "remove %s", path);
        return 0;
}

int nbx_slot_get(const char *runtime_dir, unsigned slot, nbx_slot_owner *ret, nbx_error **err) {
        if (slot >= NBX_SLOTS)
                return nbx_error_set(err, ERANGE, "slot %u out of range", slot);
        bool held;
        int r = record_read(runtime_dir, slot, &held, ret, err);
        if (r < 0 || held)
                return r;
        (void)nbx_error_setx(err, NBX_EXIT_NOT_RUNNING, 0, "network slot %u is free", slot);
        if (err && *err)
                (*err)->errnum = ENOENT;
        return -ENOENT;
}

int nbx_slot_find(const char *runtime_dir, const char *project_dir, unsigned *ret_slot,
                  nbx_error **err) {
        for (unsigned s = 0; s < NBX_SLOTS; s++) {
                nbx_slot_owner o;
                bool held;
                int r = record_read(runtime_dir, s, &held, &o, err);
                if (r < 0)
                        return r;
                if (held && strcmp(o.project_dir, project_dir) == 0) {
                        *ret_slot = s;
                        return 0;
                }
        }
        (void)nbx_error_setx(err, NBX_EXIT_NOT_RUNNING, 0, "%s holds no network slot", project_dir);
        if (err && *err)
                (*err)->errnum = ENOENT;
        return -ENOENT;
}
