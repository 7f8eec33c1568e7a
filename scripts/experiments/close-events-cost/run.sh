#!/usr/bin/env bash
# What do the kernel's close records cost? Two nodes (namespaces ce-a, ce-b of
# its own lab, so it never meets `make bench`), a client on one and an echo
# server (scripts/bench/rr.c) on the other, through HBONE. Each round starts
# both agents with --no-close-events, then without, and measures the round
# trip (64-byte messages on one connection), short connections per second
# (8 processes: connect, 64 bytes each way, close) and both agents' CPU per
# connection. Rounds alternate which mode goes first, and every run starts
# with no TIME_WAIT sockets left in either namespace: tens of thousands of
# them (a run makes ~6,000 connections, each leaving some) slow the next
# run's port searches, by 2-3x near exhaustion, which would otherwise be
# charged to whichever mode ran second. Needs root and release binaries:
#   FERRY_BIN_DIR=$(swift build -c release --show-bin-path) scripts/experiments/close-events-cost/run.sh
# See docs/architecture.md, "Where the time goes".
set -euo pipefail
cd "$(dirname "$0")/../../.."
source scripts/lib/netlab.sh
BIN="${FERRY_BIN_DIR:?set FERRY_BIN_DIR to release binaries}"
ROUNDS="${ROUNDS:-4}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
trap lab_teardown EXIT INT TERM

mkdir -p "$LAB_DIR"
gcc -O2 -o "$LAB_DIR/rr" scripts/bench/rr.c
lab_init
CONFIG="$LAB_DIR/mesh"
mkdir -p "$CONFIG"
"$BIN/ferryctl" ca init --ca-dir "$LAB_DIR/ca" >/dev/null
cat > "$CONFIG/mesh.yaml" <<YAML
apiVersion: ferry.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {captureCIDRs: [198.18.0.0/15], logLevel: warning, accessLog: false}
YAML
for node in ce-a ce-b; do
    lab_add_host "$node"
    "$BIN/ferryctl" ca issue-node "$node" --ca-dir "$LAB_DIR/ca" --out "$LAB_DIR/creds-$node" >/dev/null
    cat > "$CONFIG/node-$node.yaml" <<YAML
apiVersion: v1
kind: Node
metadata: {name: $node}
status: {addresses: [{type: InternalIP, address: $(lab_ip "$node")}]}
YAML
done
workload() {   # NODE NAME [PORTS]
    lab_cgroup "$1" "$2" >/dev/null
    cat > "$CONFIG/wl-$2.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: $2, namespace: bench, labels: {app: $2}, annotations: {ferry.dev/node: $1, ferry.dev/cgroup: $(lab_cgroup_rel "$1" "$2")}}
spec: {address: $(lab_ip "$1"), serviceAccount: $2, ports: {${3:-}}}
YAML
}
workload ce-a client
workload ce-b server "rr: 7000"
lab_spawn ca ce-a ca "$BIN/ferryd" ca --ca-dir "$LAB_DIR/ca" --config-dir "$CONFIG" --listen "$(lab_ip ce-a):15012"
lab_spawn rr ce-b server "$LAB_DIR/rr" server 7000
lab_wait_for "$LAB_DIR/rr.out" listening

start_agents() {   # FERRYD ARGS...
    local node
    for node in ce-a ce-b; do
        lab_spawn "ferryd-$node" "$node" agent "$BIN/ferryd" --config-dir "$CONFIG" --node "$node" \
            --ca-address "$(lab_ip ce-a):15012" --credentials "$LAB_DIR/creds-$node" \
            --pin-dir "$(lab_pins "$node")" --cgroup-root "$LAB_CGROUP_ROOT/$node" "$@"
    done
    for node in ce-a ce-b; do
        for _ in $(seq 200); do
            lab_in "$(lab_ns "$node")" env FERRY_PIN_DIR="$(lab_pins "$node")" "$BIN/ferryctl" certs -o json 2>/dev/null |
                grep -q '"valid"' && break
            sleep 0.1
        done
    done
}
cpu() {   # user+system CPU seconds of both agents
    local pid total=0
    for pid in $(lab_pid ferryd-ce-a) $(lab_pid ferryd-ce-b); do
        total=$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", t + ($14 + $15) / hz }' "/proc/$pid/stat")
    done
    echo "$total"
}
# Waits (up to 70 s) until neither namespace holds sockets in TIME_WAIT.
drain_time_wait() {
    local node left
    for _ in $(seq 140); do
        left=0
        for node in ce-a ce-b; do
            left=$((left + $(lab_in "$(lab_ns "$node")" ss -tanH state time-wait | wc -l)))
        done
        [ "$left" -lt 50 ] && return 0
        sleep 0.5
    done
}
metric() { lab_in "$(lab_ns "$1")" curl -s localhost:15020/metrics | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'; }

b=$(lab_ip ce-b)
printf '%-6s %-4s %10s %10s %10s %14s %8s\n' round mode "p50 µs" "p99 µs" "conn/s" "agent CPU/conn" records
for round in $(seq "$ROUNDS"); do
    order="off on"; [ $((round % 2)) = 0 ] && order="on off"
    for mode in $order; do
        drain_time_wait
        if [ "$mode" = off ]; then start_agents --no-close-events; else start_agents; fi
        read -r p50 p99 < <(lab_run ce-a client "$LAB_DIR/rr" client "$b" 7000 20000 64 |
            sed -E 's/p50_us=([0-9.]+) p90_us=[0-9.]+ p99_us=([0-9.]+)/\1 \2/')
        c0=$(cpu)
        out=$(lab_run ce-a client "$LAB_DIR/rr" cps "$b" 7000 "$SECONDS_PER_RUN" 8 64)
        c1=$(cpu)
        rate=$(echo "$out" | sed -E 's/cps=([0-9.]+) .*/\1/')
        sleep 1.5
        records=$(( $(metric ce-a ferry_kernel_events_total) + $(metric ce-b ferry_kernel_events_total) ))
        per=$(python3 -c "print('%.0f µs' % ((float('$c1') - float('$c0')) / max(1, float('$rate') * $SECONDS_PER_RUN) * 1e6))")
        printf '%-6s %-4s %10s %10s %10s %14s %8s\n' "$round" "$mode" "$p50" "$p99" "$rate" "$per" "$records"
        lab_stop ferryd-ce-a
        lab_stop ferryd-ce-b
    done
done
