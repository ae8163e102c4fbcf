#!/usr/bin/env python3
"""Starts commands all at once and times them (tests/bench/run, figure 8).

    together.py NAME -- ARGV... [--- NAME -- ARGV...]...

Each command runs without a shell, stdin from /dev/null, its output to <NAME>.log in the current
folder.  Prints one line per command "C name exit_code seconds" (from the common start to its
exit), then "W seconds" (the common start to the last exit).
"""
import subprocess
import sys
import time


def parse(args):
    cmds, cur = [], []
    for a in args + ["---"]:
        if a == "---":
            if cur:
                if len(cur) < 3 or cur[1] != "--":
                    raise SystemExit("together.py: expected NAME -- ARGV..., got %r" % cur)
                cmds.append((cur[0], cur[2:]))
            cur = []
        else:
            cur.append(a)
    return cmds


def main():
    cmds = parse(sys.argv[1:])
    t0 = time.monotonic()
    running = []
    for name, argv in cmds:
        log = open(name + ".log", "wb")
        running.append((name, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                               stderr=subprocess.STDOUT), log))
    ends = {}
    while len(ends) < len(running):
        for name, p, log in running:
            if name not in ends and p.poll() is not None:
                ends[name] = (p.returncode, time.monotonic() - t0)
                log.close()
        time.sleep(0.01)
    for name, _, _ in running:
        print("C %s %d %.3f" % (name, ends[name][0], ends[name][1]))
    print("W %.3f" % max(t for _, t in ends.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
