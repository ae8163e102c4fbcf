/* cloud-hypervisor backend: command line built from the spec (syntax: cloud-hypervisor's
 * vmm/src/config.rs, see docs/hypervisors.md), REST API over the unix socket (vm/http.h).
 *
 * cloud-hypervisor cannot be installed on our machines: the command line has unit tests and the
 * client has contract tests against a server that follows the OpenAPI specification
 * (tests/vm/fake_chv.py); neither has run against the real program. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../config/base/timeutil.h"
#include "hv.h"
#include "hv_internal.h"
#include "http.h"

#define API_PATH "/api/v1/"
#define IMAGE_DISK_ID "nbxroot"
#define IMAGE_DISK_SERIAL "nixbox-root"
#define FS_QUEUE_SIZE 1024

/* An expression (GNU statement expression), so that "PUSH(opt), PUSH(value)" pairs read as one. */
#define PUSH(...)                                                                                  \
        ({                                                                                         \
                if (nbx_strv_pushf(&argv, __VA_ARGS__) < 0)                                        \
                        return nbx_error_set(err, ENOMEM, "%s", "cloud-hypervisor command line");  \
        })

static int chv_build_argv(const nbx_vm_spec *s, const char *program, nbx_strv *ret_argv,
                          nbx_error **err) {
        int r = nbx_hv_check_spec(s, err);
        if (r < 0)
                return r;
        if (s->accel != NBX_ACCEL_KVM)
                return nbx_error_setx(err, NBX_EXIT_PREREQ, 0,
                                      "cloud-hypervisor needs KVM, and KVM cannot run guests "
                                      "here: set vm.hypervisor = \"qemu\" (software emulation)");
        _cleanup_strv_ nbx_strv argv = {0};
        PUSH("%s", program);
        PUSH("--api-socket"), PUSH("path=%s", s->api_socket);
        PUSH("--kernel"), PUSH("%s", s->image->kernel);
        if (s->image->initrd)
                PUSH("--initramfs"), PUSH("%s", s->image->initrd);
        if (s->image->cmdline && s->image->cmdline[0])
                PUSH("--cmdline"), PUSH("%s", s->image->cmdline);
        PUSH("--cpus"), PUSH("boot=%u", s->vcpus);
        PUSH("--memory"), PUSH("size=%uM,shared=on", s->memory_mb);
        /* A balloon of size 0 that only carries free page reporting: the guest hands pages it
         * frees back to the host. */
        PUSH("--balloon"), PUSH("size=0,free_page_reporting=on");
        if (s->tap) {
                if (s->net_queues > 1) /* num_queues counts RX and TX queues: 2 per pair */
                        PUSH("--net"), PUSH("tap=%s,mac=%s,num_queues=%u", s->tap, s->mac,
                                            2 * s->net_queues);
                else
                        PUSH("--net"), PUSH("tap=%s,mac=%s", s->tap, s->mac);
        }
        if (s->vsock_cid && s->vsock_socket)
                PUSH("--vsock"), PUSH("cid=%u,socket=%s", s->vsock_cid, s->vsock_socket);
        for (size_t i = 0; i < s->n_shares; i++)
                PUSH("--fs"), PUSH("tag=%s,socket=%s,id=%s", s->shares[i].tag, s->shares[i].socket,
                                   s->shares[i].tag);
        if (s->image->disk)
                PUSH("--disk"),
                        PUSH("path=%s,readonly=on,id=" IMAGE_DISK_ID ",serial=" IMAGE_DISK_SERIAL,
                             s->image->disk);
        for (size_t i = 0; i < s->n_disks; i++) {
                const nbx_vm_disk *d = &s->disks[i];
                PUSH("--disk");
                if (d->serial[0])
                        PUSH("path=%s,readonly=%s,id=%s,serial=%s", d->path,
                             d->readonly ? "on" : "off", d->id, d->serial);
                else
                        PUSH("path=%s,readonly=%s,id=%s", d->path, d->readonly ? "on" : "off",
                             d->id);
        }
        PUSH("--serial"), PUSH("file=%s", s->serial_log);
        PUSH("--console"), PUSH("off");
        *ret_argv = argv;
        argv = (nbx_strv){0};
        return 0;
}

