// libbpf's user-space API plus Ferry's kernel/user-space ABI header.
// The ABI header lives with the BPF programs and is included, never copied.
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/mount.h>
#include "../../BPF/include/ferry_abi.h"

// setns(2) is declared by glibc only under _GNU_SOURCE; declare it here.
extern int setns(int fd, int nstype);
#define FERRY_CLONE_NEWNET 0x40000000

// libbpf hands its log lines over as a format string plus va_list; Swift cannot call
// vsnprintf on an imported va_list portably, so render it here.
static inline int ferry_format_libbpf_log(char *buffer, size_t size, const char *format, va_list args) {
    return vsnprintf(buffer, size, format, args);
}

// The inode of the network namespace a netns link (sk_lookup) is attached to; 0
// when the namespace is gone (the kernel detached the link) or the descriptor is
// not such a link.
static inline unsigned int ferry_link_netns_inode(int link_fd) {
    struct bpf_link_info info;
    __u32 length = sizeof(info);
    memset(&info, 0, sizeof(info));
    if (bpf_obj_get_info_by_fd(link_fd, &info, &length) != 0) return 0;
    if (info.type != BPF_LINK_TYPE_NETNS) return 0;
    return info.netns.netns_ino;
}
