#!/usr/bin/python3
"""Send one QMP command to a QEMU monitor socket and print its "return" as JSON.

Usage: qmp.py SOCKET COMMAND [ARGUMENTS-JSON]
Exits 1 (message on stderr) when QEMU answers with an error or the socket is unusable.
"""
import json
import socket
import sys


def main():
    path, command = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rw")

    def receive():
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("qmp: connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    receive()  # greeting
    for cmd in ({"execute": "qmp_capabilities"}, None):
        if cmd is None:
            cmd = {"execute": command}
            if args is not None:
                cmd["arguments"] = args
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        msg = receive()
        if "error" in msg:
            raise SystemExit("qmp: %s: %s" % (cmd["execute"], msg["error"].get("desc")))
    print(json.dumps(msg.get("return")))


if __name__ == "__main__":
    main()