/* ---- REST client ---------------------------------------------------------------------------- */

/* One API request.  body NULL: no body.  *ret_status is the HTTP status; *ret_body the response
 * text (may be empty).  Only transport failures are errors here. */
static int request(const char *sock, const char *method, const char *endpoint, json_t *body,
                   uint64_t deadline_ms, long *ret_status, char **ret_body, nbx_error **err) {
        _cleanup_free_ char *text = NULL, *path = NULL;
        if (body && !(text = json_dumps(body, JSON_COMPACT)))
                return nbx_error_set(err, ENOMEM, "cloud-hypervisor API: encode");
        if (asprintf(&path, API_PATH "%s", endpoint) < 0)
                return nbx_error_set(err, ENOMEM, "cloud-hypervisor API");
        int status = 0;
        int r = nbx_http_unix(sock, method, path, text, deadline_ms, &status, ret_body, err);
        if (r < 0)
                return nbx_error_wrap(err, "cloud-hypervisor API %s %s on %s", method, endpoint,
                                      sock);
        *ret_status = status;
        return 0;
}

/* First line of a response body, for error messages (cloud-hypervisor answers errors in text). */
static void summarize(const char *body, char *out, size_t out_len) {
        size_t n = 0;
        for (const char *p = body; *p && *p != '\n' && n + 1 < out_len; p++)
                out[n++] = isprint((unsigned char)*p) ? *p : '?';
        out[n] = '\0';
}

int nbx_chv_reply(const char *method, const char *endpoint, long status, const char *text,
                  const long *expected, const char *meaning_404, json_t **ret_json,
                  nbx_error **err) {
        bool ok = false;
        for (const long *e = expected; *e; e++)
                ok = ok || *e == status;
        if (!ok) {
                char why[200];
                summarize(text, why, sizeof(why));
                int e = status == 404   ? ENOENT
                        : status == 409 ? EEXIST
                        : status >= 500 ? EIO
                                        : EINVAL;
                bool explain = status == 404 && meaning_404;
                nbx_error_set(err, 0, "cloud-hypervisor %s %s: HTTP %ld%s%s%s%s%s", method,
                              endpoint, status, explain ? " (" : "", explain ? meaning_404 : "",
                              explain ? ")" : "", why[0] ? ": " : "", why);
                if (err && *err)
                        (*err)->errnum = e;
                return -e;
        }
        if (ret_json) {
                *ret_json = NULL;
                if (status == 200 && text[0]) {
                        json_error_t jerr;
                        *ret_json = json_loads(text, 0, &jerr);
                        if (!*ret_json)
                                return nbx_error_set(err, EPROTO,
                                                     "cloud-hypervisor %s %s: invalid JSON: %s",
                                                     method, endpoint, jerr.text);
                }
        }
        return 0;
}

/* Request that must answer one of the expected statuses (0-terminated list).  ret_json (may be
 * NULL) receives the parsed body on a 200 with a body. */
static int call(const char *sock, const char *method, const char *endpoint, json_t *body,
                const long *expected, const char *meaning_404, long *ret_status, json_t **ret_json,
                nbx_error **err) {
        long status;
        _cleanup_free_ char *text = NULL;
        int r = request(sock, method, endpoint, body, nbx_deadline_in(NBX_HV_REQUEST_TIMEOUT_MS),
                        &status, &text, err);
        if (r < 0)
                return r;
        r = nbx_chv_reply(method, endpoint, status, text, expected, meaning_404, ret_json, err);
        if (r >= 0 && ret_status)
                *ret_status = status;
        return r;
}

