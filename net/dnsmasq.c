/* One dnsmasq per slot.  Its configuration is a file (0600) in the slot folder, never a command
 * line built from data; the command line holds only fixed options and our own paths. */
#include "dnsmasq.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../config/domain.h"
#include "../config/base/fsutil.h"
#include "../config/base/proc.h"
#include "../config/base/timeutil.h"
#include "../config/base/ui.h"

#define RECORD "dnsmasq.json"
#define PIDFILE "dnsmasq.pid"
#define ERRFILE "dnsmasq.err"
#define LEASES "dnsmasq.leases"
#define LOG_OLD NBX_DNSMASQ_LOG ".1"

int nbx_dnsmasq_domain_check(const char *domain, nbx_error **err) {
        _cleanup_free_ char *norm = NULL;
        int r = nbx_domain_normalize(domain, &norm, err);
        if (r < 0)
                return r;
        /* the config layer hands us normalized names; anything that still changes is not one */
        if (strcmp(norm, domain) != 0) {
                _cleanup_free_ char *q = nbx_quote(domain, 80);
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "%s is not a normalized domain name (expected \"%s\")",
                                      q ? q : "domain", norm);
        }
        /* last line of defence for the config file syntax: nothing but [a-z0-9.-] */
        for (const char *c = domain; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                      *c == '-')) {
                        _cleanup_free_ char *q = nbx_quote(domain, 80);
                        return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                              "%s is not a valid domain name", q ? q : "domain");
                }
        return 0;
}

int nbx_dnsmasq_config(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                       char **ret_text, nbx_error **err) {
        if (p->mode != NBX_NET_OFF && p->mode != NBX_NET_FILTERED && p->mode != NBX_NET_OPEN)
                return nbx_error_set(err, EINVAL, "dnsmasq: unknown network mode %d", p->mode);
        if (p->mode != NBX_NET_OFF && p->n_upstream_dns == 0)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "network.upstreamDns is empty; mode %s needs at least one "
                                      "upstream DNS server",
                                      nbx_net_mode_name(p->mode));
        if (p->n_upstream_dns > NBX_MAX_DNS)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0,
                                      "network.upstreamDns: at most %d servers", NBX_MAX_DNS);
        if (p->mode == NBX_NET_FILTERED && p->domains && p->domains->n > NBX_MAX_DOMAINS)
                return nbx_error_setx(err, NBX_EXIT_CONFIG, 0, "network.domains: at most %d names",
                                      NBX_MAX_DOMAINS);
        /* every string that reaches the file is checked before a byte is written */
        if (p->mode == NBX_NET_FILTERED && p->domains)
                for (size_t i = 0; i < p->domains->n; i++) {
                        int r = nbx_dnsmasq_domain_check(p->domains->v[i], err);
                        if (r < 0)
                                return nbx_error_wrap(err, "network.domains");
                }
        if (strpbrk(slot_dir, "\n\r"))
                return nbx_error_set(err, EINVAL, "dnsmasq: slot folder contains a newline");

        nbx_slot_addr_text t;
        nbx_slot_addr_str(a, &t);
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
                return nbx_error_set(err, ENOMEM, "dnsmasq config");
        fprintf(f, "# nixbox slot %u, mode %s: generated, rewritten on every up/reload\n", a->slot,
                nbx_net_mode_name(p->mode));
        /* listen on the slot's TAP, on its host address only; DHCP sockets bound to the TAP */
        fprintf(f, "interface=%s\nexcept-interface=lo\nlisten-address=%s\nbind-interfaces\n",
                a->tap, t.host_ip);
        fprintf(f, "no-resolv\nno-hosts\nno-poll\n");
        fprintf(f, "log-facility=%s/%s\n", slot_dir, NBX_DNSMASQ_LOG);
        /* DHCP: one static lease, the guest's MAC gets the guest address */
        fprintf(f, "dhcp-range=%s,static,255.255.255.252,12h\n", t.guest_ip);
        fprintf(f, "dhcp-host=%s,%s\n", a->mac_str, t.guest_ip);
        fprintf(f, "dhcp-authoritative\ndhcp-leasefile=%s/%s\n", slot_dir, LEASES);
        fprintf(f, "dhcp-option=option:router,%s\n", t.host_ip);

        if (p->mode == NBX_NET_OFF) {
                /* DHCP only: no DNS service, no DNS server handed out */
                fprintf(f, "port=0\ndhcp-option=option:dns-server\n");
        } else {
                fprintf(f, "dhcp-option=option:dns-server,%s\n", t.host_ip);
                /* answers never outlive the allow-set elements they create (net/nft.h) */
                uint32_t ttl = nbx_nft_dns_ttl_cap(p->allow_timeout_s);
                fprintf(f, "max-cache-ttl=%u\nmax-ttl=%u\n", ttl, ttl);
                /* no IPv6 leaves a slot: do not hand out AAAA records */
                fprintf(f, "filter-AAAA\ndomain-needed\nbogus-priv\n");
        }
        char ip[INET6_ADDRSTRLEN], nftset[64];
        nbx_nft_dnsmasq_nftset(a->slot, nftset);
        if (p->mode == NBX_NET_OPEN) {
                for (size_t i = 0; i < p->n_upstream_dns; i++)
                        fprintf(f, "server=%s\n",
                                nbx_ip_to_string(&p->upstream_dns[i], ip, sizeof(ip)));
        } else if (p->mode == NBX_NET_FILTERED) {
                fprintf(f, "log-queries\n");
                for (size_t d = 0; p->domains && d < p->domains->n; d++) {
                        const char *dom = p->domains->v[d];
                        for (size_t i = 0; i < p->n_upstream_dns; i++)
                                fprintf(f, "server=/%s/%s\n", dom,
                                        nbx_ip_to_string(&p->upstream_dns[i], ip, sizeof(ip)));
                        fprintf(f, "nftset=/%s/%s\n", dom, nftset);
                }
                /* every other name: NXDOMAIN at once, never forwarded (no DNS tunnelling) */
                fprintf(f, "address=/#/\n");
        }
        if (fclose(f) != 0) {
                free(text);
                return nbx_error_set(err, ENOMEM, "dnsmasq config");
        }
        *ret_text = text;
        return 0;
}

