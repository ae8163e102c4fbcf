/* Watching the guest's serial console (the log file the hypervisor writes) for the guest
 * contract's lines (docs/guest-contract.md): woken by inotify when the file grows, never
 * polling on a timer. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../config/base/error.h"

typedef struct nbx_console_watch {
        const char *path;
        const char *const *needles; /* NULL-terminated */
        uint64_t offset;            /* where the next wait starts reading (start at 0) */
        bool (*alive)(void *data);  /* asked whenever the file is idle for a while */
        void *data;
        char line[512]; /* the line that matched (cut, without the newline) */
} nbx_console_watch;

/* Wait until the console log holds a line containing one of the needles, reading from
 * w->offset on (advanced just past the matching line, so the next wait continues there).
 * Returns the index of the needle found (the line is in w->line), -ETIMEDOUT at deadline_ms,
 * -ECHILD when alive() says the VM is gone.  Other errors set err. */
int nbx_console_wait(nbx_console_watch *w, uint64_t deadline_ms, nbx_error **err);
