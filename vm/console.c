#include "console.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "../config/base/cleanup.h"
#include "../config/base/timeutil.h"

/* how long the file may stay idle before alive() is asked again */
#define IDLE_CHECK_MS 250

/* The lines in buf[0..n): on a match, the needle's index, the line in w->line and *consumed up
 * to and with its newline.  An unfinished last line is not consumed (read again next time). */
static int scan(nbx_console_watch *w, const char *buf, size_t n, size_t *consumed) {
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
                if (buf[i] != '\n')
                        continue;
                size_t len = i - start;
                char line[sizeof(w->line)];
                size_t keep = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
                memcpy(line, buf + start, keep);
                line[keep] = '\0';
                start = i + 1;
                for (int k = 0; w->needles[k]; k++)
                        if (strstr(line, w->needles[k])) {
                                memcpy(w->line, line, keep + 1);
                                *consumed = start;
                                return k;
                        }
        }
        *consumed = start;
        return -1;
}

int nbx_console_wait(nbx_console_watch *w, uint64_t deadline_ms, nbx_error **err) {
        _cleanup_close_ int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino < 0 || inotify_add_watch(ino, w->path, IN_MODIFY) < 0)
                return nbx_error_set(err, errno, "watch %s", w->path);
        _cleanup_close_ int fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return nbx_error_set(err, errno, "open %s", w->path);
        /* a line is at most this long to be seen whole; the guest's lines are short */
        char buf[8192];
        for (bool last = false;;) {
                ssize_t n = pread(fd, buf, sizeof(buf), (off_t)w->offset);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return nbx_error_set(err, errno, "read %s", w->path);
                size_t used = 0;
                int k = scan(w, buf, (size_t)n, &used);
                /* a full buffer without a newline: skip it (a runaway line) */
                if (used == 0 && (size_t)n == sizeof(buf))
                        used = sizeof(buf);
                w->offset += used;
                if (k >= 0)
                        return k;
                if (used > 0)
                        continue;
                if (last)
                        return -ECHILD;
                uint64_t now = nbx_now_ms();
                if (now >= deadline_ms)
                        return -ETIMEDOUT;
                uint64_t wait = deadline_ms - now;
                struct pollfd p = {.fd = ino, .events = POLLIN};
                int pr = poll(&p, 1, (int)(wait < IDLE_CHECK_MS ? wait : IDLE_CHECK_MS));
                if (pr < 0 && errno != EINTR)
                        return nbx_error_set(err, errno, "watch %s", w->path);
                if (pr > 0) {
                        char ev[4096];
                        while (read(ino, ev, sizeof(ev)) > 0)
                                ;
                } else if (pr == 0 && w->alive && !w->alive(w->data)) {
                        last = true; /* read once more: it may have written, then exited */
                }
        }
}
