#!/usr/bin/env python3
"""A configurable HTTP/1.1 backend for L7 tests.

  httpserver.py --port P --name NAME [--fail-ratio R] [--fail-status S] [--delay-ms D]

Answers every request with 200 and "NAME METHOD PATH" (plus the x-* request
headers it saw, as JSON), except a random share R which get S (default 503),
after an optional delay. Upgrade requests get 101 and then an echo of raw
bytes (a stand-in for a WebSocket server). Counts requests: GET /__count.
GET /__endless answers an event stream that never ends (1 MiB events);
GET /__events three small events, 500 ms apart; GET /__bytes/N N bytes;
POST /__upload reads a body of any size and answers its size and SHA-256;
GET /__close answers and closes the connection; GET /__idleclose answers as
keep-alive, then closes anyway (a server's idle timeout striking at once)."""
import argparse
import http.server
import json
import hashlib
import random
import socket
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True

    def answer(self):
        config = self.server.config
        if self.path == "/__upload":
            return self.upload()
        if self.path == "/__close":
            self.close_connection = True
            return self.reply(200, b"closing\n", close=True)
        if self.path == "/__idleclose":
            self.close_connection = True
            return self.reply(200, b"idle close\n")
        body = self.read_body()
        if self.path == "/__count":
            return self.reply(200, json.dumps({"requests": self.server.count}).encode())
        if self.path == "/__endless":
            return self.endless()
        if self.path == "/__events":
            return self.events()
        if self.path.startswith("/__bytes/"):
            return self.reply(200, b"b" * int(self.path.rsplit("/", 1)[1]))
        with self.server.lock:
            self.server.count += 1
        if self.headers.get("upgrade"):
            self.send_response(101)
            self.send_header("upgrade", self.headers["upgrade"])
            self.send_header("connection", "upgrade")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            while True:
                data = self.connection.recv(65536)
                if not data:
                    return
                self.connection.sendall(data)
        if config.delay_ms:
            time.sleep(config.delay_ms / 1000)
        if config.fail_ratio and random.random() < config.fail_ratio:
            return self.reply(config.fail_status, f"{config.name} failing\n".encode())
        seen = {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("x-") or k.lower() == "traceparent"}
        self.reply(200, json.dumps({"workload": config.name, "method": self.command, "path": self.path,
                                    "headers": seen, "body": body.decode(errors="replace")}).encode() + b"\n")

    def read_body(self):
        """The request body, by Content-Length or chunked (trailers skipped)."""
        if self.headers.get("transfer-encoding", "").lower() != "chunked":
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length) if length else b""
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def upload(self):
        """Reads a body of any size a piece at a time (Content-Length or
        chunked) and answers with its size and SHA-256."""
        digest, size = hashlib.sha256(), 0
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                chunk = int(self.rfile.readline().split(b";")[0], 16)
                if chunk == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = self.rfile.read(chunk)
                self.rfile.readline()
                digest.update(data); size += len(data)
        else:
            left = int(self.headers.get("content-length") or 0)
            while left:
                data = self.rfile.read(min(left, 1 << 20))
                digest.update(data); size += len(data); left -= len(data)
        self.reply(200, json.dumps({"bytes": size, "sha256": digest.hexdigest()}).encode() + b"\n")

    def endless(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        event = b"data: " + b"x" * (1 << 20) + b"\n\n"
        self.close_connection = True
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        except OSError:
            return

    def events(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for n in range(3):
            if n:
                time.sleep(0.5)
            event = b"data: %d\n\n" % n
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def reply(self, status, data, close=False):
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if close:
            self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--fail-ratio", type=float, default=0.0)
    parser.add_argument("--fail-status", type=int, default=503)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    config = parser.parse_args()
    server = Server(("::", config.port), Handler)
    server.config = config
    server.count = 0
    server.lock = threading.Lock()
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
