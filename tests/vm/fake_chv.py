#!/usr/bin/env python3
"""A stand-in for cloud-hypervisor's REST API that follows its OpenAPI specification.

cloud-hypervisor cannot be installed on our machines, so nixbox's client (vm/chv.c) is tested
against this server instead (tests/unit/test_chv.c).  It reads the specification itself
(tests/vm/cloud-hypervisor-openapi.yaml, verbatim from cloud-hypervisor) and, for every request:

- checks that the path exists, the method is the one the spec gives, a required JSON body is
  there with Content-Type application/json and matches its schema (types, required fields, enums,
  integer ranges, no properties the schema does not list), and that bodiless operations get none;
- answers like a VMM would (a small model: state, device tree, hot-plug, unplug that completes
  after a few vm.info polls), using only status codes the spec lists for that operation;
- logs the request and any violation as one JSON line to --log.

Usage: fake_chv.py --spec YAML --socket PATH --log FILE [--state Running|Created|...]
                   [--status ENDPOINT=CODE ...] [--unplug-polls N] [--device ID ...]
"""
import argparse
import json
import os
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler

import yaml

PREFIX = "/api/v1"
INT_RANGES = {"int16": (-(1 << 15), (1 << 15) - 1), "uint8": (0, 255), "uint16": (0, 65535),
              "int32": (-(1 << 31), (1 << 31) - 1), "uint32": (0, (1 << 32) - 1),
              "int64": (-(1 << 63), (1 << 63) - 1), "uint64": (0, (1 << 64) - 1)}


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.paths = self.doc["paths"]

    def resolve(self, schema):
        while "$ref" in schema:
            ref = schema["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
            schema = node
        return schema

    def validate(self, value, schema, where="body"):
        """Return a list of violations of schema by value."""
        schema = self.resolve(schema)
        errors = []
        t = schema.get("type")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r} not one of {schema['enum']}")
        if t == "object" or (t is None and "properties" in schema):
            if not isinstance(value, dict):
                return [f"{where}: expected an object, got {type(value).__name__}"]
            props = schema.get("properties", {})
            for req in schema.get("required", []):
                if req not in value:
                    errors.append(f"{where}: required property {req!r} missing")
            extra = schema.get("additionalProperties")
            for k, v in value.items():
                if k in props:
                    errors += self.validate(v, props[k], f"{where}.{k}")
                elif isinstance(extra, dict):
                    errors += self.validate(v, extra, f"{where}.{k}")
                elif extra is not True:
                    errors.append(f"{where}: property {k!r} is not in the schema")
        elif t == "array":
            if not isinstance(value, list):
                return [f"{where}: expected an array"]
            for i, item in enumerate(value):
                errors += self.validate(item, schema.get("items", {}), f"{where}[{i}]")
        elif t == "string":
            if not isinstance(value, str):
                errors.append(f"{where}: expected a string, got {value!r}")
        elif t == "boolean":
            if not isinstance(value, bool):
                errors.append(f"{where}: expected a boolean, got {value!r}")
        elif t == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append(f"{where}: expected an integer, got {value!r}")
            else:
                lo, hi = INT_RANGES.get(schema.get("format", "int64"), INT_RANGES["int64"])
                if not lo <= value <= hi:
                    errors.append(f"{where}: {value} out of range for {schema.get('format')}")
        elif t == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{where}: expected a number, got {value!r}")
        return errors

    def statuses(self, path, method):
        return {int(code) for code in self.paths[path][method].get("responses", {})}


