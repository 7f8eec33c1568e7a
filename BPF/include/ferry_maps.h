/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map Ferry's programs share, with typed helpers. Each program object
 * includes this header; maps are pinned by name, so the first object to load
 * creates them under the pin root and the others reuse them.
 * Map names stay within the kernel's 15 characters.
 */
#ifndef FERRY_MAPS_H
#define FERRY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ferry_abi.h"

/* cgroup id -> workload: enrolling a workload is one write here. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct ferry_workload);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_enrolled SEC(".maps");

/* Captured and excluded destinations (MeshConfig captureCIDRs / excludeCIDRs). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct ferry_cidr_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_capture SEC(".maps");

/* Destination ports never captured (MeshConfig excludePorts). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_noports SEC(".maps");

/* socket cookie -> origin, from connect() until sockops sees the SYN go out.
 * LRU: a connect that fails before the SYN leaves nothing behind for long. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ferry_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_pending SEC(".maps");

/* workload 4-tuple + netns cookie -> origin: what getsockopt answers from. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ferry_tuple);
	__type(value, struct ferry_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_tuples SEC(".maps");

/* socket cookie -> per-connection kernel statistics; removed on TCP_CLOSE. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ferry_conn_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_conns SEC(".maps");

/* Enrolled workloads' inbound ports (sk_lookup steering). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct ferry_inbound_key);
	__type(value, struct ferry_inbound_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_inbound SEC(".maps");

/* Destinations that accept only mutual TLS (PeerAuthentication STRICT), by
 * address and port (0: every port without an entry of its own) -> 1 STRICT,
 * 0 not (a port-level exception). While ferryd is down a captured connect to
 * one is refused, never passed through in plaintext. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ferry_inbound_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_strict SEC(".maps");

/* ferryd's :15006 listeners; a closed socket leaves the map by itself, which is
 * how the kernel notices ferryd is gone. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_listeners SEC(".maps");

/* ferryd's :15006 listeners inside pod network namespaces: a connection that
 * arrives in a pod's namespace goes to the listener ferryd opened in that
 * namespace; ferry_inbound_value.listener picks the pair. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2 * FERRY_POD_LISTENER_PAIRS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_pod_listeners SEC(".maps");

/* 4-tuples of connections ferryd itself opened (src = ferryd's end): they came
 * through an agent, so sk_lookup leaves them alone. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ferry_tuple);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_own SEC(".maps");

/* One record per tracked socket's close (struct ferry_close_event). ferryd may
 * size it at load time (a power of two, at least a page); a pin of another
 * size is replaced, since a record not yet read is all it can lose. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FERRY_EVENTS_DEFAULT_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FERRY_CTR_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ferry_counters SEC(".maps");

static __always_inline void ferry_count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&ferry_counters, &counter);
	if (value)
		*value += 1;
}

#endif /* FERRY_MAPS_H */
