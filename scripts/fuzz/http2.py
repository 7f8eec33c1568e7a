#!/usr/bin/env python3
"""Structurally plausible, semantically hostile HTTP/2 frames after a valid
preface: HEADERS with odd pseudo-headers and authorities, DATA on streams
that do not exist, bad SETTINGS lengths, WINDOW_UPDATE of 0 and 2^31,
RST_STREAM, GOAWAY, CONTINUATION out of place, random bytes between frames.
Over plaintext (an h2c port) or over mTLS with a workload certificate (:15008).

  http2.py HOST:PORT COUNT SEED [CERT KEY]   → "http2 COUNT connections"
"""
import os
import random
import socket
import ssl
import struct
import sys

address, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cert = sys.argv[4:6] if len(sys.argv) >= 6 else None
rnd = random.Random(seed)
host, port = address.rsplit(":", 1)
tls = None
if cert:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.minimum_version = ssl.TLSVersion.TLSv1_3
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    tls.load_cert_chain(*cert)
    tls.set_alpn_protocols(["h2"])


def frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):  # HPACK literal without indexing, new name, no Huffman
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def headers_block():
    block = literal(b":method", rnd.choice([b"CONNECT", b"GET", b"POST", b""]))
    block += literal(b":authority", rnd.choice([b"198.18.0.2:8080", b"web", b"x", b"[::1]:80", b"198.18.0.2:99999", b""]))
    if rnd.random() < 0.6:
        block += literal(b":scheme", b"http") + literal(b":path", rnd.choice([b"/", b"", b"*", b"/re/a/?q=1"]))
    return block


def random_frame():
    stream = rnd.choice([1, 3, 0, 2, 5, 2 ** 31 - 1])
    choice = rnd.randrange(10)
    if choice == 0:
        return frame(1, rnd.choice([4, 5, 0, 0x24]), stream, headers_block())
    if choice == 1:
        return frame(0, rnd.choice([0, 1, 8]), stream, os.urandom(rnd.randrange(0, 300)))
    if choice == 2:
        return frame(rnd.randrange(0, 12), rnd.randrange(256), stream, os.urandom(rnd.randrange(0, 50)))
    if choice == 3:
        return frame(8, 0, stream, struct.pack(">I", rnd.choice([0, 1, 2 ** 31 - 1, 2 ** 31])))
    if choice == 4:
        return frame(3, 0, stream, struct.pack(">I", rnd.randrange(20)))
    if choice == 5:
        return frame(4, 0, 0, os.urandom(rnd.choice([5, 6, 12])))
    if choice == 6:
        return frame(7, 0, 0, os.urandom(8))
    if choice == 7:
        return os.urandom(rnd.randrange(1, 40))
    if choice == 8:
        return frame(9, 4, stream, os.urandom(rnd.randrange(0, 30)))
    return frame(1, 4, stream, os.urandom(rnd.randrange(0, 80)))


for _ in range(count):
    try:
        raw = socket.create_connection((host, int(port)), timeout=2)
        s = tls.wrap_socket(raw) if tls else raw
    except OSError as error:
        print("connect:", error)
        continue
    s.settimeout(0.05)
    data = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
    data += b"".join(random_frame() for _ in range(rnd.randrange(1, 8)))
    try:
        s.sendall(data)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
print("http2", count, "connections")
