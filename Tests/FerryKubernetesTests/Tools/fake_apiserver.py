#!/usr/bin/env python3
"""A stand-in for the Kubernetes API server, for FerryKubernetesTests (stdlib only).

It follows the wire format of "Kubernetes API Concepts"
(https://kubernetes.io/docs/reference/using-api/api-concepts/) where the
Kubernetes source depends on it:

- one resourceVersion counter for every kind, increasing with each write;
  objects carry the version of their last write;
- list: items without kind/apiVersion, metadata.resourceVersion of the
  snapshot, `limit` with an opaque `continue` token (later pages are served from
  the first page's snapshot) and `remainingItemCount`; a token older than the
  compaction point answers HTTP 410 with a Status;
- watch (`watch=1`): HTTP 200, chunked, one JSON event per line; from
  `resourceVersion` the events after it, without it the current objects as
  ADDED first; BOOKMARK events (only metadata.resourceVersion set) when
  `allowWatchBookmarks=true`; ends cleanly after `timeoutSeconds`; a version
  older than the compaction point gets an ERROR event with a Status of code 410
  (or HTTP 410, configurable, as some servers answer before streaming);
- fieldSelector / labelSelector with =, == and !=; 404 with a Status for
  collections that are not served;
- GET of one object (/api/v1/namespaces/NS/pods/NAME), 404 with a Status if absent;
- POST /apis/authentication.k8s.io/v1/tokenreviews ("Authenticating" in the
  Kubernetes reference): 201 with the review and its status, from the tokens
  set through /_control/config; a token unknown, or not for any of
  spec.audiences, is answered authenticated: false with an error, as the API
  server does.

Control endpoints (not Kubernetes):
  POST /_control/apply    an object (kind, apiVersion, metadata) → create or update
  POST /_control/delete   {"kind", "namespace", "name"}
  POST /_control/batch    {"ops": [{"op": "apply", "object"}, {"op": "delete", ...},
                          {"op": "compact"}, {"op": "drop"}]}, atomically
  POST /_control/compact  forget history: older versions now answer 410
  POST /_control/drop     cut every open watch without ending its stream
  POST /_control/config   {"bookmarkInterval": s (0: none), "watchGone": "event"|"status",
                          "unserved": [plural, ...], "failing": [plural, ...] (answered 500),
                          "tokens": {TOKEN: {"username", "uid", "groups", "extra", "audiences"}},
                          "tokenReviewStatus": HTTP code to refuse TokenReviews with (0: none)}
  GET  /_control/objects  every object, with kind, and the current resourceVersion
  GET  /_control/stats    request counts per collection

Objects, the version counter and the configuration are kept in --state-file,
so a test can kill the process and start it again on the same port; history
is not kept, so after a restart only the current version can be watched from.

With --tls-cert/--tls-key it serves HTTPS (--client-ca: client certificates
signed by that CA are required), and with --token every API request must carry
"Authorization: Bearer TOKEN" (401 otherwise); control endpoints are exempt.

Usage: fake_apiserver.py --port 0 --state-file PATH   (prints "listening on PORT")
"""
import argparse
import base64
import copy
import datetime
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# plural → (group, version, kind, namespaced)
RESOURCES = {
    "nodes": ("", "v1", "Node", False),
    "namespaces": ("", "v1", "Namespace", False),
    "pods": ("", "v1", "Pod", True),
    "services": ("", "v1", "Service", True),
    "configmaps": ("", "v1", "ConfigMap", True),
    "endpointslices": ("discovery.k8s.io", "v1", "EndpointSlice", True),
    "workloadentries": ("networking.istio.io", "v1", "WorkloadEntry", True),
    "destinationrules": ("networking.istio.io", "v1", "DestinationRule", True),
    "authorizationpolicies": ("security.istio.io", "v1", "AuthorizationPolicy", True),
    "peerauthentications": ("security.istio.io", "v1", "PeerAuthentication", True),
    "httproutes": ("gateway.networking.k8s.io", "v1", "HTTPRoute", True),
    "grpcroutes": ("gateway.networking.k8s.io", "v1", "GRPCRoute", True),
}
PLURAL_OF_KIND = {kind: plural for plural, (_, _, kind, _) in RESOURCES.items()}


