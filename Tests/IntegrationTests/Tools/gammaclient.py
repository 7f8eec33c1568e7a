#!/usr/bin/env python3
"""The client of the Gateway API mesh conformance port: it sends the suite's
requests and judges the answers as the suite's compareRequest does, plus the
checks the suite skips in mesh mode (path seen upstream, redirect Location).

  gammaclient.py CASES.json

CASES.json holds {"cases": [...], "weights": [...]}. A case:
  {"name", "protocol": "http"|"grpc", "address": "VIP:PORT", "authority",
   "method", "path", "headers": [[name, value], ...],
   "expect": {"status": [200], "backend": "echo-v1", "requestHeaders": {name: value},
              "absentRequestHeaders": [...], "responseHeaders": {name: value},
              "absentResponseHeaders": [...], "path": "/seen", "location": {...}}}
Each case is repeated until it passes 3 times in a row, for at most 30 s,
100 ms after a failure (the suite's AwaitConvergence). A weights entry:
  {"name", "protocol", "address", "authority", "path", "count": 500,
   "expected": {"echo-v1": 0.7, ...}, "tolerance": 0.05, "tries": 10}
sends count requests on one connection (one channel for gRPC) and passes when
one batch sees exactly the backends of weight > 0, each within the tolerance
(the suite's TestWeightedDistributionBatch).
Prints one JSON line per case: {"name", "passed", "attempts", "failure"}."""
import http.client
import json
import sys
import time
import urllib.parse

import grpc

REQUIRED_SUCCESSES = 3
MAX_SECONDS = 30


class Observed:
    """What one exchange showed: status, response headers, the backend's report."""

    def __init__(self, status, response_headers, body_lines):
        self.status = status
        self.response_headers = response_headers  # [(name, value)]
        self.request_headers = []  # [(name, value)] as the backend saw them
        self.fields = {}
        for line in body_lines:
            key, _, value = line.partition("=")
            if key == "RequestHeader":
                name, _, header_value = value.partition(":")
                self.request_headers.append((name, header_value))
            elif key and key not in self.fields:
                self.fields[key] = value


