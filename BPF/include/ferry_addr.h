/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address helpers: everything is normalised to 16-byte IPv4-mapped form. */
#ifndef FERRY_ADDR_H
#define FERRY_ADDR_H

#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include "ferry_abi.h"

#define FERRY_AF_INET 2
#define FERRY_AF_INET6 10
#define FERRY_SOL_IP 0
#define FERRY_SOL_IPV6 41
#define FERRY_IPPROTO_TCP 6

/* Read a context field exactly where it is written. Without this clang may hoist
 * "ctx + offset" out of a branch and dereference the moved pointer later, which
 * the verifier refuses for context and socket pointers. */
#define FERRY_READ(field) (*(volatile typeof(field) *)&(field))

static __always_inline void ferry_addr_from_v4(__u32 out[4], __u32 v4)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = bpf_htonl(0x0000ffff);
	out[3] = v4;
}

static __always_inline void ferry_addr_from_v6(__u32 out[4], const __u32 in[4])
{
	out[0] = in[0];
	out[1] = in[1];
	out[2] = in[2];
	out[3] = in[3];
}

static __always_inline int ferry_addr_is_mapped_v4(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 are never captured. */
static __always_inline int ferry_addr_is_loopback(const __u32 a[4])
{
	if (ferry_addr_is_mapped_v4(a))
		return (bpf_ntohl(a[3]) >> 24) == 127;
	return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

static __always_inline int ferry_addr_is_unspecified(const __u32 a[4])
{
	if (ferry_addr_is_mapped_v4(a))
		return a[3] == 0;
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

#endif /* FERRY_ADDR_H */