static char *slot_file(const char *slot_dir, const char *name) {
        return nbx_path_join(slot_dir, name);
}

static int record_read(const char *slot_dir, pid_t *ret_pid, uint64_t *ret_start) {
        _cleanup_free_ char *path = slot_file(slot_dir, RECORD);
        _cleanup_free_ char *data = NULL;
        if (!path)
                return -ENOMEM;
        int r = nbx_read_file(path, 4096, &data, NULL, NULL);
        if (r < 0)
                return r;
        json_auto_t *j = json_loads(data, 0, NULL);
        json_int_t pid = 0, st = 0;
        if (!j || json_unpack(j, "{s:I, s:I}", "pid", &pid, "start_time", &st) < 0 || pid <= 0)
                return -EBADMSG;
        *ret_pid = (pid_t)pid;
        *ret_start = (uint64_t)st;
        return 0;
}

bool nbx_dnsmasq_running(const char *slot_dir) {
        pid_t pid;
        uint64_t st;
        return record_read(slot_dir, &pid, &st) == 0 && nbx_pid_alive(pid, st);
}

bool nbx_dnsmasq_pid(const char *slot_dir, pid_t *ret) {
        pid_t pid;
        uint64_t st;
        if (record_read(slot_dir, &pid, &st) < 0 || !nbx_pid_alive(pid, st))
                return false;
        *ret = pid;
        return true;
}

/* A CHAOS TXT version.bind query: dnsmasq answers it itself, never forwards it. */
static size_t probe_query(uint8_t *buf, uint16_t id) {
        static const uint8_t q[] = {0, 0,   0x01, 0x00, 0,   1,   0,   0,   0,   0,
                                    0, 0,   7,    'v',  'e', 'r', 's', 'i', 'o', 'n',
                                    4, 'b', 'i',  'n',  'd', 0,   0,   16,  0,   3};
        memcpy(buf, q, sizeof(q));
        buf[0] = (uint8_t)(id >> 8);
        buf[1] = (uint8_t)id;
        return sizeof(q);
}

