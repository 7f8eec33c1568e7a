#!/usr/bin/env python3
"""The demo's HTTP echo workload: answers every request with who it is and what it
received, so the demo output shows the request crossed the mesh intact."""
import argparse
import http.server
import json
import socket


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ferry-demo-echo"
    # One write per response, no Nagle: otherwise headers and body leave as two
    # segments and a keep-alive peer's delayed ACK holds the second for 40 ms.
    wbufsize = -1
    disable_nagle_algorithm = True

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = json.dumps({
            "workload": self.server.name,
            "method": self.command,
            "path": self.path,
            "client": self.client_address[0],
            "body": body.decode(errors="replace"),
        }) + "\n"
        data = reply.encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--name", default="echo")
    args = parser.parse_args()
    server = Server(("::", args.port), Echo)
    server.name = args.name
    print("listening", flush=True)
    server.serve_forever()
