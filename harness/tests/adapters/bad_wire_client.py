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
  block1-gap      sends Bootstrap-Request as Block1 (RFC 7959): block 0, then, after the
                  2.31 Continue, block 2 (block 1 missing)
  block2-mismatch answers the first server request 2.05 with Block2 block 0 (M=1) and the
                  request for block 1 with Block2 block 2
  block1-echo     answers a server request with a payload over 16 bytes 4.13 with a Block1
                  size hint of 16, then its Block1 block 0 with a 2.31 Continue whose
                  Block1 option says block 5
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


def parse(data):
    """(options as a list of (number, value), payload) of a CoAP message."""
    at, number, options = 4 + (data[0] & 15), 0, []
    while at < len(data) and data[at] != 0xFF:
        delta, length = data[at] >> 4, data[at] & 15
        at += 1
        def ext(n):
            nonlocal at
            if n == 13:
                at += 1
                return data[at - 1] + 13
            if n == 14:
                at += 2
                return struct.unpack(">H", data[at - 2:at])[0] + 269
            return n
        number += ext(delta)
        length = ext(length)
        options.append((number, data[at:at + length]))
        at += length
    return options, data[at + 1:] if at < len(data) else b""


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
    if behaviour == "block1-gap":
        # Block1 option 27: NUM << 4 | M << 3 | SZX (0: 16 bytes).
        block0 = message(0, 0x02, 0x1234, b"\x01\x02",
                         [(11, b"bs"), (15, ("ep=" + endpoint).encode()), (27, b"\x08")],
                         b"0123456789abcdef")
        s.sendto(block0, bs)
        s.settimeout(5)
        s.recvfrom(2048)  # 2.31 Continue
        block2 = message(0, 0x02, 0x1236, b"\x01\x03",
                         [(11, b"bs"), (15, ("ep=" + endpoint).encode()), (27, b"\x28")],
                         b"0123456789abcdef")
        s.sendto(block2, bs)
        time.sleep(3600)
    s.sendto(request, bs)
    if behaviour == "duplicate":
        time.sleep(0.01)
        s.sendto(request, bs)
    if behaviour == "dies":
        time.sleep(0.05)
        sys.exit(3)
    served = 0
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
        elif behaviour == "block1-echo":
            options, payload = parse(data)
            if any(n == 27 for n, _ in options):
                reply = message(2, 0x5F, mid, token, [(27, b"\x58")])  # 2.31, block 5
            elif len(payload) > 16:
                reply = message(2, 0x8D, mid, token, [(27, b"")])  # 4.13, 16-byte blocks
            else:
                reply = message(2, 0x44, mid, token)
        elif behaviour == "block2-mismatch":
            # Block2 option 23: block 0 with M=1, then block 2 (M=0) when block 1 is asked.
            block = b"\x08" if served == 0 else b"\x20"
            served += 1
            reply = message(2, 0x45, mid, token, [(12, b"\x28"), (23, block)],
                            b'lwm2m="1.0",</0/0'[:16] if block == b"\x08" else b">")
        elif behaviour == "unknown-format":
            reply = message(2, 0x45, mid, token, [(12, struct.pack(">H", 9999))], b"x")
        else:
            reply = message(2, 0x44, mid, token)
        s.sendto(reply, peer)


if __name__ == "__main__":
    main()
