#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../config/base/cleanup.h"
#include "../config/base/timeutil.h"
#include "hv_internal.h"

/* The end of the header block ("\r\n\r\n"), or NULL. */
static const char *headers_end(const char *buf, size_t len) {
        for (size_t i = 3; i < len; i++)
                if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' &&
                    buf[i] == '\n')
                        return buf + i + 1;
        return NULL;
}

/* The value of header name in [p, end) (case-insensitive), trimmed, into out; false when absent.
 * A header that appears twice is refused (-EPROTO through *dup). */
static bool header(const char *p, const char *end, const char *name, char *out, size_t size,
                   bool *dup) {
        size_t n = strlen(name);
        bool found = false;
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol)
                        eol = end;
                if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
                        if (found)
                                *dup = true;
                        const char *v = p + n + 1, *ve = eol;
                        while (v < ve && (*v == ' ' || *v == '\t'))
                                v++;
                        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                                ve--;
                        size_t vl = (size_t)(ve - v) < size - 1 ? (size_t)(ve - v) : size - 1;
                        memcpy(out, v, vl);
                        out[vl] = '\0';
                        found = true;
                }
                p = eol + 1;
        }
        return found;
}

static int parse_size(const char *s, int base, size_t *ret) {
        if (!*s)
                return -EPROTO;
        size_t v = 0;
        for (const char *p = s; *p; p++) {
                int d = isdigit((unsigned char)*p)                  ? *p - '0'
                        : base == 16 && isxdigit((unsigned char)*p) ? tolower(*p) - 'a' + 10
                                                                    : -1;
                if (d < 0)
                        return -EPROTO;
                if (v > (NBX_HTTP_RESPONSE_MAX * (size_t)1) / (size_t)base)
                        return -EMSGSIZE;
                v = v * (size_t)base + (size_t)d;
        }
        if (v > NBX_HTTP_RESPONSE_MAX)
                return -EMSGSIZE;
        *ret = v;
        return 0;
}

/* Decode a chunked body starting at buf[off] in place; -EAGAIN until the last chunk and its
 * trailer end are there. */
static int dechunk(char *buf, size_t len, size_t off, size_t *ret_len) {
        size_t in = off, out = off;
        for (;;) {
                const char *eol = memchr(buf + in, '\n', len - in);
                if (!eol)
                        return len - in > 32 ? -EPROTO : -EAGAIN;
                char sz[24];
                size_t l = (size_t)(eol - (buf + in));
                if (l == 0 || l > sizeof(sz) || buf[in + l - 1] != '\r')
                        return -EPROTO;
                memcpy(sz, buf + in, l - 1);
                sz[l - 1] = '\0';
                char *semi = strchr(sz, ';'); /* chunk extensions are ignored */
                if (semi)
                        *semi = '\0';
                size_t n;
                int r = parse_size(sz, 16, &n);
                if (r < 0)
                        return r;
                in += l + 1;
                if (n == 0) {
                        /* trailer: header lines until an empty line (none are used) */
                        for (;;) {
                                const char *e = memchr(buf + in, '\n', len - in);
                                if (!e)
                                        return -EAGAIN;
                                size_t tl = (size_t)(e - (buf + in));
                                in += tl + 1;
                                if (tl == 1 && buf[in - 2] == '\r')
                                        break;
                                if (tl == 0 || buf[in - 2] != '\r')
                                        return -EPROTO;
                        }
                        *ret_len = out - off;
                        return 0;
                }
                if (len - in < n + 2)
                        return -EAGAIN;
                if (buf[in + n] != '\r' || buf[in + n + 1] != '\n')
                        return -EPROTO;
                if (out - off + n > NBX_HTTP_RESPONSE_MAX)
                        return -EMSGSIZE;
                memmove(buf + out, buf + in, n);
                out += n;
                in += n + 2;
        }
}

