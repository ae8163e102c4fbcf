/* A small QMP client (QEMU Machine Protocol) over a unix socket: greeting, capabilities
 * negotiation, commands with replies matched by id, events remembered while waiting.  JSON is
 * jansson.  Used by the QEMU backend (vm/qemu.c). */
#pragma once

#include <jansson.h>
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
