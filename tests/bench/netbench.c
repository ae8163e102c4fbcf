/* netbench: the network benchmarks' driver (tests/bench/run).  Calls the network library the way
 * `nixbox up`/`down` do (nbx_net_up / nbx_net_down) and times it with CLOCK_MONOTONIC.  Commands
 * that say "fresh namespace" first move themselves into a new, empty network namespace
 * (unshare(CLONE_NEWNET), loopback up); it disappears when the process and its dnsmasqs exit.
 * The others run in the namespace they are started in (the bench's world).  Never run it in the
 * machine's own namespace.
 *
 * Output: one line per sample, space-separated, for tests/bench/report.py.
 *
 *   netbench cycle RT SLOT
 *       fresh namespace; up + down of SLOT (filtered, three domains); prints
 *       "up_ns down_ns maxrss_kb"
 *   netbench compare RT RUNS WARMUP REFERENCE
 *       alternates A = `netbench cycle RT 3` (a whole process) and B = `bash REFERENCE`:
 *       "A|B warm|run index total_ns [up_ns down_ns maxrss_kb]"; the reference's PID (its
 *       namespace is anchor<PID>) is written to RT/reference.pid when it starts
 *   netbench scale RT RUNS WARMUP
 *       fresh namespace; for N in 1 16 32 64: slots 0..N-2 up, then up + down of slot N-1:
 *       "S N warm|run index up_ns down_ns"; then a few diagnostic runs with a thread probing
 *       the slot's DNS from the start of up: "R N index up_ns first_answer_ns"; with all 64 up, per
 * dnsmasq "M slot pid rss_kb pss_kb", kernel memory "K field before_kb after_kb", own peak "P
 * maxrss_kb" netbench phases RT RUNS fresh namespace; diagnostic: each step of up and down timed
 * alone, for N = 1 and 64: "F N index step ns" netbench fill RT FIRST LAST MODE [-d DOMAIN]... [-p
 * PORT]... [-s DNS]... slots FIRST..LAST up in the current namespace netbench drain RT FIRST LAST
 *       slots FIRST..LAST down in the current namespace (idempotent) */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/base/fsutil.h"
#include "config/base/timeutil.h"
#include "net/dnsmasq.h"
#include "net/docker.h"
#include "net/finish.h"
#include "net/link.h"
#include "net/net.h"
#include "net/nft.h"
#include "net/nl.h"

/* The policy of figure 1, as the reference's: filtered, three domains, ports 80 and 443.  The
 * upstream is a documentation address (TEST-NET-2) and is never contacted: nothing queries. */
static const char *const BENCH_DOMAINS[] = {"nixos.org", "github.com", "anthropic.com"};
static const uint16_t BENCH_PORTS[] = {80, 443};
#define BENCH_UPSTREAM "198.51.100.53"

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int die_err(const char *what, nbx_error *err) {
        fprintf(stderr, "netbench: %s: %s\n", what, err ? err->msg : "failed");
        nbx_error_free(err);
        exit(1);
}

static void die_errno(const char *what) {
        fprintf(stderr, "netbench: %s: %s\n", what, strerror(errno));
        exit(1);
}

