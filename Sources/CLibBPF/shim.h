// libbpf's user-space API plus Ferry's kernel/user-space ABI header.
// The ABI header lives with the BPF programs and is included, never copied.
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

// Where a BPF link is attached, for telling a live link of this agent from one
// left by an earlier run: its type, and the cgroup id (cgroup links) or netns
// inode (netns links) it is attached to; 0 when the target is gone (the kernel
// severed the link). Returns 0, or -1 with errno when the descriptor is not a link.
struct ferry_link_target {
    __u32 type;       // enum bpf_link_type
    __u32 attach_type;
    __u64 cgroup_id;
    __u32 netns_inode;
    __u32 _pad;
};

static inline int ferry_link_target(int link_fd, struct ferry_link_target *target) {
    struct bpf_link_info info;
    __u32 length = sizeof(info);
    memset(&info, 0, sizeof(info));
    memset(target, 0, sizeof(*target));
    if (bpf_obj_get_info_by_fd(link_fd, &info, &length) != 0) return -1;
    target->type = info.type;
    if (info.type == BPF_LINK_TYPE_CGROUP) {
        target->cgroup_id = info.cgroup.cgroup_id;
        target->attach_type = info.cgroup.attach_type;
    } else if (info.type == BPF_LINK_TYPE_NETNS) {
        target->netns_inode = info.netns.netns_ino;
        target->attach_type = info.netns.attach_type;
    }
    return 0;
}

// The definition of a pinned map, to compare with what an object declares.
static inline int ferry_map_shape(int map_fd, struct bpf_map_info *info) {
    __u32 length = sizeof(*info);
    memset(info, 0, sizeof(*info));
    return bpf_obj_get_info_by_fd(map_fd, info, &length);
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

// Sets a `const volatile __u32` global (a load-time setting, in .rodata) of an
// opened, not yet loaded object. 0; -ENOENT when the object has no such
// variable; -EINVAL when it is not 32 bits wide.
static inline int ferry_object_set_rodata_u32(struct bpf_object *object, const char *name, __u32 value) {
    struct btf *btf = bpf_object__btf(object);
    if (!btf) return -ENOENT;
    int section = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    if (section < 0) return -ENOENT;
    const struct btf_type *datasec = btf__type_by_id(btf, section);
    const struct btf_var_secinfo *var = btf_var_secinfos(datasec);
    for (int i = 0; i < btf_vlen(datasec); i++, var++) {
        const struct btf_type *type = btf__type_by_id(btf, var->type);
        if (strcmp(btf__name_by_offset(btf, type->name_off), name) != 0) continue;
        if (var->size != sizeof(value)) return -EINVAL;
        struct bpf_map *map;
        bpf_object__for_each_map(map, object) {
            const char *map_name = bpf_map__name(map);
            size_t length = strlen(map_name);
            if (!bpf_map__is_internal(map) || length < 7 || strcmp(map_name + length - 7, ".rodata") != 0) continue;
            size_t size = 0;
            const void *initial = bpf_map__initial_value(map, &size);
            if (!initial || var->offset + sizeof(value) > size) return -EINVAL;
            unsigned char *copy = malloc(size);
            if (!copy) return -ENOMEM;
            memcpy(copy, initial, size);
            memcpy(copy + var->offset, &value, sizeof(value));
            int rc = bpf_map__set_initial_value(map, copy, size);
            free(copy);
            return rc;
        }
        return -ENOENT;
    }
    return -ENOENT;
}
