#include "timeutil.h"

#include <errno.h>
#include <time.h>

uint64_t nbx_now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t nbx_now_ms(void) {
        return nbx_now_us() / 1000u;
}

bool nbx_backoff_sleep(nbx_backoff *b, uint64_t deadline_ms) {
        uint64_t now = nbx_now_ms();
        if (deadline_ms && now >= deadline_ms)
                return false;
        uint64_t us = b->next_us;
        if (deadline_ms && us > (deadline_ms - now) * 1000u)
                us = (deadline_ms - now) * 1000u;
        struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                              .tv_nsec = (long)(us % 1000000u) * 1000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        if (b->next_us < b->max_us)
                b->next_us = b->next_us * 2 > b->max_us ? b->max_us : b->next_us * 2;
        return true;
}
