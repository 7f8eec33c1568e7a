#!/usr/bin/env bash
# make bench: Ferry against baselines measured in the same run, printed as
# tables with ratios. Needs root; builds its own lab of network namespaces.
#   FERRY_BIN_DIR     release binaries (set by make bench)
#   BENCH_SCENARIOS   which scenarios (default: "same-node cross-node policy http http-rules close-events")
#   BENCH_SECONDS     length of each throughput run (default 5)
#   BENCH_ROUNDS      rounds per scenario; each figure is the median (default 3)
#   FUZZ_COUNT        cases per kind of input in the fuzz scenario (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/netlab.sh
BIN="${FERRY_BIN_DIR:?set FERRY_BIN_DIR}"
SECONDS_PER_RUN="${BENCH_SECONDS:-5}"
RR_COUNT="${BENCH_RR_COUNT:-20000}"
SCENARIOS="${BENCH_SCENARIOS:-same-node cross-node policy http http-rules close-events}"
ROUNDS="${BENCH_ROUNDS:-3}"
trap lab_teardown EXIT INT TERM

mkdir -p "$LAB_DIR"
gcc -O2 -o "$LAB_DIR/rr" scripts/bench/rr.c
gcc -O2 -o "$LAB_DIR/httpd" scripts/bench/httpd.c
gcc -O2 -o "$LAB_DIR/httprr" scripts/bench/httprr.c
lab_init

