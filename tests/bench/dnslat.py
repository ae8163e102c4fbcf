#!/usr/bin/env python3
"""DNS answer latency through a slot's dnsmasq (tests/bench/run, figure 6).

    dnslat.py SERVER_IP cached NAME COUNT WARMUP       the same name: answered from dnsmasq's cache
    dnslat.py SERVER_IP uncached SUFFIX COUNT WARMUP   a new name below SUFFIX each time: dnsmasq
                                                       forwards it to its upstream (the world's DNS)

Runs in the guest namespace behind the slot.  Prints one line per query: "warm|run MICROSECONDS
RCODE ANSWERS"; exits non-zero when a query gets no answer (2 s) or an answer without an A record.
"""
import os
import random
import socket
import struct
import sys
import time


def query(name, qid):
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return header + q + struct.pack(">HH", 1, 1)  # A, IN


def main():
    server, kind, name, count, warmup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((server, 53))
    s.settimeout(2.0)
    tag = "%x" % random.getrandbits(32)
    for i in range(warmup + count):
        qname = name if kind == "cached" else "q%d-%s-%d.%s" % (os.getpid(), tag, i, name)
        qid = random.getrandbits(16)
        msg = query(qname, qid)
        t0 = time.perf_counter_ns()
        s.send(msg)
        while True:
            try:
                data = s.recv(4096)
            except socket.timeout:
                print("no answer for %s from %s" % (qname, server), file=sys.stderr)
                return 1
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                break
        us = (time.perf_counter_ns() - t0) / 1000.0
        flags, _, ancount = struct.unpack(">HHH", data[2:8])
        rcode = flags & 0xF
        if rcode != 0 or ancount < 1:
            print("bad answer for %s: rcode %d, %d answers" % (qname, rcode, ancount), file=sys.stderr)
            return 1
        print("%s %.1f %d %d" % ("warm" if i < warmup else "run", us, rcode, ancount))
    return 0


if __name__ == "__main__":
    sys.exit(main())
