/* A small QMP client (QEMU Machine Protocol) over a unix socket: greeting, capabilities
 * negotiation, commands with replies matched by id, events remembered while waiting.  JSON is
 * jansson.  Used by the QEMU backend (vm/qemu.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../config/base/error.h"

typedef struct nbx_qmp nbx_qmp;

/* Connect, read the greeting, negotiate capabilities.  Every read and write of the connection
 * gives up at deadline_ms (CLOCK_MONOTONIC ms). */
int nbx_qmp_open(const char *socket_path, uint64_t deadline_ms, nbx_qmp **ret, nbx_error **err);
void nbx_qmp_close(nbx_qmp *q);
NBX_DEFINE_CLEANUP(nbx_qmp, nbx_qmp_close)
#define _cleanup_qmp_ _cleanup_(nbx_qmp_closep)

/* Execute a command (args may be NULL; a reference is taken, not stolen).  On success *ret (if
 * non-NULL) holds the "return" value (a new reference).  A QMP error reply becomes an nbx_error
 * "<command>: <desc>"; *ret_class (if non-NULL) receives the error class ("DeviceNotFound"...),
 * malloc'd, on error replies only. */
int nbx_qmp_execute(nbx_qmp *q, const char *command, json_t *args, json_t **ret, char **ret_class,
                    nbx_error **err);

/* Wait for an event named name whose data.device equals device (device may be NULL: any).
 * Events that arrived while a command was running count. */
int nbx_qmp_wait_event(nbx_qmp *q, const char *name, const char *device, uint64_t deadline_ms,
                       nbx_error **err);

/* What QEMU writes, parsed (the reader of the connection uses these; so does the fuzzer): one
 * line of text into a JSON object (*ret NULL for a blank line; -EPROTO for anything else). */
int nbx_qmp_parse_line(const char *line, size_t len, json_t **ret, nbx_error **err);
/* A message while waiting for the reply to command `command` with id `id`: NBX_QMP_EVENT, a
 * reply to another id (NBX_QMP_NOT_OURS), the reply (0, *ret as in nbx_qmp_execute) or an error
 * reply (< 0, *ret_class as in nbx_qmp_execute). */
enum { NBX_QMP_EVENT = 1, NBX_QMP_NOT_OURS = 2 };
int nbx_qmp_reply(json_t *msg, const char *id, const char *command, json_t **ret, char **ret_class,
                  nbx_error **err);
/* An event named name whose data.device is device (NULL: any device). */
bool nbx_qmp_event_is(json_t *ev, const char *name, const char *device);