# iperf3 throughput in Gbit/s: HOST CGROUP TARGET PORT STREAMS
iperf() {
    lab_run "$1" "$2" iperf3 -c "$3" -p "$4" -t "$SECONDS_PER_RUN" -P "$5" -J |
        python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

# request/response percentiles of 64-byte messages: HOST CGROUP TARGET PORT → "p50 p99"
rr() {
    lab_run "$1" "$2" "$LAB_DIR/rr" client "$3" "$4" "$RR_COUNT" 64 |
        sed -E 's/p50_us=([0-9.]+) p90_us=[0-9.]+ p99_us=([0-9.]+)/\1 \2/'
}

# short connections per second: HOST CGROUP TARGET PORT → "cps" (8 in parallel, 64 bytes each way)
cps() {
    lab_run "$1" "$2" "$LAB_DIR/rr" cps "$3" "$4" "$SECONDS_PER_RUN" 8 64 | sed -E 's/cps=([0-9.]+) .*/\1/'
}

# The candidates of one round run back to back and rounds repeat, so a noisy
# moment on the VM hits one sample of each, and the median drops it.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# measure VAR COMMAND...: run COMMAND, append each word of its output to arrays VAR_1, VAR_2, ….
measure() {
    local var=$1 i=1 word; shift
    for word in $("$@"); do
        local -n samples="${var}_$i"
        samples+=("$word")
        unset -n samples
        i=$((i + 1))
    done
}
# med VAR: the median of array VAR.
med() { local -n samples=$1; median "${samples[@]}"; }

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print('%.2f' % (b / a) if a else '-')" "$1" "$2"; }
delta() { python3 -c "import sys; print('%+.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
row() { printf '%-30s %12s %12s %12s %14s\n' "$@"; }
rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
ferryd_pid() { local pid; pid=$(lab_pid "ferryd-$1"); if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi; }

# The mesh every scenario shares: a CA, node credentials, one config directory.
CONFIG="$LAB_DIR/mesh"
mkdir -p "$CONFIG"
"$BIN/ferryctl" ca init --ca-dir "$LAB_DIR/ca" >/dev/null
cat > "$CONFIG/mesh.yaml" <<YAML
apiVersion: ferry.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {captureCIDRs: [198.18.0.0/15], logLevel: warning, accessLog: false}
YAML

add_node() {   # NAME: a host, its Node resource and credential
    lab_add_host "$1"
    "$BIN/ferryctl" ca issue-node "$1" --ca-dir "$LAB_DIR/ca" --out "$LAB_DIR/creds-$1" >/dev/null
    cat > "$CONFIG/node-$1.yaml" <<YAML
apiVersion: v1
kind: Node
metadata: {name: $1}
status: {addresses: [{type: InternalIP, address: $(lab_ip "$1")}]}
YAML
}

workload() {   # NODE NAME CGROUP [PORTS]
    lab_cgroup "$1" "$3" >/dev/null
    cat > "$CONFIG/wl-$2.yaml" <<YAML
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: $2
  namespace: bench
  labels: {app: $2}
  annotations: {ferry.dev/node: $1, ferry.dev/cgroup: $(lab_cgroup_rel "$1" "$3")}
spec: {address: $(lab_ip "$1"), serviceAccount: $2, ports: {${4:-}}}
YAML
}

start_agent() {   # NODE [FERRYD ARGS...] (the first node also runs the CA)
    local node=$1 ca_ip; shift
    ca_ip=$(lab_ip bench-a)
    lab_spawn "ferryd-$node" "$node" agent "$BIN/ferryd" --config-dir "$CONFIG" --node "$node" \
        --ca-address "$ca_ip:15012" --credentials "$LAB_DIR/creds-$node" \
        --pin-dir "$(lab_pins "$node")" --cgroup-root "$LAB_CGROUP_ROOT/$node" "$@"
    for _ in $(seq 200); do
        lab_in "$(lab_ns "$node")" env FERRY_PIN_DIR="$(lab_pins "$node")" "$BIN/ferryctl" certs -o json 2>/dev/null | grep -q '"valid"' && return 0
        sleep 0.1
    done
    echo "ferryd on $node did not get certificates:" >&2; tail -5 "$LAB_DIR/ferryd-$node.err" >&2; exit 1
}

setup_mesh() {
    add_node bench-a
    add_node bench-b
    workload bench-a client client
    workload bench-a local-server local-server "iperf: 5301, rr: 7100"
    workload bench-b server server "iperf: 5201, rr: 7000"
    workload bench-b web web "http: 8080"
    cat > "$CONFIG/svc-web.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: bench}
spec: {clusterIP: 198.19.0.30, selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}]}
YAML
    lab_spawn ca bench-a ca "$BIN/ferryd" ca --ca-dir "$LAB_DIR/ca" --config-dir "$CONFIG" --listen "$(lab_ip bench-a):15012"
    lab_spawn iperf-b bench-b server iperf3 -s -p 5201
    lab_spawn rr-b bench-b server "$LAB_DIR/rr" server 7000
    lab_spawn iperf-a bench-a local-server iperf3 -s -p 5301
    lab_spawn rr-a bench-a local-server "$LAB_DIR/rr" server 7100
    lab_spawn httpd-b bench-b web "$LAB_DIR/httpd" 8080
    lab_wait_for "$LAB_DIR/rr-b.out" listening
    lab_wait_for "$LAB_DIR/rr-a.out" listening
    start_agent bench-a
    start_agent bench-b
    IDLE_RSS=$(rss_mib "$(ferryd_pid bench-a)")
}

# ---------------------------------------------------------------------------
same_node() {
    echo
    echo "== same-node L4: client and server workloads on one node; direct vs through ferryd =="
    local target; target=$(lab_ip bench-a)
    local d1_1=() f1_1=() d4_1=() f4_1=() drr_1=() drr_2=() frr_1=() frr_2=()
    for _ in $(seq "$ROUNDS"); do
        measure d1 iperf bench-a direct "$target" 5301 1; measure f1 iperf bench-a client "$target" 5301 1
        measure d4 iperf bench-a direct "$target" 5301 4; measure f4 iperf bench-a client "$target" 5301 4
        measure drr rr bench-a direct "$target" 7100; measure frr rr bench-a client "$target" 7100
    done
    local d1 f1 d4 f4 dp50 dp99 fp50 fp99
    d1=$(med d1_1); f1=$(med f1_1); d4=$(med d4_1); f4=$(med f4_1)
    dp50=$(med drr_1); dp99=$(med drr_2); fp50=$(med frr_1); fp99=$(med frr_2)
    row "metric" "direct" "ferry" "" "ferry/direct"
    row "throughput 1 stream (Gb/s)" "$d1" "$f1" "" "$(ratio "$d1" "$f1")"
    row "throughput 4 streams (Gb/s)" "$d4" "$f4" "" "$(ratio "$d4" "$f4")"
    row "round trip p50 (µs)" "$dp50" "$fp50" "" "$(delta "$dp50" "$fp50")"
    row "round trip p99 (µs)" "$dp99" "$fp99" "" "$(delta "$dp99" "$fp99")"
    echo "targets: throughput ≥ 0.80× direct; p50 overhead ≤ 30 µs (round-trip rows: ferry − direct)"
}

