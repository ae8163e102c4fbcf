#!/usr/bin/env python3
"""Times commands in turn (A B C A B C ...), so slow drift on a shared machine hits all alike.

    alternate.py OUT.json RUNS WARMUP NAME [<FILE] -- ARGV... [--- NAME [<FILE] -- ARGV...]...

Each command runs without a shell, stdin from /dev/null (or from FILE), output discarded; a
non-zero exit stops everything (exit 1, the command's stderr shown).  OUT.json has hyperfine's shape:
{"results": [{"command": NAME, "times": [seconds, ...]}]} (warm-up runs left out).
"""
import json
import subprocess
import sys
import time


def parse(args):
    cmds = []
    cur = []
    for a in args + ["---"]:
        if a == "---":
            if cur:
                stdin = None
                if len(cur) > 1 and cur[1].startswith("<"):
                    stdin = cur.pop(1)[1:]
                if len(cur) < 3 or cur[1] != "--":
                    raise SystemExit("alternate.py: expected NAME -- ARGV..., got %r" % cur)
                cmds.append((cur[0], stdin, cur[2:]))
            cur = []
        else:
            cur.append(a)
    return cmds


def main():
    out, runs, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cmds = parse(sys.argv[4:])
    times = {name: [] for name, _, _ in cmds}
    for i in range(warmup + runs):
        for name, stdin, argv in cmds:
            inp = open(stdin, "rb") if stdin else subprocess.DEVNULL
            t0 = time.perf_counter()
            p = subprocess.run(argv, stdin=inp, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            dt = time.perf_counter() - t0
            if stdin:
                inp.close()
            if p.returncode != 0:
                sys.stderr.write("alternate.py: %s exited %d: %s\n" % (
                    name, p.returncode, p.stderr.decode(errors="replace")[-500:]))
                return 1
            if i >= warmup:
                times[name].append(dt)
    with open(out, "w") as f:
        json.dump({"results": [{"command": n, "times": times[n]} for n, _, _ in cmds]}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