def http_exchange(case, connection=None):
    host, port = case["address"].rsplit(":", 1)
    own = connection is None
    if own:
        connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)
    try:
        connection.putrequest(case.get("method", "GET"), case.get("path") or "/", skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", case["authority"])
        for name, value in case.get("headers", []):
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return Observed(response.status, response.getheaders(), body.splitlines())
    finally:
        if own:
            connection.close()


def grpc_call(case, channel=None):
    own = channel is None
    if own:
        channel = grpc.insecure_channel(case["address"], options=[("grpc.default_authority", case["authority"])])
    try:
        metadata = [(name.lower(), value) for name, value in case.get("headers", [])]
        call = channel.unary_unary("/proto.EchoTestService/Echo")
        try:
            reply, answer = call.with_call(b"echo", metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            # An error status is an exchange the suite retries, not a crash.
            return Observed(None, list(error.trailing_metadata() or []), [f"GRPCStatus={error.code().name} {error.details()}"])
        headers = list(answer.initial_metadata() or []) + list(answer.trailing_metadata() or [])
        return Observed(200, headers, reply.decode(errors="replace").splitlines())
    finally:
        if own:
            channel.close()


def joined(pairs, name):
    """Every value of a header, in order, joined with "," as the suite joins them."""
    values = [value for key, value in pairs if key.lower() == name.lower()]
    return ",".join(values) if values else None


def judge(case, seen):
    """None when the exchange meets every expectation, else what differed."""
    expect = case.get("expect", {})
    statuses = expect.get("status", [200])
    if seen.status not in statuses:
        return f"status {seen.status} (wanted {statuses}) {seen.fields.get('GRPCStatus', '')}".strip()
    for name, value in expect.get("requestHeaders", {}).items():
        got = joined(seen.request_headers, name)
        if got != value:
            return f"backend saw {name}: {got!r}, wanted {value!r}"
    for name in expect.get("absentRequestHeaders", []):
        if joined(seen.request_headers, name) is not None:
            return f"backend saw {name}, which should be absent"
    for name in expect.get("absentResponseHeaders", []):
        if joined(seen.response_headers, name) is not None:
            return f"response has {name}, which should be absent"
    for name, value in expect.get("responseHeaders", {}).items():
        values = [v for k, v in seen.response_headers if k.lower() == name.lower()]
        if not values or values[-1] != value:
            return f"response {name}: {values}, wanted {value!r}"
    backend = expect.get("backend", "")
    if backend and not seen.fields.get("Hostname", "").startswith(backend):
        return f"answered by {seen.fields.get('Hostname')!r}, wanted {backend}"
    if "path" in expect and seen.fields.get("URL") != expect["path"]:
        return f"backend saw path {seen.fields.get('URL')!r}, wanted {expect['path']!r}"
    if "location" in expect:
        problem = judge_location(case, expect["location"], joined(seen.response_headers, "location"))
        if problem:
            return problem
    return None


def judge_location(case, want, location):
    """The Gateway profile's redirect rules: no host means any host; the scheme
    defaults to http, the path to the request's; without a port, http allows
    none or 80 and https none or 443."""
    if location is None:
        return "no Location"
    url = urllib.parse.urlsplit(location)
    scheme = want.get("scheme", "http")
    if url.scheme != scheme:
        return f"Location {location}: scheme {url.scheme}, wanted {scheme}"
    if want.get("host") and url.hostname != want["host"]:
        return f"Location {location}: host {url.hostname}, wanted {want['host']}"
    port = str(url.port) if url.port else ""
    allowed = [str(want["port"])] if "port" in want else ["", "80" if scheme == "http" else "443"]
    if port not in allowed:
        return f"Location {location}: port {port!r}, wanted one of {allowed}"
    path = want.get("path", case.get("path") or "/")
    if url.path != path:
        return f"Location {location}: path {url.path}, wanted {path}"
    return None


def exchange(case):
    try:
        return (grpc_call if case.get("protocol") == "grpc" else http_exchange)(case)
    except Exception as error:  # a reset or refusal is a failed try, as a failed exec is in the suite
        return Observed(None, [], [f"GRPCStatus={type(error).__name__} {error}"])


def converge(case):
    deadline = time.monotonic() + MAX_SECONDS
    successes, attempts, failure = 0, 0, None
    while time.monotonic() < deadline:
        attempts += 1
        failure = judge(case, exchange(case))
        if failure is None:
            successes += 1
            if successes == REQUIRED_SUCCESSES:
                return {"name": case["name"], "passed": True, "attempts": attempts, "failure": None}
        else:
            successes = 0
            time.sleep(0.1)
    return {"name": case["name"], "passed": False, "attempts": attempts, "failure": failure}


def backend_of(hostname):
    """echo-v1-5d8f9-abcde → echo-v1, as the suite reduces pod names."""
    return "-".join(hostname.split("-")[:-2])


def weights(entry):
    probe = dict(entry, expect={"status": [200]})
    converged = converge(probe)
    if not converged["passed"]:
        return dict(converged, name=entry["name"])
    expected = entry["expected"]
    failure = None
    for attempt in range(1, entry.get("tries", 10) + 1):
        counts = {}
        if entry.get("protocol") == "grpc":
            with grpc.insecure_channel(entry["address"], options=[("grpc.default_authority", entry["authority"])]) as channel:
                replies = [grpc_call(entry, channel) for _ in range(entry["count"])]
        else:
            host, port = entry["address"].rsplit(":", 1)
            connection = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)
            replies = [http_exchange(entry, connection) for _ in range(entry["count"])]
            connection.close()
        for reply in replies:
            name = backend_of(reply.fields.get("Hostname", "")) if reply.status == 200 else f"status {reply.status}"
            counts[name] = counts.get(name, 0) + 1
        shares = {name: count / entry["count"] for name, count in counts.items()}
        unexpected = [name for name in counts if name not in expected]
        wanted = sorted(name for name, share in expected.items() if share > 0)
        off = [f"{name} {shares.get(name, 0):.3f} (wanted {share})" for name, share in expected.items()
               if abs(shares.get(name, 0) - share) > entry.get("tolerance", 0.05)]
        if unexpected:
            failure = f"answers from {unexpected}: {counts}"
        elif sorted(counts) != wanted:
            failure = f"backends seen {sorted(counts)}, wanted {wanted}"
        elif off:
            failure = f"out of tolerance: {off}"
        else:
            return {"name": entry["name"], "passed": True, "attempts": attempt, "failure": None, "counts": counts}
    return {"name": entry["name"], "passed": False, "attempts": entry.get("tries", 10), "failure": failure}


def main():
    with open(sys.argv[1]) as handle:
        plan = json.load(handle)
    for case in plan.get("cases", []):
        print(json.dumps(converge(case)), flush=True)
    for entry in plan.get("weights", []):
        print(json.dumps(weights(entry)), flush=True)


if __name__ == "__main__":
    main()
