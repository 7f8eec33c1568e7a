#!/usr/bin/env python3
"""Malformed and adversarial HTTP/1.1 at an L7 port: broken request lines,
conflicting framings, bad chunking, oversized heads, pipelining, byte flips,
half-closes, HTTP/2 prefaces cut short; and well-formed requests whose paths,
hosts and headers aim at the route, policy and hashing matchers.

  http1.py HOST PORT COUNT SEED     → "http1 COUNT connections"

Prints nothing else unless the connection itself cannot be made; what the
agent answers is not judged here (the caller checks that the agent is still
up and holds no socket it should have closed)."""
import os
import random
import socket
import sys

host, port, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)

METHODS = [b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"CONNECT", b"PRI", b"G\x00T", b"", b"X" * 300]
URIS = [b"/", b"/a?b=c&q=1", b"*", b"http://x/y", b"//x//y", b"/%zz/%00", b"/" + b"a" * 9000, b"", b"/ x", b"/\xc3\xa9",
        b"/re/abc/def?q=1", b"/a?" + b"&".join(b"k%d=v" % i for i in range(500))]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.1x", b""]
HEADERS = [b"Host: web", b"Host: ", b"Host: [::1]:80", b"Host: a:b:c", b"Content-Length: 5", b"Content-Length: -1",
           b"Content-Length: 99999999999999999999", b"Content-Length: 3\r\nContent-Length: 4", b"Transfer-Encoding: chunked",
           b"Transfer-Encoding: gzip, chunked", b"Connection: upgrade", b"Upgrade: websocket", b"Upgrade: h2c",
           b"Expect: 100-continue", b"Connection: close", b"traceparent: 00-zz-yy-01", b"content-type: application/grpc",
           b"x-big: " + b"b" * 70000, b"bad header", b": empty", b"baggage: " + b",".join([b"k=v"] * 500),
           b"x-user: \xc3\xa9", b"x-re: abab", b"x-deny: yes", b"x-\x01: y"]
BODIES = [b"", b"hello", b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffffff\r\n"]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def request():
    line = rnd.choice(METHODS) + b" " + rnd.choice(URIS) + b" " + rnd.choice(VERSIONS)
    headers = [rnd.choice(HEADERS) for _ in range(rnd.randrange(0, 6))]
    end = rnd.choice([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r"])
    body = rnd.choice(BODIES) if rnd.random() < 0.8 else os.urandom(rnd.randrange(1, 5000))
    raw = line + end + end.join(headers) + (end if headers else b"") + end + body
    if rnd.random() < 0.2:
        flipped = bytearray(raw)
        for _ in range(rnd.randrange(1, 5)):
            flipped[rnd.randrange(len(flipped))] = rnd.randrange(256)
        raw = bytes(flipped)
    return raw


for _ in range(count):
    try:
        s = socket.create_connection((host, port), timeout=2)
    except OSError as error:
        print("connect:", error)
        continue
    s.settimeout(0.3)
    data = b"".join(request() for _ in range(rnd.randrange(1, 4)))
    if rnd.random() < 0.1:
        data = PREFACE[:rnd.randrange(1, len(PREFACE) + 1)] + os.urandom(rnd.randrange(0, 300))
    try:
        for at in range(0, len(data), 4096):
            s.sendall(data[at:at + 4096])
        if rnd.random() < 0.5:
            s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass  # resets and timeouts are answers too
    s.close()
print("http1", count, "connections")