# An HAProxy mTLS pair between the nodes, TLS 1.3, certificates from the same CA.
start_haproxy() {
    local dir="$LAB_DIR/haproxy"
    mkdir -p "$dir"
    python3 Tests/IntegrationTests/Tools/certgen.py leaf --ca-dir "$LAB_DIR/ca" --uri spiffe://cluster.local/ns/bench/sa/haproxy --out "$dir/leaf" 2>/dev/null ||
        /usr/bin/python3 Tests/IntegrationTests/Tools/certgen.py leaf --ca-dir "$LAB_DIR/ca" --uri spiffe://cluster.local/ns/bench/sa/haproxy --out "$dir/leaf"
    cat "$dir/leaf.crt" "$dir/leaf.key" > "$dir/leaf.pem"
    local b; b=$(lab_ip bench-b)
    cat > "$dir/client.cfg" <<CFG
global
    ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend iperf
    bind 127.0.0.1:16201
    default_backend iperf
frontend rr
    bind 127.0.0.1:17000
    default_backend rr
backend iperf
    server b $b:16443 ssl verify required ca-file $LAB_DIR/ca/ca.crt crt $dir/leaf.pem ssl-min-ver TLSv1.3
backend rr
    server b $b:17443 ssl verify required ca-file $LAB_DIR/ca/ca.crt crt $dir/leaf.pem ssl-min-ver TLSv1.3
CFG
    cat > "$dir/server.cfg" <<CFG
global
    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend iperf
    bind $b:16443 ssl crt $dir/leaf.pem ca-file $LAB_DIR/ca/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend iperf
frontend rr
    bind $b:17443 ssl crt $dir/leaf.pem ca-file $LAB_DIR/ca/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend rr
backend iperf
    server s 127.0.0.1:5201
backend rr
    server s 127.0.0.1:7000
CFG
    lab_spawn haproxy-b bench-b haproxy haproxy -db -f "$dir/server.cfg"
    lab_spawn haproxy-a bench-a haproxy haproxy -db -f "$dir/client.cfg"
    sleep 1
}

