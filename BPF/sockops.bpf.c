// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sockops: connection bookkeeping.
 *
 * - A captured socket (connect4/6 left its origin in ferry_pending) gets its
 *   4-tuple recorded in ferry_tuples as soon as the SYN is about to leave, so the
 *   origin is there before ferryd can accept the connection and ask for it.
 * - Captured sockets and ferryd's own (marked) sockets get an entry in
 *   ferry_conns with the kernel's view: bytes, smoothed RTT, retransmits, state.
 *   State, RTT and retransmit callbacks keep it fresh.
 * - On TCP_CLOSE both entries go (a tuple once ferryd has also read it), so the
 *   maps hold live connections only, and the socket's final values go to the
 *   ferry_events ring buffer: every connection counts, however short.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/ferry_abi.h"
#include "include/ferry_addr.h"
#include "include/ferry_maps.h"

#define TRACKING_FLAGS (BPF_SOCK_OPS_STATE_CB_FLAG | BPF_SOCK_OPS_RTT_CB_FLAG | BPF_SOCK_OPS_RETRANS_CB_FLAG | \
			BPF_SOCK_OPS_RTO_CB_FLAG)

/* Load-time setting: 0 emits no close records (how `make bench` measures what
 * they cost). */
const volatile __u32 ferry_close_events = 1;

/* The socket's own 4-tuple, local end first, in the normalised form. */
static __always_inline void own_tuple(struct bpf_sock_ops *ctx, struct ferry_tuple *tuple)
{
	tuple->netns_cookie = bpf_get_netns_cookie(ctx);
	if (FERRY_READ(ctx->family) == FERRY_AF_INET) {
		ferry_addr_from_v4(tuple->src_addr, FERRY_READ(ctx->local_ip4));
		ferry_addr_from_v4(tuple->dst_addr, FERRY_READ(ctx->remote_ip4));
	} else {
		tuple->src_addr[0] = ctx->local_ip6[0];
		tuple->src_addr[1] = ctx->local_ip6[1];
		tuple->src_addr[2] = ctx->local_ip6[2];
		tuple->src_addr[3] = ctx->local_ip6[3];
		tuple->dst_addr[0] = ctx->remote_ip6[0];
		tuple->dst_addr[1] = ctx->remote_ip6[1];
		tuple->dst_addr[2] = ctx->remote_ip6[2];
		tuple->dst_addr[3] = ctx->remote_ip6[3];
	}
	tuple->src_port = (__u16)FERRY_READ(ctx->local_port);
	tuple->dst_port = (__u16)bpf_ntohl(FERRY_READ(ctx->remote_port));
	tuple->_pad = 0;
}

static __always_inline int is_ferry_socket(struct bpf_sock_ops *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	return sk && sk->mark == FERRY_SOCKET_MARK;
}

static __always_inline void refresh(struct bpf_sock_ops *ctx, struct ferry_conn_stats *stats)
{
	stats->bytes_acked = FERRY_READ(ctx->bytes_acked);
	stats->bytes_received = FERRY_READ(ctx->bytes_received);
	stats->srtt_us = FERRY_READ(ctx->srtt_us) >> 3; /* the kernel keeps srtt scaled by 8 */
	stats->total_retrans = FERRY_READ(ctx->total_retrans);
	stats->state = (__u8)FERRY_READ(ctx->state);
}

static __always_inline void track(struct bpf_sock_ops *ctx, __u64 cookie, __u8 kind,
				  const struct ferry_origin *origin)
{
	struct ferry_conn_stats stats = {};
	own_tuple(ctx, &stats.tuple);
	if (origin)
		stats.origin = *origin;
	stats.kind = kind;
	stats.start_ns = bpf_ktime_get_ns();
	refresh(ctx, &stats);
	if (bpf_map_update_elem(&ferry_conns, &cookie, &stats, BPF_ANY) != 0) {
		ferry_count(FERRY_CTR_MAP_FULL);
		return;
	}
	ferry_count(FERRY_CTR_CONN_TRACKED);
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | TRACKING_FLAGS);
}

/* The SYN is about to leave: the local port is bound, the peer has not seen
 * anything yet, so the tuple is in place before ferryd's accept() returns. */
static __always_inline void on_connect(struct bpf_sock_ops *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct ferry_origin *pending = bpf_map_lookup_elem(&ferry_pending, &cookie);
	if (pending) {
		struct ferry_origin origin = *pending;
		bpf_map_delete_elem(&ferry_pending, &cookie);
		struct ferry_tuple tuple = {};
		own_tuple(ctx, &tuple);
		if (bpf_map_update_elem(&ferry_tuples, &tuple, &origin, BPF_ANY) != 0)
			ferry_count(FERRY_CTR_MAP_FULL);
		track(ctx, cookie, FERRY_CONN_CAPTURED, &origin);
		return;
	}
	if (is_ferry_socket(ctx)) {
		/* Recorded before the SYN leaves, so sk_lookup on the receiving side
		 * (same node) sees it and does not steer ferryd's own connection. */
		struct ferry_tuple tuple = {};
		own_tuple(ctx, &tuple);
		tuple.netns_cookie = 0;
		__u8 one = 1;
		bpf_map_update_elem(&ferry_own, &tuple, &one, BPF_ANY);
		track(ctx, cookie, FERRY_CONN_UPSTREAM, 0);
	}
}

