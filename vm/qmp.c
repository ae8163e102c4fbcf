#include "qmp.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../config/base/timeutil.h"
#include "hv_internal.h"

#define QMP_LINE_MAX (4u << 20) /* one reply (query-* answers are the big ones) */
#define QMP_EVENTS_MAX 256      /* events remembered while waiting for a reply */

struct nbx_qmp {
        int fd;
        char *path;
        uint64_t deadline_ms;
        char *buf;
        size_t len, cap;
        json_t *events; /* array of event objects not consumed yet */
        unsigned long next_id;
};

void nbx_qmp_close(nbx_qmp *q) {
        if (!q)
                return;
        if (q->fd >= 0)
                close(q->fd);
        json_decref(q->events);
        free(q->buf);
        free(q->path);
        free(q);
}

static int wait_fd(nbx_qmp *q, short events, nbx_error **err) {
        for (;;) {
                uint64_t now = nbx_now_ms();
                if (now >= q->deadline_ms)
                        return nbx_error_set(err, ETIMEDOUT, "QMP %s: no answer in time", q->path);
                struct pollfd p = {.fd = q->fd, .events = events};
                int r = poll(&p, 1, (int)(q->deadline_ms - now));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return nbx_error_set(err, errno, "QMP %s: poll", q->path);
                if (r > 0)
                        return 0;
        }
}

