/* Cleanup attributes for every resource type the project holds (systemd style).
 * Destructors accept NULL / -1 so a variable can be declared before it is filled. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void nbx_freep(void *p) {
        free(*(void **)p);
}
static inline void nbx_closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}
static inline void nbx_fclosep(FILE **f) {
        if (*f)
                (void)fclose(*f);
}

#define _cleanup_free_ _cleanup_(nbx_freep)
#define _cleanup_close_ _cleanup_(nbx_closep)
#define _cleanup_fclose_ _cleanup_(nbx_fclosep)

/* Hand ownership of a pointer/fd out of a cleanup-managed variable. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _taken = (p);                                                        \
                (p) = NULL;                                                                        \
                _taken;                                                                            \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _taken = (fd);                                                                 \
                (fd) = -1;                                                                         \
                _taken;                                                                            \
        })

/* Define a pointer-to-pointer destructor for a library type with its own free function. */
#define NBX_DEFINE_CLEANUP(type, func)                                                             \
        static inline void func##p(type **p) {                                                     \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

#define NBX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