static long maxrss_kb(void) {
        struct rusage ru;
        return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* A new, empty network namespace for this process, loopback up (as the reference does). */
static void fresh_netns(void) {
        if (unshare(CLONE_NEWNET) < 0)
                die_errno("unshare(CLONE_NEWNET)");
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                die_errno("socket");
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                die_errno("SIOCGIFFLAGS lo");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                die_errno("SIOCSIFFLAGS lo");
        close(fd);
}

typedef struct policy_buf {
        nbx_strv domains;
        uint16_t ports[NBX_MAX_PORTS];
        nbx_ip dns[NBX_MAX_DNS];
} policy_buf;

static void policy_default(nbx_net_params *p, policy_buf *b) {
        p->policy.mode = NBX_NET_FILTERED;
        for (size_t i = 0; i < sizeof(BENCH_DOMAINS) / sizeof(BENCH_DOMAINS[0]); i++)
                if (nbx_strv_push(&b->domains, BENCH_DOMAINS[i]) < 0)
                        die_errno("domains");
        memcpy(b->ports, BENCH_PORTS, sizeof(BENCH_PORTS));
        p->policy.n_ports = sizeof(BENCH_PORTS) / sizeof(BENCH_PORTS[0]);
        b->dns[0].family = AF_INET;
        inet_pton(AF_INET, BENCH_UPSTREAM, &b->dns[0].v4);
        p->policy.n_upstream_dns = 1;
        p->policy.domains = &b->domains;
        p->policy.ports = b->ports;
        p->policy.upstream_dns = b->dns;
}

/* MODE [-d DOMAIN]... [-p PORT]... [-s DNS]... */
static int policy_parse(int argc, char **argv, nbx_net_params *p, policy_buf *b) {
        if (argc < 1)
                return -1;
        if (strcmp(argv[0], "off") == 0)
                p->policy.mode = NBX_NET_OFF;
        else if (strcmp(argv[0], "filtered") == 0)
                p->policy.mode = NBX_NET_FILTERED;
        else if (strcmp(argv[0], "open") == 0)
                p->policy.mode = NBX_NET_OPEN;
        else
                return -1;
        for (int i = 1; i < argc; i++) {
                if (i + 1 >= argc)
                        return -1;
                const char *o = argv[i], *v = argv[++i];
                if (strcmp(o, "-d") == 0) {
                        if (nbx_strv_push(&b->domains, v) < 0)
                                return -1;
                } else if (strcmp(o, "-p") == 0) {
                        if (p->policy.n_ports >= NBX_MAX_PORTS)
                                return -1;
                        b->ports[p->policy.n_ports++] = (uint16_t)atoi(v);
                } else if (strcmp(o, "-s") == 0) {
                        if (p->policy.n_upstream_dns >= NBX_MAX_DNS)
                                return -1;
                        nbx_ip *ip = &b->dns[p->policy.n_upstream_dns++];
                        ip->family = AF_INET;
                        if (inet_pton(AF_INET, v, &ip->v4) != 1)
                                return -1;
                } else {
                        return -1;
                }
        }
        p->policy.domains = &b->domains;
        p->policy.ports = b->ports;
        p->policy.upstream_dns = b->dns;
        return 0;
}

static void slot_up(nbx_net_params *p, unsigned slot) {
        nbx_error *err = NULL;
        p->slot = slot;
        if (nbx_net_up(p, &err) < 0)
                die_err("up", err);
}

static void slot_down(const nbx_net_params *p, unsigned slot) {
        nbx_error *err = NULL;
        if (nbx_net_down(p->runtime_dir, &p->pool, slot, &err) < 0)
                die_err("down", err);
}

/* up + down of one slot, timed */
static void timed_cycle(nbx_net_params *p, unsigned slot, uint64_t *ret_up, uint64_t *ret_down) {
        uint64_t t0 = now_ns();
        slot_up(p, slot);
        uint64_t t1 = now_ns();
        slot_down(p, slot);
        uint64_t t2 = now_ns();
        *ret_up = t1 - t0;
        *ret_down = t2 - t1;
}

/* Diagnostic for figure 2: how long after dnsmasq first answers does nbx_net_up return?  A
 * thread sends `version.bind` (CHAOS TXT, answered by dnsmasq itself) to the slot's host address
 * every ~200 µs from the start of up and notes the first answer. */
typedef struct probe {
        struct in_addr host_ip;
        uint64_t t0, first_answer;
        atomic_bool stop;
} probe;

static void probe_pause(void) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
}

static void *probe_main(void *arg) {
        probe *pr = arg;
        static const unsigned char q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
                                          0x00, 0x00, 0x00, 0x00, 7,    'v',  'e',  'r',
                                          's',  'i',  'o',  'n',  4,    'b',  'i',  'n',
                                          'd',  0,    0x00, 0x10, 0x00, 0x03};
        struct sockaddr_in sa = {
                .sin_family = AF_INET, .sin_port = htons(53), .sin_addr = pr->host_ip};
        while (!atomic_load(&pr->stop)) {
                int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        break;
                bool sent = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
                            send(fd, q, sizeof(q), 0) == (ssize_t)sizeof(q);
                probe_pause();
                unsigned char buf[512];
                if (sent && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
                        pr->first_answer = now_ns();
                        close(fd);
                        break;
                }
                close(fd);
        }
        return NULL;
}

