// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sk_lookup: inbound plaintext capture, without iptables.
 *
 * A TCP connection arriving for an enrolled workload's port (ferry_inbound) is
 * handed to ferryd's :15006 listener instead of the workload's socket. The
 * listener's accepted socket keeps the original destination as its local
 * address, so ferryd learns it with getsockname(). Connections ferryd itself
 * opened (ferry_own: HBONE and same-node traffic it already checked) go to the
 * workload as usual.
 *
 * The program is attached to the node's network namespace and to each enrolled
 * pod's own namespace (a pod receives its traffic there). The ferry_inbound
 * entry of the local address says which listener: the node's (ferry_listeners)
 * or the pair ferryd opened inside that pod's namespace (ferry_pod_listeners).
 *
 * While ferryd is down its listener is gone from the SOCKMAP: PERMISSIVE
 * ports then reach the workload directly (fail open); STRICT ports are dropped,
 * so plaintext never reaches a workload that requires mTLS. A STRICT port whose
 * listener cannot take the connection is dropped too.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/ferry_abi.h"
#include "include/ferry_addr.h"
#include "include/ferry_maps.h"

SEC("sk_lookup")
int ferry_inbound_lookup(struct bpf_sk_lookup *ctx)
{
	if (FERRY_READ(ctx->protocol) != FERRY_IPPROTO_TCP)
		return SK_PASS;
	/* Every context field is read once, up front, with volatile loads: plain
	 * reads get merged by clang into loads through a moved context pointer,
	 * which the verifier refuses. */
	__u32 family = FERRY_READ(ctx->family);
	__u32 local4 = FERRY_READ(ctx->local_ip4), remote4 = FERRY_READ(ctx->remote_ip4);
	__u32 local6[4], remote6[4];
	local6[0] = FERRY_READ(ctx->local_ip6[0]);
	local6[1] = FERRY_READ(ctx->local_ip6[1]);
	local6[2] = FERRY_READ(ctx->local_ip6[2]);
	local6[3] = FERRY_READ(ctx->local_ip6[3]);
	remote6[0] = FERRY_READ(ctx->remote_ip6[0]);
	remote6[1] = FERRY_READ(ctx->remote_ip6[1]);
	remote6[2] = FERRY_READ(ctx->remote_ip6[2]);
	remote6[3] = FERRY_READ(ctx->remote_ip6[3]);
	__u16 local_port = (__u16)FERRY_READ(ctx->local_port);
	__u16 remote_port = bpf_ntohs(FERRY_READ(ctx->remote_port));

	struct ferry_inbound_key key = {};
	struct ferry_tuple own = {};
	__u32 family_slot;
	if (family == FERRY_AF_INET) {
		ferry_addr_from_v4(key.addr, local4);
		ferry_addr_from_v4(own.src_addr, remote4);
		family_slot = FERRY_LISTENER_INBOUND_V4;
	} else {
		ferry_addr_from_v6(key.addr, local6);
		ferry_addr_from_v6(own.src_addr, remote6);
		family_slot = FERRY_LISTENER_INBOUND_V6;
	}
	key.port = local_port;
	struct ferry_inbound_value *target = bpf_map_lookup_elem(&ferry_inbound, &key);
	if (!target)
		return SK_PASS;
	int strict = (target->flags & FERRY_INBOUND_STRICT) != 0;
	__u32 pair = target->listener;

	ferry_addr_from_v6(own.dst_addr, key.addr);
	own.src_port = remote_port;
	own.dst_port = key.port;
	if (bpf_map_lookup_elem(&ferry_own, &own))
		return SK_PASS;

	struct bpf_sock *listener;
	if (pair == 0) {
		listener = bpf_map_lookup_elem(&ferry_listeners, &family_slot);
	} else {
		__u32 slot = 2 * (pair - 1) + family_slot;
		listener = bpf_map_lookup_elem(&ferry_pod_listeners, &slot);
	}
	if (!listener) {
		if (strict) {
			ferry_count(FERRY_CTR_INBOUND_DROPPED);
			return SK_DROP;
		}
		return SK_PASS;
	}
	long err = bpf_sk_assign(ctx, listener, 0);
	bpf_sk_release(listener);
	if (err == 0) {
		ferry_count(FERRY_CTR_INBOUND_STEERED);
	} else if (strict) {
		ferry_count(FERRY_CTR_INBOUND_DROPPED);
		return SK_DROP;
	}
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