/* One DNS probe: 1 answered, 0 not yet, < 0 error. */
static int probe_dns(struct in_addr host, uint16_t id, int wait_ms) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = host};
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return 0;
        uint8_t q[64];
        size_t n = probe_query(q, id);
        if (send(fd, q, n, 0) < 0)
                return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, wait_ms) <= 0)
                return 0;
        uint8_t r[512];
        ssize_t got = recv(fd, r, sizeof(r), 0);
        if (got < 12) /* ECONNREFUSED: nothing bound yet */
                return 0;
        return (r[0] == (uint8_t)(id >> 8) && r[1] == (uint8_t)id && (r[2] & 0x80)) ? 1 : 0;
}

/* Is a UDP socket of process pid bound to port (in this network namespace)? */
static bool udp_port_bound_by(pid_t pid, unsigned port) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
        DIR *d = opendir(path);
        if (!d)
                return false;
        unsigned long inodes[64];
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < NBX_ARRAY_SIZE(inodes)) {
                char link[PATH_MAX], target[128];
                snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
                ssize_t l = readlink(link, target, sizeof(target) - 1);
                if (l <= 0)
                        continue;
                target[l] = '\0';
                unsigned long ino;
                if (sscanf(target, "socket:[%lu]", &ino) == 1)
                        inodes[n++] = ino;
        }
        closedir(d);
        _cleanup_fclose_ FILE *f = fopen("/proc/net/udp", "re");
        if (!f)
                return false;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
                unsigned local_port;
                unsigned long ino;
                if (sscanf(line, " %*d: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu",
                           &local_port, &ino) != 2)
                        continue;
                if (local_port != port)
                        continue;
                for (size_t i = 0; i < n; i++)
                        if (inodes[i] == ino)
                                return true;
        }
        return false;
}

static void read_errfile(const char *slot_dir, char *buf, size_t size) {
        _cleanup_free_ char *path = slot_file(slot_dir, ERRFILE);
        _cleanup_free_ char *data = NULL;
        buf[0] = '\0';
        if (path && nbx_read_file(path, 16384, &data, NULL, NULL) == 0) {
                size_t l = strlen(data);
                while (l && (data[l - 1] == '\n' || data[l - 1] == ' '))
                        data[--l] = '\0';
                snprintf(buf, size, "%s", data);
        }
}

/* dnsmasq starts in a few ms; a probe costs a few µs: probe at least every 500 µs for the first
 * 100 probes (~40 ms), then back off as usual */
#define READY_FINE_PROBES 100
/* What dnsmasq says when an interface vanished while it listed them, and how often it is started
 * in all when it says so. */
#define INTERFACES_RACE "failed to find list of interfaces"
#define RELAUNCH_MAX 4

static int wait_ready(pid_t pid, const nbx_slot_addr *a, bool dns, const char *slot_dir,
                      uint64_t deadline_ms, nbx_error **err) {
        nbx_backoff b = {.next_us = 100, .max_us = 500};
        unsigned probes = 0;
        uint16_t id = (uint16_t)(pid ^ 0x6e62);
        for (;;) {
                int status;
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        char msg[1024];
                        read_errfile(slot_dir, msg, sizeof(msg));
                        return nbx_error_set(err, EIO, "dnsmasq for %s exited (status %d)%s%s",
                                             a->tap, nbx_status_code(status), msg[0] ? ": " : "",
                                             msg);
                }
                if (dns) {
                        int r = probe_dns(a->host_ip, id++, 20);
                        if (r < 0)
                                return nbx_error_set(err, r, "probe dnsmasq on %s", a->tap);
                        if (r > 0)
                                return 0;
                } else if (udp_port_bound_by(pid, 67)) {
                        return 0;
                }
                if (++probes == READY_FINE_PROBES)
                        b.max_us = ((nbx_backoff)NBX_BACKOFF_INIT).max_us;
                if (!nbx_backoff_sleep(&b, deadline_ms))
                        return nbx_error_set(err, ETIMEDOUT,
                                             "dnsmasq for %s did not become ready in time", a->tap);
        }
}

