/* What a running slot is: its policy record (policy.json, written by up and reload), dnsmasq, the
 * firewall's counters and allow set, typed for `nixbox net show` and its JSON form. */
#include "info.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../config/base/fsutil.h"
#include "dnsmasq.h"
#include "nft.h"
#include "nl.h"

#define POLICY_MAX (1 << 20)
#define DENIED_MAX 20

/* ---- the policy record -------------------------------------------------------------------- */

int nbx_net_policy_write(const char *slot_dir, const nbx_slot_addr *a, const nbx_net_policy *p,
                         nbx_error **err) {
        json_auto_t *doms = json_array(), *ports = json_array(), *dns = json_array();
        if (!doms || !ports || !dns)
                return nbx_error_set(err, ENOMEM, "slot policy");
        int fail = 0;
        for (size_t i = 0; p->domains && i < p->domains->n; i++)
                fail |= json_array_append_new(doms, json_string(p->domains->v[i]));
        for (size_t i = 0; i < p->n_ports; i++)
                fail |= json_array_append_new(ports, json_integer(p->ports[i]));
        for (size_t i = 0; i < p->n_upstream_dns; i++) {
                char ip[INET6_ADDRSTRLEN];
                fail |= json_array_append_new(
                        dns, json_string(nbx_ip_to_string(&p->upstream_dns[i], ip, sizeof(ip))));
        }
        json_auto_t *j =
                json_pack("{s:I, s:s, s:s, s:b, s:O, s:O, s:O, s:I}", "slot", (json_int_t)a->slot,
                          "tap", a->tap, "mode", nbx_net_mode_name(p->mode), "allow_private",
                          p->allow_private, "domains", doms, "ports", ports, "upstream_dns", dns,
                          "owner_uid", (json_int_t)p->owner_uid);
        _cleanup_free_ char *text = j && !fail ? json_dumps(j, JSON_INDENT(2)) : NULL;
        _cleanup_free_ char *path = nbx_path_join(slot_dir, NBX_NET_POLICY_FILE);
        if (!text || !path)
                return nbx_error_set(err, ENOMEM, "slot policy");
        return nbx_write_file(path, text, strlen(text), 0600, err);
}

static bool mode_from_name(const char *s, enum nbx_net_mode *ret) {
        static const enum nbx_net_mode modes[] = {NBX_NET_OFF, NBX_NET_FILTERED, NBX_NET_OPEN};
        for (size_t i = 0; s && i < NBX_ARRAY_SIZE(modes); i++)
                if (strcmp(s, nbx_net_mode_name(modes[i])) == 0) {
                        *ret = modes[i];
                        return true;
                }
        return false;
}

static bool ip_from_text(const char *s, nbx_ip *ret) {
        nbx_ip ip = {.family = AF_INET};
        if (s && inet_pton(AF_INET, s, &ip.v4) == 1) {
                *ret = ip;
                return true;
        }
        ip.family = AF_INET6;
        if (s && inet_pton(AF_INET6, s, &ip.v6) == 1) {
                *ret = ip;
                return true;
        }
        return false;
}

/* The record's values into info; false when a value is missing, of the wrong type or too many. */
static bool policy_parse(json_t *j, nbx_net_info *info) {
        json_t *doms = json_object_get(j, "domains"), *ports = json_object_get(j, "ports"),
               *dns = json_object_get(j, "upstream_dns"),
               *priv = json_object_get(j, "allow_private"),
               *owner = json_object_get(j, "owner_uid");
        if (!mode_from_name(json_string_value(json_object_get(j, "mode")), &info->mode) ||
            !json_is_array(doms) || json_array_size(doms) > NBX_MAX_DOMAINS ||
            !json_is_array(ports) || json_array_size(ports) > NBX_MAX_PORTS ||
            (dns && (!json_is_array(dns) || json_array_size(dns) > NBX_MAX_DNS)) ||
            (priv && !json_is_boolean(priv)) ||
            (owner && (!json_is_integer(owner) || json_integer_value(owner) < 0 ||
                       json_integer_value(owner) > UINT32_MAX - 1)))
                return false;
        info->allow_private = json_is_true(priv);
        info->owner_uid = (uid_t)json_integer_value(owner);
        size_t i;
        json_t *v;
        json_array_foreach(ports, i, v) {
                json_int_t port = json_integer_value(v);
                if (!json_is_integer(v) || port < 1 || port > 65535)
                        return false;
                info->ports[info->n_ports++] = (uint16_t)port;
        }
        json_array_foreach(dns, i, v) {
                if (!ip_from_text(json_string_value(v), &info->upstream_dns[info->n_upstream_dns]))
                        return false;
                info->n_upstream_dns++;
        }
        json_array_foreach(doms, i, v) {
                if (!json_is_string(v) || nbx_strv_push(&info->domains, json_string_value(v)) < 0)
                        return false;
        }
        return true;
}

int nbx_net_policy_read(const char *slot_dir, nbx_net_info *info, nbx_error **err) {
        _cleanup_free_ char *path = nbx_path_join(slot_dir, NBX_NET_POLICY_FILE);
        _cleanup_free_ char *data = NULL;
        if (!path)
                return nbx_error_set(err, ENOMEM, "slot policy");
        int r = nbx_read_file(path, POLICY_MAX, &data, NULL, NULL);
        if (r == -ENOENT)
                return nbx_error_setx(err, NBX_EXIT_NOT_RUNNING, ENOENT,
                                      "network slot %u is not up", info->addr.slot);
        if (r < 0)
                return nbx_error_set(err, r, "read %s", path);
        r = nbx_net_policy_parse(data, strlen(data), info, err);
        return r < 0 ? nbx_error_wrap(err, "%s is damaged (`nixbox down` and `up` write it again)",
                                      path)
                     : 0;
}

