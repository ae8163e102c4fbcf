#!/usr/bin/env python3
"""Summarises the raw samples of tests/bench/run into the details and the one summary table.

    report.py OUT_DIR          reads OUT_DIR/raw/*, writes OUT_DIR/results.md, prints it

Every figure: warm-up samples are dropped, then median and spread (p10-p90, and min-max) of the
rest.  A figure whose raw data is missing is reported as "not measured" with the reason the run
wrote to raw/<figure>.skipped.  Nothing here asserts anything: benchmarks are not tests.
"""
import glob
import json
import os
import platform
import sys
import time


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def med(xs):
    return pct(xs, 50)


def fmt_ms(v):
    if v != v:
        return "n/a"
    if v >= 10000:
        return "%.1f s" % (v / 1000.0)
    if v >= 100:
        return "%.0f ms" % v
    if v >= 10:
        return "%.1f ms" % v
    return "%.2f ms" % v


def spread(xs, f=fmt_ms):
    return "%s [%s–%s]" % (f(med(xs)), f(pct(xs, 10)), f(pct(xs, 90)))


def detail(xs, f=fmt_ms):
    return "median %s, p10–p90 %s–%s, min–max %s–%s, n=%d" % (
        f(med(xs)), f(pct(xs, 10)), f(pct(xs, 90)), f(min(xs)), f(max(xs)), len(xs))


