/* Fuzz the VM record reader (vm/record.c): any bytes as <runtime>/vms/<id>/vm.json.  A refusal
 * carries an error and leaves the result untouched; an accepted record keeps what down, status
 * and run rely on (a slot in range, PIDs only with their start time, share tags of the two
 * kinds, hooks within the cap), writes back and reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "vm/record.h"

#define SCRATCH "build/fuzz/vm-record.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool proc_ok(const nbx_proc_ref *p) {
        return p->pid >= 0 && (p->pid == 0) == (p->start_time == 0);
}

static bool same_str(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        nbx_vm_record r = NBX_VM_RECORD_INIT;
        r.uid = 4242; /* must stay untouched on refusal */
        nbx_error *err = NULL;
        int e = nbx_vm_record_parse((const char *)data, size, "fuzz", &r, &err);
        if ((e < 0) != (err != NULL))
                abort();
        if (e < 0) {
                if (r.uid != 4242 || r.name || r.n_mounts || !err->msg)
                        abort();
                nbx_error_free(err);
                return 0;
        }
        if (r.slot < -1 || r.slot > 4095 || !proc_ok(&r.hv) || !proc_ok(&r.ssh_master) ||
            r.hooks_pre_down.n > NBX_MAX_HOOKS || r.hooks_post_down.n > NBX_MAX_HOOKS)
                abort();
        for (size_t i = 0; i < r.n_mounts; i++) {
                const nbx_record_mount *m = &r.mounts[i];
                if (!m->source || !m->target || !m->tag || !proc_ok(&m->virtiofsd) ||
                    (strncmp(m->tag, "nbxfs", 5) == 0) == m->image)
                        abort();
        }
        if (r.settings) {
                char *diff = NULL;
                if (nbx_vm_settings_diff(r.settings, r.settings, &diff, NULL) == 0 && diff[0])
                        abort(); /* a record's settings differ from nothing, not even themselves */
                free(diff);
        }
        /* write it back, read it again: the same record */
        nbx_vm_record again = NBX_VM_RECORD_INIT;
        if (nbx_vm_record_save(SCRATCH, &r, NULL) == 0) {
                if (nbx_vm_record_load(SCRATCH, &again, NULL) < 0)
                        abort();
                if (again.slot != r.slot || again.uid != r.uid || again.hv.pid != r.hv.pid ||
                    again.n_mounts != r.n_mounts || !same_str(again.name, r.name) ||
                    !same_str(again.guest_ip, r.guest_ip) || again.ready != r.ready ||
                    again.hooks_pre_down.n != r.hooks_pre_down.n)
                        abort();
                nbx_vm_record_done(&again);
        }
        nbx_vm_record_done(&r);
        return 0;
}
