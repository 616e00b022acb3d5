#!/usr/bin/env python3
"""Wire probe: plays an LwM2M bootstrap server (and a bare LwM2M server) on 127.0.0.1 against
clients/coap-node/launch.js and prints every exchange. Standard library only.

    python3 clients/coap-node/probe_bs.py [SCENARIO ...]     (default: all; --list names them)

Each scenario launches a fresh client (`node launch.js coap://127.0.0.1:BS_PORT ENDPOINT`),
prints one line per CoAP message it sees or sends, then kills the client. `-v` also prints the
launcher's stderr. This is a diagnostic, not a test: it asserts nothing.
"""

import os
import random
import select
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VERBOSE = "-v" in sys.argv

# ------------------------------------------------------------------ CoAP (RFC 7252)
CON, NON, ACK, RST = 0, 1, 2, 3
TYPES = {CON: "CON", NON: "NON", ACK: "ACK", RST: "RST"}
GET, POST, PUT, DELETE = 1, 2, 3, 4
LOCATION_PATH, URI_PATH, CONTENT_FORMAT, URI_QUERY, ACCEPT = 8, 11, 12, 15, 17
OPTION_NAMES = {8: "Location-Path", 11: "Uri-Path", 12: "Content-Format", 15: "Uri-Query", 17: "Accept"}
TLV_CF, TEXT_CF, LINK_CF, JSON_CF, SENML_CF = 11542, 0, 40, 11543, 110


def code_str(code):
    return "%d.%02d" % (code >> 5, code & 31)


def code_num(s):
    c, d = s.split(".")
    return int(c) << 5 | int(d)


def uint(n):
    if n == 0:
        return b""
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def _ext(n):
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, struct.pack(">H", n - 269)