class Report:
    def __init__(self, out):
        self.out = out
        self.raw = os.path.join(out, "raw")
        self.rows = []  # (figure, nixbox, reference, ratio, goal, met)
        self.lines = []

    def p(self, s=""):
        self.lines.append(s)

    def row(self, *cols):
        self.rows.append(cols)

    def skipped(self, name):
        path = os.path.join(self.raw, name + ".skipped")
        if os.path.exists(path):
            with open(path) as f:
                return f.read().strip() or "no reason given"
        return None

    def lines_of(self, name):
        path = os.path.join(self.raw, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return [l.split() for l in f if l.strip()]

    def not_measured(self, figure, name, goal, what="raw data missing"):
        reason = self.skipped(name) or what
        self.row(figure, "not measured (%s)" % reason, "—", "—", goal, "n/a")
        self.p("- not measured: %s" % reason)


def yesno(ok):
    return "yes" if ok else "**no**"


def fig0(r):
    r.p("## 0. Start-up: `nixbox --version` vs `/bin/true`")
    path = os.path.join(r.raw, "startup.json")
    if not os.path.exists(path):
        r.not_measured("0 start-up (nixbox --version)", "startup", "≤3× /bin/true")
        r.p()
        return
    nbx = hyperfine_times(path, 0)
    true = hyperfine_times(path, 1)
    ratio = med(nbx) / med(true)
    libs = r.lines_of("startup-libs.txt")
    r.p("The two alternated, no shell: every nixbox command pays this before it does anything.")
    r.p("- `nixbox --version`: %s" % detail(nbx))
    r.p("- `/bin/true`: %s" % detail(true))
    if libs:
        r.p("- shared libraries nixbox loads: %s" % libs[0][0])
    r.row("0 start-up (nixbox --version)", spread(nbx), "/bin/true " + spread(true),
          "%.1f×" % ratio, "≤3× /bin/true", yesno(ratio <= 3))
    r.p()


def fig1(r):
    r.p("## 1. Network bring-up + teardown of one slot (filtered, three domains)")
    rows = r.lines_of("netsetup.txt")
    if not rows:
        r.not_measured("1 net up+down, whole process", "netsetup", "≥30× faster")
        r.p()
        return
    a = [x for x in rows if x[0] == "A" and x[1] == "run"]
    b = [x for x in rows if x[0] == "B" and x[1] == "run"]
    a_tot = [int(x[3]) / 1e6 for x in a]
    a_up = [int(x[4]) / 1e6 for x in a]
    a_down = [int(x[5]) / 1e6 for x in a]
    a_rss = [int(x[6]) for x in a]
    b_tot = [int(x[3]) / 1e6 for x in b]
    ratio = med(b_tot) / med(a_tot)
    in_proc = [u + d for u, d in zip(a_up, a_down)]
    r.p("A (nixbox: `netbench cycle`, a whole process: exec, fresh namespace, nbx_net_up, "
        "nbx_net_down, exit) and B (`bash ../shared/bench/reference-netsetup.sh`) alternated, "
        "%d runs each after %d warm-up pairs." % (len(a), sum(1 for x in rows if x[0] == "A") - len(a)))
    r.p("- nixbox whole process: %s" % detail(a_tot))
    r.p("- nixbox in-process nbx_net_up: %s" % detail(a_up))
    r.p("- nixbox in-process nbx_net_down: %s" % detail(a_down))
    r.p("- nixbox in-process up + down: %s" % detail(in_proc))
    r.p("- reference script: %s" % detail(b_tot))
    r.p("- ratio reference / nixbox (medians, whole process): %.1f×; reference / in-process up+down: %.1f×"
        % (ratio, med(b_tot) / med(in_proc)))
    r.p("- driver peak RSS (one up + down): median %d KiB" % med(a_rss))
    r.row("1 net up+down, whole process", spread(a_tot), spread(b_tot), "%.1f×" % ratio,
          "≥30× faster", yesno(ratio >= 30))
    r.row("1 net bring-up (nbx_net_up)", spread(a_up), "—", "—", "≤10 ms median",
          yesno(med(a_up) <= 10))
    r.row("1 net teardown (nbx_net_down)", spread(a_down), "—", "—", "—", "n/a")
    r.p()


def fig2_7(r):
    r.p("## 2. Scaling: up + down of slot N while N−1 others are up")
    rows = r.lines_of("scale.txt")
    if not rows:
        r.not_measured("2 scaling", "scale", "≤1.5× of N=1")
        r.p()
        return None
    per = {}
    for x in rows:
        if x[0] == "S" and x[2] == "run":
            per.setdefault(int(x[1]), []).append((int(x[4]) + int(x[5])) / 1e6)
    ups = {}
    for x in rows:
        if x[0] == "S" and x[2] == "run":
            ups.setdefault(int(x[1]), []).append(int(x[4]) / 1e6)
    base = med(per.get(1, [float("nan")]))
    for n in sorted(per):
        r.p("- N=%d: up+down %s; up alone median %s" % (n, detail(per[n]), fmt_ms(med(ups[n]))))
    if 1 in ups and 64 in ups:
        ur = med(ups[64]) / med(ups[1])
        r.row("2 bring-up alone, N=64 vs N=1", spread(ups[64]), "N=1 " + spread(ups[1]),
              "%.2f×" % ur, "≤1.5× of N=1", yesno(ur <= 1.5))
    for n in sorted(per):
        ratio = med(per[n]) / base
        r.row("2 up+down of slot N=%d" % n, spread(per[n]), "—",
              "1.00×" if n == 1 else "%.2f× of N=1" % ratio, "—", "n/a")
    probes = {}
    for x in rows:
        if x[0] == "R" and int(x[4]) >= 0:
            probes.setdefault(int(x[1]), []).append((int(x[3]) - int(x[4])) / 1e6)
    if probes:
        r.p("- diagnostic (a thread probing the new slot's DNS every ~0.2 ms): nbx_net_up returned "
            "this long after dnsmasq first answered: " +
            ", ".join("N=%d %s" % (n, fmt_ms(med(v))) for n, v in sorted(probes.items())))
    ph = r.lines_of("phases.txt")
    stopped = [int(x[3]) / 1e6 for x in (ph or []) if x[0] == "X"]
    if stopped and 64 in ups and 1 in ups:
        r.p("- diagnostic: bring-up of slot 63 with the other 63 dnsmasqs stopped (SIGSTOP: their "
            "sockets still receive every address and route event, but none of them wakes up): %s "
            "— against %s with them running and %s for N=1.  What N=64 adds is their wake-ups "
            "(each dnsmasq listens to the namespace's address and route changes), not work of "
            "nixbox's." % (detail(stopped), fmt_ms(med(ups[64])), fmt_ms(med(ups[1]))))
        r.row("2 bring-up, N=64, others' dnsmasqs stopped (diagnostic)", spread(stopped),
              "N=1 " + fmt_ms(med(ups[1])), "%.2f×" % (med(stopped) / med(ups[1])), "—", "n/a")
    if ph:
        d = {}
        steps = []
        for x in ph:
            if x[0] != "F":
                continue
            if x[3] not in steps:
                steps.append(x[3])
            d.setdefault((int(x[1]), x[3]), []).append(int(x[4]) / 1e6)
        r.p("- diagnostic, each step of up/down called alone through net/'s internal API "
            "(mirrors net/net.c; median ms):")
        r.p()
        r.p("  | step | N=1 | N=64 |")
        r.p("  |---|---|---|")
        for st in steps:
            r.p("  | %s | %s | %s |" % (st, fmt_ms(med(d.get((1, st), [float("nan")]))),
                                        fmt_ms(med(d.get((64, st), [float("nan")])))))
        r.p()
    r.p()
    return rows


def fig7(r, scale_rows, up_rows):
    r.p("## 7. Memory")
    if scale_rows:
        m = [x for x in scale_rows if x[0] == "M"]
        rss = [int(x[3]) for x in m if int(x[3]) >= 0]
        pss = [int(x[4]) for x in m if int(x[4]) >= 0]
        k = {x[1]: (int(x[2]), int(x[3])) for x in scale_rows if x[0] == "K"}
        peak = [int(x[1]) for x in scale_rows if x[0] == "P"]
        r.p("- dnsmasq per slot (64 idle slots): RSS median %d KiB [%d–%d], PSS median %d KiB; "
            "sum RSS %.1f MiB, sum PSS %.1f MiB" % (med(rss), min(rss), max(rss), med(pss),
                                                  sum(rss) / 1024.0, sum(pss) / 1024.0))
        kdelta = 0
        parts = []
        for field in ("Slab", "KernelStack", "Percpu"):
            if field in k:
                d = k[field][1] - k[field][0]
                kdelta += d
                parts.append("%s %+d KiB" % (field, d))
        if "MemAvailable" in k:
            parts.append("MemAvailable %+d KiB" % (k["MemAvailable"][1] - k["MemAvailable"][0]))
        r.p("- kernel, /proc/meminfo before the namespace and with 64 slots up (machine-wide, so "
            "other activity on the machine shows up here too): " + ", ".join(parts))
        total = sum(pss) + kdelta
        r.p("- 64 idle slots: dnsmasq PSS %.1f MiB + kernel estimate %.1f MiB = %.1f MiB (%.0f KiB a slot)"
            % (sum(pss) / 1024.0, kdelta / 1024.0, total / 1024.0, total / 64.0))
        if peak:
            r.p("- network driver (netbench scale: 64 slots up and down) peak RSS: %d KiB" % peak[0])
        r.row("7 dnsmasq RSS per slot", "%d KiB (PSS %d KiB)" % (med(rss), med(pss)), "—", "—", "—", "n/a")
        r.row("7 host cost of 64 idle slots", "%.1f MiB" % (total / 1024.0), "—", "—", "—", "n/a")
    else:
        r.not_measured("7 memory (slots)", "scale", "—")
    if up_rows:
        hwm = [int(x[7]) for x in up_rows if int(x[7]) > 0]
        if hwm:
            r.p("- `nixbox up` peak RSS (VmHWM): %s KiB over %d runs" % (
                "median %d [%d–%d]" % (med(hwm), min(hwm), max(hwm)), len(hwm)))
            r.row("7 nixbox up peak RSS", "%d KiB" % med(hwm), "—", "—", "—", "n/a")
    else:
        r.not_measured("7 nixbox up peak RSS", "up", "—")
    r.p()


def hyperfine_times(path, idx=0):
    """Times (ms) of command idx in a file of alternate.py's (hyperfine's) shape."""
    with open(path) as f:
        j = json.load(f)
    return [t * 1000.0 for t in j["results"][idx]["times"]]


def fig3(r):
    r.p("## 3. `nixbox config` vs plain `nix-instantiate` of the same files")
    path = os.path.join(r.raw, "config.json")
    if not os.path.exists(path):
        r.not_measured("3 nixbox config overhead", "config", "≤10 ms over Nix")
        r.p()
        return None
    nbx = hyperfine_times(path, 0)
    nix = hyperfine_times(path, 1)
    over = med(nbx) - med(nix)
    r.p("The two alternated (alternate.py, no shell), in a fresh network namespace with no network; "
        "nix-instantiate gets the same options and the same expression on stdin as nixbox gives it.")
    r.p("- `nixbox config --json`: %s" % detail(nbx))
    r.p("- `nix-instantiate --eval --strict --json` (same files, same options): %s" % detail(nix))
    r.p("- overhead (difference of medians): %s" % fmt_ms(over))
    r.row("3 nixbox config vs nix-instantiate", spread(nbx), spread(nix),
          "%.2f× (+%s)" % (med(nbx) / med(nix), fmt_ms(over)), "≤10 ms over Nix", yesno(over <= 10))
    r.p()
    return nix


def fig4(r):
    r.p("## 4. `nixbox run true` on a running VM vs `ssh`")
    path = os.path.join(r.raw, "run.json")
    if not os.path.exists(path):
        r.not_measured("4 run: nixbox's own share", "run", "≤2 ms")
        r.p()
        return None
    nrun = hyperfine_times(path, 0)
    via = hyperfine_times(path, 1)
    ssh_path = os.path.join(r.raw, "run-ssh.json")
    ssh = hyperfine_times(ssh_path) if os.path.exists(ssh_path) else [float("nan")]
    pairs = [a - b for a, b in zip(nrun, via)]
    own = med(pairs)
    r.p("A and B alternated (A B A B …), %d pairs, then C; no shell, as the VM's user in the "
        "world's host namespace.  nixbox's share is the median of the pairs' differences (the "
        "guest's jitter, milliseconds under TCG, hits both of a pair alike)." % len(pairs))
    r.p("- `nixbox run true` (it reads the VM record and replaces itself with ssh through the "
        "connection master): %s" % detail(nrun))
    r.p("- `ssh` through the same master with the same remote command nixbox sends "
        "(`cd WORKSPACE; exec sh -lc '\"$@\"' sh true`): %s" % detail(via))
    r.p("- nixbox's own share (median of A − B over the pairs): %s; difference of the medians: %s"
        % (fmt_ms(own), fmt_ms(med(nrun) - med(via))))
    r.p("- plain `ssh … true` with the same key and options, no master (a full handshake with the "
        "TCG guest): %s" % detail(ssh))
    r.row("4 run: nixbox's own share beyond ssh via the master (TCG guest)", fmt_ms(own),
          "via master " + spread(via), "—", "≤2 ms", yesno(own <= 2))
    r.row("4 nixbox run true (TCG guest)", spread(nrun), "plain ssh " + spread(ssh),
          "%.1f× faster" % (med(ssh) / med(nrun)), "—", "n/a")
    path = os.path.join(r.raw, "run-standin.json")
    if os.path.exists(path):
        a = hyperfine_times(path, 0)
        b = hyperfine_times(path, 1)
        d = med([x - y for x, y in zip(a, b)])
        r.p("- diagnostic without the guest's noise: ssh replaced by a stand-in that exits at once "
            "(first in PATH): `nixbox run true` %s; the stand-in alone %s; nixbox's share (median "
            "of the pairs' differences) %s" % (detail(a), detail(b), fmt_ms(d)))
        r.row("4 run: own share, stand-in ssh (diagnostic)", fmt_ms(d), "stand-in " + spread(b),
              "—", "≤2 ms", yesno(d <= 2))
    r.p()
    return ssh


def fig5(r, plain_ssh, nix_eval):
    r.p("## 5. `nixbox up`: nixbox's own time beyond the guest's boot")
    rows = r.lines_of("up.txt")
    runs = [x for x in (rows or []) if x[0] == "run" and x[1] == "U"]
    if not runs:
        r.not_measured("5 up: own time beyond the guest's boot", "up", "≤50 ms")
        r.p()
        return None
    total = [float(x[2]) for x in runs]
    launch = [float(x[3]) for x in runs]
    ready = [float(x[5]) for x in runs]
    boot = [rd - la for rd, la in zip(ready, launch)]
    post = [t - rd for t, rd in zip(total, ready)]
    over = [la + po for la, po in zip(launch, post)]
    # nixbox's steps (NIXBOX_STEP_TIMES), run by run
    steps, order, per_run = {}, [], []
    cur = {}
    for x in rows:
        if x[0] != "run":
            continue
        if x[1] == "T":
            name, a, b = x[2], float(x[3]), float(x[4])
            if name not in order:
                order.append(name)
            steps.setdefault(name, []).append(b - a)
            cur[name] = (a, b)
        elif x[1] == "U":
            per_run.append(cur)
            cur = {}
    login = [c["ssh"][1] - c["ssh"][0] for c in per_run if "ssh" in c]
    # from nixbox's own start (its first line), not from the start of `ip netns exec ... env`
    started = [c["start"][0] if "start" in c else 0.0 for c in per_run]
    own = [o - l - s0 for o, l, s0 in zip(over, login, started)] if len(login) == len(over) else []
    r.p("Times from the start of `nixbox up` (`sudo` from the test user's account); launch = the "
        "console log appears (nixbox creates it right before spawning QEMU); ready = the guest "
        "prints `nixbox-guest: ready` (sshd listens, DHCP done, boot shares mounted).")
    r.p("- total `nixbox up`: %s" % detail(total))
    r.p("- before launch (config, slot, network, keys, virtiofsd, credentials): %s" % detail(launch))
    r.p("- guest boot (QEMU start, firmware, kernel, init until ready; TCG): %s" % detail(boot))
    r.p("- after ready (noticing it, the SSH master's login, scripts, hooks, exit): %s" % detail(post))
    r.p("- overhead beyond the guest's boot = before launch + after ready: %s" % detail(over))
    if login:
        r.p("- of which the SSH master's login (the `ssh` step: key exchange and authentication "
            "with the guest): %s" % detail(login))
    if started:
        r.p("- nixbox's start after the start of the command (`ip netns exec … env …`, the "
            "benchmark's wrapper, and nixbox's own loading): %s" % detail(started))
    if own:
        r.p("- nixbox's own time beyond the guest's boot (the overhead from nixbox's start, less "
            "the SSH login): %s" % detail(own))
    if order:
        r.p("- nixbox's steps, median duration (NIXBOX_STEP_TIMES):")
        for name in order:
            if name != "start":
                r.p("  - %s: %s" % (name, fmt_ms(med(steps[name]))))
    if own:
        r.row("5 up: own time beyond the guest's boot", spread(own), "—", "—", "≤50 ms",
              yesno(med(own) <= 50))
    if own and nix_eval:
        # Nix evaluating the configuration is the `config` step's bulk and not nixbox's code:
        # figure 3 times nix-instantiate alone on the same expression
        less = [o - med(nix_eval) for o in own]
        r.p("- the same less Nix's evaluation of the configuration (figure 3's nix-instantiate "
            "alone, median %s): %s" % (fmt_ms(med(nix_eval)), detail(less)))
        r.row("5 up: own time less Nix's evaluation (diagnostic)", spread(less),
              "nix-instantiate " + fmt_ms(med(nix_eval)), "—", "≤50 ms", yesno(med(less) <= 50))
    if login:
        ref = "plain ssh true " + fmt_ms(med(plain_ssh)) if plain_ssh else "—"
        r.row("5 up: the SSH login to the TCG guest (floor)", spread(login), ref, "—", "—", "n/a")
    r.row("5 up: overhead beyond the guest's boot, all", spread(over),
          "guest boot %s" % fmt_ms(med(boot)), "—", "—", "n/a")
    r.p()
    return runs


def fig6(r):
    r.p("## 6. Data path")
    tp = {"filtered": [], "open": []}
    for path in sorted(glob.glob(os.path.join(r.raw, "iperf", "run-*.json"))):
        mode = os.path.basename(path).split("-")[1]
        with open(path) as f:
            j = json.load(f)
        tp[mode].append(j["end"]["sum_received"]["bits_per_second"] / 1e9)
    if tp["filtered"] and tp["open"]:
        ratio = med(tp["filtered"]) / med(tp["open"])
        f = lambda v: "%.2f Gbit/s" % v
        r.p("iperf3 guest namespace → the world's internet namespace, 64 slots' rules loaded.")
        r.p("- filtered (slot 62): %s" % detail(tp["filtered"], f))
        r.p("- open (slot 63): %s" % detail(tp["open"], f))
        r.row("6 TCP throughput filtered vs open", spread(tp["filtered"], f), "open " + spread(tp["open"], f),
              "%.1f%%" % (ratio * 100), "≥95% of open", yesno(ratio >= 0.95))
    else:
        r.not_measured("6 TCP throughput", "iperf", "≥95% of open")
    for kind, goal in (("cached", "p50 ≤1 ms"), ("uncached", "—")):
        rows = r.lines_of("dns-%s.txt" % kind)
        xs = [float(x[1]) / 1000.0 for x in (rows or []) if x[0] == "run"]
        if not xs:
            r.not_measured("6 DNS %s" % kind, "dns", goal)
            continue
        r.p("- DNS %s through the slot's dnsmasq: %s, p99 %s" % (kind, detail(xs), fmt_ms(pct(xs, 99))))
        if kind == "uncached":
            up = r.lines_of("dns-upstream.txt")
            if up:
                r.p("  - the world's DNS logged %s of these %d uncached names (warm-up included): "
                    "each was forwarded upstream" % (up[0][0], len(rows)))
        met = yesno(med(xs) <= 1.0) if kind == "cached" else "n/a"
        r.row("6 DNS %s (slot dnsmasq)" % kind, spread(xs), "—", "—", goal, met)
    r.p()


def fig8(r):
    r.p("## 8. Eight small VMs (TCG, 256 MiB) brought up at once")
    one = r.lines_of("fleet-one.txt")
    many = r.lines_of("fleet.txt")
    if not one or not many:
        r.not_measured("8 8 VMs up at once", "fleet", "all 8 running, no slot errors")
        r.p()
        return
    w1 = [float(x[1]) for x in one if x[0] == "W"]
    w8 = [float(x[1]) for x in many if x[0] == "W"]
    codes = {x[1]: int(x[2]) for x in many if x[0] == "C"}
    times = {x[1]: float(x[3]) for x in many if x[0] == "C"}
    running, slots = 0, set()
    try:
        with open(os.path.join(r.raw, "fleet-status.json")) as f:
            for v in json.load(f):
                if os.path.basename(v.get("project", "")).startswith("vm-c") and v["state"] == "running":
                    running += 1
                    slots.add(v["slot"])
    except (OSError, ValueError):
        pass
    errors = []
    path = os.path.join(r.raw, "fleet-errors.txt")
    if os.path.exists(path):
        with open(path) as f:
            errors = [l.strip() for l in f if l.strip()]
    ok = len(codes) == 8 and all(c == 0 for c in codes.values()) and running == 8 \
        and len(slots) == 8 and not errors
    r.p("Eight `nixbox up` started at the same moment (one project each), against one alone just "
        "before; 2 cores, TCG.")
    r.p("- one VM alone: %.1f s; eight at once: %.1f s until the last was up (%.1f×); each: %s"
        % (w1[0], w8[0], w8[0] / w1[0],
           ", ".join("%s %.1f s (exit %d)" % (n, times[n], codes[n]) for n in sorted(codes))))
    r.p("- `nixbox status` then: %d of 8 running, on %d distinct slots; error lines: %s"
        % (running, len(slots), "; ".join(errors) if errors else "none"))
    r.row("8 8 VMs up at once (TCG, 256 MiB)", "%.1f s, %d running" % (w8[0], running),
          "one alone %.1f s" % w1[0], "%.1f×" % (w8[0] / w1[0]), "all 8 running, no slot errors",
          yesno(ok))
    r.p()


def fig9(r):
    r.p("## 9. `nixbox status` with 64 VMs recorded")
    path = os.path.join(r.raw, "status.json")
    if not os.path.exists(path):
        r.not_measured("9 status, 64 VMs", "status", "≤20 ms")
        r.p()
        return
    text = hyperfine_times(path, 0)
    js = hyperfine_times(path, 1)
    r.p("64 synthetic VM records (tests/bench/records.py: vm/record.h's format, one share each, a "
        "live process as their hypervisor, so all show as running) and their slot records in a "
        "runtime folder of their own; the table and --json alternated.")
    r.p("- `nixbox status`: %s" % detail(text))
    r.p("- `nixbox status --json`: %s" % detail(js))
    r.row("9 status, 64 VMs (synthetic records)", spread(text), "--json " + spread(js), "—",
          "≤20 ms", yesno(med(text) <= 20))
    r.p()


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d cores, %s, Linux %s" % (os.cpu_count() or 0, cpu, platform.release())


def main():
    out = sys.argv[1]
    r = Report(out)
    r.p("# nixbox benchmarks — %s" % time.strftime("%Y-%m-%d %H:%M"))
    r.p()
    load = []
    for name in ("load-start.txt", "load-end.txt"):
        rows = r.lines_of(name)
        load.append(" ".join(rows[0]) if rows else "?")
    r.p("Machine: %s; load average (1, 5, 15 min) %s at the start, %s at the end.  Medians with "
        "[p10–p90]; warm-up runs dropped." % (machine(), load[0], load[1]))
    r.p()
    fig0(r)
    fig1(r)
    scale_rows = fig2_7(r)
    nix_eval = fig3(r)
    plain_ssh = fig4(r)
    up_rows = fig5(r, plain_ssh, nix_eval)
    fig6(r)
    fig7(r, scale_rows, up_rows)
    fig8(r)
    fig9(r)
    order = lambda row: int(row[0].split()[0])
    r.rows.sort(key=order)
    table = ["| figure | nixbox | reference | ratio | goal | met? |", "|---|---|---|---|---|---|"]
    table += ["| " + " | ".join(row) + " |" for row in r.rows]
    r.p("## Summary")
    r.p()
    r.lines += table
    text = "\n".join(r.lines) + "\n"
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    # stdout: the details, then the one summary table last
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
