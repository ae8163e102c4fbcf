#!/usr/bin/env python3
"""Synthetic VM records for `nixbox status` with a full host (tests/bench/run, figure 9).

    records.py RUNTIME_DIR COUNT PID START_TIME

Writes COUNT VM records (<runtime>/vms/<id>/vm.json, vm/record.h's format, version 2) and the
matching slot records (<runtime>/slots/<s>.json), for projects /srv/nbx-bench/pNN that need not
exist: status reads records, it does not look at projects.  Every record names PID (with its
START_TIME, field 22 of /proc/PID/stat) as its hypervisor, so each VM shows as running; one share
each.  They are stand-ins for real VMs, and the figure says so.
"""
import hashlib
import json
import os
import sys


def record(i, pid, start_time):
    proj = "/srv/nbx-bench/p%02d" % i
    return proj, {
        "accel": "tcg",
        "backend": "qemu",
        "gid": 1000,
        "guest_ip": "172.16.%d.2" % (4 * i),
        "hooks_post_down": [],
        "hooks_pre_down": [],
        "hypervisor": {"pid": pid, "start_time": start_time},
        "mode": "filtered",
        "mounts": [{
            "attached": True, "hotplug": False, "image": False, "readonly": False,
            "source": proj, "tag": "nbxfs0", "target": "/home/bench/workspace",
            "virtiofsd": {"pid": pid, "start_time": start_time},
        }],
        "name": "p%02d" % i,
        "next_tag": 1,
        "project_dir": proj,
        "ready": True,
        "settings": {
            "env": [], "mounts": [{"readonly": False, "source": proj,
                                   "target": "/home/bench/workspace"}],
            "network.allowPrivate": False, "network.upstreamDns": 1, "nix.ldLibraries": [],
            "nix.packages": [], "resources.memoryMB": 512, "resources.vcpus": 1, "scripts": [],
            "vm.accel": "tcg", "vm.hypervisor": "qemu", "vm.image": "/srv/nbx-bench/guest",
        },
        "slot": i,
        "ssh_master": {"pid": pid, "start_time": start_time},
        "started_at": 1700000000,
        "uid": 1000,
        "user": "bench",
        "version": 2,
        "workdir": "/home/bench/workspace",
    }


def main():
    rt, n, pid, start_time = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(os.path.join(rt, "vms"), mode=0o755, exist_ok=True)
    os.makedirs(os.path.join(rt, "slots"), mode=0o755, exist_ok=True)
    for i in range(n):
        proj, rec = record(i, pid, start_time)
        vid = hashlib.sha256(proj.encode()).hexdigest()[:16]
        d = os.path.join(rt, "vms", vid)
        os.makedirs(d, mode=0o755, exist_ok=True)
        with open(os.path.join(d, "vm.json"), "w") as f:
            json.dump(rec, f, indent=2)
        with open(os.path.join(rt, "slots", "%d.json" % i), "w") as f:
            json.dump({"name": rec["name"], "pid": pid, "project_dir": proj,
                       "since": 1700000000, "start_time": start_time}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
