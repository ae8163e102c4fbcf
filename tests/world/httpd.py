#!/usr/bin/python3
"""HTTP servers of the sandboxed world (tests/world/world).

Usage: httpd.py LOGFILE READYFILE ADDR:PORT=NAME ...

Listens on every ADDR:PORT, answers every request (any method, any path) with status 200 and the
body "NAME\n", and appends one line per TCP connection and per request to LOGFILE:
  <unix time> server=NAME addr=ADDR:PORT client=IP:PORT event=connect
  <unix time> server=NAME addr=ADDR:PORT client=IP:PORT event=request method=GET host=H path=/p
READYFILE is written once every socket listens.
"""
import http.server
import os
import socketserver
import sys
import threading
import time

log_lock = threading.Lock()
log_file = None


def log(line):
    with log_lock:
        log_file.write("%.3f %s\n" % (time.time(), line))
        log_file.flush()


def clean(s):
    return "".join(c if 33 <= ord(c) < 127 else "_" for c in (s or "-"))[:200]


def make_handler(name, addr):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "nbxw"
        sys_version = ""
        protocol_version = "HTTP/1.0"

        def setup(self):
            super().setup()
            log("server=%s addr=%s client=%s:%d event=connect" % (name, addr, *self.client_address))

        def answer(self):
            log("server=%s addr=%s client=%s:%d event=request method=%s host=%s path=%s"
                % (name, addr, *self.client_address, clean(self.command),
                   clean(self.headers.get("Host")), clean(self.path)))
            body = (name + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = answer
        do_CONNECT = answer

        def log_message(self, *args):
            pass

    return Handler


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global log_file
    log_file = open(sys.argv[1], "a", buffering=1)
    servers = []
    for spec in sys.argv[3:]:
        addr, name = spec.split("=", 1)
        host, port = addr.rsplit(":", 1)
        servers.append(Server((host, int(port)), make_handler(name, addr)))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, sys.argv[2])
    threading.Event().wait()


if __name__ == "__main__":
    main()