/* The drivers that time one cycle after another make themselves the reaper of the finishers
 * (net/finish.h) their teardowns leave, and wait for them to exit before the next timed run: the
 * kernel clean-up a finisher waits for (freeing a TAP, the old ruleset) holds nf_tables' commit
 * lock, and the next bring-up would wait for it.  A run then measures one operation on a quiet
 * host, as `nixbox up` or `down` sees it, not one caught in the tail of the previous. */
static void become_reaper(void) {
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                die_errno("PR_SET_CHILD_SUBREAPER");
}

/* Whether some netlink socket of this namespace that listens to events (dnsmasq's: every slot's
 * dnsmasq hears of every address and route change) still has unread messages. */
static bool events_pending(void) {
        FILE *f = fopen("/proc/net/netlink", "re");
        if (!f)
                die_errno("/proc/net/netlink");
        char line[512];
        bool pending = false;
        while (!pending && fgets(line, sizeof(line), f)) {
                unsigned long groups, rmem;
                if (sscanf(line, "%*s %*d %*d %lx %lu", &groups, &rmem) == 2 && groups && rmem)
                        pending = true;
        }
        fclose(f);
        return pending;
}

/* Wait (at most 10 s) for every finisher that was handed to us. */
static void reap_finishers(void) {
        uint64_t deadline = now_ns() + 10000000000ull;
        for (;;) {
                DIR *d = opendir("/proc");
                if (!d)
                        die_errno("/proc");
                pid_t found = 0;
                struct dirent *de;
                while (!found && (de = readdir(d))) {
                        char path[64], buf[512];
                        int pid = atoi(de->d_name);
                        if (pid <= 0)
                                continue;
                        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
                        FILE *f = fopen(path, "re");
                        if (!f)
                                continue;
                        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
                        fclose(f);
                        buf[n] = '\0';
                        char *close_paren = strrchr(buf, ')');
                        int ppid = 0;
                        if (strstr(buf, "(nixbox-finish)") && close_paren &&
                            sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == getpid())
                                found = pid;
                }
                closedir(d);
                if (!found)
                        break;
                if (now_ns() > deadline) {
                        fprintf(stderr, "netbench: finisher %d did not exit\n", (int)found);
                        exit(1);
                }
                (void)waitpid(found, NULL, 0);
        }
}

/* Every finisher gone, then no dnsmasq with unread events of the previous cycle. */
static void quiesce(void) {
        reap_finishers();
        uint64_t deadline = now_ns() + 10000000000ull;
        while (events_pending()) {
                if (now_ns() > deadline) {
                        fprintf(stderr, "netbench: netlink events stay unread\n");
                        exit(1);
                }
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
        }
}

static void params_init(nbx_net_params *p, const char *rt) {
        nbx_error *err = NULL;
        *p = (nbx_net_params){.runtime_dir = rt};
        if (nbx_pool_load(rt, &p->pool, &err) < 0)
                die_err("pool", err);
}

static int cmd_cycle(const char *rt, unsigned slot) {
        fresh_netns();
        nbx_net_params p;
        policy_buf b = {0};
        params_init(&p, rt);
        policy_default(&p, &b);
        uint64_t up, down;
        timed_cycle(&p, slot, &up, &down);
        printf("%llu %llu %ld\n", (unsigned long long)up, (unsigned long long)down, maxrss_kb());
        nbx_strv_clear(&b.domains);
        return 0;
}

