/* Helpers shared by the hypervisor backends (vm/hv.c, vm/qemu.c, vm/qmp.c, vm/chv.c).  Not part
 * of the public interface (vm/hv.h). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

/* sun_path is 108 bytes including the NUL. */
#define NBX_HV_SOCKET_MAX 107
/* How long one API request may take before it counts as hung. */
#define NBX_HV_REQUEST_TIMEOUT_MS 10000
/* How long remove_device waits for the guest to let go of a device (Linux pciehp waits 5 s after
 * an attention button press before it powers the slot off). */
#define NBX_HV_UNPLUG_TIMEOUT_MS 20000

/* [A-Za-z][A-Za-z0-9_-]{0,max-1} (digit_first: may also start with a digit). */
bool nbx_hv_valid_name(const char *s, size_t max, bool digit_first);
/* "02:xx:xx:xx:xx:xx" style: six lowercase or uppercase hex pairs. */
bool nbx_hv_valid_mac(const char *s);

/* Everything both backends require of a spec: counts within the caps, a kernel, sockets that fit
 * sun_path, names the hypervisors' option parsers cannot misread. */
int nbx_hv_check_spec(const nbx_vm_spec *spec, nbx_error **err);
int nbx_hv_check_disk(const nbx_vm_disk *disk, nbx_error **err);
int nbx_hv_check_share(const nbx_vm_share *share, nbx_error **err);
int nbx_hv_check_socket(const char *what, const char *path, nbx_error **err);

/* Connect a SOCK_STREAM unix socket (CLOEXEC).  Returns the fd or -errno (no error object:
 * wait_api retries on ENOENT/ECONNREFUSED). */
int nbx_hv_unix_connect(const char *path);

/* cloud-hypervisor's answers, checked (vm/chv.c; also the fuzzer's entry points).  A reply with
 * HTTP status and body text to method endpoint: an error unless status is one of expected
 * (0-terminated), naming meaning_404 for a 404; *ret_json (may be NULL) the parsed body of a 200
 * with one. */
int nbx_chv_reply(const char *method, const char *endpoint, long status, const char *text,
                  const long *expected, const char *meaning_404, json_t **ret_json,
                  nbx_error **err);
/* vm.info's body: its state, lowercase. */
int nbx_chv_info_parse(json_t *j, nbx_vm_info *ret, nbx_error **err);
