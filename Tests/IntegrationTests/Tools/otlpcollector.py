#!/usr/bin/env python3
"""A stand-in OpenTelemetry collector: accepts OTLP/HTTP JSON on /v1/traces
(127.0.0.1:PORT) and prints one JSON line per span it receives:
traceId, spanId, parentSpanId (hex), name, kind, attributes, status code and
the resource's attributes. Ids are accepted as hex (the OTLP spec) or base64
(protobuf's own JSON mapping)."""
import argparse
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def hex_id(value):
    if not value:
        return ""
    if len(value) in (16, 32) and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    return base64.b64decode(value).hex()


def flat(attributes):
    return {a["key"]: next(iter(a.get("value", {}).values()), None) for a in attributes or []}


class Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path != "/v1/traces" or "json" not in (self.headers.get("content-type") or ""):
            self.send_response(415)
            self.end_headers()
            return
        for resource in json.loads(body).get("resourceSpans", []):
            resource_attributes = flat(resource.get("resource", {}).get("attributes"))
            for scope in resource.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    print(json.dumps({
                        "traceId": hex_id(span.get("traceId")), "spanId": hex_id(span.get("spanId")),
                        "parentSpanId": hex_id(span.get("parentSpanId")), "name": span.get("name"),
                        "kind": span.get("kind"), "attributes": flat(span.get("attributes")),
                        "status": span.get("status", {}).get("code", 0), "resource": resource_attributes,
                    }), flush=True)
        answer = b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=4318)
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Collector)
    print("listening", flush=True)
    sys.stdout.flush()
    server.serve_forever()
