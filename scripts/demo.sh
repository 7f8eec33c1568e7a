#!/usr/bin/env bash
# make demo: a two-node Ferry mesh in network namespaces, start to finish.
#
# node-a (198.18.0.1) runs the CA and an agent; its workload "client" is a plain
# curl in an enrolled cgroup. node-b (198.18.0.2) runs an agent and the "echo"
# HTTP workload behind the Service VIP 198.19.0.10:80. The client's connections
# are captured by eBPF, carried over mutual TLS (HBONE) between the agents, and
# show up in ferryctl and in Istio's metrics. Everything is removed at the end
# and on Ctrl-C.
#
#   scripts/demo.sh           the demo, narrated
#   scripts/demo.sh --check   the same, quiet, exit status 1 unless every step worked (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/netlab.sh
BIN="${FERRY_BIN_DIR:?set FERRY_BIN_DIR (make demo does)}"
CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1
trap lab_teardown EXIT
trap 'exit 130' INT TERM

say() { [ $CHECK = 1 ] || printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { [ $CHECK = 1 ] || printf '%s\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; for f in "$LAB_DIR"/*.err; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }
ctl() { local node=$1; shift; lab_in "$(lab_ns "$node")" env FERRY_PIN_DIR="$(lab_pins "$node")" "$BIN/ferryctl" "$@"; }

started=$(date +%s)
lab_init
lab_add_host node-a
lab_add_host node-b
CONFIG="$LAB_DIR/mesh"
mkdir -p "$CONFIG"

say "A CA for trust domain cluster.local, and a credential for each node"
"$BIN/ferryctl" ca init --ca-dir "$LAB_DIR/ca" --trust-domain cluster.local >/dev/null
for node in node-a node-b; do
    "$BIN/ferryctl" ca issue-node "$node" --ca-dir "$LAB_DIR/ca" --out "$LAB_DIR/creds-$node" >/dev/null
done
show "CA in $LAB_DIR/ca; node credentials for node-a and node-b"

say "The mesh, as the YAML users already write"
lab_cgroup node-a client >/dev/null
lab_cgroup node-b echo >/dev/null
cat > "$CONFIG/mesh.yaml" <<YAML
apiVersion: ferry.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec:
  trustDomain: cluster.local
  captureCIDRs: [198.18.0.0/15]
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: InternalIP, address: 198.18.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {addresses: [{type: InternalIP, address: 198.18.0.2}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: client
  namespace: demo
  labels: {app: client}
  annotations: {ferry.dev/node: node-a, ferry.dev/cgroup: $(lab_cgroup_rel node-a client)}
spec: {address: 198.18.0.1, serviceAccount: client}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: echo
  namespace: demo
  labels: {app: echo, version: v1}
  annotations: {ferry.dev/node: node-b, ferry.dev/cgroup: $(lab_cgroup_rel node-b echo)}
spec: {address: 198.18.0.2, serviceAccount: echo, ports: {http: 8080}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  clusterIP: 198.19.0.10
  selector: {app: echo}
  ports: [{name: tcp-echo, port: 80, targetPort: 8080}]
YAML
[ $CHECK = 1 ] || sed 's/^/    /' "$CONFIG/mesh.yaml" | head -12
show "    … (Nodes, WorkloadEntries client and echo, Service echo at 198.19.0.10:80)"

say "Starting the CA on node-a and an agent on each node"
lab_spawn ca node-a ca "$BIN/ferryd" ca --ca-dir "$LAB_DIR/ca" --config-dir "$CONFIG" --listen 198.18.0.1:15012
for node in node-a node-b; do
    lab_spawn "ferryd-$node" "$node" agent "$BIN/ferryd" --config-dir "$CONFIG" --node "$node" \
        --ca-address 198.18.0.1:15012 --credentials "$LAB_DIR/creds-$node" \
        --pin-dir "$(lab_pins "$node")" --cgroup-root "$LAB_CGROUP_ROOT/$node"
done
lab_spawn echo node-b echo python3 scripts/demo/echo_server.py --port 8080 --name echo.node-b
lab_wait_for "$LAB_DIR/echo.out" listening || fail "echo server did not start"
for node in node-a node-b; do
    for _ in $(seq 150); do
        ctl "$node" certs -o json 2>/dev/null | grep -q '"valid"' && break
        sleep 0.1
    done
    ctl "$node" certs -o json 2>/dev/null | grep -q '"valid"' || fail "agent on $node has no workload certificate"
done
show "agents up; each holds the certificate of its own workload"

say "client (node-a) → http://198.19.0.10/ (Service echo, on node-b)"
ok=0
for i in 1 2 3 4 5; do
    answer=$(lab_run node-a client curl -s --max-time 5 "http://198.19.0.10/hello/$i" -d "ferry-demo-marker-$i") || true
    show "  $answer"
    case "$answer" in *'"workload": "echo.node-b"'*"ferry-demo-marker-$i"*) ok=$((ok + 1)) ;; esac
done
[ $ok = 5 ] || fail "only $ok of 5 requests answered through the mesh"

say "ferryctl on node-a"
[ $CHECK = 1 ] || { ctl node-a workloads; echo; ctl node-a services; echo; ctl node-a certs; }
say "ferryctl on node-b"
[ $CHECK = 1 ] || { ctl node-b certs; echo; ctl node-b status | head -6; }

say "Metrics: node-a reports as source, node-b as destination, both mutual TLS"
sleep 1.2   # one metrics flush
src=$(lab_in "$(lab_ns node-a)" curl -s localhost:15020/metrics | grep '^istio_tcp_connections_opened_total' | grep 'reporter="source"' | grep 'destination_workload="echo"' || true)
dst=$(lab_in "$(lab_ns node-b)" curl -s localhost:15020/metrics | grep '^istio_tcp_connections_opened_total' | grep 'reporter="destination"' || true)
show "node-a: $src" | sed -E 's/(source_principal="[^"]*"|connection_security_policy="[^"]*"|destination_principal="[^"]*")/\x1b[1m\1\x1b[0m/g'
show "node-b: $dst" | sed -E 's/(source_principal="[^"]*"|connection_security_policy="[^"]*")/\x1b[1m\1\x1b[0m/g'
echo "$src" | grep -q 'connection_security_policy="mutual_tls"' || fail "node-a has no mutual_tls source metric"
echo "$dst" | grep -q 'source_principal="spiffe://cluster.local/ns/demo/sa/client"' || fail "node-b did not see the client's verified identity"
echo "$dst" | grep -q 'connection_security_policy="mutual_tls"' || fail "node-b has no mutual_tls destination metric"

say "Done in $(( $(date +%s) - started )) s; tearing everything down"
[ $CHECK = 1 ] && echo "demo check: ok (5 requests across nodes over mTLS, metrics and identities verified)"
exit 0
