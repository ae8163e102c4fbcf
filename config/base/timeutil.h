/* Monotonic deadlines and exponential backoff: every wait in nixbox waits for an event with a
 * deadline; where an event cannot be subscribed to, it polls with a backoff that starts at 1 ms. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

uint64_t nbx_now_ms(void); /* CLOCK_MONOTONIC in ms */
uint64_t nbx_now_us(void); /* CLOCK_MONOTONIC in µs */
static inline uint64_t nbx_deadline_in(uint64_t ms) {
        return nbx_now_ms() + ms;
}

typedef struct nbx_backoff {
        uint32_t next_us;
        uint32_t max_us;
} nbx_backoff;
#define NBX_BACKOFF_INIT                                                                           \
        { .next_us = 1000, .max_us = 100000 }

/* Sleep the next backoff step (doubling from 1 ms to max), never past deadline_ms.  Returns false
 * when the deadline has already passed. */
bool nbx_backoff_sleep(nbx_backoff *b, uint64_t deadline_ms);
