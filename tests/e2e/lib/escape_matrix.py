#!/usr/bin/env python3
"""The escape matrix of tests/e2e/test_escape_matrix: one table of attempts drives both the script
each VM runs as guest root and the verdicts.

    escape_matrix.py script VMS_JSON NAME PHASE   the guest script of VM NAME (phase main|after)
    escape_matrix.py evaluate STATE_DIR           the table, the summary line; exit 1 on any
                                                  unexpected result (or fewer than 120 attempts)

VMS_JSON: [{"name", "mode", "slot", "ip", "gw", "tap"}...].  STATE_DIR holds vms.json,
results/<name>.<phase>.txt ("R <id> <output>" lines from the guest; host-side attempts add lines
of their own), seen.json (`nft -j list table inet nbxprobe` of the host namespace: what passed
nixbox's filters, per slot interface) and dns.log (the fake internet's DNS server log).

A result is "reached" when independent evidence says the attempt got where it aimed: a TCP
connection to a listener, a UDP reply from one, a ping reply, an upstream DNS query in the fake
internet's log, or a packet nixbox let through (the probe table's chains run after nixbox's on the
input and forward hooks).  Otherwise "blocked"."""
import json
import random
import shlex
import sys

MODES = ["off", "flt", "fltp", "open", "openp"]
ALL = set(MODES)
DNS = {"flt", "fltp", "open", "openp"}
OPEN = {"open", "openp"}
NONE = set()

ALLOWED_IP = "198.51.100.10"
OTHER_IP = "198.51.100.20"
TUNNEL_IP = "198.51.100.30"
DNS_IP = "198.51.100.53"
HARDCODED_IP = "203.0.113.10"
LAN_IP = "10.99.0.2"
HOST_LAN_IP = "10.99.0.1"
UPLINK_IP = "192.0.2.2"
METADATA_IP = "169.254.169.254"
HOST_PORT = 7777  # a host service on 0.0.0.0 (TCP and UDP)