def api_version(plural):
    group, version, _, _ = RESOURCES[plural]
    return f"{group}/{version}" if group else version


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def field_value(obj, path):
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def parse_requirements(text):
    """'a=b,c!=d,e' → [(key, op, value)]."""
    requirements = []
    for term in filter(None, (text or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            requirements.append((key.strip(), "!=", value.strip()))
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            requirements.append((key.strip(), "=", value.strip()))
        else:
            requirements.append((term.strip(), "exists", None))
    return requirements


def satisfies(actual, op, value):
    if op == "exists":
        return actual is not None
    text = "" if actual is None else str(actual)
    return text == value if op == "=" else text != value


class Filter:
    def __init__(self, plural, namespace, query):
        self.plural = plural
        self.namespace = namespace
        self.fields = parse_requirements(query.get("fieldSelector"))
        self.labels = parse_requirements(query.get("labelSelector"))

    def matches(self, plural, obj):
        if plural != self.plural:
            return False
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if not all(satisfies(field_value(obj, k), op, v) for k, op, v in self.fields):
            return False
        labels = meta.get("labels") or {}
        return all(satisfies(labels.get(k), op, v) for k, op, v in self.labels)

    def event(self, plural, kind, obj, previous):
        """What a watch with this filter sees of a write: an object that starts
        or stops matching is ADDED or DELETED, as the API server's watch cache
        reports it; None when it matches neither before nor after."""
        before = previous is not None and self.matches(plural, previous)
        if kind == "DELETED":
            return "DELETED" if before else None
        after = self.matches(plural, obj)
        if before and after:
            return kind
        if after:
            return "ADDED"
        if before:
            return "DELETED"
        return None


class Watcher:
    """One open watch: events are queued at write time, as the watch cache does,
    so compaction never touches a watch that is already open."""

    def __init__(self, filter_, seen):
        self.filter = filter_
        self.queue = []
        self.seen = seen  # every write up to this version has been offered


class Store:
    def __init__(self, state_file):
        self.cond = threading.Condition()
        self.state_file = state_file
        self.rv = 0
        self.objects = {}  # (plural, namespace, name) → object
        self.history = []  # (rv, plural, type, object) after `compacted`
        self.compacted = 0
        self.base = {}  # objects as of `compacted`
        self.watchers = set()
        self.drop_generation = 0
        self.config = {"bookmarkInterval": 1.0, "watchGone": "event", "unserved": [], "tokens": {},
                       "tokenReviewStatus": 0}
        self.stats = {}
        if state_file and os.path.exists(state_file):
            with open(state_file) as f:
                saved = json.load(f)
            self.rv = saved["resourceVersion"]
            self.config.update(saved.get("config", {}))
            for obj in saved["objects"]:
                self.objects[self.key_of(obj)] = obj
        self.compacted = self.rv
        self.base = dict(self.objects)

    @staticmethod
    def key_of(obj):
        meta = obj["metadata"]
        plural = PLURAL_OF_KIND[obj["kind"]]
        namespaced = RESOURCES[plural][3]
        return (plural, meta.get("namespace", "default") if namespaced else "", meta["name"])

    def count(self, plural, what):
        counts = self.stats.setdefault(plural, {})
        counts[what] = counts.get(what, 0) + 1

    # Writes (caller holds the lock).

    def write(self, plural, kind, obj, previous):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append((self.rv, plural, kind, obj, previous))
        for watcher in self.watchers:
            event = watcher.filter.event(plural, kind, obj, previous)
            if event:
                watcher.queue.append((event, obj))
            watcher.seen = self.rv

    def apply(self, obj):
        obj = copy.deepcopy(obj)
        plural = PLURAL_OF_KIND[obj["kind"]]
        obj["apiVersion"] = api_version(plural)
        meta = obj.setdefault("metadata", {})
        if RESOURCES[plural][3]:
            meta.setdefault("namespace", "default")
        else:
            meta.pop("namespace", None)
        key = self.key_of(obj)
        previous = self.objects.get(key)
        if previous:
            meta["uid"] = previous["metadata"]["uid"]
            meta["creationTimestamp"] = previous["metadata"]["creationTimestamp"]
        else:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp",
                            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.objects[key] = obj
        self.write(plural, "MODIFIED" if previous else "ADDED", obj, previous)

    def delete(self, kind, namespace, name):
        plural = PLURAL_OF_KIND[kind]
        key = (plural, namespace if RESOURCES[plural][3] else "", name)
        obj = self.objects.pop(key, None)
        if obj is not None:
            self.write(plural, "DELETED", copy.deepcopy(obj), obj)

    def compact(self):
        self.compacted = self.rv
        self.base = dict(self.objects)
        self.history = []

    def drop(self):
        self.drop_generation += 1

    def save(self):
        if not self.state_file:
            return
        temporary = self.state_file + ".tmp"
        with open(temporary, "w") as f:
            json.dump({"resourceVersion": self.rv, "config": self.config,
                       "objects": list(self.objects.values())}, f)
        os.replace(temporary, self.state_file)

    # Reads (caller holds the lock).

    def snapshot(self, version):
        """Objects as they were at `version` (not older than `compacted`)."""
        objects = dict(self.base)
        for rv, plural, kind, obj, _ in self.history:
            if rv > version:
                break
            key = self.key_of(obj)
            if kind == "DELETED":
                objects.pop(key, None)
            else:
                objects[key] = obj
        return objects


def encode_token(version, after):
    return base64.urlsafe_b64encode(json.dumps({"rv": version, "after": after}).encode()).decode()


def decode_token(token):
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["rv"]), list(data["after"])
    except Exception:
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store: Store = None
    token = None

    def log_message(self, format, *args):
        pass

    # Plain responses.

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    # Routing.

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/_control/objects":
            with self.store.cond:
                self.send_json(200, {"resourceVersion": str(self.store.rv),
                                     "items": list(self.store.objects.values())})
            return
        if url.path == "/_control/stats":
            with self.store.cond:
                self.send_json(200, self.store.stats)
            return
        if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            return
        single = self.object_route(url.path)
        if single is not None:
            self.get_object(*single)
            return
        route = self.route(url.path)
        if route is None:
            self.send_json(404, status(404, "NotFound", f"the server could not find the requested resource ({url.path})"))
            return
        plural, namespace = route
        if plural in self.store.config.get("failing", []):
            self.send_json(500, status(500, "InternalError", f"{plural} are failing on purpose"))
            return
        if query.get("watch") in ("1", "true"):
            self.watch(plural, namespace, query)
        else:
            self.list(plural, namespace, query)

    def do_POST(self):
        url = urlsplit(self.path)
        body = self.read_body()
        store = self.store
        if not url.path.startswith("/_control/"):
            if self.token and self.headers.get("Authorization") != f"Bearer {self.token}":
                self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
            elif url.path == "/apis/authentication.k8s.io/v1/tokenreviews":
                self.token_review(body)
            else:
                self.send_json(405, status(405, "MethodNotAllowed", f"POST is not supported on {url.path}"))
            return
        with store.cond:
            if url.path == "/_control/apply":
                store.apply(body)
            elif url.path == "/_control/delete":
                store.delete(body["kind"], body.get("namespace", ""), body["name"])
            elif url.path == "/_control/batch":
                for op in body["ops"]:
                    if op["op"] == "apply":
                        store.apply(op["object"])
                    elif op["op"] == "delete":
                        store.delete(op["kind"], op.get("namespace", ""), op["name"])
                    elif op["op"] == "compact":
                        store.compact()
                    elif op["op"] == "drop":
                        store.drop()
            elif url.path == "/_control/compact":
                store.compact()
            elif url.path == "/_control/drop":
                store.drop()
            elif url.path == "/_control/config":
                store.config.update(body)
            else:
                self.send_json(404, status(404, "NotFound", url.path))
                return
            store.save()
            store.cond.notify_all()
            self.send_json(200, {"resourceVersion": str(store.rv)})

    def route(self, path):
        """/api/v1[/namespaces/NS]/PLURAL or /apis/G/V[/namespaces/NS]/PLURAL → (plural, namespace)."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        namespace = None
        if len(rest) == 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) != 1 or rest[0] not in RESOURCES:
            return None
        plural = rest[0]
        served_group, served_version, _, namespaced = RESOURCES[plural]
        if (served_group, served_version) != (group, version) or (namespace is not None and not namespaced):
            return None
        if plural in self.store.config.get("unserved", []):
            return None
        return plural, namespace

    def object_route(self, path):
        """/api/v1/namespaces/NS/PLURAL/NAME (core, namespaced kinds) → (plural, namespace, name)."""
        parts = [p for p in path.split("/") if p]
        if len(parts) != 6 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] not in RESOURCES:
            return None
        plural = parts[4]
        if RESOURCES[plural][:2] != ("", "v1") or not RESOURCES[plural][3]:
            return None
        return plural, parts[3], parts[5]

    def get_object(self, plural, namespace, name):
        with self.store.cond:
            self.store.count(plural, "get")
            obj = self.store.objects.get((plural, namespace, name))
            if obj is None:
                self.send_json(404, status(404, "NotFound", f'{plural} "{name}" not found'))
            else:
                self.send_json(200, obj)

    # TokenReview

    def token_review(self, review):
        store = self.store
        with store.cond:
            store.count("tokenreviews", "create")
            refuse = int(store.config.get("tokenReviewStatus") or 0)
            tokens = dict(store.config.get("tokens") or {})
        if refuse:
            self.send_json(refuse, status(refuse, "Forbidden",
                                          'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:'
                                          'ferry-system:ferry-ca" cannot create resource "tokenreviews"'))
            return
        if review.get("apiVersion") != "authentication.k8s.io/v1" or review.get("kind") != "TokenReview":
            self.send_json(400, status(400, "BadRequest", "not an authentication.k8s.io/v1 TokenReview"))
            return
        spec = review.get("spec") or {}
        token = spec.get("token") or ""
        if not token:
            self.send_json(422, status(422, "Invalid", "spec.token: Required value"))
            return
        wanted = spec.get("audiences") or []
        known = tokens.get(token)
        if known is None:
            result = {"authenticated": False, "user": {}, "error": "[invalid bearer token, token lookup failed]"}
        else:
            audiences = known.get("audiences") or ["https://kubernetes.default.svc"]
            matched = [a for a in wanted if a in audiences] if wanted else audiences
            if not matched:
                result = {"authenticated": False, "user": {},
                          "error": f"[invalid bearer token, token audiences {json.dumps(audiences)} is invalid "
                                   f"for the target audiences {json.dumps(wanted)}]"}
            else:
                user = {k: known[k] for k in ("username", "uid", "groups", "extra") if k in known}
                result = {"authenticated": True, "user": user, "audiences": matched}
        self.send_json(201, {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                             "metadata": {"creationTimestamp": None}, "spec": spec, "status": result})

    # list

    def list(self, plural, namespace, query):
        store = self.store
        filter_ = Filter(plural, namespace, query)
        limit = int(query.get("limit") or 0)
        with store.cond:
            store.count(plural, "list")
            token = query.get("continue")
            after = None
            if token:
                store.count(plural, "continue")
                decoded = decode_token(token)
                if decoded is None:
                    self.send_json(400, status(400, "BadRequest", "continue token is malformed"))
                    return
                version, after = decoded
                if version < store.compacted:
                    store.count(plural, "gone")
                    self.send_json(410, status(410, "Expired",
                                               f"continue token from version {version} is older than the oldest kept "
                                               f"({store.compacted}); list again without it"))
                    return
                objects = store.snapshot(version)
            else:
                version, objects = store.rv, store.objects
            items = sorted((key, obj) for key, obj in objects.items() if filter_.matches(key[0], obj))
            if after is not None:
                items = [(key, obj) for key, obj in items if [key[1], key[2]] > after]
            page = items[:limit] if limit else items
            metadata = {"resourceVersion": str(version)}
            if len(page) < len(items):
                last = page[-1][0]
                metadata["continue"] = encode_token(version, [last[1], last[2]])
                metadata["remainingItemCount"] = len(items) - len(page)
            listed = []
            for _, obj in page:
                item = copy.deepcopy(obj)
                item.pop("kind", None)
                item.pop("apiVersion", None)
                listed.append(item)
            kind = RESOURCES[plural][2]
            self.send_json(200, {"kind": kind + "List", "apiVersion": api_version(plural),
                                 "metadata": metadata, "items": listed})

    # watch

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def event(self, kind, obj):
        self.chunk(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    def watch(self, plural, namespace, query):
        store = self.store
        filter_ = Filter(plural, namespace, query)
        bookmarks = query.get("allowWatchBookmarks") == "true"
        timeout = float(query.get("timeoutSeconds") or 1800)
        requested = query.get("resourceVersion") or "0"
        with store.cond:
            store.count(plural, "watch")
            start = int(requested)
            if start != 0 and start < store.compacted:
                store.count(plural, "gone")
                gone = status(410, "Expired", f"too old resource version: {start} ({store.compacted})")
                if store.config.get("watchGone") == "status":
                    self.send_json(410, gone)
                    return
                self.begin_stream()
                self.event("ERROR", gone)
                self.chunk(b"")
                return
            watcher = Watcher(filter_, store.rv)
            if start == 0:
                watcher.queue = [("ADDED", obj) for key, obj in sorted(store.objects.items())
                                 if filter_.matches(key[0], obj)]
            else:
                watcher.queue = [(event, obj) for rv, p, kind, obj, previous in store.history
                                 if rv > start for event in [filter_.event(p, kind, obj, previous)] if event]
            store.watchers.add(watcher)
            generation = store.drop_generation
        self.begin_stream()
        deadline = time.monotonic() + timeout
        last_bookmark = time.monotonic()
        try:
            while True:
                with store.cond:
                    while True:
                        if store.drop_generation != generation:
                            self.cut()
                            return
                        now = time.monotonic()
                        interval = float(store.config.get("bookmarkInterval") or 0)
                        bookmark_due = bookmarks and interval > 0 and now - last_bookmark >= interval
                        if watcher.queue or now >= deadline or bookmark_due:
                            break
                        wait = deadline - now
                        if bookmarks and interval > 0:
                            wait = min(wait, last_bookmark + interval - now)
                        store.cond.wait(timeout=max(wait, 0.005))
                    pending, watcher.queue = watcher.queue, []
                    seen = watcher.seen
                for kind, obj in pending:
                    self.event(kind, obj)
                if time.monotonic() >= deadline:
                    self.chunk(b"")  # the last chunk: a clean end
                    return
                if bookmark_due and not pending:
                    kind = RESOURCES[plural][2]
                    self.event("BOOKMARK", {"kind": kind, "apiVersion": api_version(plural),
                                            "metadata": {"resourceVersion": str(seen)}})
                    last_bookmark = time.monotonic()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            with store.cond:
                store.watchers.discard(watcher)

    def begin_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def cut(self):
        """Close the connection mid-stream, as a failing server or network would."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # refused TLS handshakes and cut connections are expected


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-file", default="")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--client-ca")
    parser.add_argument("--token")
    args = parser.parse_args()
    Handler.store = Store(args.state_file)
    Handler.token = args.token
    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
