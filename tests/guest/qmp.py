#!/usr/bin/python3
"""Send one QMP command to a QEMU monitor socket and print its "return" as JSON.

Usage: qmp.py SOCKET COMMAND [ARGUMENTS-JSON [EVENT]]
With EVENT (e.g. DEVICE_DELETED), also wait up to 30 s for that event after the command; when
the arguments name an "id", only an event whose data names the same device counts.
Exits 1 (message on stderr) when QEMU answers with an error, the event does not come or the
socket is unusable.
"""
import json
import socket
import sys
import time

EVENT_TIMEOUT = 30


def main():
    path, command = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    want_event = sys.argv[4] if len(sys.argv) > 4 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    f = s.makefile("rw")
    events = []

    def receive():
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("qmp: connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg
            events.append(msg)

    def matches(ev):
        if ev["event"] != want_event:
            return False
        dev = args.get("id") if isinstance(args, dict) else None
        return dev is None or ev.get("data", {}).get("device") == dev

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
    if want_event:
        deadline = time.monotonic() + EVENT_TIMEOUT
        while not any(matches(ev) for ev in events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit("qmp: no %s event after %d s" % (want_event, EVENT_TIMEOUT))
            s.settimeout(left)
            try:
                line = f.readline()
            except socket.timeout:
                continue
            if not line:
                raise SystemExit("qmp: connection closed while waiting for %s" % want_event)
            ev = json.loads(line)
            if "event" in ev:
                events.append(ev)
    print(json.dumps(msg.get("return")))


if __name__ == "__main__":
    main()
