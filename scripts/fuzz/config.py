#!/usr/bin/env python3
"""Rewrites one file of an agent's config directory every half second with a
mesh document whose numbers, durations, addresses, names and enums are
pushed to their edges (and sometimes a few bytes flipped), while the caller
keeps traffic flowing. Stops at the first document after which an agent is
gone, and prints it.

  config.py CONFIG_DIR PID[,PID…] COUNT SEED   → "config COUNT documents", or
                                                 "AGENT GONE after:" + the document (exit 1)
"""
import os
import random
import sys
import time

directory, pids, count, seed = sys.argv[1], [int(p) for p in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
NUMBERS = ["0", "-1", "1", "65535", "65536", "4294967296", "9223372036854775807", "9223372036854775808", "99999999999999999999999",
           "1e308", "1e309", ".nan", ".inf", "-.inf", "0.5", "100.0001", "\"\"", "[]", "{}", "null", "x", "0x10", "2147483648"]
DURATIONS = ["0s", "1ms", "-1s", "99999999999999999h", "9223372036854775807s", "1e20s", "1.5s", "0.0000001s", "1h2m3s", "s", "",
             "5", "1us", "18446744073709551616ms", "2562047h", "1d"]
ADDRESSES = ["198.18.0.77", "198.18.0.300", "::ffff:198.18.0.1", "2001:db8::1", "0.0.0.0", "127.0.0.1", "", "x"]
CIDRS = ["198.18.0.0/15", "0.0.0.0/0", "::/0", "198.18.0.0/40", "x", "127.0.0.0/8", "198.18.0.0/-1"]


def n(): return rnd.choice(NUMBERS)
def d(): return rnd.choice(DURATIONS)
def pick(*options): return rnd.choice(options)


def route():
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: fz, namespace: bench}}
spec:
  parentRefs: [{{group: "", kind: Service, name: web, port: {n()}}}]
  rules:
  - matches: [{{path: {{type: {pick('Exact', 'PathPrefix', 'RegularExpression', 'X')}, value: "{pick('/', '(', '[a-', '*', '(a+)+$', '')}"}}}}]
    backendRefs: [{{name: web, port: {n()}, weight: {n()}}}, {{name: web, port: 80, weight: {n()}}}]
    retry: {{codes: [{n()}], attempts: {n()}, backoff: {d()}}}
    timeouts: {{request: {d()}, backendRequest: {d()}}}
    filters: [{{type: RequestMirror, requestMirror: {{backendRef: {{name: web, port: {n()}}}, percent: {n()}}}}}]
"""


def destination_rule():
    return f"""apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: fz, namespace: bench}}
spec:
  host: web
  trafficPolicy:
    loadBalancer: {{simple: {pick('ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'BOGUS')}}}
    connectionPool: {{tcp: {{maxConnections: {n()}}}, http: {{http1MaxPendingRequests: {n()}, maxRequestsPerConnection: {n()}, maxRetries: {n()}}}}}
    outlierDetection: {{consecutive5xxErrors: {n()}, interval: {d()}, baseEjectionTime: {d()}, maxEjectionPercent: {n()}}}
    portLevelSettings: [{{port: {{number: {n()}}}, connectionPool: {{tcp: {{maxConnections: {n()}}}}}}}]
"""


def others():
    return rnd.choice([
        f"apiVersion: ferry.dev/v1alpha1\nkind: RateLimit\nmetadata: {{name: fz, namespace: bench}}\n"
        f"spec: {{targetRef: {{kind: Service, name: web}}, requestsPerSecond: {n()}, burst: {n()}}}\n",
        f"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: fz, namespace: bench}}\nspec:\n  hosts: [web]\n  http:\n"
        f"  - fault: {{abort: {{httpStatus: {n()}, percentage: {{value: {n()}}}}}, delay: {{fixedDelay: {d()}, percentage: {{value: {n()}}}}}}}\n"
        f"    route: [{{destination: {{host: web}}}}]\n",
        f"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: fz, namespace: bench}}\nspec:\n"
        f"  action: {pick('ALLOW', 'DENY', 'AUDIT', 'CUSTOM')}\n"
        f"  rules: [{{from: [{{source: {{ipBlocks: [\"{rnd.choice(CIDRS)}\"]}}}}], to: [{{operation: {{ports: [\"{n()}\"]}}}}],"
        f" when: [{{key: destination.port, values: [\"{n()}\"]}}]}}]\n",
        f"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{name: fz, namespace: bench}}\n"
        f"spec: {{mtls: {{mode: {pick('STRICT', 'PERMISSIVE', 'X')}}}, portLevelMtls: {{{n()}: {{mode: STRICT}}}}}}\n",
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: fz, namespace: bench}}\n"
        f"spec: {{clusterIP: {rnd.choice(ADDRESSES)}, selector: {{app: web}}, ports: [{{name: http, port: {n()}, targetPort: {n()}}}]}}\n",
        f"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{name: fz, namespace: bench, labels: {{app: web}},"
        f" annotations: {{ferry.dev/node: {pick('bench-a', 'bench-b', 'x')}, ferry.dev/cgroup: \"{pick('/../..', '/', '/nonexistent', 'x')}\"}}}}\n"
        f"spec: {{address: {rnd.choice(ADDRESSES)}, ports: {{http: {n()}}}, serviceAccount: \"{pick('sa', '', 'a/b')}\"}}\n",
        f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: fz, namespace: bench, labels: {{kubernetes.io/service-name: web}}}}\n"
        f"addressType: {pick('IPv4', 'IPv6', 'FQDN', 'X')}\nendpoints: [{{addresses: [{rnd.choice(ADDRESSES)}]}}]\nports: [{{name: http, port: {n()}}}]\n",
        f"apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {{name: mesh}}\nspec: {{captureCIDRs: [{rnd.choice(CIDRS)}],"
        f" logLevel: warning, accessLog: false, failMode: {pick('open', 'closed', 'x')}, excludePorts: [{n()}]}}\n",
    ])


path = os.path.join(directory, "zz-fuzz.yaml")
try:
    for _ in range(count):
        document = rnd.choice([route, destination_rule, others, others])()
        if rnd.random() < 0.2:
            flipped = bytearray(document.encode())
            for _ in range(rnd.randrange(1, 4)):
                flipped[rnd.randrange(len(flipped))] = rnd.choice(b" :-[]{}\n\t'\"&*!|>%@`")
            document = flipped.decode(errors="replace")
        with open(path + ".tmp", "w") as f:
            f.write(document)
        os.rename(path + ".tmp", path)
        time.sleep(0.5)
        if not all(os.path.exists(f"/proc/{pid}") for pid in pids):
            print("AGENT GONE after:\n" + document)
            sys.exit(1)
finally:
    for leftover in (path, path + ".tmp"):
        if os.path.exists(leftover):
            os.remove(leftover)
print("config", count, "documents")