class VMM:
    """The little state a VMM has that the client can observe."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.state = args.state
        self.devices = {d: {"id": d} for d in args.device}
        self.unplugging = {}  # id -> vm.info polls left before it is gone
        self.unplug_polls = args.unplug_polls
        self.forced = dict(args.status)
        self.next_slot = 6

    def info(self):
        for dev in list(self.unplugging):
            self.unplugging[dev] -= 1
            if self.unplugging[dev] < 0:
                del self.unplugging[dev]
                self.devices.pop(dev, None)
        return {"config": {"payload": {"kernel": "/fake/vmlinux"}}, "state": self.state,
                "memory_actual_size": 512 << 20, "device_tree": self.devices}

    def add(self, body):
        dev = body.get("id") or f"_dev{self.next_slot}"
        if dev in self.devices:
            return 409, None
        bdf = f"0000:00:{self.next_slot:02x}.0"
        self.next_slot += 1
        self.devices[dev] = {"id": dev, "pci_bdf": bdf, "children": [], "resources": []}
        return 200, {"id": dev, "bdf": bdf}

    def answer(self, endpoint, body):
        """(status, JSON body or None) for a valid request."""
        if endpoint in self.forced:
            return self.forced[endpoint], None
        if endpoint == "vmm.ping":
            return 200, {"version": "v48.0-fake", "build_version": "fake", "pid": os.getpid(),
                         "features": []}
        if endpoint == "vm.info":
            return 200, self.info()
        if endpoint in ("vm.add-disk", "vm.add-fs"):
            return self.add(body)
        if endpoint == "vm.remove-device":
            dev = body.get("id")
            if dev not in self.devices:
                return 404, None
            self.unplugging.setdefault(dev, self.unplug_polls)
            return 204, None
        if endpoint == "vm.power-button":
            if self.state == "Running":
                self.state = "Shutdown"
                return 204, None
            return 405, None
        return None, None


def make_handler(spec, vmm, log):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def reply(self, status, obj, text=""):
            data = json.dumps(obj).encode() if obj is not None else text.encode()
            self.send_response(status)
            if obj is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

        def handle_any(self):
            method = self.command.lower()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type")
            entry = {"method": self.command, "path": self.path, "content_type": ctype,
                     "body": None, "violations": []}
            v = entry["violations"]
            status, obj, text = 400, None, ""
            path = self.path[len(PREFIX):] if self.path.startswith(PREFIX + "/") else None
            if path not in spec.paths:
                v.append(f"unknown path {self.path}")
                status, text = 404, "unknown path"
            elif method not in spec.paths[path]:
                v.append(f"{self.command} not allowed on {path} (spec: {list(spec.paths[path])})")
                status, text = 405, "method not allowed"
            else:
                op = spec.paths[path][method]
                req = op.get("requestBody")
                body = None
                if req:
                    if ctype != "application/json":
                        v.append(f"Content-Type {ctype!r}, expected application/json")
                    try:
                        body = json.loads(raw)
                        entry["body"] = body
                    except ValueError as e:
                        v.append(f"body is not JSON: {e}")
                    if body is not None:
                        schema = req["content"]["application/json"]["schema"]
                        v += spec.validate(body, schema)
                    elif req.get("required"):
                        v.append("required request body missing")
                elif raw:
                    v.append(f"{path} takes no body, got {raw[:80]!r}")
                if v:
                    status, text = 400, "; ".join(v)
                else:
                    with vmm.lock:
                        status, obj = vmm.answer(path[1:], body or {})
                    if status is None:
                        v.append(f"{path}: not modelled by the fake")
                        status, obj = 500, None
                    allowed = spec.statuses(path, method)
                    if status not in allowed:
                        v.append(f"fake answered {status}, not in spec {sorted(allowed)}")
                    if status >= 400:
                        text = f"fake cloud-hypervisor: {path[1:]} failed with {status}"
                    # self-check: what we answer matches the spec's response schema
                    resp = op.get("responses", {}).get(status) or {}
                    rschema = resp.get("content", {}).get("application/json", {}).get("schema")
                    if obj is not None and rschema:
                        v += [f"response: {e}" for e in spec.validate(obj, rschema, "response")]
            entry["status"] = status
            with vmm.lock:
                log.write(json.dumps(entry) + "\n")
                log.flush()
            self.reply(status, obj, text)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = handle_any

    return Handler


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def status_arg(s):
    endpoint, _, code = s.partition("=")
    return endpoint, int(code)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--state", default="Running")
    ap.add_argument("--status", type=status_arg, action="append", default=[])
    ap.add_argument("--unplug-polls", type=int, default=2)
    ap.add_argument("--device", action="append", default=[])
    args = ap.parse_args()
    spec = Spec(args.spec)
    for endpoint, code in args.status:
        p = "/" + endpoint
        allowed = set().union(*(spec.statuses(p, m) for m in spec.paths.get(p, {})))
        if code not in allowed:
            sys.exit(f"--status {endpoint}={code}: the spec does not list {code} for {p}")
    vmm = VMM(args)
    log = open(args.log, "a")
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    with Server(args.socket, make_handler(spec, vmm, log)) as srv:
        srv.serve_forever()


if __name__ == "__main__":
    main()
