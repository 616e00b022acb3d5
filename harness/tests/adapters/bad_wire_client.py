#!/usr/bin/env python3
"""A misbehaving LwM2M client on the wire, for the harness's bad-input tests.

usage: bad_wire_client.py BEHAVIOUR PIDFILE BS_URI ENDPOINT

It writes its PID to PIDFILE (so that the test can check it was killed), waits the factory
Client Hold Off Time (1 s), sends Bootstrap-Request, then answers every server request
according to BEHAVIOUR:

  silent          sends nothing at all
  malformed       sends a datagram that is not CoAP instead of Bootstrap-Request
  dies            exits with status 3 right after Bootstrap-Request
  duplicate       sends Bootstrap-Request twice with the same Message ID, then answers 2.04
  wrong-token     answers server requests with a token the request did not carry
  unknown-format  answers server requests 2.05 with Content-Format 9999
  reset           answers server requests with a Reset
"""
import os
import socket
import struct
import sys
import time


def option_bytes(options):
    """options: list of (number, bytes), sorted by number (RFC 7252 section 3.1)."""
    out, last = b"", 0
    for number, value in options:
        delta, length = number - last, len(value)
        last = number
        ext = b""

        def nibble(n):
            nonlocal ext
            if n < 13:
                return n
            if n < 269:
                ext += bytes([n - 13])
                return 13
            ext += struct.pack(">H", n - 269)
            return 14

        d = nibble(delta)
        l = nibble(length)
        out += bytes([(d << 4) | l]) + ext + value
    return out


def message(kind, code, mid, token, options=(), payload=b""):
    head = bytes([0x40 | (kind << 4) | len(token), code]) + struct.pack(">H", mid) + token
    body = option_bytes(list(options))
    return head + body + (b"\xff" + payload if payload else b"")


def main():
    behaviour, pidfile, bs_uri, endpoint = sys.argv[1:5]
    with open(pidfile, "w") as f:
        f.write(str(os.getpid()))
    host, port = bs_uri[len("coap://"):].rsplit(":", 1)
    bs = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    if behaviour == "silent":
        time.sleep(3600)
    time.sleep(1.0)
    if behaviour == "malformed":
        s.sendto(b"\xff\x00garbage", bs)
        time.sleep(3600)
    request = message(0, 0x02, 0x1234, b"\x01\x02",
                      [(11, b"bs"), (15, ("ep=" + endpoint).encode())])
    s.sendto(request, bs)
    if behaviour == "duplicate":
        time.sleep(0.01)
        s.sendto(request, bs)
    if behaviour == "dies":
        time.sleep(0.05)
        sys.exit(3)
    while True:
        data, peer = s.recvfrom(2048)
        if len(data) < 4:
            continue
        kind, tkl, code = (data[0] >> 4) & 3, data[0] & 15, data[1]
        mid, token = data[2:4], data[4:4 + tkl]
        if kind != 0 or not (1 <= code <= 31):
            continue  # not a Confirmable request: an ACK to our own request
        mid = struct.unpack(">H", mid)[0]
        if behaviour == "reset":
            reply = message(3, 0x00, mid, b"")
        elif behaviour == "wrong-token":
            reply = message(2, 0x45, mid, b"\xee\xee\xee")
        elif behaviour == "unknown-format":
            reply = message(2, 0x45, mid, token, [(12, struct.pack(">H", 9999))], b"x")
        else:
            reply = message(2, 0x44, mid, token)
        s.sendto(reply, peer)


if __name__ == "__main__":
    main()
