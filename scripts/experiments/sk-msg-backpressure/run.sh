#!/usr/bin/env bash
# Does a sk_msg splice keep TCP's backpressure? Runs probe.c twice on
# 127.0.0.1: over plain TCP, then from a cgroup whose loopback connection
# sockops/sk_msg splice (redirect.bpf.c). Needs root; removes its cgroup and
# pins on exit. See docs/architecture.md, "Same-node connections".
set -euo pipefail
cd "$(dirname "$0")"
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
work=$(mktemp -d)
cgroup="$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)/ferry-skmsg-probe-$$"
pins=/sys/fs/bpf/ferry-skmsg-probe-$$
cleanup() {
    bpftool cgroup detach "$cgroup" sock_ops pinned "$pins/probe_sockops" 2>/dev/null || true
    rmdir "$cgroup" 2>/dev/null || true
    rm -rf "$pins" "$pins-map" "$work"
}
trap cleanup EXIT INT TERM

clang -O2 -g -target bpf -I"/usr/include/$(gcc -print-multiarch)" -c redirect.bpf.c -o "$work/redirect.bpf.o"
gcc -O2 -o "$work/probe" probe.c
bpftool prog loadall "$work/redirect.bpf.o" "$pins"
map_id=$(bpftool prog show pinned "$pins/probe_redirect" | sed -n 's/.*map_ids \([0-9]*\).*/\1/p')
bpftool map pin id "$map_id" "$pins-map"
bpftool prog attach pinned "$pins/probe_redirect" msg_verdict pinned "$pins-map"
mkdir "$cgroup"
bpftool cgroup attach "$cgroup" sock_ops pinned "$pins/probe_sockops"

echo -n "plain TCP:       "; "$work/probe"
echo -n "sk_msg spliced:  "; sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2"' _ "$cgroup" "$work/probe"
