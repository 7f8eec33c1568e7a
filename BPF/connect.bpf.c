// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup/connect4 and cgroup/connect6: outbound capture.
 *
 * A TCP connect() from an enrolled cgroup to a captured destination is rewritten
 * to ferryd's outbound listener in the caller's own network namespace, and the
 * original destination is remembered under the socket cookie until sockops moves
 * it into the 4-tuple map that getsockopt answers from.
 *
 * If nothing listens on the outbound port (ferryd is down or restarting), a
 * connect to a destination that accepts only mTLS (ferry_strict) is refused with
 * EPERM; otherwise the workload's fail mode decides: pass the connection through
 * untouched (fail open) or refuse it (fail closed).
 *
 * cgroup/getpeername4 and cgroup/getpeername6 undo the rewrite for the workload:
 * getpeername() on a captured socket answers the original destination, as it
 * would through iptables' DNAT, not ferryd's listener.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/ferry_abi.h"
#include "include/ferry_addr.h"
#include "include/ferry_maps.h"

#define CONNECT_ALLOW 1
#define CONNECT_REFUSE 0

/* The enrolled cgroup of the calling task: its own cgroup or the nearest
 * enrolled ancestor (containers sit in child cgroups of a pod's cgroup). */
static __always_inline struct ferry_workload *enrolled_workload(__u64 *cgroup_id)
{
	__u64 id = bpf_get_current_cgroup_id();
	struct ferry_workload *workload = bpf_map_lookup_elem(&ferry_enrolled, &id);
	if (workload) {
		*cgroup_id = id;
		return workload;
	}
	for (int level = FERRY_MAX_CGROUP_DEPTH; level >= 1; level--) {
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (id == 0)
			continue;
		workload = bpf_map_lookup_elem(&ferry_enrolled, &id);
		if (workload) {
			*cgroup_id = id;
			return workload;
		}
	}
	return 0;
}

/* Captured when the longest matching prefix says so, the port is not excluded,
 * and the address is neither loopback nor unspecified. */
static __always_inline int is_captured(const __u32 addr[4], __u16 port)
{
	if (ferry_addr_is_loopback(addr) || ferry_addr_is_unspecified(addr))
		return 0;
	if (bpf_map_lookup_elem(&ferry_noports, &port))
		return 0;
	struct ferry_cidr_key key = { .prefixlen = 128 };
	ferry_addr_from_v6(key.addr, addr);
	__u32 *capture = bpf_map_lookup_elem(&ferry_capture, &key);
	return capture && *capture;
}

/* Loop guard two: ferryd marks every socket it opens. */
static __always_inline int is_ferry_socket(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	return sk && sk->mark == FERRY_SOCKET_MARK;
}

