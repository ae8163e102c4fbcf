#!/usr/bin/env python3
"""A listener for tests/e2e/test_escape_matrix: accepts TCP connections (answers "sink" and
closes) and echoes UDP datagrams ("sink:" + data) on every ADDR:PORT/PROTO given, and logs one
line per connection or datagram:  <proto> <addr>:<port> from <client> <first bytes>.

    sink.py LOG READY_FILE ADDR:PORT/tcp|udp ...

Writes READY_FILE once every socket is bound; runs until killed."""
import selectors
import socket
import sys


def main():
    log = open(sys.argv[1], "a", buffering=1)
    sel = selectors.DefaultSelector()
    for spec in sys.argv[3:]:
        hostport, proto = spec.rsplit("/", 1)
        host, port = hostport.rsplit(":", 1)
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if proto == "udp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind((host, int(port)))
        if proto == "tcp":
            s.listen(64)
        sel.register(s, selectors.EVENT_READ, (proto, hostport))
    open(sys.argv[2], "w").close()
    while True:
        for key, _ in sel.select():
            proto, where = key.data
            s = key.fileobj
            try:
                if proto == "tcp":
                    c, peer = s.accept()
                    c.settimeout(1)
                    try:
                        c.sendall(b"sink\n")
                    finally:
                        c.close()
                    log.write("tcp %s from %s:%d\n" % (where, peer[0], peer[1]))
                else:
                    data, peer = s.recvfrom(2048)
                    s.sendto(b"sink:" + data, peer)
                    log.write("udp %s from %s:%d %s\n" % (where, peer[0], peer[1],
                                                         data[:64].decode("ascii", "replace")))
            except OSError as e:
                log.write("%s %s error %s\n" % (proto, where, e))


if __name__ == "__main__":
    main()