cross_node() {
    echo
    echo "== cross-node L4: node A client to node B server; direct, Ferry (HBONE mTLS), HAProxy mTLS pair =="
    start_haproxy
    local b; b=$(lab_ip bench-b)
    local d1_1=() f1_1=() h1_1=() d4_1=() f4_1=() h4_1=() drr_1=() drr_2=() frr_1=() frr_2=() hrr_1=() hrr_2=()
    for _ in $(seq "$ROUNDS"); do
        measure d1 iperf bench-a direct "$b" 5201 1; measure f1 iperf bench-a client "$b" 5201 1
        measure h1 iperf bench-a direct 127.0.0.1 16201 1
        measure d4 iperf bench-a direct "$b" 5201 4; measure f4 iperf bench-a client "$b" 5201 4
        measure h4 iperf bench-a direct 127.0.0.1 16201 4
        measure drr rr bench-a direct "$b" 7000; measure frr rr bench-a client "$b" 7000
        measure hrr rr bench-a direct 127.0.0.1 17000
    done
    local d1 f1 h1 d4 f4 h4 dp50 dp99 fp50 fp99 hp50 hp99
    d1=$(med d1_1); f1=$(med f1_1); h1=$(med h1_1); d4=$(med d4_1); f4=$(med f4_1); h4=$(med h4_1)
    dp50=$(med drr_1); dp99=$(med drr_2); fp50=$(med frr_1); fp99=$(med frr_2); hp50=$(med hrr_1); hp99=$(med hrr_2)
    row "metric" "direct" "ferry" "haproxy" "ferry/haproxy"
    row "throughput 1 stream (Gb/s)" "$d1" "$f1" "$h1" "$(ratio "$h1" "$f1")"
    row "throughput 4 streams (Gb/s)" "$d4" "$f4" "$h4" "$(ratio "$h4" "$f4")"
    row "round trip p50 (µs)" "$dp50" "$fp50" "$hp50" "$(delta "$dp50" "$fp50") vs direct"
    row "round trip p99 (µs)" "$dp99" "$fp99" "$hp99" "$(delta "$dp99" "$fp99") vs direct"
    local pid busy
    pid=$(ferryd_pid bench-a)
    lab_spawn holders bench-a client python3 -c '
import socket, sys, time
conns = [socket.create_connection(("'"$b"'", 7000)) for _ in range(1000)]
print("holding", flush=True)
time.sleep(30)'
    lab_wait_for "$LAB_DIR/holders.out" holding 60 || true
    sleep 1
    busy=$(rss_mib "$pid")
    row "agent RSS (MiB)" "idle" "$IDLE_RSS" "1000 conns" "$busy"
    echo "targets: Ferry single stream ≥ 2× HAProxy; p50 overhead ≤ 60 µs over direct"
}

policy() {
    echo
    echo "== policy decision cost: 1,000 AuthorizationPolicies =="
    "$BIN/ferry-bench" policy
}

cpu_seconds() {   # PID...: user+system CPU seconds of processes
    local total=0 pid
    for pid in "$@"; do
        total=$(awk -v t="$total" -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", t + ($14 + $15) / hz }' "/proc/$pid/stat")
    done
    echo "$total"
}

# HTTP keep-alive at a fixed rate: HOST CGROUP TARGET PORT RATE → "p50 p99"
httprr() {
    lab_run "$1" "$2" "$LAB_DIR/httprr" "$3" "$4" "$5" 5000 | sed -E 's/p50_us=([0-9.]+) p99_us=([0-9.]+) rps=.*/\1 \2/'
}

# wrk at saturation: HOST CGROUP URL → "req/s p50_us p99_us"
saturate() {
    lab_run "$1" "$2" wrk -t2 -c16 -d"$SECONDS_PER_RUN"s --latency "$3" | awk '
        function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; return v * 1000000 }
        /^ +50%/ { p50 = us($2) } /^ +99%/ { p99 = us($2) } /^Requests\/sec/ { rps = $2 }
        END { print rps, p50, p99 }'
}

# with_cpu "PIDS" COMMAND...: COMMAND's output, then the percent of a core the
# PIDS used while it ran (a 5-second httprr run).
with_cpu() {
    local pids=$1 c0 c1 out; shift
    c0=$(cpu_seconds $pids); out=$("$@"); c1=$(cpu_seconds $pids)
    echo "$out $(python3 -c "print('%.1f' % ((float('$c1') - float('$c0')) / 5.0 * 100))")"
}

start_haproxy_http() {
    local dir="$LAB_DIR/haproxy" b; b=$(lab_ip bench-b)
    cat > "$dir/http-client.cfg" <<CFG
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend web
    bind 127.0.0.1:18080
    default_backend web
backend web
    server b $b:18443 ssl verify required ca-file $LAB_DIR/ca/ca.crt crt $dir/leaf.pem ssl-min-ver TLSv1.3
CFG
    cat > "$dir/http-server.cfg" <<CFG
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend web
    bind $b:18443 ssl crt $dir/leaf.pem ca-file $LAB_DIR/ca/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend web
backend web
    server s 127.0.0.1:8080
CFG
    lab_spawn haproxy-http-b bench-b haproxy-http haproxy -db -f "$dir/http-server.cfg"
    lab_spawn haproxy-http-a bench-a haproxy-http haproxy -db -f "$dir/http-client.cfg"
    sleep 1
}