static const long OK_200[] = {200, 0};
static const long OK_200_204[] = {200, 204, 0};

static int chv_wait_api(const char *api_socket, uint64_t deadline_ms, nbx_error **err) {
        nbx_backoff b = NBX_BACKOFF_INIT;
        uint64_t start = nbx_now_ms();
        for (;;) {
                _cleanup_error_ nbx_error *last = NULL;
                struct stat st;
                if (stat(api_socket, &st) < 0) {
                        nbx_error_set(&last, errno, "%s", api_socket);
                } else {
                        long status;
                        _cleanup_free_ char *text = NULL;
                        uint64_t d = nbx_deadline_in(NBX_HV_REQUEST_TIMEOUT_MS);
                        if (request(api_socket, "GET", "vmm.ping", NULL,
                                    d < deadline_ms ? d : deadline_ms, &status, &text,
                                    &last) == 0) {
                                json_auto_t *j = json_loads(text, 0, NULL);
                                if (status == 200 && json_is_string(json_object_get(j, "version")))
                                        return 0;
                                nbx_error_set(&last, EPROTO, "vmm.ping: HTTP %ld without a version",
                                              status);
                        }
                }
                if (!nbx_backoff_sleep(&b, deadline_ms))
                        return nbx_error_set(err, ETIMEDOUT,
                                             "cloud-hypervisor did not answer on its API socket "
                                             "%s within %llu ms (last: %s)",
                                             api_socket, (unsigned long long)(nbx_now_ms() - start),
                                             last ? last->msg : "?");
        }
}

static int get_info(const char *sock, json_t **ret, nbx_error **err) {
        json_auto_t *j = NULL;
        int r = call(sock, "GET", "vm.info", NULL, OK_200, "the VM is not created", NULL, &j, err);
        if (r < 0)
                return r;
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "state")))
                return nbx_error_set(err, EPROTO, "cloud-hypervisor vm.info: no state");
        *ret = TAKE_PTR(j);
        return 0;
}

int nbx_chv_info_parse(json_t *j, nbx_vm_info *ret, nbx_error **err) {
        const char *state = json_string_value(json_object_get(j, "state"));
        if (!json_is_object(j) || !state)
                return nbx_error_set(err, EPROTO, "cloud-hypervisor vm.info: no state");
        /* VmState: Created, Running, Shutdown, Paused, BreakPoint; lowercase like QEMU's; only
         * printable characters of it (the text comes from the hypervisor) */
        nbx_vm_info info = {0};
        size_t n = 0;
        for (const char *p = state; *p && n + 1 < sizeof(info.state); p++)
                info.state[n++] =
                        isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '?';
        info.state[n] = '\0';
        *ret = info;
        return 0;
}

static int chv_info(const char *api_socket, nbx_vm_info *ret, nbx_error **err) {
        json_auto_t *j = NULL;
        int r = get_info(api_socket, &j, err);
        return r < 0 ? r : nbx_chv_info_parse(j, ret, err);
}

static int chv_add_disk(const char *api_socket, const nbx_vm_disk *disk, nbx_error **err) {
        int r = nbx_hv_check_disk(disk, err);
        if (r < 0)
                return r;
        json_auto_t *body = json_pack("{s:s, s:b, s:s}", "path", disk->path, "readonly",
                                      disk->readonly, "id", disk->id);
        if (!body ||
            (disk->serial[0] && json_object_set_new(body, "serial", json_string(disk->serial))))
                return nbx_error_set(err, ENOMEM, "cloud-hypervisor add disk");
        r = call(api_socket, "PUT", "vm.add-disk", body, OK_200_204, "the VM is not created", NULL,
                 NULL, err);
        return r < 0 ? nbx_error_wrap(err, "add disk %s (%s)", disk->id, disk->path) : 0;
}