static int send_msg(nbx_qmp *q, json_t *msg, nbx_error **err) {
        _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
        if (!text)
                return nbx_error_set(err, ENOMEM, "QMP: encode command");
        size_t len = strlen(text);
        /* json_dumps never emits a raw newline, so one line = one command */
        size_t off = 0;
        char nl = '\n';
        while (off <= len) {
                int r = wait_fd(q, POLLOUT, err);
                if (r < 0)
                        return r;
                const char *p = off < len ? text + off : &nl;
                size_t n = off < len ? len - off : 1;
                ssize_t w = send(q->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (w < 0)
                        return nbx_error_set(err, errno, "QMP %s: send", q->path);
                off += (size_t)w;
        }
        return 0;
}

int nbx_qmp_parse_line(const char *line, size_t len, json_t **ret, nbx_error **err) {
        bool blank = true;
        for (size_t i = 0; i < len && blank; i++) {
                char c = line[i];
                blank = c == ' ' || c == '\t' || c == '\r' || c == '\n';
        }
        if (blank) {
                *ret = NULL;
                return 0;
        }
        json_error_t jerr;
        json_t *msg = json_loadb(line, len, 0, &jerr);
        if (!msg)
                return nbx_error_set(err, EPROTO, "invalid JSON: %s", jerr.text);
        if (!json_is_object(msg)) {
                json_decref(msg);
                return nbx_error_set(err, EPROTO, "message is not an object");
        }
        *ret = msg;
        return 0;
}

/* Read the next JSON message (one line). */
static int read_msg(nbx_qmp *q, json_t **ret, nbx_error **err) {
        for (;;) {
                char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
                if (nl) {
                        size_t line = (size_t)(nl - q->buf) + 1;
                        json_t *msg = NULL;
                        int r = nbx_qmp_parse_line(q->buf, line, &msg, err);
                        memmove(q->buf, q->buf + line, q->len - line);
                        q->len -= line;
                        if (r < 0)
                                return nbx_error_wrap(err, "QMP %s", q->path);
                        if (!msg)
                                continue; /* a blank line */
                        *ret = msg;
                        return 0;
                }
                if (q->len >= QMP_LINE_MAX)
                        return nbx_error_set(err, EMSGSIZE, "QMP %s: message longer than %u bytes",
                                             q->path, QMP_LINE_MAX);
                if (q->cap - q->len < 4096) {
                        size_t cap = q->cap ? q->cap * 2 : 16384;
                        char *nb = realloc(q->buf, cap);
                        if (!nb)
                                return nbx_error_set(err, ENOMEM, "QMP: read");
                        q->buf = nb;
                        q->cap = cap;
                }
                int r = wait_fd(q, POLLIN, err);
                if (r < 0)
                        return r;
                ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return nbx_error_set(err, errno, "QMP %s: receive", q->path);
                if (n == 0)
                        return nbx_error_set(err, ECONNRESET, "QMP %s: QEMU closed the connection",
                                             q->path);
                q->len += (size_t)n;
        }
}

static int remember_event(nbx_qmp *q, json_t *msg) {
        if (json_array_size(q->events) >= QMP_EVENTS_MAX)
                (void)json_array_remove(q->events, 0);
        return json_array_append(q->events, msg) < 0 ? -ENOMEM : 0;
}

int nbx_qmp_reply(json_t *msg, const char *id, const char *command, json_t **ret, char **ret_class,
                  nbx_error **err) {
        if (json_object_get(msg, "event"))
                return NBX_QMP_EVENT;
        const char *rid = json_string_value(json_object_get(msg, "id"));
        if (!rid || strcmp(rid, id) != 0)
                return NBX_QMP_NOT_OURS; /* a reply to a command we gave up on */
        json_t *error = json_object_get(msg, "error");
        if (error) {
                const char *cls = json_string_value(json_object_get(error, "class"));
                const char *desc = json_string_value(json_object_get(error, "desc"));
                if (ret_class) {
                        *ret_class = strdup(cls ? cls : "");
                        if (!*ret_class)
                                return nbx_error_set(err, ENOMEM, "QMP %s", command);
                }
                return nbx_error_set(err, 0, "QMP %s: %s", command,
                                     desc ? desc : "error without description");
        }
        json_t *value = json_object_get(msg, "return");
        if (!value)
                return nbx_error_set(err, EPROTO, "QMP %s: reply without return value", command);
        if (ret)
                *ret = json_incref(value);
        return 0;
}

int nbx_qmp_execute(nbx_qmp *q, const char *command, json_t *args, json_t **ret, char **ret_class,
                    nbx_error **err) {
        char id[32];
        snprintf(id, sizeof(id), "nbx-%lu", q->next_id++);
        json_auto_t *cmd = json_pack("{s:s, s:s}", "execute", command, "id", id);
        if (!cmd || (args && json_object_set(cmd, "arguments", args) < 0))
                return nbx_error_set(err, ENOMEM, "QMP %s", command);
        int r = send_msg(q, cmd, err);
        if (r < 0)
                return nbx_error_wrap(err, "%s", command);
        for (;;) {
                json_auto_t *msg = NULL;
                if ((r = read_msg(q, &msg, err)) < 0)
                        return nbx_error_wrap(err, "%s", command);
                r = nbx_qmp_reply(msg, id, command, ret, ret_class, err);
                if (r == NBX_QMP_EVENT && remember_event(q, msg) < 0)
                        return nbx_error_set(err, ENOMEM, "QMP %s", command);
                if (r <= 0)
                        return r;
        }
}

bool nbx_qmp_event_is(json_t *ev, const char *name, const char *device) {
        const char *n = json_string_value(json_object_get(ev, "event"));
        if (!n || strcmp(n, name) != 0)
                return false;
        if (!device)
                return true;
        const char *d = json_string_value(json_object_get(json_object_get(ev, "data"), "device"));
        return d && strcmp(d, device) == 0;
}

int nbx_qmp_wait_event(nbx_qmp *q, const char *name, const char *device, uint64_t deadline_ms,
                       nbx_error **err) {
        size_t i;
        json_t *ev;
        json_array_foreach(q->events, i, ev) {
                if (nbx_qmp_event_is(ev, name, device)) {
                        (void)json_array_remove(q->events, i);
                        return 0;
                }
        }
        uint64_t saved = q->deadline_ms;
        q->deadline_ms = deadline_ms;
        int r;
        for (;;) {
                json_auto_t *msg = NULL;
                if ((r = read_msg(q, &msg, err)) < 0)
                        break;
                if (nbx_qmp_event_is(msg, name, device))
                        break;
                if (json_object_get(msg, "event") && remember_event(q, msg) < 0) {
                        r = nbx_error_set(err, ENOMEM, "QMP: event");
                        break;
                }
        }
        q->deadline_ms = saved;
        if (r == -ETIMEDOUT)
                nbx_error_wrap(err, "waiting for event %s%s%s", name, device ? " of " : "",
                               device ? device : "");
        return r;
}

int nbx_qmp_open(const char *socket_path, uint64_t deadline_ms, nbx_qmp **ret, nbx_error **err) {
        _cleanup_qmp_ nbx_qmp *q = calloc(1, sizeof(*q));
        if (!q)
                return nbx_error_set(err, ENOMEM, "QMP");
        q->fd = -1;
        q->deadline_ms = deadline_ms;
        q->path = strdup(socket_path);
        q->events = json_array();
        if (!q->path || !q->events)
                return nbx_error_set(err, ENOMEM, "QMP");
        q->fd = nbx_hv_unix_connect(socket_path);
        if (q->fd < 0)
                return nbx_error_set(err, q->fd, "QMP: connect to %s", socket_path);

        json_auto_t *greeting = NULL;
        int r = read_msg(q, &greeting, err);
        if (r < 0)
                return nbx_error_wrap(err, "QMP greeting");
        if (!json_is_object(json_object_get(greeting, "QMP")))
                return nbx_error_set(err, EPROTO, "QMP %s: expected a greeting, not a QMP server?",
                                     socket_path);
        r = nbx_qmp_execute(q, "qmp_capabilities", NULL, NULL, NULL, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(q);
        return 0;
}
