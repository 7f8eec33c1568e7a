# Shared shell helpers for the demo and the benchmarks: simulated nodes as network
# namespaces on a bridge (198.18.0.0/24, 2001:db8::/64, no default route), each
# with its own cgroup subtree and bpffs pin directory. Everything made here is
# recorded and removed by lab_teardown (call it from a trap).

LAB_ID="${LAB_ID:-fl$$}"
LAB_HUB="${LAB_ID}h"
LAB_CGROUP_MOUNT="$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)"
LAB_CGROUP_ROOT="$LAB_CGROUP_MOUNT/ferry-lab-$LAB_ID"
LAB_DIR="${LAB_DIR:-/tmp/ferry-lab-$LAB_ID}"
LAB_PIDS=()
# The PID of each process lab_spawn started, by its NAME (lab_run execs, so it
# is the command's own): processes are stopped by PID, never by pattern.
declare -A LAB_PID_OF=()
LAB_HOSTS=0

lab_init() {
    [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, BPF, cgroups)" >&2; exit 1; }
    [ -n "$LAB_CGROUP_MOUNT" ] || { echo "no cgroup2 mount" >&2; exit 1; }
    mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
    mkdir -p "$LAB_DIR" "$LAB_CGROUP_ROOT"
    ip netns add "$LAB_HUB"
    lab_in "$LAB_HUB" sh -c 'ip link add br0 type bridge && ip link set br0 up && ip link set lo up'
}

# lab_in NS CMD...: run in a namespace (nsenter keeps /sys and bpffs visible).
lab_in() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# lab_add_host NAME: namespace NAME on the bridge as 198.18.0.N and 2001:db8::N.
lab_add_host() {
    local name=$1
    LAB_HOSTS=$((LAB_HOSTS + 1))
    local n=$LAB_HOSTS veth="${LAB_ID}v$LAB_HOSTS"
    ip netns add "$LAB_ID-$name"
    ip link add "$veth" type veth peer name eth0 netns "$LAB_ID-$name"
    ip link set "$veth" netns "$LAB_HUB"
    lab_in "$LAB_HUB" sh -c "ip link set $veth master br0 && ip link set $veth up"
    lab_in "$LAB_ID-$name" sh -c "ip link set lo up && ip addr add 198.18.0.$n/24 dev eth0 && \
        ip addr add 2001:db8::$n/64 dev eth0 nodad && ip link set eth0 up"
    mkdir -p "$LAB_CGROUP_ROOT/$name"
    echo "198.18.0.$n" > "$LAB_DIR/ip-$name"
}

lab_ns() { echo "$LAB_ID-$1"; }
lab_ip() { cat "$LAB_DIR/ip-$1"; }
lab_cgroup() { mkdir -p "$LAB_CGROUP_ROOT/$1/$2"; echo "$LAB_CGROUP_ROOT/$1/$2"; }
lab_cgroup_rel() { echo "${LAB_CGROUP_ROOT#$LAB_CGROUP_MOUNT}/$1/$2"; }
lab_pins() { echo "/sys/fs/bpf/ferry-lab-$LAB_ID-$1"; }

# lab_run HOST CGROUP CMD...: run to completion inside a host and cgroup.
lab_run() {
    local host=$1 cg=$2; shift 2
    local path; path=$(lab_cgroup "$host" "$cg")
    sh -c 'echo $$ > "$0/cgroup.procs" && ns=$1 && shift && exec nsenter --net=/run/netns/$ns "$@"' \
        "$path" "$(lab_ns "$host")" "$@"
}

# lab_spawn NAME HOST CGROUP CMD...: same, in the background; logs in $LAB_DIR/NAME.{out,err}.
lab_spawn() {
    local name=$1 host=$2 cg=$3; shift 3
    local path; path=$(lab_cgroup "$host" "$cg")
    # A simple command in the background (not the lab_run function, which
    # would run in a subshell): sh execs nsenter, which execs CMD, so $! is
    # CMD's own PID.
    sh -c 'echo $$ > "$0/cgroup.procs" && ns=$1 && shift && exec nsenter --net=/run/netns/$ns "$@"' \
        "$path" "$(lab_ns "$host")" "$@" >"$LAB_DIR/$name.out" 2>"$LAB_DIR/$name.err" &
    LAB_PIDS+=($!)
    LAB_PID_OF[$name]=$!
    disown "$!"   # teardown ends it by PID; no job notice when it does
}

# lab_pid NAME: the PID of the process lab_spawn started as NAME.
lab_pid() { echo "${LAB_PID_OF[$1]:-}"; }

# lab_stop NAME: ends that process (TERM, then KILL after 3 s) and waits for it.
lab_stop() {
    local pid; pid=$(lab_pid "$1"); [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

# lab_wait_for FILE TEXT [SECONDS]
lab_wait_for() {
    local file=$1 text=$2 limit=${3:-20} i=0
    while ! grep -q "$text" "$file" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt $((limit * 10)) ] && return 1; sleep 0.1
    done
}

lab_teardown() {
    set +e
    for pid in "${LAB_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.5
    for pid in "${LAB_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    if [ -d "$LAB_CGROUP_ROOT" ]; then
        find "$LAB_CGROUP_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        sleep 0.2
        find "$LAB_CGROUP_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
    fi
    for ns in $(ip netns list | awk '{print $1}' | grep "^$LAB_ID"); do ip netns del "$ns"; done
    for pins in /sys/fs/bpf/ferry-lab-"$LAB_ID"-*; do
        [ -d "$pins" ] || continue
        rm -f "$pins"/links/* 2>/dev/null; rmdir "$pins/links" 2>/dev/null; rm -f "$pins"/* 2>/dev/null; rmdir "$pins"
    done
    [ -n "${LAB_KEEP_DIR:-}" ] || rm -rf "$LAB_DIR"
}