/* Run argv to completion; stdout captured into out (NUL-terminated), stderr to the log fd. */
static int run_timed(char *const argv[], int log_fd, const char *pid_file, char *out,
                     size_t out_size, uint64_t *ret_ns) {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0)
                die_errno("pipe");
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0)
                die_errno("fork");
        if (pid == 0) {
                dup2(pfd[1], 1);
                dup2(log_fd, 2);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(pfd[1]);
        if (pid_file) {
                /* for the run script's cleanup after an interrupt: the reference names its
                 * namespace anchor<pid> */
                FILE *pf = fopen(pid_file, "we");
                if (pf) {
                        fprintf(pf, "%d\n", (int)pid);
                        fclose(pf);
                }
        }
        size_t n = 0;
        for (;;) {
                ssize_t k = read(pfd[0], out + n, out_size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t)k;
                if (n == out_size - 1)
                        break;
        }
        out[n] = '\0';
        close(pfd[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        die_errno("waitpid");
        *ret_ns = now_ns() - t0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_compare(const char *rt, int runs, int warmup, const char *reference) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
                die_errno("readlink /proc/self/exe");
        self[n] = '\0';
        char *a_argv[] = {self, "cycle", (char *)rt, "3", NULL};
        char *b_argv[] = {"bash", (char *)reference, NULL};
        char log_path[PATH_MAX], pid_path[PATH_MAX];
        snprintf(log_path, sizeof(log_path), "%s/compare.log", rt);
        snprintf(pid_path, sizeof(pid_path), "%s/reference.pid", rt);
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (log_fd < 0)
                die_errno(log_path);
        become_reaper();
        for (int i = 0; i < warmup + runs; i++) {
                const char *kind = i < warmup ? "warm" : "run";
                char out[256];
                uint64_t ns;
                int rc = run_timed(a_argv, log_fd, NULL, out, sizeof(out), &ns);
                quiesce();
                if (rc != 0) {
                        fprintf(stderr, "netbench: A (netbench cycle) exited %d; see %s\n", rc,
                                log_path);
                        return 1;
                }
                printf("A %s %d %llu %s", kind, i, (unsigned long long)ns, out);
                rc = run_timed(b_argv, log_fd, pid_path, out, sizeof(out), &ns);
                if (rc != 0) {
                        fprintf(stderr, "netbench: B (%s) exited %d; see %s\n", reference, rc,
                                log_path);
                        return 1;
                }
                printf("B %s %d %llu\n", kind, i, (unsigned long long)ns);
                fflush(stdout);
        }
        close(log_fd);
        return 0;
}

static long proc_field_kb(const char *path, const char *field) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        char line[256];
        size_t len = strlen(field);
        long v = -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, field, len) == 0 && line[len] == ':') {
                        v = strtol(line + len + 1, NULL, 10);
                        break;
                }
        fclose(f);
        return v;
}

static pid_t slot_dnsmasq_pid(const char *rt, unsigned slot) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/slots/%u/dnsmasq.pid", rt, slot);
        FILE *f = fopen(path, "re");
        if (!f)
                return -1;
        long pid = -1;
        if (fscanf(f, "%ld", &pid) != 1)
                pid = -1;
        fclose(f);
        return (pid_t)pid;
}

static const char *const KERNEL_FIELDS[] = {"Slab", "SUnreclaim", "KernelStack", "Percpu",
                                            "MemAvailable"};
#define N_KERNEL_FIELDS (sizeof(KERNEL_FIELDS) / sizeof(KERNEL_FIELDS[0]))

static int cmd_scale(const char *rt, int runs, int warmup) {
        static const unsigned targets[] = {1, 16, 32, 64};
        long before[N_KERNEL_FIELDS];
        for (size_t k = 0; k < N_KERNEL_FIELDS; k++)
                before[k] = proc_field_kb("/proc/meminfo", KERNEL_FIELDS[k]);
        fresh_netns();
        become_reaper();
        nbx_net_params p;
        policy_buf b = {0};
        params_init(&p, rt);
        policy_default(&p, &b);
        unsigned up_to = 0; /* slots 0..up_to-1 are up */
        for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
                unsigned n = targets[t];
                while (up_to < n - 1)
                        slot_up(&p, up_to++);
                for (int i = 0; i < warmup + runs; i++) {
                        uint64_t up, down;
                        quiesce();
                        timed_cycle(&p, n - 1, &up, &down);
                        printf("S %u %s %d %llu %llu\n", n, i < warmup ? "warm" : "run", i,
                               (unsigned long long)up, (unsigned long long)down);
                }
                /* diagnostic runs: when did dnsmasq first answer, when did up return */
                int probes = runs / 4 < 5 ? 5 : runs / 4;
                for (int i = 0; i < probes; i++) {
                        quiesce();
                        nbx_error *err = NULL;
                        nbx_slot_addr a;
                        if (nbx_slot_addr_derive(&p.pool, n - 1, &a, &err) < 0)
                                die_err("slot address", err);
                        probe pr = {.host_ip = a.host_ip};
                        pthread_t th;
                        pr.t0 = now_ns();
                        if (pthread_create(&th, NULL, probe_main, &pr) != 0)
                                die_errno("pthread_create");
                        slot_up(&p, n - 1);
                        uint64_t t_up = now_ns();
                        atomic_store(&pr.stop, true);
                        pthread_join(th, NULL);
                        slot_down(&p, n - 1);
                        printf("R %u %d %llu %lld\n", n, i, (unsigned long long)(t_up - pr.t0),
                               pr.first_answer ? (long long)(pr.first_answer - pr.t0) : -1ll);
                }
                fflush(stdout);
        }
        /* all 64 up: what idle slots cost */
        slot_up(&p, up_to++);
        for (unsigned s = 0; s < up_to; s++) {
                pid_t pid = slot_dnsmasq_pid(rt, s);
                char st[64], sm[64];
                snprintf(st, sizeof(st), "/proc/%d/status", (int)pid);
                snprintf(sm, sizeof(sm), "/proc/%d/smaps_rollup", (int)pid);
                printf("M %u %d %ld %ld\n", s, (int)pid, proc_field_kb(st, "VmRSS"),
                       proc_field_kb(sm, "Pss"));
        }
        for (size_t k = 0; k < N_KERNEL_FIELDS; k++)
                printf("K %s %ld %ld\n", KERNEL_FIELDS[k], before[k],
                       proc_field_kb("/proc/meminfo", KERNEL_FIELDS[k]));
        while (up_to > 0)
                slot_down(&p, --up_to);
        printf("P %ld\n", maxrss_kb());
        nbx_strv_clear(&b.domains);
        return 0;
}

