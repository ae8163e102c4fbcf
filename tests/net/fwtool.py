#!/usr/bin/env python3
"""Listeners and probes for tests/net/test_firewall (runs inside the test's namespaces).

  fwtool.py serve READYFILE tcp:PORT... udp:PORT...   answer every TCP connection / UDP datagram
                                                     with the peer's address, then close
  fwtool.py probe tcp|udp HOST PORT [--bind ADDR] [--timeout S]
        prints one word: ok:<peer seen by the server> | refused | unreach | timeout | error:<errno>
  fwtool.py hammer HOST PORT SECONDS   open TCP connections back to back for SECONDS; prints
        "ok N" when all succeeded, else "fail <first result>"
"""
import errno
import os
import socket
import sys
import threading
import time


def serve(ready, specs):
    socks = []
    for spec in specs:
        proto, port = spec.split(":")
        fam = socket.AF_INET6 if proto.endswith("6") else socket.AF_INET
        kind = socket.SOCK_STREAM if proto.startswith("tcp") else socket.SOCK_DGRAM
        s = socket.socket(fam, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(port)))
        if kind == socket.SOCK_STREAM:
            s.listen(64)
        socks.append((kind, s))

    def tcp_loop(s):
        while True:
            c, peer = s.accept()
            try:
                c.sendall((peer[0] + "\n").encode())
            finally:
                c.close()

    def udp_loop(s):
        while True:
            _, peer = s.recvfrom(2048)
            s.sendto((peer[0] + "\n").encode(), peer)

    for kind, s in socks:
        t = threading.Thread(target=tcp_loop if kind == socket.SOCK_STREAM else udp_loop,
                             args=(s,), daemon=True)
        t.start()
    with open(ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(ready + ".tmp", ready)
    threading.Event().wait()


def probe(proto, host, port, bind=None, timeout=3.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, kind)
    s.settimeout(timeout)
    try:
        if bind:
            s.bind((bind, 0))
        s.connect((host, port))
        if kind == socket.SOCK_DGRAM:
            s.send(b"x")
        data = s.recv(256)
        return "ok:" + data.decode().strip()
    except socket.timeout:
        return "timeout"
    except OSError as e:
        if e.errno == errno.ECONNREFUSED:
            return "refused"
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES):
            return "unreach"
        return "error:" + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], sys.argv[3:])
    elif cmd == "probe":
        args = sys.argv[2:]
        bind, timeout = None, 3.0
        while len(args) > 3:
            if args[-2] == "--bind":
                bind = args[-1]
            elif args[-2] == "--timeout":
                timeout = float(args[-1])
            args = args[:-2]
        print(probe(args[0], args[1], int(args[2]), bind, timeout))
    elif cmd == "hammer":
        host, port, secs = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        end, n = time.monotonic() + secs, 0
        while time.monotonic() < end:
            r = probe("tcp", host, port, timeout=2.0)
            if not r.startswith("ok:"):
                print("fail " + r)
                return
            n += 1
        print("ok %d" % n)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