int nbx_net_policy_parse(const char *text, size_t len, nbx_net_info *info, nbx_error **err) {
        json_auto_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        nbx_net_info parsed = {.addr = info->addr};
        if (!j || !json_is_object(j) || !policy_parse(j, &parsed)) {
                nbx_net_info_done(&parsed);
                return nbx_error_set(err, EBADMSG, "not a slot policy record");
        }
        nbx_net_info_done(info);
        *info = parsed;
        return 0;
}

/* ---- the info ------------------------------------------------------------------------------ */

static int info_fill(const char *dir, nbx_net_info *info, nbx_error **err) {
        int r = nbx_net_policy_read(dir, info, err);
        if (r < 0)
                return r;
        pid_t pid;
        if (nbx_dnsmasq_pid(dir, &pid))
                info->dnsmasq_pid = pid;
        r = nbx_dnsmasq_log_rotate(dir, true, err);
        if (r >= 0)
                r = nbx_dnsmasq_denied(dir, DENIED_MAX, &info->denied_names, err);
        if (r < 0)
                return r;
        _cleanup_nl_ nbx_nl nf = {0};
        r = nbx_nl_open(&nf, NETLINK_NETFILTER, err);
        if (r >= 0)
                r = nbx_nft_slot_counters(&nf, info->addr.slot, &info->counters, err);
        if (r >= 0 && info->mode == NBX_NET_FILTERED)
                r = nbx_nft_allow_list(&nf, info->addr.slot, &info->allowed, &info->n_allowed, err);
        return r;
}

int nbx_net_info_get(const char *runtime_dir, const nbx_pool *pool, unsigned slot,
                     nbx_net_info *ret, nbx_error **err) {
        nbx_net_info info = {0};
        int r = nbx_slot_addr_derive(pool, slot, &info.addr, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = nbx_slot_dir(runtime_dir, slot);
        if (!dir)
                return nbx_error_set(err, ENOMEM, "slot folder");
        r = info_fill(dir, &info, err);
        if (r < 0) {
                nbx_net_info_done(&info);
                return nbx_error_wrap(err, "network slot %u", slot);
        }
        *ret = info;
        return 0;
}

int nbx_net_info_for_project(const char *runtime_dir, const char *project_dir, nbx_net_info *ret,
                             nbx_error **err) {
        unsigned slot;
        int r = nbx_slot_find(runtime_dir, project_dir, &slot, err);
        if (r == -ENOENT)
                return nbx_error_append(err, ": the VM is not running (start it with `sudo "
                                             "nixbox up`)");
        if (r < 0)
                return r;
        nbx_pool pool;
        r = nbx_pool_load(runtime_dir, &pool, err);
        if (r < 0)
                return r;
        return nbx_net_info_get(runtime_dir, &pool, slot, ret, err);
}

void nbx_net_info_done(nbx_net_info *i) {
        nbx_strv_clear(&i->domains);
        nbx_strv_clear(&i->denied_names);
        free(i->allowed);
        i->allowed = NULL;
        i->n_allowed = 0;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static json_t *ports_json(const nbx_net_info *i) {
        json_auto_t *a = json_array();
        for (size_t k = 0; a && k < i->n_ports; k++)
                if (json_array_append_new(a, json_integer(i->ports[k])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_t *allowed_json(const nbx_net_info *i) {
        json_auto_t *a = json_array();
        for (size_t k = 0; a && k < i->n_allowed; k++) {
                char ip[INET_ADDRSTRLEN];
                if (!inet_ntop(AF_INET, &i->allowed[k], ip, sizeof(ip)) ||
                    json_array_append_new(a, json_string(ip)) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static json_t *dns_json(const nbx_net_info *i) {
        json_auto_t *a = json_array();
        for (size_t k = 0; a && k < i->n_upstream_dns; k++) {
                char ip[INET6_ADDRSTRLEN];
                if (json_array_append_new(a, json_string(nbx_ip_to_string(&i->upstream_dns[k], ip,
                                                                          sizeof(ip)))) < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

int nbx_net_info_json(const nbx_net_info *i, char **ret, nbx_error **err) {
        nbx_slot_addr_text t;
        nbx_slot_addr_str(&i->addr, &t);
        json_auto_t *doms = nbx_strv_to_json(&i->domains), *ports = ports_json(i),
                    *dns = dns_json(i), *allowed = allowed_json(i),
                    *denied = nbx_strv_to_json(&i->denied_names);
        json_auto_t *j =
                doms && ports && dns && allowed && denied
                        ? json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:O, s:O, s:O, s:O, s:I, "
                                    "s:I, s:I, s:I, s:O, s:I, s:I}",
                                    "slot", (json_int_t)i->addr.slot, "tap", i->addr.tap,
                                    "guest_ip", t.guest_ip, "host_ip", t.host_ip, "mac",
                                    i->addr.mac_str, "mode", nbx_net_mode_name(i->mode),
                                    "allow_private", i->allow_private, "domains", doms, "ports",
                                    ports, "upstream_dns", dns, "allowed_addresses", allowed,
                                    "dropped_packets", (json_int_t)i->counters.dropped_packets,
                                    "dropped_bytes", (json_int_t)i->counters.dropped_bytes,
                                    "silent_packets", (json_int_t)i->counters.silent_packets,
                                    "silent_bytes", (json_int_t)i->counters.silent_bytes,
                                    "denied_names", denied, "dnsmasq_pid",
                                    (json_int_t)i->dnsmasq_pid, "owner_uid",
                                    (json_int_t)i->owner_uid)
                        : NULL;
        char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        if (!text)
                return nbx_error_set(err, ENOMEM, "network info as JSON");
        *ret = text;
        return 0;
}
