// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The smallest same-node splice: sockops puts both ends of a loopback
 * connection to PROBE_PORT in a SOCKHASH, and sk_msg redirects every send
 * into the peer's receive queue (BPF_F_INGRESS), bypassing TCP. Used only by
 * run.sh to measure what that does to backpressure.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define PROBE_PORT 47001

struct end_key {
	__u32 local_ip;
	__u32 remote_ip;
	__u32 local_port;  /* host order */
	__u32 remote_port; /* host order */
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 16);
	__type(key, struct end_key);
	__type(value, __u64);
} probe_socks SEC(".maps");

SEC("sockops")
int probe_sockops(struct bpf_sock_ops *ctx)
{
	if (ctx->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && ctx->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (ctx->family != 2 /* AF_INET */)
		return 1;
	__u32 local_port = ctx->local_port, remote_port = bpf_ntohl(ctx->remote_port);
	if (local_port != PROBE_PORT && remote_port != PROBE_PORT)
		return 1;
	struct end_key key = { ctx->local_ip4, ctx->remote_ip4, local_port, remote_port };
	bpf_sock_hash_update(ctx, &probe_socks, &key, BPF_ANY);
	return 1;
}

SEC("sk_msg")
int probe_redirect(struct sk_msg_md *msg)
{
	/* The peer registered its own end: our remote is its local. */
	struct end_key peer = { msg->remote_ip4, msg->local_ip4, bpf_ntohl(msg->remote_port), msg->local_port };
	bpf_msg_redirect_hash(msg, &probe_socks, &peer, BPF_F_INGRESS);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