/* Diagnostic: what bring-up and teardown are made of, each operation timed alone, for slot N-1
 * with N-1 others up (N = 1, 64): the calls nbx_net_up and nbx_net_down make (net/net.c), on
 * sockets opened per cycle as they do, and the two kernel waits the finisher (net/finish.h) takes
 * off their path, measured where they would otherwise fall.  Only where the time goes: the
 * figures are the totals of `scale`. */
static uint64_t lap(uint64_t *t) {
        uint64_t now = now_ns(), d = now - *t;
        *t = now;
        return d;
}

static void phase_print(unsigned n, int i, const char *step, uint64_t ns) {
        printf("F %u %d %s %llu\n", n, i, step, (unsigned long long)ns);
}

static void phase_cycle(nbx_net_params *p, unsigned n, int i) {
        nbx_error *err = NULL;
        nbx_slot_addr a;
        if (nbx_slot_addr_derive(&p->pool, n - 1, &a, &err) < 0)
                die_err("slot address", err);
        char *dir = nbx_slot_dir(p->runtime_dir, n - 1);
        nbx_nl rt = {0}, nf = {0};
        nbx_finisher fin = NBX_FINISHER_INIT;
        uint64_t t = now_ns();
        /* ---- up ---- */
        if (nbx_nl_open(&rt, NETLINK_ROUTE, &err) < 0 ||
            nbx_nl_open(&nf, NETLINK_NETFILTER, &err) < 0)
                die_err("netlink", err);
        phase_print(n, i, "up:sockets", lap(&t));
        if (nbx_finisher_start(&fin, &rt, 0, (nbx_nl *[]){&nf}, 1, &err) < 0)
                die_err("finisher", err);
        phase_print(n, i, "up:finisher-start", lap(&t));
        if (nbx_link_route_overlap_check(&rt, a.network, a.prefix_len, NULL, &err) < 0 ||
            nbx_mkdir_p(dir, 0700, &err) < 0)
                die_err("route check", err);
        phase_print(n, i, "up:route-check+mkdir", lap(&t));
        if (nbx_nft_slot_add(&nf, &a, &p->policy, false, &err) < 0)
                die_err("nft", err);
        phase_print(n, i, "up:nft-batch", lap(&t));
        if (nbx_link_tap_create(a.tap, 0, 0, false, &err) < 0)
                die_err("tap", err);
        phase_print(n, i, "up:tap-create", lap(&t));
        if (nbx_link_ipv6_disable(a.tap, &err) < 0 || nbx_link_set_up(&rt, a.tap, true, &err) < 0 ||
            nbx_link_addr_add(&rt, a.tap, a.host_ip, a.prefix_len, a.broadcast, &err) < 0)
                die_err("address", err);
        phase_print(n, i, "up:ipv6-off+up+address", lap(&t));
        if (nbx_link_ip_forward_set(true, &err) < 0 || nbx_docker_ensure(&nf, &err) < 0)
                die_err("forward, docker", err);
        phase_print(n, i, "up:ip_forward+docker-check", lap(&t));
        nbx_dnsmasq_proc dm;
        if (nbx_dnsmasq_spawn(&a, &p->policy, dir, &dm, &err) < 0)
                die_err("dnsmasq", err);
        phase_print(n, i, "up:dnsmasq-spawn", lap(&t));
        if (nbx_dnsmasq_wait_ready(&a, &p->policy, dir, &dm, nbx_deadline_in(10000), &err) < 0)
                die_err("dnsmasq", err);
        phase_print(n, i, "up:dnsmasq-ready", lap(&t));
        nbx_nl_close(&nf);
        nbx_finisher_done(&fin);
        phase_print(n, i, "up:close", lap(&t));
        nbx_nl_close(&rt);
        /* ---- down ---- */
        if (nbx_nl_open(&rt, NETLINK_ROUTE, &err) < 0 ||
            nbx_nl_open(&nf, NETLINK_NETFILTER, &err) < 0)
                die_err("netlink", err);
        phase_print(n, i, "down:sockets", lap(&t));
        int idx = 0;
        if (nbx_link_index(&rt, a.tap, &idx, &err) < 0 ||
            nbx_link_set_up(&rt, a.tap, false, &err) < 0)
                die_err("tap down", err);
        phase_print(n, i, "down:tap-down", lap(&t));
        if (nbx_finisher_start(&fin, &rt, idx, (nbx_nl *[]){&nf}, 1, &err) < 0)
                die_err("tap delete", err);
        phase_print(n, i, "down:finisher-start", lap(&t));
        if (nbx_dnsmasq_stop(dir, &err) < 0)
                die_err("dnsmasq stop", err);
        phase_print(n, i, "down:dnsmasq-stop", lap(&t));
        if (nbx_finisher_unlisted(&fin, &rt, &err) < 0)
                die_err("tap unlisted", err);
        phase_print(n, i, "down:tap-unlisted", lap(&t));
        if (nbx_nft_slot_del(&nf, &a, &err) < 0)
                die_err("nft del", err);
        phase_print(n, i, "down:nft-batch", lap(&t));
        if (nbx_rm_rf(dir, &err) < 0)
                die_err("rm", err);
        phase_print(n, i, "down:rm-files", lap(&t));
        uint64_t slots;
        if (nbx_link_slots_present(&rt, &slots, &err) < 0)
                die_err("slots", err);
        phase_print(n, i, "down:slots-present", lap(&t));
        nbx_nl_close(&nf);
        nbx_finisher_done(&fin);
        nbx_nl_close(&rt);
        phase_print(n, i, "down:close+finisher-done", lap(&t));
        /* ---- the waits the finisher takes: a TAP deleted here, a netfilter socket closed
         * right after a change ---- */
        if (nbx_nl_open(&rt, NETLINK_ROUTE, &err) < 0 ||
            nbx_nl_open(&nf, NETLINK_NETFILTER, &err) < 0 ||
            nbx_link_tap_create("nbxbench", 0, 0, false, &err) < 0 ||
            nbx_nft_slot_add(&nf, &a, &p->policy, false, &err) < 0)
                die_err("kernel waits", err);
        lap(&t);
        if (nbx_link_delete(&rt, "nbxbench", &err) < 0)
                die_err("tap delete", err);
        phase_print(n, i, "kernel:tap-delete-waited", lap(&t));
        if (nbx_nft_slot_del(&nf, &a, &err) < 0)
                die_err("nft del", err);
        lap(&t);
        nbx_nl_close(&nf);
        phase_print(n, i, "kernel:nf-close-after-change", lap(&t));
        nbx_nl_close(&rt);
        free(dir);
}