http() {
    echo
    echo "== HTTP/1.1 keep-alive across nodes: direct, Ferry (L7 in the agent, HBONE mTLS), HAProxy HTTP mTLS pair =="
    [ -f "$LAB_DIR/haproxy/leaf.pem" ] || start_haproxy
    start_haproxy_http
    local b; b=$(lab_ip bench-b)
    local pids hpids
    pids="$(ferryd_pid bench-a) $(ferryd_pid bench-b)"
    hpids="$(lab_pid haproxy-http-a) $(lab_pid haproxy-http-b)"
    local drr_1=() drr_2=() frr_1=() frr_2=() frr_3=() hrr_1=() hrr_2=() hrr_3=()
    local dsat_1=() dsat_2=() dsat_3=() fsat_1=() fsat_2=() fsat_3=() hsat_1=() hsat_2=() hsat_3=()
    for _ in $(seq "$ROUNDS"); do
        measure drr httprr bench-a direct "$b" 8080 1000
        measure frr with_cpu "$pids" httprr bench-a client 198.19.0.30 80 1000
        measure hrr with_cpu "$hpids" httprr bench-a direct 127.0.0.1 18080 1000
        measure dsat saturate bench-a direct "http://$b:8080/"
        measure fsat saturate bench-a client "http://198.19.0.30/"
        measure hsat saturate bench-a direct "http://127.0.0.1:18080/"
    done
    local dp50 dp99 fp50 fp99 hp50 hp99 drps frps hrps
    dp50=$(med drr_1); dp99=$(med drr_2); fp50=$(med frr_1); fp99=$(med frr_2); hp50=$(med hrr_1); hp99=$(med hrr_2)
    drps=$(med dsat_1); frps=$(med fsat_1); hrps=$(med hsat_1)
    row "metric" "direct" "ferry" "haproxy" "ferry/haproxy"
    row "p50 at 1,000 req/s (µs)" "$dp50" "$fp50" "$hp50" "$(delta "$dp50" "$fp50") vs direct"
    row "p99 at 1,000 req/s (µs)" "$dp99" "$fp99" "$hp99" "$(delta "$dp99" "$fp99") vs direct"
    row "CPU per 1,000 req/s (%)" "-" "$(med frr_3)" "$(med hrr_3)" "both agents / both proxies"
    row "max req/s (wrk, 16 conns)" "$drps" "$frps" "$hrps" "$(ratio "$hrps" "$frps")"
    row "p50 at saturation (µs)" "$(med dsat_2)" "$(med fsat_2)" "$(med hsat_2)" ""
    row "p99 at saturation (µs)" "$(med dsat_3)" "$(med fsat_3)" "$(med hsat_3)" ""
    echo "targets: p50 overhead ≤ 100 µs at 1,000 req/s; ≥ 1.2× HAProxy's req/s"
}

