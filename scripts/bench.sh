#!/usr/bin/env bash
# make bench: Ferry against the baselines measured in the same run, printed as
# tables with ratios. Needs root; builds its own lab of network namespaces.
#   FERRY_BIN_DIR   release binaries (set by make bench)
#   BENCH_SECONDS   length of each throughput run (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/netlab.sh
BIN="${FERRY_BIN_DIR:?set FERRY_BIN_DIR}"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
RR_COUNT="${BENCH_RR_COUNT:-20000}"
trap lab_teardown EXIT INT TERM

mkdir -p "$LAB_DIR"
gcc -O2 -o "$LAB_DIR/rr" scripts/bench/rr.c
lab_init

# iperf3 throughput in Gbit/s: HOST CGROUP TARGET STREAMS
iperf() {
    lab_run "$1" "$2" iperf3 -c "$3" -p 5201 -t "$SECONDS_PER_RUN" -P "$4" -J |
        python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

# request/response percentiles: HOST CGROUP TARGET → "p50 p99"
rr() {
    lab_run "$1" "$2" "$LAB_DIR/rr" client "$3" 7000 "$RR_COUNT" 64 |
        sed -E 's/p50_us=([0-9.]+) p90_us=[0-9.]+ p99_us=([0-9.]+)/\1 \2/'
}

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (b / a) if a else '-')" "$1" "$2"; }
delta() { python3 -c "import sys; print('%+.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

start_agent() {   # HOST
    local host=$1 cfg="$LAB_DIR/config-$1"
    mkdir -p "$cfg"
    lab_spawn "ferryd-$host" "$host" agent "$BIN/ferryd" --config-dir "$cfg" --node "$host" \
        --pin-dir "$(lab_pins "$host")" --cgroup-root "$LAB_CGROUP_ROOT/$host" --log-level warning
    for _ in $(seq 100); do
        lab_in "$(lab_ns "$host")" curl -sf localhost:15000/status >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "ferryd on $host did not start:" >&2; cat "$LAB_DIR/ferryd-$host.err" >&2; exit 1
}

workload() {   # HOST NAME CGROUP
    cat > "$LAB_DIR/config-$1/$2.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: $2
  namespace: bench
  annotations: {ferry.dev/node: $1, ferry.dev/cgroup: $(lab_cgroup_rel "$1" "$3")}
spec: {address: $(lab_ip "$1"), serviceAccount: $2}
YAML
}

# ---------------------------------------------------------------------------
echo "== same-node L4: client and server on one node; direct vs through ferryd =="
lab_add_host node
lab_spawn iperf-server node server iperf3 -s -p 5201
lab_spawn rr-server node server "$LAB_DIR/rr" server 7000
lab_wait_for "$LAB_DIR/rr-server.out" listening
start_agent node
lab_cgroup node client >/dev/null; workload node client client
sleep 0.5
target=$(lab_ip node)

d1=$(iperf node direct "$target" 1); f1=$(iperf node client "$target" 1)
d4=$(iperf node direct "$target" 4); f4=$(iperf node client "$target" 4)
read -r dp50 dp99 < <(rr node direct "$target")
read -r fp50 fp99 < <(rr node client "$target")
captured=$(lab_in "$(lab_ns node)" curl -s localhost:15000/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["kernelCounters"]["redirected"])')

printf '%-28s %12s %12s %10s\n' "metric" "direct" "ferry" "ferry/direct"
printf '%-28s %12s %12s %10s\n' "throughput 1 stream (Gb/s)" "$d1" "$f1" "$(ratio "$d1" "$f1")"
printf '%-28s %12s %12s %10s\n' "throughput 4 streams (Gb/s)" "$d4" "$f4" "$(ratio "$d4" "$f4")"
printf '%-28s %12s %12s %10s\n' "round trip p50 (µs)" "$dp50" "$fp50" "$(delta "$dp50" "$fp50")"
printf '%-28s %12s %12s %10s\n' "round trip p99 (µs)" "$dp99" "$fp99" "$(delta "$dp99" "$fp99")"
echo "(round-trip rows show ferry − direct; $captured connections were captured by BPF)"
echo "targets: throughput ≥ 0.80× direct; p50 overhead ≤ 30 µs"