/* Diagnostic: up + down of slot n while the other n slots' dnsmasqs are stopped (SIGSTOP: their
 * sockets still get every netlink event, but none of them wakes up).  Against the same with them
 * running, it shows what bring-up pays for their wake-ups: "X n index up_ns down_ns". */
static void signal_dnsmasqs(const char *rt, unsigned n, int sig) {
        for (unsigned s = 0; s < n; s++) {
                pid_t pid = slot_dnsmasq_pid(rt, s);
                if (pid > 0)
                        (void)kill(pid, sig);
        }
}

static void stopped_cycles(nbx_net_params *p, unsigned n, int runs) {
        signal_dnsmasqs(p->runtime_dir, n, SIGSTOP);
        for (int i = 0; i < runs; i++) {
                reap_finishers();
                uint64_t up, down;
                timed_cycle(p, n, &up, &down);
                printf("X %u %d %llu %llu\n", n, i, (unsigned long long)up,
                       (unsigned long long)down);
        }
        reap_finishers();
        signal_dnsmasqs(p->runtime_dir, n, SIGCONT);
        fflush(stdout);
}

static int cmd_phases(const char *rt_dir, int runs) {
        fresh_netns();
        become_reaper();
        nbx_net_params p;
        policy_buf b = {0};
        params_init(&p, rt_dir);
        policy_default(&p, &b);
        static const unsigned targets[] = {1, 64};
        unsigned up_to = 0;
        for (size_t k = 0; k < 2; k++) {
                unsigned n = targets[k];
                while (up_to < n - 1)
                        slot_up(&p, up_to++);
                for (int i = 0; i < runs; i++) {
                        quiesce();
                        phase_cycle(&p, n, i);
                }
                fflush(stdout);
        }
        stopped_cycles(&p, up_to, runs);
        while (up_to > 0)
                slot_down(&p, --up_to);
        nbx_strv_clear(&b.domains);
        return 0;
}