/* How the connection ended, from the state it leaves for TCP_CLOSE. */
static __always_inline __u8 end_of(__u32 old_state, __u16 flags)
{
	if (flags & FERRY_CONN_RTO_EXPIRED)
		return FERRY_END_TIMEOUT;
	switch (old_state) {
	case BPF_TCP_LAST_ACK:   /* our FIN acknowledged after theirs */
	case BPF_TCP_FIN_WAIT2:  /* their FIN after ours: on to TIME_WAIT */
	case BPF_TCP_CLOSING:    /* simultaneous close */
	case BPF_TCP_TIME_WAIT:
		return FERRY_END_FIN;
	default:                 /* from ESTABLISHED, CLOSE_WAIT, SYN_SENT...: a reset */
		return FERRY_END_RST;
	}
}

/* The final record. The map entry goes first, so once ferryd has read the
 * record the entry is gone: a reader never counts a socket's values twice.
 * ferryd's accepted end of a captured connection is left out: the workload's
 * own socket reports that connection. */
static __always_inline void emit_close(struct bpf_sock_ops *ctx, __u64 cookie, const struct ferry_conn_stats *stats)
{
	if (!ferry_close_events)
		return;
	if (stats->kind == FERRY_CONN_INBOUND && stats->tuple.src_port == FERRY_OUTBOUND_PORT)
		return;
	struct ferry_close_event *event = bpf_ringbuf_reserve(&ferry_events, sizeof(*event), 0);
	if (!event) {
		ferry_count(FERRY_CTR_EVENTS_DROPPED);
		return;
	}
	event->cookie = cookie;
	event->stats = *stats;
	refresh(ctx, &event->stats);
	event->stats.state = (__u8)ctx->args[0];
	event->end_ns = bpf_ktime_get_ns();
	event->min_rtt_us = FERRY_READ(ctx->rtt_min);
	event->end = end_of(ctx->args[0], stats->flags);
	event->_pad[0] = 0;
	event->_pad[1] = 0;
	event->_pad[2] = 0;
	/* Wake the reader only when the buffer is filling; otherwise it drains
	 * on its own schedule, which keeps wake-ups off the connection path. */
	__u64 wakeup = bpf_ringbuf_query(&ferry_events, BPF_RB_AVAIL_DATA) >
			       bpf_ringbuf_query(&ferry_events, BPF_RB_RING_SIZE) / 4
		? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(event, wakeup);
}

static __always_inline void on_close(struct bpf_sock_ops *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct ferry_conn_stats *found = bpf_map_lookup_elem(&ferry_conns, &cookie);
	if (!found)
		return;
	struct ferry_conn_stats stats = *found;
	struct ferry_tuple tuple = stats.tuple;
	if (stats.kind == FERRY_CONN_CAPTURED) {
		/* Not racing the reader: the flags are plain bytes, and a lost update
		 * only leaves the entry to the LRU. */
		struct ferry_origin *origin = bpf_map_lookup_elem(&ferry_tuples, &tuple);
		if (origin && (origin->flags & FERRY_ORIGIN_READ))
			bpf_map_delete_elem(&ferry_tuples, &tuple);
		else if (origin)
			origin->flags |= FERRY_ORIGIN_CLOSED;
	} else if (stats.kind == FERRY_CONN_UPSTREAM) {
		tuple.netns_cookie = 0;
		bpf_map_delete_elem(&ferry_own, &tuple);
	}
	bpf_map_delete_elem(&ferry_conns, &cookie);
	ferry_count(FERRY_CTR_CONN_CLOSED);
	emit_close(ctx, cookie, &stats);
}

static __always_inline void on_update(struct bpf_sock_ops *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct ferry_conn_stats *stats = bpf_map_lookup_elem(&ferry_conns, &cookie);
	if (!stats)
		return;
	refresh(ctx, stats);
	if (ctx->op == BPF_SOCK_OPS_RTT_CB)
		stats->rtt_samples += 1;
	if (ctx->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && !(stats->flags & FERRY_CONN_ESTABLISHED)) {
		stats->established_ns = bpf_ktime_get_ns();
		stats->flags |= FERRY_CONN_ESTABLISHED;
	}
}

/* The retransmission timer fired; with args[2] set it gave up, and the close
 * that follows is a timeout. */
static __always_inline void on_rto(struct bpf_sock_ops *ctx)
{
	if (!ctx->args[2])
		return;
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct ferry_conn_stats *stats = bpf_map_lookup_elem(&ferry_conns, &cookie);
	if (stats)
		stats->flags |= FERRY_CONN_RTO_EXPIRED;
}

SEC("sockops")
int ferry_sockops(struct bpf_sock_ops *ctx)
{
	switch (ctx->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		on_connect(ctx);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		if (is_ferry_socket(ctx))
			track(ctx, bpf_get_socket_cookie(ctx), FERRY_CONN_INBOUND, 0);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ctx->args[1] == BPF_TCP_CLOSE)
			on_close(ctx);
		else
			on_update(ctx);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_RTT_CB:
	case BPF_SOCK_OPS_RETRANS_CB:
		on_update(ctx);
		break;
	case BPF_SOCK_OPS_RTO_CB:
		on_rto(ctx);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
