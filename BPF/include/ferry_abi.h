/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ferry's ABI between the kernel programs and user space.
 *
 * This is the only definition of these structs: the BPF programs include it, and
 * Swift imports it through the CLibBPF module, so no copy can drift. Fixed-width
 * types and explicit padding only; every struct size is a multiple of 8.
 *
 * Addresses are 16 bytes in network byte order. IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d) so one key type covers both families and a v4-mapped IPv6
 * socket (Java) and the IPv4 socket on the other end produce the same key.
 * Ports are in host byte order.
 */
#ifndef FERRY_ABI_H
#define FERRY_ABI_H

#include <linux/types.h>

/* Ports (DESIGN.md §4); ztunnel-compatible numbers. */
#define FERRY_OUTBOUND_PORT 15001
#define FERRY_INBOUND_PLAINTEXT_PORT 15006
#define FERRY_HBONE_PORT 15008

/* SO_MARK on every socket ferryd opens: the second guard against redirect loops
 * (the first is that ferryd's cgroup is never enrolled), and how sockops knows a
 * socket belongs to the tunnel. */
#define FERRY_SOCKET_MARK 0x0f3e7700u

/* getsockopt(SOL_IP, FERRY_SO_ORIGIN) on a socket ferryd accepted on :15001 returns
 * a struct ferry_origin: the original destination plus the workload that made the
 * connection, in one system call. SO_ORIGINAL_DST (80) answers as iptables does. */
#define FERRY_SO_ORIGIN 0x4652
#define FERRY_SO_ORIGINAL_DST 80

/* How deep below the attach point an enrolled cgroup may sit; processes in
 * descendants of an enrolled cgroup (containers inside a pod cgroup) are enrolled. */
#define FERRY_MAX_CGROUP_DEPTH 16

/* ferry_enrolled: cgroup id -> workload. */
struct ferry_workload {
	__u32 index;  /* the workload's index in ferryd's mesh state */
	__u32 flags;  /* FERRY_WORKLOAD_* */
};
#define FERRY_WORKLOAD_FAIL_CLOSED 0x1u /* refuse captured connects while ferryd is down */

/* ferry_capture: LPM trie of destinations that are captured (value 1) or
 * explicitly excluded (value 0). */
struct ferry_cidr_key {
	__u32 prefixlen; /* over the 128-bit (mapped) address */
	__u32 addr[4];
};

/* Where a captured connection was going, recorded by connect4/connect6. */
struct ferry_origin {
	__u32 dst_addr[4];
	__u16 dst_port;
	__u8 family;          /* AF_INET or AF_INET6 as the workload asked */
	__u8 flags;           /* FERRY_ORIGIN_*; was the upper byte of a u16 family,
	                       * so entries of older agents read as 0 (little-endian) */
	__u32 workload;       /* ferry_workload.index */
	__u64 cgroup_id;      /* the enrolled cgroup that matched */
	__u64 socket_cookie;  /* the workload socket's cookie: key into ferry_conns */
};

/* A ferry_tuples entry is removed once the workload's socket has closed *and*
 * ferryd has read it, whichever comes second: a client may connect, send and
 * close before ferryd accepts (an orphaned socket reaches TCP_CLOSE as soon as
 * its FIN is acknowledged), and iptables' conntrack answers SO_ORIGINAL_DST
 * then too. Entries never read (ferryd died first) age out of the LRU map. */
#define FERRY_ORIGIN_READ   0x1u
#define FERRY_ORIGIN_CLOSED 0x2u

/* ferry_tuples key: the workload socket's 4-tuple as seen from the workload,
 * plus its netns cookie (many netns use the same 127.0.0.1:15001). */
struct ferry_tuple {
	__u64 netns_cookie;
	__u32 src_addr[4];
	__u32 dst_addr[4];
	__u16 src_port;
	__u16 dst_port;
	__u32 _pad;
};

/* What a ferry_conns entry describes. */
enum ferry_conn_kind {
	FERRY_CONN_CAPTURED = 1, /* a workload's socket, redirected to ferryd */
	FERRY_CONN_UPSTREAM = 2, /* a socket ferryd connected (marked) */
	FERRY_CONN_INBOUND = 3,  /* a socket ferryd accepted on a marked listener */
};

/* ferry_conns: socket cookie -> kernel statistics, kept by sockops. */
struct ferry_conn_stats {
	struct ferry_tuple tuple;   /* this socket: src = local end, dst = remote end */
	struct ferry_origin origin; /* original destination (captured sockets only) */
	__u64 start_ns;             /* bpf_ktime_get_ns() at connect or accept */
	/* When the handshake of a socket that connected completed; meaningful
	 * only with FERRY_CONN_ESTABLISHED. (Was updated_ns, which nothing read:
	 * entries written by older agents lack the flag.) */
	__u64 established_ns;
	__u64 bytes_acked;          /* bytes sent and acknowledged by the peer */
	__u64 bytes_received;
	__u32 srtt_us;
	__u32 total_retrans;
	__u32 rtt_samples;
	__u8 state;                 /* TCP state (BPF_TCP_*) */
	__u8 kind;                  /* enum ferry_conn_kind */
	__u16 flags;                /* FERRY_CONN_*; was padding, so older entries read as 0 */
};
#define FERRY_CONN_ESTABLISHED 0x1u /* established_ns is set: SYN -> established timed */
#define FERRY_CONN_RTO_EXPIRED 0x2u /* the retransmission timer gave up: the close is a timeout */

