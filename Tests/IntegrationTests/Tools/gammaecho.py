#!/usr/bin/env python3
"""The echo backend of the Gateway API mesh conformance port: it reports what
the suite's echo server (Istio's echo app) reports and the suite compares.

  gammaecho.py --name POD_NAME [--http 8080] [--grpc 7070]

HTTP (any method, any path): a text body of Key=Value lines:
  ServicePort=, Host= (the Host header), URL= (the request target as received,
  query included), Method=, Proto=, then RequestHeader=Name:value once per
  header line in the order received (repeats kept), then Hostname=POD_NAME.
gRPC (/proto.EchoTestService/Echo, raw bytes in and out, no protobuf):
  RequestHeader=key:value once per metadata value (binary keys skipped),
  StatusCode=200, ServicePort=, Proto=GRPC, Echo=<request bytes>, Hostname=.
grpcio does not expose :authority to a handler, so there is no Host= line
for gRPC; the suite does not compare it there either."""
import argparse
import concurrent.futures
import http.server
import socket

import grpc


def http_handler(name, port):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def answer(self):
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            lines = [f"ServicePort={port}", f"Host={self.headers.get('host', '')}", f"URL={self.path}",
                     f"Method={self.command}", f"Proto={self.request_version}"]
            lines += [f"RequestHeader={key}:{value}" for key, value in self.headers.items()]
            lines.append(f"Hostname={name}")
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer

        def log_message(self, *args):
            pass

    return Handler


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def grpc_server(name, port):
    def echo(request, context):
        lines = [f"RequestHeader={key}:{value}" for key, value in context.invocation_metadata()
                 if not key.endswith("-bin")]
        lines += ["StatusCode=200", f"ServicePort={port}", "Proto=GRPC",
                  f"Echo={request.decode(errors='replace')}", f"Hostname={name}"]
        return ("\n".join(lines) + "\n").encode()

    handler = grpc.method_handlers_generic_handler("proto.EchoTestService", {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
    })
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"[::]:{port}")
    server.start()
    return server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--http", type=int, default=8080)
    parser.add_argument("--grpc", type=int, default=7070)
    args = parser.parse_args()
    keep = grpc_server(args.name, args.grpc)
    server = Server(("::", args.http), http_handler(args.name, args.http))
    print("listening", flush=True)
    server.serve_forever()
    keep.stop(None)


if __name__ == "__main__":
    main()
