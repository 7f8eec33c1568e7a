// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup/getsockopt: answers SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST and
 * FERRY_SO_ORIGIN on the sockets ferryd accepted from captured workloads.
 *
 * The socket cookie of the workload's end is not readable here, so the lookup
 * goes by 4-tuple (as the workload saw it) plus the netns cookie. Runs after the
 * kernel's own getsockopt, and only overrides it when it has an answer.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/ferry_abi.h"
#include "include/ferry_addr.h"
#include "include/ferry_maps.h"

/* Local copies of the socket address layouts, to stay free of libc headers. */
struct ferry_sockaddr_in {
	__u16 sin_family;
	__u16 sin_port;
	__u32 sin_addr;
	__u8 sin_zero[8];
};

struct ferry_sockaddr_in6 {
	__u16 sin6_family;
	__u16 sin6_port;
	__u32 sin6_flowinfo;
	__u32 sin6_addr[4];
	__u32 sin6_scope_id;
};

static __always_inline int is_ours(struct bpf_sockopt *ctx)
{
	if (ctx->level == FERRY_SOL_IP)
		return ctx->optname == FERRY_SO_ORIGINAL_DST || ctx->optname == FERRY_SO_ORIGIN;
	if (ctx->level == FERRY_SOL_IPV6)
		return ctx->optname == FERRY_SO_ORIGINAL_DST;
	return 0;
}

/* The accepted socket's tuple, turned around to the workload's point of view. */
static __always_inline void workload_tuple(struct bpf_sockopt *ctx, struct bpf_sock *sk,
					   struct ferry_tuple *tuple)
{
	tuple->netns_cookie = bpf_get_netns_cookie(ctx);
	if (FERRY_READ(sk->family) == FERRY_AF_INET) {
		ferry_addr_from_v4(tuple->src_addr, FERRY_READ(sk->dst_ip4));
		ferry_addr_from_v4(tuple->dst_addr, FERRY_READ(sk->src_ip4));
	} else {
		tuple->src_addr[0] = sk->dst_ip6[0];
		tuple->src_addr[1] = sk->dst_ip6[1];
		tuple->src_addr[2] = sk->dst_ip6[2];
		tuple->src_addr[3] = sk->dst_ip6[3];
		tuple->dst_addr[0] = sk->src_ip6[0];
		tuple->dst_addr[1] = sk->src_ip6[1];
		tuple->dst_addr[2] = sk->src_ip6[2];
		tuple->dst_addr[3] = sk->src_ip6[3];
	}
	tuple->src_port = bpf_ntohs(FERRY_READ(sk->dst_port));
	tuple->dst_port = (__u16)FERRY_READ(sk->src_port);
	tuple->_pad = 0;
}

/* Sets optlen and retval. The barrier keeps clang from merging the two adjacent
 * 32-bit context stores into one 64-bit store, which the verifier rejects. */
static __always_inline void answered(struct bpf_sockopt *ctx, int length)
{
	ctx->optlen = length;
	asm volatile("" ::: "memory");
	ctx->retval = 0;
}

SEC("cgroup/getsockopt")
int ferry_getsockopt(struct bpf_sockopt *ctx)
{
	if (!is_ours(ctx))
		return 1;
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 1;
	struct ferry_tuple tuple = {};
	workload_tuple(ctx, sk, &tuple);
	struct ferry_origin *origin = bpf_map_lookup_elem(&ferry_tuples, &tuple);
	if (!origin) {
		ferry_count(FERRY_CTR_ORIGIN_MISSING);
		return 1;
	}
	void *optval = ctx->optval;
	void *end = ctx->optval_end;

	if (ctx->optname == FERRY_SO_ORIGIN) {
		struct ferry_origin *out = optval;
		if ((void *)(out + 1) > end)
			return 1;
		*out = *origin;
		answered(ctx, sizeof(*out));
	} else if (ctx->level == FERRY_SOL_IP) {
		struct ferry_sockaddr_in *out = optval;
		if ((void *)(out + 1) > end || !ferry_addr_is_mapped_v4(origin->dst_addr))
			return 1;
		out->sin_family = FERRY_AF_INET;
		out->sin_port = bpf_htons(origin->dst_port);
		out->sin_addr = origin->dst_addr[3];
		__builtin_memset(out->sin_zero, 0, sizeof(out->sin_zero));
		answered(ctx, sizeof(*out));
	} else {
		struct ferry_sockaddr_in6 *out = optval;
		if ((void *)(out + 1) > end)
			return 1;
		out->sin6_family = FERRY_AF_INET6;
		out->sin6_port = bpf_htons(origin->dst_port);
		out->sin6_flowinfo = 0;
		out->sin6_addr[0] = origin->dst_addr[0];
		out->sin6_addr[1] = origin->dst_addr[1];
		out->sin6_addr[2] = origin->dst_addr[2];
		out->sin6_addr[3] = origin->dst_addr[3];
		out->sin6_scope_id = 0;
		answered(ctx, sizeof(*out));
	}
	/* Read: the entry goes now if the workload's socket already closed. */
	if (origin->flags & FERRY_ORIGIN_CLOSED)
		bpf_map_delete_elem(&ferry_tuples, &tuple);
	else
		origin->flags |= FERRY_ORIGIN_READ;
	ferry_count(FERRY_CTR_ORIGIN_FOUND);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