/* In dnsmasq's child: no file it writes grows past NBX_DNSMASQ_LOG_MAX (the query log, which a
 * guest fills at will, lives on /run, a tmpfs the whole host shares).  A write past the limit
 * fails (EFBIG) instead of killing dnsmasq with SIGXFSZ; dnsmasq drops that log line and keeps
 * answering. */
static int cap_file_size(void *data, const char **ret_what) {
        (void)data;
        struct rlimit l = {.rlim_cur = NBX_DNSMASQ_LOG_MAX, .rlim_max = NBX_DNSMASQ_LOG_MAX};
        if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &l) < 0) {
                *ret_what = "limit the size of dnsmasq's files";
                return -errno;
        }
        return 0;
}

static int record_write(const char *slot_dir, pid_t pid, uint64_t st, nbx_error **err) {
        _cleanup_free_ char *path = slot_file(slot_dir, RECORD);
        char text[96];
        int n = snprintf(text, sizeof(text), "{\"pid\": %d, \"start_time\": %llu}\n", (int)pid,
                         (unsigned long long)st);
        if (!path)
                return nbx_error_set(err, ENOMEM, "dnsmasq record");
        return nbx_write_file(path, text, (size_t)n, 0600, err);
}

/* dnsmasq listens to the namespace's address and route changes: every bring-up or teardown on
 * the host wakes every slot's dnsmasq, 63 at once with 64 slots.  Once it answers, it runs as
 * SCHED_BATCH, so such a wake-up never preempts the task that caused it (nixbox's next step, a
 * hypervisor's vCPU); it still runs at once on an idle CPU and has its fair share of a busy one,
 * and its own start-up is not slowed down by its 63 siblings. */
static void batch_priority(pid_t pid) {
        struct sched_param sp = {.sched_priority = 0};
        (void)sched_setscheduler(pid, SCHED_BATCH, &sp); /* a preference: never a failure */
}