static int cmd_fill(const char *rt, unsigned first, unsigned last, int argc, char **argv) {
        nbx_net_params p;
        policy_buf b = {0};
        params_init(&p, rt);
        if (policy_parse(argc, argv, &p, &b) < 0) {
                fprintf(stderr, "netbench: bad policy arguments\n");
                return 2;
        }
        for (unsigned s = first; s <= last; s++)
                slot_up(&p, s);
        nbx_strv_clear(&b.domains);
        return 0;
}

static int cmd_drain(const char *rt, unsigned first, unsigned last) {
        nbx_net_params p;
        params_init(&p, rt);
        int ret = 0;
        for (unsigned s = first; s <= last; s++) {
                nbx_error *err = NULL;
                if (nbx_net_down(rt, &p.pool, s, &err) < 0) {
                        fprintf(stderr, "netbench: down %u: %s\n", s, err ? err->msg : "failed");
                        nbx_error_free(err);
                        ret = 1;
                }
        }
        return ret;
}

static unsigned slot_arg(const char *s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*s == '\0' || *end != '\0' || v >= NBX_SLOTS) {
                fprintf(stderr, "netbench: bad slot %s\n", s);
                exit(2);
        }
        return (unsigned)v;
}

static int count_arg(const char *s) {
        int v = atoi(s);
        if (v < 0 || v > 10000) {
                fprintf(stderr, "netbench: bad count %s\n", s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv) {
        /* dnsmasq must never be killed by a SIGPIPE of ours; output goes to a file or pipe */
        signal(SIGPIPE, SIG_IGN);
        if (argc >= 4 && strcmp(argv[1], "cycle") == 0)
                return cmd_cycle(argv[2], slot_arg(argv[3]));
        if (argc == 6 && strcmp(argv[1], "compare") == 0)
                return cmd_compare(argv[2], count_arg(argv[3]), count_arg(argv[4]), argv[5]);
        if (argc == 5 && strcmp(argv[1], "scale") == 0)
                return cmd_scale(argv[2], count_arg(argv[3]), count_arg(argv[4]));
        if (argc == 4 && strcmp(argv[1], "phases") == 0)
                return cmd_phases(argv[2], count_arg(argv[3]));
        if (argc >= 6 && strcmp(argv[1], "fill") == 0)
                return cmd_fill(argv[2], slot_arg(argv[3]), slot_arg(argv[4]), argc - 5, argv + 5);
        if (argc == 5 && strcmp(argv[1], "drain") == 0)
                return cmd_drain(argv[2], slot_arg(argv[3]), slot_arg(argv[4]));
        fprintf(stderr, "usage: netbench cycle|compare|scale|fill|drain ... (see the source)\n");
        return 2;
}
