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
        r.not_measured("2 scaling", "scale", "N=64 ≤1.5× N=1")
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
              "%.2f×" % ur, "(flat)", yesno(ur <= 1.5))
    for n in sorted(per):
        ratio = med(per[n]) / base
        if n == 1:
            r.row("2 up+down of slot N=1", spread(per[n]), "—", "1.00×", "—", "n/a")
        else:
            goal = "≤1.5× of N=1" if n == 64 else "—"
            met = yesno(ratio <= 1.5) if n == 64 else "n/a"
            r.row("2 up+down of slot N=%d" % n, spread(per[n]), "—", "%.2f× of N=1" % ratio, goal, met)
    probes = {}
    for x in rows:
        if x[0] == "R" and int(x[4]) >= 0:
            probes.setdefault(int(x[1]), []).append((int(x[3]) - int(x[4])) / 1e6)
    if probes:
        r.p("- diagnostic (a thread probing the new slot's DNS every ~0.2 ms): nbx_net_up returned "
            "this long after dnsmasq first answered: " +
            ", ".join("N=%d %s" % (n, fmt_ms(med(v))) for n, v in sorted(probes.items())))
    ph = r.lines_of("phases.txt")
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
    with open(path) as f:
        j = json.load(f)
    return [t * 1000.0 for t in j["results"][idx]["times"]]


def fig3(r):
    r.p("## 3. `nixbox config` vs plain `nix-instantiate` of the same files")
    path = os.path.join(r.raw, "config.json")
    if not os.path.exists(path):
        r.not_measured("3 nixbox config overhead", "config", "≤10 ms over Nix")
        r.p()
        return
    nbx = hyperfine_times(path, 0)
    nix = hyperfine_times(path, 1)
    over = med(nbx) - med(nix)
    r.p("hyperfine (no shell), in a fresh network namespace with no network.")
    r.p("- `nixbox config --json`: %s" % detail(nbx))
    r.p("- `nix-instantiate --eval --strict --json` (same files, same options): %s" % detail(nix))
    r.p("- overhead (difference of medians): %s" % fmt_ms(over))
    r.row("3 nixbox config vs nix-instantiate", spread(nbx), spread(nix),
          "%.2f× (+%s)" % (med(nbx) / med(nix), fmt_ms(over)), "≤10 ms over Nix", yesno(over <= 10))
    r.p()


def fig4(r):
    r.p("## 4. `nixbox run true` on a running VM vs plain `ssh`")
    path = os.path.join(r.raw, "run.json")
    if not os.path.exists(path):
        r.not_measured("4 nixbox run true", "run", "≤15 ms median")
        r.p()
        return
    nrun = hyperfine_times(path, 0)
    via = hyperfine_times(path, 1)
    ssh = hyperfine_times(path, 2)
    r.p("The three commands alternated (A B C A B C …), no shell, from the world's host namespace.")
    r.p("- `nixbox run true` (through the SSH connection master): %s" % detail(nrun))
    r.p("- `ssh` through the same master with the same remote command nixbox sends "
        "(`cd WORKSPACE; exec sh -lc '\"$@\"' sh true`): %s" % detail(via))
    r.p("- nixbox's own share (difference of medians: its process start, record, spawning ssh): %s"
        % fmt_ms(med(nrun) - med(via)))
    r.p("- plain `ssh … true` with the same key and options, no master (full handshake): %s" % detail(ssh))
    r.row("4 nixbox run true (TCG guest)", spread(nrun), "ssh " + spread(ssh),
          "%.1f× faster" % (med(ssh) / med(nrun)), "≤15 ms median", yesno(med(nrun) <= 15))
    r.row("4 run: nixbox's own share", fmt_ms(med(nrun) - med(via)), "via master " + fmt_ms(med(via)),
          "—", "—", "n/a")
    r.p()


def fig5(r):
    r.p("## 5. Manager overhead during `nixbox up`")
    rows = r.lines_of("up.txt")
    runs = [x for x in (rows or []) if x[0] == "run" and x[1] == "U"]
    if not runs:
        r.not_measured("5 manager overhead in up", "up", "≤50 ms")
        r.p()
        return None
    total = [float(x[2]) for x in runs]
    launch = [float(x[3]) for x in runs]
    ready = [float(x[5]) for x in runs]
    boot = [rd - la for rd, la in zip(ready, launch)]
    post = [t - rd for t, rd in zip(total, ready)]
    over = [la + po for la, po in zip(launch, post)]
    r.p("Times from the start of `nixbox up`; launch = the serial log appears (nixbox creates it "
        "right before spawning QEMU); ready = the guest prints `nixbox-guest: ready` (sshd listens).")
    r.p("- total `nixbox up`: %s" % detail(total))
    r.p("- before launch (config, slot, network, keys, virtiofsd, credentials): %s" % detail(launch))
    r.p("- guest boot (QEMU start, firmware, kernel, init until sshd listens; TCG): %s" % detail(boot))
    r.p("- after ready (port 22, SSH master login, mounts over SSH, scripts, hooks): %s" % detail(post))
    r.p("- manager overhead = before launch + after ready: %s" % detail(over))
    # nixbox's progress lines, timestamped: how long from each to the next (or to the end)
    steps = {}
    order = []
    cur = []
    ssh_after = []
    for x in rows:
        if x[0] != "run":
            continue
        if x[1] == "L":
            cur.append((float(x[2]), " ".join(x[3:])))
        elif x[1] == "U":
            end = float(x[2])
            rdy = float(x[5])
            mnt = [t for t, text in cur if text.startswith("Mounting")]
            if mnt and rdy >= 0:
                ssh_after.append(mnt[0] - rdy)
            for k, (t, text) in enumerate(cur):
                key = text.split(":")[0] if text.startswith("Slot") else text
                nxt = cur[k + 1][0] if k + 1 < len(cur) else end
                if key not in steps:
                    order.append(key)
                steps.setdefault(key, []).append(nxt - t)
            cur = []
    if order:
        r.p("- nixbox's own progress lines, median time from each to the next:")
        for key in order:
            r.p("  - %s: %s" % (key, fmt_ms(med(steps[key]))))
    if ssh_after:
        r.p("- from the guest's `ready` to nixbox's next line (\"Mounting …\": port 22 found, SSH "
            "master logged in): %s" % detail(ssh_after))
    r.row("5 up: overhead beyond guest boot", spread(over), "guest boot %s" % fmt_ms(med(boot)),
          "—", "≤50 ms", yesno(med(over) <= 50))
    r.row("5 up: before launch (nixbox alone)", spread(launch), "—", "—", "—", "n/a")
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
    r.p("Machine: %s.  Medians with [p10–p90]; warm-up runs dropped." % machine())
    r.p()
    fig1(r)
    scale_rows = fig2_7(r)
    fig3(r)
    fig4(r)
    up_rows = fig5(r)
    fig6(r)
    fig7(r, scale_rows, up_rows)
    order = lambda row: row[0].split()[0]
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
