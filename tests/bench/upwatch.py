#!/usr/bin/env python3
"""Times one `nixbox up` and splits it at the guest's boot (tests/bench/run, figures 5, 7, 8).

    upwatch.py CONSOLE_LOG -- COMMAND...

Starts COMMAND (the `nixbox up`, run through `ip netns exec ... env ...`, which exec into nixbox
in the same process) with NIXBOX_STEP_TIMES=1 and, every millisecond until it exits, notes when
CONSOLE_LOG appears (nixbox creates it right before it spawns the hypervisor: the end of nixbox's
own work before launch), when the guest prints its first byte and when the line
`nixbox-guest: ready` is complete, and nixbox's peak RSS (VmHWM of the process once it is nixbox).  The test
guest runs with `quiet`, so there are no kernel timestamps: these are host-side times of the
lines appearing (resolution ~1 ms plus the poll interval).  nixbox's own account of its steps
("nixbox-step NAME START END", CLOCK_MONOTONIC µs, the clock of time.monotonic) is converted to
the same scale.

Prints, for each progress line of nixbox ("==> ..."), "L ms text"; for each step of `up`
"T name start_ms end_ms"; then one line "U total_ms launch_ms first_byte_ms ready_ms exit_code
hwm_kb" (times from the start of COMMAND; -1 = not seen).  COMMAND's output is copied to stderr.
"""
import os
import re
import subprocess
import sys
import threading
import time

# the whole line, its newline included: nixbox acts on whole lines, and the guest's emulated UART
# (TCG) may send the last bytes milliseconds after the first
READY = re.compile(rb"nixbox-guest: ready\r?\n")


def hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            name, hwm = None, None
            for line in f:
                if line.startswith(b"Name:"):
                    name = line.split()[1]
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
            return hwm if name == b"nixbox" else None
    except (OSError, ValueError, IndexError):
        return None


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print("usage: upwatch.py CONSOLE_LOG -- COMMAND...", file=sys.stderr)
        return 2
    console, cmd = sys.argv[1], sys.argv[3:]
    env = dict(os.environ, NIXBOX_STEP_TIMES="1")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env)
    steps = []
    times = []

    def reader():
        for raw in p.stdout:
            now = time.monotonic()
            line = raw.decode(errors="replace").strip()
            if line.startswith("nixbox-step "):
                f = line.split()
                if len(f) == 4:
                    times.append((f[1], int(f[2]) / 1e6, int(f[3]) / 1e6))
                continue
            sys.stderr.buffer.write(raw)
            if line.startswith("==>"):
                steps.append((now, line[3:].strip()))

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    launch = first = ready = -1.0
    peak = -1
    buf = b""
    pos = 0
    while True:
        now = time.monotonic()
        h = hwm_kb(p.pid)
        if h is not None:
            peak = max(peak, h)
        if launch < 0 and os.path.exists(console):
            launch = now
        if launch >= 0 and ready < 0:
            try:
                with open(console, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except OSError:
                chunk = b""
            if chunk:
                if first < 0:
                    first = now
                pos += len(chunk)
                buf = (buf + chunk)[-4096:]
                if READY.search(buf):
                    ready = now
        rc = p.poll()
        if rc is not None:
            break
        time.sleep(0.001)
    end = time.monotonic()
    th.join(0.5)  # a long-lived child holding the pipe must not stall us

    def ms(t):
        return "%.1f" % ((t - t0) * 1000.0) if t >= 0 else "-1"

    for t, text in steps:
        print("L %s %s" % (ms(t), text))
    for name, start, stop in times:
        print("T %s %s %s" % (name, ms(start), ms(stop)))
    print("U %s %s %s %s %d %d" % (ms(end), ms(launch), ms(first), ms(ready), rc, peak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