int nbx_http_parse(char *buf, size_t len, bool eof, nbx_http_response *ret) {
        const char *hend = headers_end(buf, len);
        if (!hend)
                return len > NBX_HTTP_HEADERS_MAX ? -EMSGSIZE : eof ? -EPROTO : -EAGAIN;
        size_t hlen = (size_t)(hend - buf);
        if (hlen > NBX_HTTP_HEADERS_MAX)
                return -EMSGSIZE;
        /* status line: HTTP/1.x SSS reason */
        if (hlen < 14 || strncmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
            buf[8] != ' ' || !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
            !isdigit((unsigned char)buf[11]) || (buf[12] != ' ' && buf[12] != '\r'))
                return -EPROTO;
        int status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
        if (status < 100 || status > 599)
                return -EPROTO;
        for (size_t i = 0; i < hlen; i++)
                if (buf[i] == '\0')
                        return -EPROTO;
        const char *hp = memchr(buf, '\n', hlen);
        hp = hp ? hp + 1 : hend;
        char te[64], cl[32];
        bool dup = false;
        bool chunked = header(hp, hend, "Transfer-Encoding", te, sizeof(te), &dup);
        bool has_cl = header(hp, hend, "Content-Length", cl, sizeof(cl), &dup);
        if (dup || (chunked && (strcasecmp(te, "chunked") != 0 || has_cl)))
                return -EPROTO; /* smuggling shapes: refused, not guessed */
        nbx_http_response r = {.status = status, .body_off = hlen};
        if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
                r.body_len = 0;
        } else if (chunked) {
                int e = dechunk(buf, len, hlen, &r.body_len);
                if (e == -EAGAIN && eof)
                        return -EPROTO;
                if (e < 0)
                        return e;
        } else if (has_cl) {
                size_t n;
                int e = parse_size(cl, 10, &n);
                if (e < 0)
                        return e;
                if (len - hlen < n)
                        return eof ? -EPROTO : -EAGAIN;
                r.body_len = n;
        } else {
                /* no length: the body runs to the end of the connection */
                if (!eof)
                        return -EAGAIN;
                r.body_len = len - hlen;
        }
        if (r.body_len > NBX_HTTP_RESPONSE_MAX)
                return -EMSGSIZE;
        *ret = r;
        return 0;
}

/* Wait for fd to be ready for events until deadline_ms. */
static int wait_fd(int fd, short events, uint64_t deadline_ms) {
        for (;;) {
                uint64_t now = nbx_now_ms();
                if (now >= deadline_ms)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int n = poll(&p, 1, (int)(deadline_ms - now));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n > 0)
                        return 0;
        }
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline_ms) {
        while (n > 0) {
                ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = wait_fd(fd, POLLOUT, deadline_ms);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (w < 0)
                        return -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

int nbx_http_unix(const char *sock, const char *method, const char *path, const char *body,
                  uint64_t deadline_ms, int *ret_status, char **ret_body, nbx_error **err) {
        _cleanup_close_ int fd = nbx_hv_unix_connect(sock);
        if (fd < 0)
                return nbx_error_set(err, -fd, "connect");
        _cleanup_free_ char *req = NULL;
        size_t blen = body ? strlen(body) : 0;
        int n = asprintf(&req,
                         "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                         "%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                         method, path, body ? "Content-Type: application/json\r\n" : "", blen);
        if (n < 0)
                return nbx_error_set(err, ENOMEM, "HTTP request");
        int r = send_all(fd, req, (size_t)n, deadline_ms);
        if (r >= 0 && blen)
                r = send_all(fd, body, blen, deadline_ms);
        if (r < 0)
                return nbx_error_set(err, -r, "send the request");
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        bool eof = false;
        nbx_http_response resp;
        for (;;) {
                r = len ? nbx_http_parse(buf, len, eof, &resp) : (eof ? -EPROTO : -EAGAIN);
                if (r != -EAGAIN)
                        break;
                if (len + 4096 + 1 > cap) {
                        if (cap >= NBX_HTTP_RESPONSE_MAX + NBX_HTTP_HEADERS_MAX) {
                                r = -EMSGSIZE;
                                break;
                        }
                        cap = cap ? cap * 2 : 8192;
                        char *nb = realloc(buf, cap);
                        if (!nb)
                                return nbx_error_set(err, ENOMEM, "HTTP request");
                        buf = nb;
                }
                ssize_t got = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
                if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                        if ((r = wait_fd(fd, POLLIN, deadline_ms)) < 0)
                                break;
                        continue;
                }
                if (got < 0) {
                        r = -errno;
                        break;
                }
                if (got == 0)
                        eof = true;
                len += (size_t)got;
        }
        if (r < 0)
                return nbx_error_set(err, -r, "%s",
                                     r == -EPROTO      ? "not a valid HTTP response"
                                     : r == -EMSGSIZE  ? "response too large"
                                     : r == -ETIMEDOUT ? "no answer in time"
                                                       : "receive failed");
        char *out = malloc(resp.body_len + 1);
        if (!out)
                return nbx_error_set(err, ENOMEM, "HTTP request");
        memcpy(out, buf + resp.body_off, resp.body_len);
        out[resp.body_len] = '\0';
        *ret_status = resp.status;
        *ret_body = out;
        return 0;
}