static int chv_add_fs(const char *api_socket, const nbx_vm_share *share, nbx_error **err) {
        int r = nbx_hv_check_share(share, err);
        if (r < 0)
                return r;
        /* FsConfig requires tag, socket, num_queues and queue_size */
        json_auto_t *body =
                json_pack("{s:s, s:s, s:i, s:i, s:s}", "tag", share->tag, "socket", share->socket,
                          "num_queues", 1, "queue_size", FS_QUEUE_SIZE, "id", share->tag);
        if (!body)
                return nbx_error_set(err, ENOMEM, "cloud-hypervisor add share");
        r = call(api_socket, "PUT", "vm.add-fs", body, OK_200_204, "the VM is not created", NULL,
                 NULL, err);
        return r < 0 ? nbx_error_wrap(err, "add share %s (%s)", share->tag, share->socket) : 0;
}

static bool in_device_tree(json_t *info, const char *id) {
        return json_object_get(json_object_get(info, "device_tree"), id) != NULL;
}

static int chv_remove_device(const char *api_socket, const char *id, nbx_error **err) {
        if (!nbx_hv_valid_name(id, 23, false))
                return nbx_error_set(err, EINVAL, "remove device: bad id \"%s\"", id ? id : "");
        json_auto_t *body = json_pack("{s:s}", "id", id);
        if (!body)
                return nbx_error_set(err, ENOMEM, "cloud-hypervisor remove device");
        long status;
        _cleanup_free_ char *text = NULL;
        int r = request(api_socket, "PUT", "vm.remove-device", body,
                        nbx_deadline_in(NBX_HV_REQUEST_TIMEOUT_MS), &status, &text, err);
        if (r < 0)
                return nbx_error_wrap(err, "remove device %s", id);
        if (status == 404)
                return 0; /* no such device (or no VM): already gone */
        if (status != 204) {
                char why[200];
                summarize(text, why, sizeof(why));
                return nbx_error_set(err, 0,
                                     "remove device %s: cloud-hypervisor PUT vm.remove-device: "
                                     "HTTP %ld%s%s",
                                     id, status, why[0] ? ": " : "", why);
        }
        /* The request only starts the unplug; the device is gone when the guest has ejected it
         * and it left the device tree. */
        uint64_t deadline = nbx_deadline_in(NBX_HV_UNPLUG_TIMEOUT_MS);
        nbx_backoff b = NBX_BACKOFF_INIT;
        for (;;) {
                json_auto_t *info = NULL;
                if ((r = get_info(api_socket, &info, err)) < 0)
                        return nbx_error_wrap(err, "remove device %s", id);
                if (!in_device_tree(info, id))
                        return 0;
                if (!nbx_backoff_sleep(&b, deadline))
                        return nbx_error_set(err, ETIMEDOUT,
                                             "remove device %s: still in the VM after %d ms (the "
                                             "guest did not eject it)",
                                             id, NBX_HV_UNPLUG_TIMEOUT_MS);
        }
}

static int chv_power_button(const char *api_socket, nbx_error **err) {
        long status;
        _cleanup_free_ char *text = NULL;
        int r = request(api_socket, "PUT", "vm.power-button", NULL,
                        nbx_deadline_in(NBX_HV_REQUEST_TIMEOUT_MS), &status, &text, err);
        if (r < 0)
                return r;
        if (status == 204)
                return 0;
        const char *why = status == 404   ? " (the VM is not created)"
                          : status == 405 ? " (the VM is not booted)"
                                          : "";
        return nbx_error_set(err, 0, "cloud-hypervisor PUT vm.power-button: HTTP %ld%s", status,
                             why);
}

const nbx_hv_ops nbx_hv_cloud_hypervisor = {
        .name = "cloud-hypervisor",
        .program = "cloud-hypervisor",
        .build_argv = chv_build_argv,
        .wait_api = chv_wait_api,
        .info = chv_info,
        .add_disk = chv_add_disk,
        .add_fs = chv_add_fs,
        .remove_device = chv_remove_device,
        .power_button = chv_power_button,
};