/* Start dnsmasq on the slot's written dnsmasq.conf and record it. */
static int launch(const char *slot_dir, nbx_dnsmasq_proc *ret, nbx_error **err) {
        _cleanup_free_ char *conf = slot_file(slot_dir, NBX_DNSMASQ_CONF);
        _cleanup_free_ char *pidf = slot_file(slot_dir, PIDFILE);
        _cleanup_free_ char *errf = slot_file(slot_dir, ERRFILE);
        if (!conf || !pidf || !errf)
                return nbx_error_set(err, ENOMEM, "dnsmasq paths");
        _cleanup_close_ int efd =
                open(errf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (efd < 0)
                return nbx_error_set(err, errno, "open %s", errf);

        _cleanup_free_ char *conf_opt = NULL, *pid_opt = NULL;
        if (asprintf(&conf_opt, "--conf-file=%s", conf) < 0 ||
            asprintf(&pid_opt, "--pid-file=%s", pidf) < 0)
                return nbx_error_set(err, ENOMEM, "dnsmasq argv");
        char *argv[] = {"dnsmasq", "--keep-in-foreground", conf_opt, pid_opt, NULL};
        nbx_spawn_opts o = NBX_SPAWN_OPTS_INIT;
        o.stdout_fd = efd;
        o.stderr_fd = efd;
        o.new_session = true; /* outlives `nixbox up`; stopped by pid + start time */
        o.child_setup = cap_file_size;
        /* a minimal environment: nixbox's own may hold secrets the config read with
         * builtins.getEnv, and dnsmasq lives as long as the VM */
        static char *const dnsmasq_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
        o.envp = dnsmasq_env;
        pid_t pid;
        int r = nbx_spawn(argv, &o, &pid, err);
        if (r < 0) {
                if (r == -ENOENT && err && *err)
                        (*err)->exit_code = NBX_EXIT_PREREQ;
                return nbx_error_wrap(err, "start dnsmasq (install dnsmasq >= 2.87)");
        }
        uint64_t st = nbx_pid_start_time(pid);
        r = record_write(slot_dir, pid, st, err);
        if (r < 0) {
                (void)nbx_terminate(pid, st, nbx_deadline_in(2000), NULL);
                (void)waitpid(pid, NULL, WNOHANG);
                return r;
        }
        *ret = (nbx_dnsmasq_proc){.pid = pid, .start_time = st};
        return 0;
}

int nbx_dnsmasq_spawn(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                      nbx_dnsmasq_proc *ret, nbx_error **err) {
        _cleanup_free_ char *text = NULL;
        int r = nbx_dnsmasq_config(a, p, slot_dir, &text, err);
        if (r < 0)
                return r;
        r = nbx_mkdir_p(slot_dir, 0700, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *conf = slot_file(slot_dir, NBX_DNSMASQ_CONF);
        if (!conf)
                return nbx_error_set(err, ENOMEM, "dnsmasq paths");
        r = nbx_write_file(conf, text, strlen(text), 0600, err);
        return r < 0 ? r : launch(slot_dir, ret, err);
}

int nbx_dnsmasq_wait_ready(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                           nbx_dnsmasq_proc *d, uint64_t deadline_ms, nbx_error **err) {
        int r;
        for (int attempt = 1;; attempt++) {
                _cleanup_error_ nbx_error *e = NULL;
                r = wait_ready(d->pid, a, p->mode != NBX_NET_OFF, slot_dir, deadline_ms, &e);
                /* dnsmasq lists the host's interfaces when it starts; one that disappears
                 * meanwhile (another slot's TAP, deleted by its finisher) makes it exit at once.
                 * Nothing of this slot is wrong: start it again. */
                if (r == -EIO && attempt < RELAUNCH_MAX && e && e->msg &&
                    strstr(e->msg, INTERFACES_RACE)) {
                        r = launch(slot_dir, d, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (r < 0 && err && !*err)
                        *err = TAKE_PTR(e);
                break;
        }
        if (r < 0) {
                (void)nbx_terminate(d->pid, d->start_time, nbx_deadline_in(2000), NULL);
                (void)waitpid(d->pid, NULL, WNOHANG);
                return r;
        }
        batch_priority(d->pid);
        return 0;
}

int nbx_dnsmasq_start(const nbx_slot_addr *a, const nbx_net_policy *p, const char *slot_dir,
                      uint64_t deadline_ms, nbx_error **err) {
        nbx_dnsmasq_proc d;
        int r = nbx_dnsmasq_spawn(a, p, slot_dir, &d, err);
        return r < 0 ? r : nbx_dnsmasq_wait_ready(a, p, slot_dir, &d, deadline_ms, err);
}

/* Without a record (a crash between spawn and record): the pid file, if that process is a
 * dnsmasq running with this slot's config file. */
static int pidfile_fallback(const char *slot_dir, pid_t *ret) {
        _cleanup_free_ char *pidf = slot_file(slot_dir, PIDFILE);
        _cleanup_free_ char *conf = slot_file(slot_dir, NBX_DNSMASQ_CONF);
        _cleanup_free_ char *data = NULL;
        if (!pidf || !conf || nbx_read_file(pidf, 64, &data, NULL, NULL) < 0)
                return -ENOENT;
        pid_t pid = (pid_t)atoi(data);
        if (pid <= 0)
                return -ENOENT;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        _cleanup_free_ char *cmd = NULL;
        size_t len = 0;
        if (nbx_read_file(path, 8192, &cmd, &len, NULL) < 0)
                return -ENOENT;
        bool is_dnsmasq = false, has_conf = false;
        for (size_t off = 0; off < len; off += strlen(cmd + off) + 1) {
                const char *arg = cmd + off;
                const char *base = strrchr(arg, '/');
                if (off == 0 && strcmp(base ? base + 1 : arg, "dnsmasq") == 0)
                        is_dnsmasq = true;
                if (strncmp(arg, "--conf-file=", 12) == 0 && strcmp(arg + 12, conf) == 0)
                        has_conf = true;
        }
        if (!is_dnsmasq || !has_conf)
                return -ENOENT;
        *ret = pid;
        return 0;
}

int nbx_dnsmasq_stop(const char *slot_dir, nbx_error **err) {
        pid_t pid;
        uint64_t st;
        int r = record_read(slot_dir, &pid, &st);
        if (r < 0) {
                if (pidfile_fallback(slot_dir, &pid) < 0)
                        return 0;
                st = nbx_pid_start_time(pid);
        }
        r = nbx_terminate(pid, st, nbx_deadline_in(3000), err);
        if (r < 0)
                return nbx_error_wrap(err, "stop dnsmasq");
        _cleanup_free_ char *path = slot_file(slot_dir, RECORD);
        if (path)
                (void)unlink(path);
        return 0;
}

/* The name of a "<date> dnsmasq[pid]: config NAME is NXDOMAIN" line (an answer of address=/#/)
 * into buf; false for any other line. */
static bool denied_name(const char *line, size_t len, char buf[NBX_DOMAIN_MAX + 1]) {
        static const char tail[] = " is NXDOMAIN";
        const char *c = memmem(line, len, "]: config ", 10);
        if (!c || len <= sizeof(tail) ||
            memcmp(line + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
                return false;
        const char *name = c + 10;
        if (name > line + len - (sizeof(tail) - 1))
                return false;
        size_t nlen = (size_t)(line + len - (sizeof(tail) - 1) - name);
        if (nlen == 0 || nlen > NBX_DOMAIN_MAX)
                return false;
        memcpy(buf, name, nlen);
        buf[nlen] = '\0';
        return true;
}

int nbx_dnsmasq_denied_parse(const char *log, size_t max, nbx_strv *ret, nbx_error **err) {
        _cleanup_strv_ nbx_strv all = {0};
        for (const char *line = log; line && *line;) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line) : strlen(line);
                char raw[NBX_DOMAIN_MAX + 1];
                if (denied_name(line, len, raw)) {
                        /* the name is the guest's: made safe for a terminal and for JSON here */
                        _cleanup_free_ char *buf = nbx_ui_escape(raw);
                        if (!buf)
                                return nbx_error_set(err, ENOMEM, "query log");
                        /* most recent last: move a repeated name to the end */
                        for (size_t i = 0; i < all.n; i++)
                                if (strcmp(all.v[i], buf) == 0) {
                                        free(all.v[i]);
                                        memmove(&all.v[i], &all.v[i + 1],
                                                (all.n - i - 1) * sizeof(char *));
                                        all.v[--all.n] = NULL;
                                        break;
                                }
                        if (nbx_strv_push(&all, buf) < 0)
                                return nbx_error_set(err, ENOMEM, "query log");
                }
                line = end ? end + 1 : NULL;
        }
        _cleanup_strv_ nbx_strv out = {0};
        for (size_t i = all.n > max ? all.n - max : 0; i < all.n; i++)
                if (nbx_strv_push(&out, all.v[i]) < 0)
                        return nbx_error_set(err, ENOMEM, "query log");
        *ret = out;
        out = (nbx_strv){0};
        return 0;
}

int nbx_dnsmasq_build_parse(const char *text, nbx_dnsmasq_build *ret, nbx_error **err) {
        /* "Dnsmasq version 2.90  Copyright ...\nCompile time options: IPv6 ... nftset ..." */
        nbx_dnsmasq_build b = {0};
        const char *v = text ? strstr(text, "Dnsmasq version ") : NULL;
        if (!v || sscanf(v + 16, "%u.%u", &b.major, &b.minor) != 2)
                return nbx_error_set(err, EBADMSG, "not the output of `dnsmasq --version`");
        const char *opts = strstr(v, "Compile time options:");
        if (opts) {
                size_t len = strcspn(opts, "\n");
                /* a word of its own: "nftset", never "no-nftset" */
                for (const char *w = opts; (w = memmem(w, len - (size_t)(w - opts), "nftset", 6));
                     w += 6)
                        if (w[-1] == ' ' && (w[6] == ' ' || w[6] == '\n' || w[6] == '\0'))
                                b.nftset = true;
        }
        *ret = b;
        return 0;
}

/* The last `max` bytes of path from a line start (the whole file when smaller) into *buf at
 * *len; a missing file adds nothing. */
static int read_tail(const char *path, size_t max, char *buf, size_t *len, nbx_error **err) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : nbx_error_set(err, errno, "open %s", path);
        struct stat s;
        if (fstat(fd, &s) < 0)
                return nbx_error_set(err, errno, "stat %s", path);
        off_t from = s.st_size > (off_t)max ? s.st_size - (off_t)max : 0;
        ssize_t n = pread(fd, buf + *len, max, from);
        if (n < 0)
                return nbx_error_set(err, errno, "read %s", path);
        char *start = buf + *len, *end = start + n;
        if (from > 0) { /* skip the partial first line */
                char *nl = memchr(start, '\n', (size_t)n);
                start = nl ? nl + 1 : end;
        }
        memmove(buf + *len, start, (size_t)(end - start));
        *len += (size_t)(end - start);
        return 0;
}

int nbx_dnsmasq_denied(const char *slot_dir, size_t max, nbx_strv *ret, nbx_error **err) {
        _cleanup_free_ char *path = slot_file(slot_dir, NBX_DNSMASQ_LOG);
        _cleanup_free_ char *old = slot_file(slot_dir, LOG_OLD);
        /* the rotated part, then the newest lines of the log */
        _cleanup_free_ char *buf = malloc(2 * NBX_DNSMASQ_LOG_KEEP + 1);
        if (!path || !old || !buf)
                return nbx_error_set(err, ENOMEM, "query log");
        size_t len = 0;
        int r = read_tail(old, NBX_DNSMASQ_LOG_KEEP, buf, &len, err);
        if (r >= 0)
                r = read_tail(path, NBX_DNSMASQ_LOG_KEEP, buf, &len, err);
        if (r < 0)
                return r;
        buf[len] = '\0';
        return nbx_dnsmasq_denied_parse(buf, max, ret, err);
}

int nbx_dnsmasq_log_rotate(const char *slot_dir, bool running, nbx_error **err) {
        _cleanup_free_ char *path = slot_file(slot_dir, NBX_DNSMASQ_LOG);
        _cleanup_free_ char *old = slot_file(slot_dir, LOG_OLD);
        if (!path || !old)
                return nbx_error_set(err, ENOMEM, "query log");
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return errno == ENOENT ? 0 : nbx_error_set(err, errno, "open %s", path);
        struct stat s;
        if (fstat(fd, &s) < 0)
                return nbx_error_set(err, errno, "stat %s", path);
        if (!S_ISREG(s.st_mode) || s.st_size <= NBX_DNSMASQ_LOG_KEEP)
                return 0;
        _cleanup_free_ char *buf = malloc(NBX_DNSMASQ_LOG_KEEP + 1);
        if (!buf)
                return nbx_error_set(err, ENOMEM, "query log");
        size_t len = 0;
        int r = read_tail(path, NBX_DNSMASQ_LOG_KEEP, buf, &len, err);
        if (r >= 0)
                r = nbx_write_file(old, buf, len, 0600, err);
        if (r < 0)
                return nbx_error_wrap(err, "rotate the query log");
        if (ftruncate(fd, 0) < 0)
                return nbx_error_set(err, errno, "truncate %s", path);
        /* dnsmasq appends (O_APPEND), so it goes on at the new end; after a write refused at the
         * size limit it writes no more until it reopens the file: SIGUSR2 */
        pid_t pid;
        uint64_t st;
        if (running && record_read(slot_dir, &pid, &st) == 0 && nbx_pid_alive(pid, st))
                (void)kill(pid, SIGUSR2);
        return 0;
}
