/* HTTP/1.1 over a unix socket, just what cloud-hypervisor's REST API needs: one request per
 * connection (Connection: close), a JSON body or none, the status and body back.  nixbox's own
 * client instead of libcurl: the library and its dependencies (TLS, Kerberos, LDAP…) cost every
 * nixbox command ~4 ms of start-up for one backend's few requests (docs/performance.md).  The
 * hypervisor is the guest's neighbour: replies are parsed strictly, with hard caps, and the
 * parser is fuzzed (tests/fuzz/fuzz_http.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/base/error.h"

#define NBX_HTTP_RESPONSE_MAX (4u << 20)
#define NBX_HTTP_HEADERS_MAX 16384u

typedef struct nbx_http_response {
        int status;      /* 100-599 */
        size_t body_off; /* where the body starts in the buffer */
        size_t body_len; /* its length (chunked bodies: decoded in place) */
} nbx_http_response;

/* Parse a response held in buf[0..len); eof: the server closed the connection.  0 when it is
 * complete (*ret filled; a chunked body is decoded in place), -EAGAIN when more bytes are needed,
 * -EPROTO when it is not a valid HTTP/1.x response, -EMSGSIZE past the caps. */
int nbx_http_parse(char *buf, size_t len, bool eof, nbx_http_response *ret);

/* METHOD path on the unix socket sock, with body (NULL: none; sent as application/json), until
 * deadline_ms.  *ret_status: the HTTP status; *ret_body: the body, NUL-terminated (malloc'd).
 * Only transport and protocol failures are errors (the caller names the request in them). */
int nbx_http_unix(const char *sock, const char *method, const char *path, const char *body,
                  uint64_t deadline_ms, int *ret_status, char **ret_body, nbx_error **err);