def label(rng, n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def attempts(vm, vms):
    """(id, guest command or None for host-side attempts, evidence, modes where it reaches)."""
    rng = random.Random(vm["name"])
    t = vm["name"]
    gw, p = vm["gw"], 30000 + 16 * vm["slot"]
    others = [o for o in vms if o["name"] != t]
    # a gateway of another VM whose dnsmasq would forward the name (open forwards everything)
    other_gw = next(o["gw"] for o in others if o["mode"] == ("open" if t != "open" else "flt"))
    other_ip = others[0]["ip"]
    long_name = "%s.%s.%s.tunnel.test" % (label(rng, 63), label(rng, 63), t)
    a = [
        # DNS through the gateway (dnsmasq) and around it
        ("dns: allowed name", "nslookup allowed.test %s" % gw, "resolve:" + ALLOWED_IP, DNS),
        ("dns: subdomain of an allowed name", "nslookup sub-%s.allowed.test %s" % (t, gw),
         "dnslog:sub-%s.allowed.test" % t, DNS),
        ("dns: refused name", "nslookup name-%s.example.test %s" % (t, gw),
         "dnslog:name-%s.example.test" % t, OPEN),
        ("dns: long random labels, refused zone", "nslookup %s %s" % (long_name, gw),
         "dnslog:" + long_name, OPEN),
        ("dns: TXT under a refused zone", "nslookup -type=txt txt-%s.tunnel.test %s" % (t, gw),
         "dnslog:txt-%s.tunnel.test" % t, OPEN),
        ("dns: straight to another resolver (udp)", "nslookup direct-%s.allowed.test %s" % (t, DNS_IP),
         "dnslog:direct-%s.allowed.test" % t, OPEN),
        ("dns: straight to another resolver (tcp)", "$P tcp %s 53" % DNS_IP, "connect", OPEN),
        ("dns: DoT to port 853", "$P tcp %s 853" % DNS_IP, "connect", OPEN),
        ("dns: DoH to port 443", "$P tcp %s 443" % DNS_IP, "connect", OPEN),
        ("dns: another VM's gateway", "nslookup og-%s.allowed.test %s" % (t, other_gw),
         "dnslog:og-%s.allowed.test" % t, NONE),
        ("dns: the host's uplink address", "nslookup up-%s.allowed.test %s" % (t, UPLINK_IP),
         "in:%s:udp:53" % UPLINK_IP, NONE),
        # TCP and UDP to allowed and refused addresses and ports
        ("tcp: allowed name, allowed port",
         "nslookup allowed.test %s >/dev/null; $P tcp %s 80" % (gw, ALLOWED_IP), "connect", DNS),
        ("tcp: allowed address, other port (8080)", "$P tcp %s 8080" % ALLOWED_IP, "connect", OPEN),
        ("tcp: allowed address, port 443 (a default port)", "$P tcp %s 443" % ALLOWED_IP,
         "connect", DNS),
        ("tcp: another site on an allowed address (Host header)",
         "printf 'GET / HTTP/1.0\\r\\nHost: other-site.test\\r\\n\\r\\n' | nc -w 5 %s 80" % ALLOWED_IP,
         "body:allowed.test", DNS),
        ("udp: allowed address", "$P udp %s 5005 u-%s" % (ALLOWED_IP, t), "reply", OPEN),
        ("tcp: hard-coded address", "$P tcp %s 80" % HARDCODED_IP, "connect", OPEN),
        ("udp: hard-coded address", "$P udp %s 5006 h-%s" % (HARDCODED_IP, t), "reply", OPEN),
        ("tcp: a refused name's address", "$P tcp %s 80" % TUNNEL_IP, "connect", OPEN),
        # ICMP and IPv6
        ("icmp: the gateway", "ping -c1 -W2 %s" % gw, "ping", NONE),
        ("icmp: the internet", "ping -c1 -W2 %s" % ALLOWED_IP, "ping", OPEN),
        ("icmp: the LAN", "ping -c1 -W2 %s" % LAN_IP, "ping", {"openp"}),
        ("ipv6: link-local all-routers (the gateway)", "ping6 -c1 -W2 -I eth0 ff02::2", "ping",
         NONE),
        ("ipv6: a global address",
         "ip -6 addr add 2001:db8:%x::2/64 dev eth0 2>/dev/null; ip -6 route add default dev eth0 "
         "2>/dev/null; ping6 -c1 -W2 2001:db8:ffff::1; $P tcp 2001:db8:ffff::1 80 2000"
         % vm["slot"], "ping", NONE),
        ("ipv6: metadata fd00:ec2::254",
         "ping6 -c1 -W2 fd00:ec2::254; $P tcp fd00:ec2::254 80 2000", "ping", NONE),
        # the host
        ("host: every TCP port of the gateway but DNS", "$P tcpscan %s" % gw, "scan-tcp", NONE),
        ("host: every UDP port of the gateway but DHCP and DNS", "$P udpscan %s s-%s" % (gw, t),
         "scan-udp", NONE),
        ("host: service on 0.0.0.0 via the gateway", "$P tcp %s %d" % (gw, HOST_PORT), "connect",
         NONE),
        ("host: service on 0.0.0.0 via the uplink address",
         "$P tcp %s %d" % (UPLINK_IP, HOST_PORT), "connect", NONE),
        ("host: service on 0.0.0.0 via the LAN address",
         "$P tcp %s %d" % (HOST_LAN_IP, HOST_PORT), "connect", NONE),
        ("host: UDP service on 0.0.0.0", "$P udp %s %d x-%s" % (gw, HOST_PORT, t), "reply", NONE),
        ("host: UDP broadcast", "$P udp 255.255.255.255 %d b-%s 1000" % (HOST_PORT, t),
         "in:255.255.255.255:udp:%d" % HOST_PORT, NONE),
        ("host: multicast (mDNS)", "$P udp 224.0.0.251 5353 m-%s 1000" % t,
         "in:224.0.0.251:udp:5353", NONE),
        # the LAN and cloud metadata
        ("lan: HTTP on a LAN host", "$P tcp %s 80" % LAN_IP, "connect", {"openp"}),
        ("metadata: 169.254.169.254", "$P tcp %s 80" % METADATA_IP, "connect", NONE),
        ("metadata: 100.100.100.200 (Alibaba)", "$P tcp 100.100.100.200 %d 2000" % (p + 1),
         "fwd:100.100.100.200:tcp:%d" % (p + 1), NONE),
        ("metadata: 168.63.129.16 (Azure)", "$P tcp 168.63.129.16 %d 2000" % (p + 2),
         "fwd:168.63.129.16:tcp:%d" % (p + 2), NONE),
    ]
    for o in others:
        a.append(("vm: %s (%s) over TCP" % (o["name"], o["mode"]), "$P tcp %s 22" % o["ip"],
                  "connect", NONE))
    a += [
        ("vm: ICMP to every other VM",
         "; ".join("ping -c1 -W1 %s" % o["ip"] for o in others), "ping", NONE),
        # spoofing: another source address, another MAC
        ("spoof: another VM's address as source",
         "$P tcp %s %d 2000 %s" % (HARDCODED_IP, p + 3, other_ip),
         "fwd:%s:tcp:%d" % (HARDCODED_IP, p + 3), NONE),
        ("spoof: an outside address as source",
         "$P tcp %s %d 2000 198.51.100.99" % (HARDCODED_IP, p + 4),
         "fwd:%s:tcp:%d" % (HARDCODED_IP, p + 4), NONE),
        ("spoof: the guest takes another VM's address",
         "ip addr add %s/32 dev eth0; ip route add %s/32 via %s src %s; $P tcp %s %d 2000; "
         "ip route del %s/32; ip addr del %s/32 dev eth0"
         % (other_ip, HARDCODED_IP, gw, other_ip, HARDCODED_IP, p + 5, HARDCODED_IP, other_ip),
         "fwd:%s:tcp:%d" % (HARDCODED_IP, p + 5), NONE),
        ("spoof: DHCP's 0.0.0.0:68 to the internet (raw frame)",
         "$P rawudp eth0 %s 0.0.0.0:68 %s:67 z-%s" % (gw, ALLOWED_IP, t),
         "fwd:%s:udp:67" % ALLOWED_IP, NONE),
        ("spoof: another VM's address as source (raw frame)",
         "$P rawudp eth0 %s %s:%d %s:%d r-%s" % (gw, other_ip, p + 7, HARDCODED_IP, p + 7, t),
         "fwd:%s:udp:%d" % (HARDCODED_IP, p + 7), NONE),
        ("spoof: another MAC in a raw frame",
         "$P rawudp eth0 %s %s:%d %s:%d q-%s 02:00:5e:00:98:%02x"
         % (gw, vm["ip"], p + 8, HARDCODED_IP, p + 8, t, vm["slot"]),
         "fwd:%s:udp:%d" % (HARDCODED_IP, p + 8), NONE),
        ("spoof: the guest changes its MAC",
         "mac=$(cat /sys/class/net/eth0/address); ip link set eth0 address 02:00:5e:00:99:%02x && "
         "$P tcp %s %d 2000; ip link set eth0 address $mac" % (vm["slot"], HARDCODED_IP, p + 6),
         "fwd:%s:tcp:%d" % (HARDCODED_IP, p + 6), NONE),
        # controls: the same tools with the guest's own addresses get through where allowed
        ("control: bound to the guest's own address",
         "$P tcp %s %d 2000 %s" % (HARDCODED_IP, p + 9, vm["ip"]),
         "fwd:%s:tcp:%d" % (HARDCODED_IP, p + 9), OPEN),
        ("control: raw frame with the guest's own addresses",
         "$P rawudp eth0 %s %s:%d %s:%d c-%s" % (gw, vm["ip"], p + 10, HARDCODED_IP, p + 10, t),
         "fwd:%s:udp:%d" % (HARDCODED_IP, p + 10), OPEN),
        # a domain removed by reload: before (the address is allowed), and after (phase "after")
        ("reload: a domain's address before its removal",
         "nslookup other.test %s >/dev/null; $P tcp %s 80" % (gw, OTHER_IP), "connect", DNS),
        # host-side attempts (the test runs them)
        ("local: another user of the host connects in", None, "connect", NONE),
        ("local: the VM's owner connects in", None, "connect", ALL),
        ("lan: the LAN host connects to the VM", None, "connect", NONE),
    ]
    return a


AFTER = [("reload: the removed domain's address, after reload",
          "$P tcp %s 80" % OTHER_IP, "connect", OPEN)]
HOST = [("host: the LAN host routes through this host to the internet", None, "connect", NONE)]


def script(vms, name, phase):
    vm = next(v for v in vms if v["name"] == name)
    rows = attempts(vm, vms) if phase == "main" else AFTER
    out = ["#!/bin/sh", "# generated by tests/e2e/lib/escape_matrix.py: run as guest root",
           "P=$PWD/nbx-probe",
           'r() { id=$1; shift; o=$(timeout 120 sh -c "P=$P; $*" 2>&1 | tr "\\r\\n" "  " | cut -c1-600)'
           '; echo "R $id $o"; }']
    for i, (_, cmd, _, _) in enumerate(rows):
        if cmd is not None:
            out.append("r %s %s" % ("%s-%d" % (phase, i), shlex.quote(cmd)))
    return "\n".join(out) + "\n"


def elements(seen, set_name):
    """Elements of a set of `nft -j list table`, as tuples of strings."""
    for obj in seen.get("nftables", []):
        s = obj.get("set")
        if not s or s.get("name") != set_name:
            continue
        for e in s.get("elem", []):
            v = e.get("elem", {}).get("val", e) if isinstance(e, dict) else e
            c = v.get("concat") if isinstance(v, dict) else [v]
            yield tuple(str(x) for x in c)


def norm_proto(x):
    return {"6": "tcp", "17": "udp", "1": "icmp"}.get(x, x)


def verdict(evidence, out, vm, seen, dnslog):
    words = out.split()
    first = words[0] if words else ""
    kind, _, arg = evidence.partition(":")
    tap = vm["tap"]
    if kind == "connect":
        return first == "connected" or "connected" in words
    if kind == "reply":
        return "reply" in words
    if kind == "ping":
        return " 1 packets received" in out
    if kind == "resolve":
        return ("Address: " + arg) in out or ("Address:\t" + arg) in out
    if kind == "body":
        return arg in out
    if kind == "dnslog":
        return any(("query[" in l and (" %s " % arg.lower()) in l.lower()) for l in dnslog)
    if kind in ("fwd", "in"):
        dst, proto, port = arg.split(":")
        key = (tap, dst, proto, port)
        found = any((e[0], e[1], norm_proto(e[2]), e[3]) == key
                    for e in elements(seen, kind + "_seen"))
        return found or first in ("connected", "reply")
    if kind == "scan-tcp":
        opened = [w for i, w in enumerate(words[1:], 1) if words[i - 1] == "open" and w != "53"]
        if "scanned" not in out:
            return True  # the scan did not finish: count it against the firewall
        passed = [e for e in elements(seen, "in_seen")
                  if e[0] == tap and e[1] == vm["gw"] and norm_proto(e[2]) == "tcp"
                  and e[3] != "53"]
        return bool(opened or passed)
    if kind == "scan-udp":
        passed = [e for e in elements(seen, "in_seen")
                  if e[0] == tap and e[1] == vm["gw"] and norm_proto(e[2]) == "udp"
                  and e[3] not in ("53", "67")]
        return bool(passed) or "sent 65535" not in out
    raise ValueError(evidence)


def evaluate(state):
    vms = json.load(open(state + "/vms.json"))
    seen = json.load(open(state + "/seen.json"))
    dnslog = open(state + "/dns.log", errors="replace").read().splitlines()
    rows = []  # (mode, attempt, expected, got, detail)

    def results(name, phase):
        r = {}
        try:
            text = open("%s/results/%s.%s.txt" % (state, name, phase), "rb").read()
            for line in text.decode("utf-8", "replace").split("\n"):
                if line.startswith("R "):
                    parts = line.split(" ", 2)
                    r[parts[1]] = parts[2] if len(parts) > 2 else ""
        except FileNotFoundError:
            pass
        return r

    for vm in vms:
        for phase, table in (("main", attempts(vm, vms)), ("after", AFTER)):
            res = results(vm["name"], phase)
            for i, (what, _, evidence, reach) in enumerate(table):
                key = "%s-%d" % (phase, i)
                expected = "reached" if vm["mode"] in reach else "blocked"
                if key not in res:
                    rows.append((vm["name"], what, expected, "no result", ""))
                    continue
                got = "reached" if verdict(evidence, res[key], vm, seen, dnslog) else "blocked"
                rows.append((vm["name"], what, expected, got, res[key][:70]))
    host = results("host", "main")
    for i, (what, _, evidence, reach) in enumerate(HOST):
        key = "host-%d" % i
        if key not in host:
            rows.append(("host", what, "blocked", "no result", ""))
            continue
        fake = {"tap": "lan0"}
        got = "reached" if verdict(evidence, host[key], fake, seen, dnslog) else "blocked"
        rows.append(("host", what, "reached" if "host" in reach else "blocked", got, host[key][:70]))

    w = max(len(r[1]) for r in rows)
    print("%-6s  %-*s  %-8s  %-8s" % ("mode", w, "attempt", "expected", "got"))
    for mode, what, expected, got, detail in rows:
        mark = "" if expected == got else "   <-- UNEXPECTED: " + detail
        print("%-6s  %-*s  %-8s  %-8s%s" % (mode, w, what, expected, got, mark))
    good = sum(1 for r in rows if r[2] == r[3])
    print("escape matrix: %d attempts, %d as expected" % (len(rows), good))
    per_mode = {}
    for r in rows:
        per_mode[r[0]] = per_mode.get(r[0], 0) + 1
    short = [m for m in MODES if per_mode.get(m, 0) < 40]
    if short:
        print("fewer than 40 attempts for: " + " ".join(short))
    return 0 if good == len(rows) and len(rows) >= 120 and not short else 1


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "script":
        vms = json.load(open(sys.argv[2]))
        sys.stdout.write(script(vms, sys.argv[3], sys.argv[4]))
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "evaluate":
        return evaluate(sys.argv[2])
    if len(sys.argv) == 3 and sys.argv[1] == "host-ids":
        # the ids of the host-side attempts of a VM: "ID<TAB>what" lines
        vms = json.load(open(sys.argv[2]))
        for i, (what, cmd, _, _) in enumerate(attempts(vms[0], vms)):
            if cmd is None:
                print("main-%d\t%s" % (i, what))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
