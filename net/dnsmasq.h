/* Internal to net/: one dnsmasq per slot — its configuration file, start with readiness, stop,
 * and what `net show` reads back (pid, denied names from the query log). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/base/error.h"
#include "../config/base/strv.h"
#include "net.h"
#include "nft.h"

#define NBX_DNSMASQ_CONF "dnsmasq.conf"
#define NBX_DNSMASQ_LOG "dnsmasq.log"
#define NBX_DNSMASQ_READY_MS 10000
/* No file dnsmasq writes (its query log above all) grows past this many bytes: RLIMIT_FSIZE. */
#define NBX_DNSMASQ_LOG_MAX (1024 * 1024)
/* What a rotation keeps of the log (in dnsmasq.log.1), and what `net show` reads of each part. */
#define NBX_DNSMASQ_LOG_KEEP (256 * 1024)

/* A domain as it may appear in the config file: nbx_domain_normalize() accepts it unchanged and it
 * holds only [a-z0-9.-].  Anything else is rejected (NBX_EXIT_CONFIG) before it reaches a file. */
int nbx_dnsmasq_domain_check(const char *domain, nbx_error **err);

/* The configuration text for slot a with policy p; files go to slot_dir.  In `filtered` mode the
 * answers for allowed names feed the slot's allow set (nbx_nft_dnsmasq_nftset); in DNS modes the
 * TTLs are capped by the set-timeout rule (nbx_nft_dns_ttl_cap of p->allow_timeout_s).
 * *ret_text is malloc'd. */
int nbx_dnsmasq_config(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                       char **ret_text, nbx_error **err);

/* The dnsmasq of a slot, as started. */
typedef struct nbx_dnsmasq_proc {
        pid_t pid;
        uint64_t start_time;
} nbx_dnsmasq_proc;

/* Write <slot_dir>/dnsmasq.conf (0600), start dnsmasq in its own session and record pid + start
 * time in <slot_dir>/dnsmasq.json; it needs the slot's host address in place.  Does not wait:
 * nbx_dnsmasq_wait_ready does. */
int nbx_dnsmasq_spawn(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                      nbx_dnsmasq_proc *ret, nbx_error **err);
/* Wait until it answers (DNS modes: a CHAOS TXT version.bind query to host_ip:53; off: its DHCP
 * socket bound) or deadline_ms passes; when it does not, or exits, it is stopped and the error
 * quotes its stderr.  A dnsmasq that exited because an interface vanished while it listed the
 * host's interfaces (another slot's TAP being deleted) is started again (*d updated), up to 4
 * times in all.  Once it answers it runs as SCHED_BATCH: the namespace's address and route
 * changes wake every slot's dnsmasq, and a batch task never preempts the one that woke it. */
int nbx_dnsmasq_wait_ready(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                           nbx_dnsmasq_proc *d, uint64_t deadline_ms, nbx_error **err);
/* Both. */
int nbx_dnsmasq_start(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                      uint64_t deadline_ms, nbx_error **err);
/* Stop the slot's dnsmasq (recorded pid + start time; falls back to its pid file when the record
 * is missing).  Already gone counts as stopped. */
int nbx_dnsmasq_stop(const char *slot_dir, nbx_error **err);
bool nbx_dnsmasq_running(const char *slot_dir);
/* The running dnsmasq's pid: false when none is running. */
bool nbx_dnsmasq_pid(const char *slot_dir, pid_t *ret);
/* The last `max` distinct names answered NXDOMAIN by policy (most recent last), from log text;
 * each escaped with nbx_ui_escape (the guest chose them). */
int nbx_dnsmasq_denied_parse(const char *log, size_t max, nbx_strv *ret, nbx_error **err);
int nbx_dnsmasq_denied(const char *slot_dir, size_t max, nbx_strv *ret, nbx_error **err);
/* When the query log is over NBX_DNSMASQ_LOG_KEEP bytes: its last NBX_DNSMASQ_LOG_KEEP bytes go to
 * dnsmasq.log.1 (replacing it), the log starts empty, and (running) the slot's dnsmasq reopens it
 * (SIGUSR2: a dnsmasq that reached the size limit logs again).  A missing log is fine. */
int nbx_dnsmasq_log_rotate(const char *slot_dir, bool running, nbx_error **err);

/* What `dnsmasq --version` says: the version and whether it was built with nftset (the allow
 * set needs >= 2.87 with nftset).  -EBADMSG (err set) when the text is not dnsmasq's. */
typedef struct nbx_dnsmasq_build {
        unsigned major, minor;
        bool nftset;
} nbx_dnsmasq_build;
#define NBX_DNSMASQ_MIN_MAJOR 2
#define NBX_DNSMASQ_MIN_MINOR 87
int nbx_dnsmasq_build_parse(const char *version_text, nbx_dnsmasq_build *ret, nbx_error **err);