static __always_inline int proxy_listening_v4(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_tuple tuple = {};
	tuple.ipv4.daddr = bpf_htonl(0x7f000001);
	tuple.ipv4.dport = bpf_htons(FERRY_OUTBOUND_PORT);
	struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

static __always_inline int proxy_listening_v6(struct bpf_sock_addr *ctx)
{
	struct bpf_sock_tuple tuple = {};
	tuple.ipv6.daddr[3] = bpf_htonl(1);
	tuple.ipv6.dport = bpf_htons(FERRY_OUTBOUND_PORT);
	struct bpf_sock *sk = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/* Whether the destination takes only mTLS: its port's own entry, else the
 * address's (port 0). */
static __always_inline int requires_mtls(const __u32 dst[4], __u16 port)
{
	struct ferry_inbound_key key = { .port = port };
	ferry_addr_from_v6(key.addr, dst);
	__u8 *strict = bpf_map_lookup_elem(&ferry_strict, &key);
	if (strict)
		return *strict;
	key.port = 0;
	strict = bpf_map_lookup_elem(&ferry_strict, &key);
	return strict && *strict;
}

/* Everything but the rewrite itself, shared by both families. Returns 1 when the
 * caller should rewrite, 0 to leave the connect alone, -1 to refuse it. */
static __always_inline int decide(struct bpf_sock_addr *ctx, const __u32 dst[4], __u16 port,
				  __u16 family)
{
	if (ctx->protocol != FERRY_IPPROTO_TCP)
		return 0;
	__u64 cgroup_id = 0;
	struct ferry_workload *workload = enrolled_workload(&cgroup_id);
	if (!workload || is_ferry_socket(ctx) || !is_captured(dst, port))
		return 0;
	/* The listener lookup is the costly part: only captured connects pay it. */
	int listening = family == FERRY_AF_INET ? proxy_listening_v4(ctx) : proxy_listening_v6(ctx);
	if (!listening) {
		if ((workload->flags & FERRY_WORKLOAD_FAIL_CLOSED) || requires_mtls(dst, port)) {
			ferry_count(FERRY_CTR_FAIL_CLOSED);
			return -1;
		}
		ferry_count(FERRY_CTR_FAIL_OPEN);
		return 0;
	}
	struct ferry_origin origin = {
		.dst_port = port,
		.family = family,
		.workload = workload->index,
		.cgroup_id = cgroup_id,
		.socket_cookie = bpf_get_socket_cookie(ctx),
	};
	ferry_addr_from_v6(origin.dst_addr, dst);
	if (bpf_map_update_elem(&ferry_pending, &origin.socket_cookie, &origin, BPF_ANY) != 0) {
		ferry_count(FERRY_CTR_MAP_FULL);
		return 0;
	}
	ferry_count(FERRY_CTR_REDIRECTED);
	return 1;
}

SEC("cgroup/connect4")
int ferry_connect4(struct bpf_sock_addr *ctx)
{
	__u32 dst[4];
	ferry_addr_from_v4(dst, ctx->user_ip4);
	__u16 port = bpf_ntohs(ctx->user_port);
	int verdict = decide(ctx, dst, port, FERRY_AF_INET);
	if (verdict < 0)
		return CONNECT_REFUSE;
	if (verdict > 0) {
		ctx->user_ip4 = bpf_htonl(0x7f000001);
		ctx->user_port = bpf_htons(FERRY_OUTBOUND_PORT);
	}
	return CONNECT_ALLOW;
}

SEC("cgroup/connect6")
int ferry_connect6(struct bpf_sock_addr *ctx)
{
	__u32 dst[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	__u16 port = bpf_ntohs(ctx->user_port);
	/* IPv4-mapped destinations (Java's dual-stack sockets) travel as IPv4: send
	 * them to the IPv4 listener through ::ffff:127.0.0.1. */
	int mapped = ferry_addr_is_mapped_v4(dst);
	int verdict = decide(ctx, dst, port, mapped ? FERRY_AF_INET : FERRY_AF_INET6);
	if (verdict < 0)
		return CONNECT_REFUSE;
	if (verdict > 0) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = mapped ? bpf_htonl(0x0000ffff) : 0;
		ctx->user_ip6[3] = mapped ? bpf_htonl(0x7f000001) : bpf_htonl(1);
		ctx->user_port = bpf_htons(FERRY_OUTBOUND_PORT);
	}
	return CONNECT_ALLOW;
}

/* The original destination of a captured socket: in ferry_conns from the SYN
 * until close, in ferry_pending between connect() and the SYN. */
static __always_inline struct ferry_origin *captured_origin(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct ferry_conn_stats *stats = bpf_map_lookup_elem(&ferry_conns, &cookie);
	if (stats && stats->kind == FERRY_CONN_CAPTURED)
		return &stats->origin;
	return bpf_map_lookup_elem(&ferry_pending, &cookie);
}

/* getpeername hooks may only return 1; they change the answer, never refuse it. */
SEC("cgroup/getpeername4")
int ferry_peername4(struct bpf_sock_addr *ctx)
{
	/* Only an answer that is ferryd's listener was rewritten by connect4. */
	if (ctx->user_ip4 != bpf_htonl(0x7f000001) || ctx->user_port != bpf_htons(FERRY_OUTBOUND_PORT))
		return 1;
	struct ferry_origin *origin = captured_origin(ctx);
	if (!origin || !ferry_addr_is_mapped_v4(origin->dst_addr))
		return 1;
	ctx->user_ip4 = origin->dst_addr[3];
	ctx->user_port = bpf_htons(origin->dst_port);
	return 1;
}

SEC("cgroup/getpeername6")
int ferry_peername6(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port != bpf_htons(FERRY_OUTBOUND_PORT))
		return 1;
	__u32 peer[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
	if (!ferry_addr_is_loopback(peer))
		return 1;
	struct ferry_origin *origin = captured_origin(ctx);
	if (!origin)
		return 1;
	/* An IPv4-mapped origin stays mapped: the socket is IPv6 (Java's dual stack). */
	ctx->user_ip6[0] = origin->dst_addr[0];
	ctx->user_ip6[1] = origin->dst_addr[1];
	ctx->user_ip6[2] = origin->dst_addr[2];
	ctx->user_ip6[3] = origin->dst_addr[3];
	ctx->user_port = bpf_htons(origin->dst_port);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
