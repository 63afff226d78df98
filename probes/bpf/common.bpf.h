/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * common.bpf.h - what every policer BPF program shares: the maps (defined once in
 * maps.bpf.c and linked into one object by `bpftool gen object`), identity capture and
 * event plumbing.
 */
#ifndef POLICER_COMMON_BPF_H
#define POLICER_COMMON_BPF_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "probe_abi.h"

#ifndef container_of
#define container_of(ptr, type, member)                                                            \
    ((type *)((void *)(ptr)-bpf_core_field_offset(type, member)))
#endif

/* ---- shared maps ----
 * Declared once, here. maps.bpf.c defines PL_DEFINE_MAPS and so holds the one definition;
 * every other program sees `extern` declarations that `bpftool gen object` resolves to it.
 * Sizes marked "set by policerd" are overridden from the configuration before load. */
#ifdef PL_DEFINE_MAPS
#define PL_MAP
#else
#define PL_MAP extern
#endif

/* All events to user space. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 << 20); /* set by policerd */
} pl_events SEC(".maps");

/* Payload samples for L7 dissection: their own ring, so a burst of payload cannot crowd out
 * flow events. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4 << 20); /* set by policerd */
} pl_samples SEC(".maps");

/* Flow state set by user space (struct pl_flow_key -> struct pl_flow_state). */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536); /* set by policerd */
    __type(key, struct pl_flow_key);
    __type(value, struct pl_flow_state);
} pl_flow_state SEC(".maps");

/* Where a sample is assembled before it is copied to pl_samples (too big for the stack). */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pl_sample_event);
} pl_sample_scratch SEC(".maps");

/* Per-CPU counters, indexed by enum pl_counter. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, PL_CNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} pl_counters SEC(".maps");

/* Identity of each inet socket, freed with the socket. BPF_F_CLONE copies it from a
 * listening socket to the sockets it accepts. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
    __type(key, int);
    __type(value, struct pl_sock_state);
} pl_sock SEC(".maps");

/* UDP flows: (socket, remote endpoint) -> counters. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536); /* set by policerd */
    __type(key, struct pl_flow_key);
    __type(value, struct pl_udp_value);
} pl_udp_flows SEC(".maps");

/* The process map: tgid -> executable (struct pl_proc). Size set by policerd. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536); /* set by policerd */
    __type(key, __u32);
    __type(value, struct pl_proc);
} pl_procs SEC(".maps");

/* Inbound TCP flows established but not yet accept()ed: cookie -> listener tgid. */
PL_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384); /* set by policerd */
    __type(key, __u64);
    __type(value, __u32);
} pl_pending_accept SEC(".maps");

/* ---- helpers ---- */

static __always_inline void pl_count(__u32 idx) {
    __u64 *v = bpf_map_lookup_elem(&pl_counters, &idx);
    /* Atomic even per CPU: a softirq program may interrupt a process-context one. */
    if (v) __sync_fetch_and_add(v, 1);
}

/* Reserve a ring-buffer record; a failed reservation is counted against its event type so
 * that no loss is ever silent. */
static __always_inline void *pl_reserve(__u32 size, __u32 type) {
    struct pl_event_header *h = bpf_ringbuf_reserve(&pl_events, size, 0);
    if (!h) {
        pl_count(PL_CNT_RB_DROP_BASE + type);
        return 0;
    }
    h->type = type;
    h->size = size;
    h->ts_ns = bpf_ktime_get_boot_ns();
    return h;
}

/* The executable of process `tgid` started at `start_ns`, from the process map. */
static __always_inline void pl_ident_exe(struct pl_ident *id) {
    __u32 tgid = id->tgid;
    struct pl_proc *p = bpf_map_lookup_elem(&pl_procs, &tgid);
    if (p && p->start_ns == id->start_ns) {
        id->exe_ino = p->exe_ino;
        id->exe_dev = p->exe_dev;
        id->exe_flags = p->exe_flags;
    } else {
        id->exe_ino = 0;
        id->exe_dev = 0;
        id->exe_flags = 0;
    }
}

static __always_inline void pl_ident_from_task(struct pl_ident *id, struct task_struct *t) {
    id->pid = BPF_CORE_READ(t, pid);
    id->tgid = BPF_CORE_READ(t, tgid);
    id->start_ns = BPF_CORE_READ(t, group_leader, start_boottime);
    id->ppid = BPF_CORE_READ(t, real_parent, tgid);
    id->parent_start_ns = BPF_CORE_READ(t, real_parent, group_leader, start_boottime);
    id->uid = BPF_CORE_READ(t, cred, uid.val);
    id->gid = BPF_CORE_READ(t, cred, gid.val);
    id->euid = BPF_CORE_READ(t, cred, euid.val);
    id->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
    id->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
    id->flags = (BPF_CORE_READ(t, flags) & PF_KTHREAD) ? PL_IDENT_KTHREAD : 0;
    BPF_CORE_READ_STR_INTO(&id->comm, t, comm);
    pl_ident_exe(id);
}

/* Identity of the task running now; only meaningful in process context. */
static __always_inline void pl_ident_from_current(struct pl_ident *id) {
    pl_ident_from_task(id, (struct task_struct *)bpf_get_current_task());
}

/* Whether `id` still describes the current task: same process, same uid/gid, same cgroup and
 * same program. Cheap helpers first; the process map last. */
static __always_inline bool pl_ident_is_current(const struct pl_ident *id) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u64 uid_gid = bpf_get_current_uid_gid();
    __u32 tgid = pid_tgid >> 32;
    if (id->tgid != tgid || id->uid != (__u32)uid_gid || id->gid != (__u32)(uid_gid >> 32) ||
        id->cgroup_id != bpf_get_current_cgroup_id() || (id->flags & PL_IDENT_NO_TASK))
        return false;
    struct pl_proc *p = bpf_map_lookup_elem(&pl_procs, &tgid);
    return !p || p->exe_ino == id->exe_ino;
}

/* Attach (or refresh) the identity of the current process to a socket, in process context.
 * A socket keeps the identity of whoever used it last: a daemon that opens its socket as root
 * and then drops to another user, moves cgroup or execs is named as it is now. Sockets made
 * before policerd started get one the first time a process uses them. */
static __always_inline struct pl_sock_state *pl_sock_adopt(struct bpf_sock *sk) {
    struct pl_sock_state *st = bpf_sk_storage_get(&pl_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!st) return 0;
    if (!pl_ident_is_current(&st->ident)) pl_ident_from_current(&st->ident);
    return st;
}

#endif /* POLICER_COMMON_BPF_H */