def encode(mtype, code, mid, token=b"", options=(), payload=b""):
    out = bytearray([0x40 | mtype << 4 | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(options, key=lambda o: o[0]):
        d, dx = _ext(num - last)
        ln, lx = _ext(len(val))
        out += bytes([d << 4 | ln]) + dx + lx + val
        last = num
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def decode(buf):
    tkl = buf[0] & 15
    msg = {"type": buf[0] >> 4 & 3, "code": buf[1], "mid": struct.unpack(">H", buf[2:4])[0],
           "token": buf[4:4 + tkl], "options": [], "payload": b""}
    i, num = 4 + tkl, 0
    while i < len(buf):
        if buf[i] == 0xFF:
            msg["payload"] = buf[i + 1:]
            break
        d, ln = buf[i] >> 4, buf[i] & 15
        i += 1
        vals = []
        for v in (d, ln):
            if v == 13:
                v = buf[i] + 13
                i += 1
            elif v == 14:
                v = struct.unpack(">H", buf[i:i + 2])[0] + 269
                i += 2
            vals.append(v)
        num += vals[0]
        msg["options"].append((num, buf[i:i + vals[1]]))
        i += vals[1]
    return msg


def opt_all(msg, num):
    return [v for n, v in msg["options"] if n == num]


def describe(msg):
    parts = [TYPES[msg["type"]], code_str(msg["code"]), "mid=%d" % msg["mid"],
             "tok=%s" % (msg["token"].hex() or "-")]
    path = "/".join(v.decode() for v in opt_all(msg, URI_PATH))
    query = "&".join(v.decode() for v in opt_all(msg, URI_QUERY))
    if path or query:
        parts.insert(2, "/" + path + ("?" + query if query else ""))
    for num, val in msg["options"]:
        if num in (CONTENT_FORMAT, ACCEPT):
            parts.append("%s=%d" % ("cf" if num == CONTENT_FORMAT else "accept", int.from_bytes(val, "big")))
        elif num == LOCATION_PATH:
            parts.append("loc=" + val.decode())
        elif num not in (URI_PATH, URI_QUERY):
            parts.append("opt%d=%s" % (num, val.hex()))
    if msg["payload"]:
        p = msg["payload"]
        try:
            text = p.decode()
            printable = text.isprintable()
        except UnicodeDecodeError:
            printable = False
        parts.append("payload=" + (repr(text) if printable else "hex:" + p.hex()))
    return " ".join(parts)


# ------------------------------------------------------------------ OMA LwM2M TLV
def tlv(kind, ident, value):
    """kind: 'res' (11) or 'inst' (00); 8-bit identifier."""
    t = 0xC0 if kind == "res" else 0x00
    if len(value) < 8:
        return bytes([t | len(value), ident]) + value
    if len(value) < 256:
        return bytes([t | 0x08, ident, len(value)]) + value
    return bytes([t | 0x10, ident]) + struct.pack(">H", len(value)) + value


def tint(n):
    for size, fmt in ((1, ">b"), (2, ">h"), (4, ">i"), (8, ">q")):
        if -(1 << (8 * size - 1)) <= n < 1 << (8 * size - 1):
            return struct.pack(fmt, n)
    raise ValueError(n)


def security_instance(iid, uri, bootstrap, ssid):
    res = (tlv("res", 0, uri.encode()) + tlv("res", 1, b"\x01" if bootstrap else b"\x00")
           + tlv("res", 2, tint(3)) + tlv("res", 10, tint(ssid)))
    return tlv("inst", iid, res)


def server_instance(iid, ssid, lifetime, binding="U"):
    res = tlv("res", 0, tint(ssid)) + tlv("res", 1, tint(lifetime)) + tlv("res", 7, binding.encode())
    return tlv("inst", iid, res)


# ------------------------------------------------------------------ peers
T0 = time.monotonic()


def stamp():
    return "%7.3f" % (time.monotonic() - T0)


class Peer:
    """A UDP endpoint on 127.0.0.1 acting as an LwM2M (bootstrap) server."""

    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.mid = random.randrange(1 << 16)

    def recv(self, timeout):
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return None, None
        data, addr = self.sock.recvfrom(2048)
        msg = decode(data)
        print("%s %s <- %s:%d %s" % (stamp(), self.name, addr[0], addr[1], describe(msg)))
        return msg, addr

    def send(self, addr, raw, note=""):
        self.sock.sendto(raw, addr)
        print("%s %s -> %s:%d %s%s" % (stamp(), self.name, addr[0], addr[1], describe(decode(raw)), note))

    def wait_request(self, timeout, path=None):
        """Next CON/NON request (optionally with that first Uri-Path segment)."""
        end = time.monotonic() + timeout
        while True:
            msg, addr = self.recv(end - time.monotonic())
            if msg is None:
                return None, None
            if 1 <= msg["code"] < 32 and (path is None or [v.decode() for v in opt_all(msg, URI_PATH)][:1] == [path]):
                return msg, addr

    def answer(self, req, addr, code, options=(), payload=b""):
        self.send(addr, encode(ACK, code_num(code), req["mid"], req["token"], options, payload))

    def request(self, addr, method, path, options=(), payload=b"", mid=None, token=None, timeout=2.0, tries=5):
        """Confirmable request with retransmission; returns the (final) response or None.
        Passing the mid and token of an earlier request sends an exact duplicate of it."""
        if mid is None:
            self.mid = (self.mid + 1) & 0xFFFF
            mid = self.mid
        if token is None:
            token = os.urandom(4)
        opts = [(URI_PATH, seg.encode()) for seg in path.strip("/").split("/") if seg] + list(options)
        raw = encode(CON, method, mid, token, opts, payload)
        wait = timeout
        for attempt in range(tries):
            self.send(addr, raw, "" if attempt == 0 else "  (retransmission %d)" % attempt)
            end = time.monotonic() + wait
            while True:
                msg, src = self.recv(end - time.monotonic())
                if msg is None:
                    break
                if msg["type"] == RST and msg["mid"] == mid:
                    return msg
                if msg["type"] == ACK and msg["mid"] == mid:
                    if msg["code"] != 0:
                        return msg
                    # empty ACK: the response comes separately
                    return self._separate(token, 5.0)
                if msg["token"] == token and msg["code"] >= 64:
                    return self._ack_separate(msg, src)
            wait *= 2
        print("%s %s    no answer to %s %s" % (stamp(), self.name, code_str(method), path))
        return None

    def _separate(self, token, timeout):
        end = time.monotonic() + timeout
        while True:
            msg, src = self.recv(end - time.monotonic())
            if msg is None:
                print("%s %s    empty ACK, then no separate response within %.0f s" % (stamp(), self.name, timeout))
                return None
            if msg["token"] == token and msg["code"] >= 64:
                return self._ack_separate(msg, src)

    def _ack_separate(self, msg, src):
        if msg["type"] == CON:
            self.send(src, encode(ACK, 0, msg["mid"]))
        return msg

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ client process
class Client:
    def __init__(self, bs_port, endpoint):
        self.endpoint = endpoint
        self.log = open(os.path.join("/tmp", "coap-node-probe-%d.log" % os.getpid()), "w+")
        cmd = ["node", os.path.join(HERE, "launch.js"), "coap://127.0.0.1:%d" % bs_port, endpoint]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        print("         client exit status %s" % self.proc.returncode)
        self.log.seek(0)
        lines = self.log.read().splitlines()
        shown = lines if VERBOSE else [l for l in lines if "FATAL" in l or " event " in l or "bootstrap request" in l]
        for line in shown:
            print("         | " + line)
        self.log.close()
        os.unlink(self.log.name)


def show(label, rsp):
    if rsp is None:
        print("  => %s: no response" % label)
    else:
        cf = [int.from_bytes(v, "big") for v in opt_all(rsp, CONTENT_FORMAT)]
        print("  => %s: %s %s cf=%s payload=%r" % (label, TYPES[rsp["type"]], code_str(rsp["code"]) if rsp["code"] else "(empty)",
                                                  cf[0] if cf else "-", rsp["payload"]))


def alive(client):
    time.sleep(0.3)
    up = client.proc.poll() is None
    if not up:
        print("  => the client process died (exit status %s)" % client.proc.returncode)
    return up


def start(bs, endpoint=None, answer="2.04", settle=0.1):
    """Launch the client, take its Bootstrap-Request, answer it; returns (client, request, addr).
    settle: pause after the answer, since the client binds its listener only after the 2.04."""
    endpoint = endpoint or "urn:dev:probe-%d" % random.randrange(10 ** 6)
    client = Client(bs.port, endpoint)
    req, addr = bs.wait_request(15.0)
    if req is None:
        print("  => no Bootstrap-Request within 15 s")
        return client, None, None
    print("  => Bootstrap-Request %.3f s after launch, Uri-Query %s" % (
        time.monotonic() - client.started, [v.decode() for v in opt_all(req, URI_QUERY)]))
    if answer:
        bs.answer(req, addr, answer)
        time.sleep(settle)
    return client, req, addr


TLV = [(CONTENT_FORMAT, uint(TLV_CF))]


def provision(bs, dm, addr, bootstrap_account=True):
    """Writes (TLV) the bootstrap account /0/0 (optional), the DM account /0/1 and /1/1."""
    if bootstrap_account:
        show("PUT /0/0 (bootstrap account)", bs.request(addr, PUT, "/0/0", TLV,
                                                        security_instance(0, "coap://127.0.0.1:%d" % bs.port, True, 0)))
    show("PUT /0/1", bs.request(addr, PUT, "/0/1", TLV, security_instance(1, "coap://127.0.0.1:%d" % dm.port, False, 1)))
    show("PUT /1/1", bs.request(addr, PUT, "/1/1", TLV, server_instance(1, 1, 300)))


def await_register(dm, timeout=8.0):
    reg, raddr = dm.wait_request(timeout, "rd")
    if reg is None:
        print("  => Register to PORT2: none within %.0f s" % timeout)
        return None
    print("  => Register to PORT2: %s" % describe(reg))
    dm.answer(reg, raddr, "2.01", [(LOCATION_PATH, b"rd"), (LOCATION_PATH, b"1")])
    return raddr


def sc_brief(bs, dm):
    """The brief's sequence, first Write sent at once after the 2.04: Write /0/1 and /1/1 (TLV),
    Discover /, Delete /0/1, Finish, wait for Register."""
    client, req, addr = start(bs, settle=0)
    if req:
        show("PUT /0/1", bs.request(addr, PUT, "/0/1", TLV, security_instance(1, "coap://127.0.0.1:%d" % dm.port, False, 1)))
        show("PUT /1/1", bs.request(addr, PUT, "/1/1", TLV, server_instance(1, 1, 300)))
        show("GET / accept 40", bs.request(addr, GET, "/", [(ACCEPT, uint(LINK_CF))]))
        show("DELETE /0/1", bs.request(addr, DELETE, "/0/1"))
        show("POST /bs", bs.request(addr, POST, "/bs"))
        await_register(dm)
    client.stop()


def sc_bs_ops(bs, dm):
    """Discover and Read during bootstrap, Finish and its exact duplicates (same MID and token)
    30 ms, 150 ms and 1 s later, then Register."""
    client, req, addr = start(bs)
    if not req:
        return client.stop()
    provision(bs, dm, addr)
    show("GET /0 accept 40 (bootstrap-discover)", bs.request(addr, GET, "/0", [(ACCEPT, uint(LINK_CF))]))
    show("GET /1/1 accept 11542 (bootstrap-read)", bs.request(addr, GET, "/1/1", [(ACCEPT, uint(TLV_CF))]))
    time.sleep(0.2)
    bs.mid = (bs.mid + 1) & 0xFFFF
    fin = dict(mid=bs.mid, token=os.urandom(4))
    show("POST /bs", bs.request(addr, POST, "/bs", **fin))
    for delay in (0.03, 0.15, 1.0):
        time.sleep(delay)
        show("POST /bs exact duplicate %g s later" % delay, bs.request(addr, POST, "/bs", tries=1, **fin))
    await_register(dm)
    client.stop()


DM_CHECKS = [
    ("DM GET /0 accept 40 (bootstrap account /0/0 still there?)", GET, "/0", [(ACCEPT, uint(LINK_CF))], b""),
    ("DM GET /1/1 accept 11542 (lifetime kept?)", GET, "/1/1", [(ACCEPT, uint(TLV_CF))], b""),
    ("DM GET /0/1/0 accept 0 (read Security URI)", GET, "/0/1/0", [(ACCEPT, uint(TEXT_CF))], b""),
    ("DM PUT /0/1/0 text (write Security URI)", PUT, "/0/1/0", [(CONTENT_FORMAT, uint(TEXT_CF))], b"coap://127.0.0.1:1"),
    ("DM PUT /0/1 TLV (write Security instance)", PUT, "/0/1", TLV, None),
    ("DM POST /1/1/8 (registration update trigger)", POST, "/1/1/8", [], b""),
    ("DM POST /1/1/9 (bootstrap-request trigger, 1.1)", POST, "/1/1/9", [], b""),
    ("DM GET /0/0 accept 11542 (read Security instance)", GET, "/0/0", [(ACCEPT, uint(TLV_CF))], b""),
    ("DM DELETE /0/0 (delete the bootstrap account)", DELETE, "/0/0", [], b""),
    ("DM GET /0/0 accept 11542 (read Security instance, after the DELETE)", GET, "/0/0", [(ACCEPT, uint(TLV_CF))], b""),
    ("DM GET / accept 40 (root discover)", GET, "/", [(ACCEPT, uint(LINK_CF))], b""),
]


def sc_dm(bs, dm):
    """After bootstrap and Register: requests of the provisioned (non-bootstrap) server, each
    followed by a check that the client survived; a fresh client after each crash."""
    client = raddr = None
    for label, method, path, options, payload in DM_CHECKS:
        if client is None:
            client, req, addr = start(bs)
            if not req:
                return client.stop()
            provision(bs, dm, addr)
            show("POST /bs", bs.request(addr, POST, "/bs"))
            raddr = await_register(dm)
            if raddr is None:
                return client.stop()
            time.sleep(0.2)
        if payload is None:
            payload = security_instance(1, "coap://127.0.0.1:1", False, 1)
        show(label, dm.request(raddr, method, path, options, payload, tries=2))
        if path.endswith("/9") or path.endswith("/8"):
            more, _ = bs.wait_request(2.0)
            print("  => bootstrap server then got: %s" % ("no request in 2 s" if more is None else describe(more)))
            more, _ = dm.wait_request(1.0)
            print("  => DM server then got: %s" % ("no request in 1 s" if more is None else describe(more)))
        if not alive(client):
            client.stop()
            client = None
    if client:
        client.stop()


def sc_formats(bs, dm):
    """Write formats: text 0, JSON 11543, SenML JSON 110; object-level Write; no Content-Format."""
    client, req, addr = start(bs)
    if not req:
        return client.stop()
    checks = [
        ("PUT /1/1/1 text '300'", PUT, "/1/1/1", [(CONTENT_FORMAT, uint(TEXT_CF))], b"300"),
        ("PUT /1/2 JSON 11543", PUT, "/1/2", [(CONTENT_FORMAT, uint(JSON_CF))],
         b'{"bn":"/1/2/","e":[{"n":"0","v":2},{"n":"1","v":300},{"n":"7","sv":"U"}]}'),
        ("PUT /1/3 SenML JSON 110", PUT, "/1/3", [(CONTENT_FORMAT, uint(SENML_CF))],
         b'[{"bn":"/1/3/","n":"0","v":3},{"n":"1","v":300},{"n":"7","vs":"U"}]'),
        ("PUT /0 TLV (object-level write)", PUT, "/0", TLV, security_instance(5, "coap://127.0.0.1:1", False, 5)),
        ("PUT /1/4 no Content-Format", PUT, "/1/4", [], b"x"),
    ]
    for label, method, path, options, payload in checks:
        show(label, bs.request(addr, method, path, options, payload))
        if not alive(client):
            return client.stop()
    show("POST /bs", bs.request(addr, POST, "/bs"))
    await_register(dm, 3.0)
    client.stop()


def sc_delete(bs, dm):
    """Bootstrap-Delete of /, /0/1 (then Finish: does it still register?), and of /0."""
    for path in ("/", "/0/1", "/0"):
        client, req, addr = start(bs)
        if not req:
            return client.stop()
        provision(bs, dm, addr)
        show("DELETE %s" % path, bs.request(addr, DELETE, path))
        if alive(client):
            show("POST /bs", bs.request(addr, POST, "/bs"))
            await_register(dm, 3.0)
        client.stop()


def sc_finish_empty(bs, dm):
    """Finish at once after the Bootstrap-Request: nothing provisioned (inconsistent)."""
    client, req, addr = start(bs)
    if req:
        show("POST /bs (nothing written)", bs.request(addr, POST, "/bs"))
        await_register(dm, 3.0)
    client.stop()


def sc_reject(bs, dm):
    """Bootstrap-Request answered 4.00: does the client retry?"""
    client, req, addr = start(bs, answer="4.00")
    if req:
        more, _ = bs.recv(20.0)
        print("  => within 20 s after the 4.00: %s" % ("nothing" if more is None else describe(more)))
    client.stop()


def sc_silent(bs, dm):
    """Bootstrap-Request never answered: retransmission timing and what follows (75 s)."""
    client, req, addr = start(bs, answer=None)
    if req:
        times = [time.monotonic()]
        end = times[0] + 75.0
        while True:
            more, _ = bs.recv(end - time.monotonic())
            if more is None:
                break
            times.append(time.monotonic())
        gaps = ["%.2f" % (b - a) for a, b in zip(times, times[1:])]
        print("  => %d transmissions of the Bootstrap-Request in 75 s; gaps (s): %s" % (len(times), ", ".join(gaps)))
    client.stop()


SCENARIOS = {"brief": sc_brief, "bs-ops": sc_bs_ops, "dm": sc_dm, "formats": sc_formats, "delete": sc_delete,
             "finish-empty": sc_finish_empty, "reject": sc_reject, "silent": sc_silent}


def main():
    names = [a for a in sys.argv[1:] if not a.startswith("-")]
    if "--list" in sys.argv:
        for n, f in SCENARIOS.items():
            print("%-13s %s" % (n, " ".join(f.__doc__.split())))
        return 0
    for n in names:
        if n not in SCENARIOS:
            print("unknown scenario %r (--list)" % n, file=sys.stderr)
            return 2
    for n in names or list(SCENARIOS):
        bs, dm = Peer("BS"), Peer("DM")
        print("=== %s: %s  (BS port %d, DM port PORT2=%d)" % (n, " ".join(SCENARIOS[n].__doc__.split()), bs.port, dm.port))
        try:
            SCENARIOS[n](bs, dm)
        finally:
            bs.close()
            dm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
