/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel_types.h - the kernel-internal types the probes read, and nothing else.
 *
 * This replaces a generated vmlinux.h on purpose (see docs/probes.md): every struct below is
 * declared with preserve_access_index, so clang emits CO-RE relocations and libbpf rewrites
 * each field offset against the BTF of the kernel the probes are loaded on. The declared
 * order and the missing fields do not matter; the field names and the sizes of the fields
 * read do. The build therefore never depends on the kernel of the build host, and this file
 * is the complete list of kernel internals policer relies on.
 *
 * Program context types (struct bpf_sock_ops, struct __sk_buff, ...) are stable uapi and
 * come from <linux/bpf.h>.
 */
#ifndef POLICER_KERNEL_TYPES_H
#define POLICER_KERNEL_TYPES_H

#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;
typedef int pid_t;
typedef _Bool bool;
#define true 1
#define false 0

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
    int counter;
} atomic_t;

typedef struct {
    s64 counter;
} atomic64_t;

typedef struct {
    u32 val;
} kuid_t;

typedef struct {
    u32 val;
} kgid_t;

struct qstr {
    union {
        struct {
            u32 hash;
            u32 len;
        };
        u64 hash_len;
    };
    const unsigned char *name;
};

struct super_block {
    u32 s_dev;
};

struct inode {
    unsigned long i_ino;
    unsigned int i_nlink; /* 0: the file has been deleted */
    struct super_block *i_sb;
};

struct dentry {
    struct dentry *d_parent;
    struct qstr d_name;
};

struct vfsmount {
    struct dentry *mnt_root;
};

/* fs/mount.h: struct vfsmount is embedded in struct mount. */
struct mount {
    struct mount *mnt_parent;
    struct dentry *mnt_mountpoint;
    struct vfsmount mnt;
};

struct path {
    struct vfsmount *mnt;
    struct dentry *dentry;
};

struct file {
    struct path f_path;
    struct inode *f_inode;
    void *private_data;
};

struct fdtable {
    unsigned int max_fds;
    struct file **fd;
};

struct files_struct {
    struct fdtable *fdt;
};

struct mm_struct {
    unsigned long arg_start;
    unsigned long arg_end;
    struct file *exe_file;
};

struct cred {
    kuid_t uid;
    kgid_t gid;
    kuid_t euid;
};

struct ns_common {
    unsigned int inum;
};

struct net {
    struct ns_common ns;
};

struct nsproxy {
    struct net *net_ns;
};

struct kernfs_node {
    u64 id;
};

struct cgroup_root {
    int hierarchy_id;
};

struct cgroup {
    struct kernfs_node *kn;
    struct cgroup_root *root;
};

struct css_set {
    struct cgroup *dfl_cgrp;
};

struct signal_struct {
    atomic_t live;
};

struct task_struct {
    unsigned int flags;
    int exit_code;
    pid_t pid;
    pid_t tgid;
    u64 start_boottime;
    struct task_struct *real_parent;
    struct task_struct *group_leader;
    const struct cred *cred;
    char comm[16];
    struct mm_struct *mm;
    struct files_struct *files;
    struct nsproxy *nsproxy;
    struct signal_struct *signal;
    struct css_set *cgroups;
};

struct linux_binprm {
    struct file *file;
};

struct sock_common {
    atomic64_t skc_cookie;
    unsigned long skc_flags; /* enum sock_flags bits, in a union with timewait fields */
};

struct sock_cgroup_data {
    struct cgroup *cgroup; /* the socket's cgroup v2 */
};

struct sock {
    struct sock_common __sk_common;
    kuid_t sk_uid; /* owner */
    struct sock_cgroup_data sk_cgrp_data;
};

/* Payload counters of a TCP socket (RFC 4898 names). */
struct tcp_sock {
    u64 bytes_sent;     /* payload sent, retransmissions included */
    u64 bytes_retrans;  /* payload retransmitted */
    u64 bytes_received; /* rcv_nxt advance: payload, plus 1 for a FIN the socket processed */
    u32 segs_in;        /* segments received */
    u32 segs_out;       /* segments sent */
};

struct socket {
    struct sock *sk;
};

/* Context of an iterator over a BPF_MAP_TYPE_SK_STORAGE map (iter/bpf_sk_storage_map): one call
 * per socket that has storage in the map, then one with sk == NULL at the end. */
struct seq_file;
struct bpf_map;
struct bpf_iter_meta {
    struct seq_file *seq;
};

struct bpf_iter__bpf_sk_storage_map {
    struct bpf_iter_meta *meta;
    struct bpf_map *map;
    struct sock *sk;
    void *value;
};

/* Record of the classic syscalls:sys_exit_* tracepoints. */
struct trace_entry {
    unsigned short type;
    unsigned char flags;
    unsigned char preempt_count;
    int pid;
};

struct trace_event_raw_sys_exit {
    struct trace_entry ent;
    long id;
    long ret;
};

#pragma clang attribute pop

/* include/net/sock.h; relocated by name with bpf_core_enum_value(). */
enum sock_flags {
    SOCK_DEAD = 0,
    SOCK_DONE = 1, /* tcp_fin() ran: the peer's FIN was processed by this socket */
};

/* include/linux/sched.h */
#define PF_KTHREAD 0x00200000

#endif /* POLICER_KERNEL_TYPES_H */