/* How a socket's connection ended. */
enum ferry_conn_end {
	FERRY_END_FIN = 1,     /* orderly: both sides' FINs (through LAST_ACK, FIN_WAIT2, CLOSING) */
	FERRY_END_RST = 2,     /* abortive: a reset sent or received, or a refused connect */
	FERRY_END_TIMEOUT = 3, /* the retransmission timer gave up (lost peer or path) */
};

/* ferry_events (a BPF ring buffer): one record per tracked socket when it
 * reaches TCP_CLOSE, so a connection shorter than any sampling interval still
 * counts. Not for ferryd's accepted end of a captured connection (the
 * workload's own socket reports that connection). A full buffer drops the
 * record and counts FERRY_CTR_EVENTS_DROPPED; the kernel never waits. */
struct ferry_close_event {
	__u64 cookie;               /* the socket's cookie (ferry_conns key) */
	struct ferry_conn_stats stats; /* final values; state is the state before close */
	__u64 end_ns;               /* bpf_ktime_get_ns() at close */
	__u32 min_rtt_us;           /* the kernel's windowed minimum RTT; 0 when none was measured */
	__u8 end;                   /* enum ferry_conn_end */
	__u8 _pad[3];
};

/* The ring buffer's size when ferryd is not told otherwise: with ~170 bytes a
 * record, room for ~6,000 closes between two drains. */
#define FERRY_EVENTS_DEFAULT_BYTES (1u << 20)

/* ferry_names (created and written by ferryd, read by ferryctl): workload
 * index -> "namespace/name", so the kernel's tables can be read with names
 * while ferryd is down. */
#define FERRY_WORKLOAD_NAME_MAX 320 /* namespace (63) + '/' + name (253) + NUL, rounded to 8 */
struct ferry_workload_name {
	char key[FERRY_WORKLOAD_NAME_MAX]; /* NUL-terminated */
};

/* ferry_inbound: the ports of enrolled workloads on this node whose plaintext
 * connections are steered to ferryd's :15006 (sk_lookup). */
struct ferry_inbound_key {
	__u32 addr[4];
	__u16 port;
	__u16 _pad;
};

struct ferry_inbound_value {
	__u32 workload;  /* ferry_workload.index */
	__u16 flags;     /* FERRY_INBOUND_* */
	/* Which of ferryd's :15006 listeners takes this address's connections: 0 is
	 * the node's (ferry_listeners), n >= 1 the pair of the n-th pod network
	 * namespace (ferry_pod_listeners slots 2(n-1) for IPv4, 2(n-1)+1 for IPv6).
	 * An address is local in exactly one namespace, so the key picks the
	 * namespace. (This half was the upper half of a 32-bit flags word, always
	 * zero: on little-endian hosts, entries written by older agents mean "the
	 * node's listener".) */
	__u16 listener;
};
#define FERRY_INBOUND_STRICT 0x1u /* drop plaintext while ferryd is down, never pass it */

/* ferry_listeners: SOCKMAP slots of ferryd's inbound plaintext listeners. */
#define FERRY_LISTENER_INBOUND_V4 0
#define FERRY_LISTENER_INBOUND_V6 1
/* ferry_pod_listeners: one pair of slots per pod network namespace. */
#define FERRY_POD_LISTENER_PAIRS 256

/* ferry_counters: per-CPU array indexed by these. */
enum ferry_counter {
	FERRY_CTR_REDIRECTED = 0,  /* connects rewritten to ferryd */
	FERRY_CTR_FAIL_OPEN,       /* captured connects passed through: ferryd not listening */
	FERRY_CTR_FAIL_CLOSED,     /* captured connects refused: ferryd not listening */
	FERRY_CTR_ORIGIN_FOUND,    /* getsockopt answered from ferry_tuples */
	FERRY_CTR_ORIGIN_MISSING,  /* getsockopt asked, nothing recorded */
	FERRY_CTR_CONN_TRACKED,    /* sockets added to ferry_conns */
	FERRY_CTR_CONN_CLOSED,     /* sockets removed from ferry_conns on close */
	FERRY_CTR_MAP_FULL,        /* a map update failed */
	FERRY_CTR_INBOUND_STEERED, /* plaintext connections steered to :15006 */
	FERRY_CTR_INBOUND_DROPPED, /* STRICT plaintext dropped while ferryd is down */
	FERRY_CTR_EVENTS_DROPPED,  /* close records lost: ferry_events was full */
	FERRY_CTR_COUNT,
};

#endif /* FERRY_ABI_H */