# The destination's own check of each request: the HTTP runs again with a
# path rule on the web workload, which makes bench-b parse every request it
# receives instead of forwarding the HBONE stream's bytes.
http_rules() {
    echo
    echo "== HTTP across nodes: byte stream at the destination vs the destination checking each request =="
    local pids; pids="$(ferryd_pid bench-a) $(ferryd_pid bench-b)"
    local off_1=() off_2=() off_3=() on_1=() on_2=() on_3=() offsat_1=() offsat_2=() onsat_1=() onsat_2=()
    local rule="$CONFIG/policy-web-paths.yaml"
    for _ in $(seq "$ROUNDS"); do
        rm -f "$rule"; sleep 1.5
        measure off with_cpu "$pids" httprr bench-a client 198.19.0.30 80 1000
        measure offsat saturate bench-a client "http://198.19.0.30/"
        cat > "$rule" <<YAML
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-paths, namespace: bench}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/forbidden", "/admin/*"]}}]}]
YAML
        sleep 1.5   # the open streams are closed by the policy change; new ones are parsed
        measure on with_cpu "$pids" httprr bench-a client 198.19.0.30 80 1000
        measure onsat saturate bench-a client "http://198.19.0.30/"
    done
    rm -f "$rule"
    row "metric" "bytes" "parsed" "" "parsed − bytes"
    row "p50 at 1,000 req/s (µs)" "$(med off_1)" "$(med on_1)" "" "$(delta "$(med off_1)" "$(med on_1)")"
    row "p99 at 1,000 req/s (µs)" "$(med off_2)" "$(med on_2)" "" "$(delta "$(med off_2)" "$(med on_2)")"
    row "CPU per 1,000 req/s (%)" "$(med off_3)" "$(med on_3)" "" "$(delta "$(med off_3)" "$(med on_3)") (both agents)"
    row "max req/s (wrk, 16 conns)" "$(med offsat_1)" "$(med onsat_1)" "" "$(ratio "$(med offsat_1)" "$(med onsat_1)")×"
}

# Both agents again, with these ferryd arguments (pins and links stay: the new
# programs are swapped into the pinned links).
restart_agents() {
    local node
    for node in bench-a bench-b; do lab_stop "ferryd-$node"; done
    for node in bench-a bench-b; do start_agent "$node" "$@"; done
}

# metric NODE NAME: a series' value from an agent's /metrics (0 when absent).
metric() {
    lab_in "$(lab_ns "$1")" curl -s localhost:15020/metrics | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}

# Waits (up to 70 s) until neither node holds sockets in TIME_WAIT: a run of
# short connections leaves thousands, which slow the next run's port searches.
drain_time_wait() {
    local node left
    for _ in $(seq 140); do
        left=0
        for node in bench-a bench-b; do left=$((left + $(lab_in "$(lab_ns "$node")" ss -tanH state time-wait | wc -l))); done
        [ "$left" -lt 50 ] && return 0
        sleep 0.5
    done
}

# Rounds alternate which mode goes first and each run starts without TIME_WAIT
# sockets, so neither mode pays for the other's leftovers.
close_events() {
    echo
    echo "== close records: cross-node round trip and short connections with the kernel's close records off and on =="
    local b; b=$(lab_ip bench-b)
    local off_rr_1=() off_rr_2=() on_rr_1=() on_rr_2=() off_cps_1=() on_cps_1=() mode order round records=0 dropped=0
    for round in $(seq "$ROUNDS"); do
        order="off on"; [ $((round % 2)) = 0 ] && order="on off"
        for mode in $order; do
            drain_time_wait
            if [ "$mode" = off ]; then restart_agents --no-close-events; else restart_agents; fi
            measure "${mode}_rr" rr bench-a client "$b" 7000
            measure "${mode}_cps" cps bench-a client "$b" 7000
            if [ "$mode" = on ]; then
                sleep 1.5   # the last records drained, the counters sampled
                records=$((records + $(metric bench-a ferry_kernel_events_total) + $(metric bench-b ferry_kernel_events_total)))
                # The kernel's count lives in the pinned counters: a total, not per run.
                dropped=$(($(metric bench-a ferry_kernel_events_dropped_total) + $(metric bench-b ferry_kernel_events_dropped_total)))
            fi
        done
    done
    row "metric" "records off" "records on" "" "on − off"
    row "round trip p50 (µs)" "$(med off_rr_1)" "$(med on_rr_1)" "" "$(delta "$(med off_rr_1)" "$(med on_rr_1)")"
    row "round trip p99 (µs)" "$(med off_rr_2)" "$(med on_rr_2)" "" "$(delta "$(med off_rr_2)" "$(med on_rr_2)")"
    row "connections/s (8 parallel)" "$(med off_cps_1)" "$(med on_cps_1)" "" "$(ratio "$(med off_cps_1)" "$(med on_cps_1)")×"
    echo "close records read by both agents in the 'on' rounds: $records, dropped: $dropped"
    echo "target: no change beyond the rounds' spread"
}

# ---------------------------------------------------------------------------
# Not a benchmark: `make fuzz` runs this scenario alone, in the same lab.
# Hostile input at the agents' ports and config directory; after each kind,
# both agents must still run and hold no socket in CLOSE-WAIT (a peer's FIN
# left unanswered), and the script fails otherwise.
FUZZ_FAILED=0

# fuzz_check WHAT COMMAND...
fuzz_check() {
    local what=$1 node held; shift
    if ! "$@" >"$LAB_DIR/fuzz.out" 2>&1; then
        echo "FAIL $what"; cat "$LAB_DIR/fuzz.out"; FUZZ_FAILED=1; return
    fi
    sleep 3   # lingering closes (2 s for a client still sending) run out
    for node in bench-a bench-b; do
        if [ -z "$(ferryd_pid "$node")" ]; then
            echo "FAIL $what: ferryd on $node is gone"; grep -m3 -A3 "Fatal error\|crashed:" "$LAB_DIR/ferryd-$node.err"
            FUZZ_FAILED=1; return
        fi
        held=$(lab_in "$(lab_ns "$node")" ss -tnpH state close-wait | grep ferryd || true)
        if [ -n "$held" ]; then
            echo "FAIL $what: ferryd sockets in CLOSE-WAIT on $node:"; echo "$held"; FUZZ_FAILED=1; return
        fi
    done
    echo "ok   $what ($(tail -1 "$LAB_DIR/fuzz.out"))"
}

fuzz() {
    echo
    echo "== fuzz: hostile input at every port and at the config directory =="
    local count=${FUZZ_COUNT:-300} a b
    a=$(lab_ip bench-a); b=$(lab_ip bench-b)
    python3 Tests/IntegrationTests/Tools/certgen.py leaf --ca-dir "$LAB_DIR/ca" \
        --uri spiffe://cluster.local/ns/bench/sa/client --out "$LAB_DIR/fuzz-leaf" >/dev/null
    fuzz_check "HTTP/1.1 at an L7 service port" lab_run bench-a client python3 scripts/fuzz/http1.py 198.19.0.30 80 "$count" 1
    fuzz_check "HTTP/2 (h2c) at an L7 service port" lab_run bench-a client python3 scripts/fuzz/http2.py 198.19.0.30:80 "$count" 2
    fuzz_check "HTTP/2 over mTLS at HBONE :15008" lab_run bench-a direct python3 scripts/fuzz/http2.py "$b:15008" "$count" 3 \
        "$LAB_DIR/fuzz-leaf.crt" "$LAB_DIR/fuzz-leaf.key"
    local port
    for port in 15000 15020 15021; do
        fuzz_check "HTTP/1.1 at :$port" lab_run bench-a direct python3 scripts/fuzz/http1.py 127.0.0.1 "$port" "$((count / 3))" "$port"
    done
    fuzz_check "HTTP/1.1 at the CA :15012 (TLS expected)" lab_run bench-a direct python3 scripts/fuzz/http1.py "$a" 15012 "$((count / 3))" 4
    fuzz_check "config directory, with traffic" fuzz_config "$count"
    [ "$FUZZ_FAILED" = 0 ] && echo "fuzz: every agent up, no socket left half-open"
}

# fuzz_config COUNT: documents while requests flow, so the routes and policies
# built from them are used; the traffic stops before the sockets are counted.
fuzz_config() {
    lab_spawn fuzz-traffic bench-a client wrk -t1 -c4 -d"$(($1 + 30))"s "http://198.19.0.30/"
    local status=0
    python3 scripts/fuzz/config.py "$CONFIG" "$(ferryd_pid bench-a),$(ferryd_pid bench-b)" "$1" 5 || status=$?
    lab_stop fuzz-traffic
    return "$status"
}

setup_mesh
echo "Each figure is the median of $ROUNDS rounds; a round runs every candidate once, back to back."
for scenario in $SCENARIOS; do
    case "$scenario" in
        same-node) same_node ;;
        cross-node) cross_node ;;
        policy) policy ;;
        http) http ;;
        http-rules) http_rules ;;
        close-events) close_events ;;
        fuzz) fuzz ;;
        *) echo "unknown scenario $scenario" >&2 ;;
    esac
done
exit "$FUZZ_FAILED"
