/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce_common.bpf.h - what the enforcement programs (policer_enforce) share: their maps,
 * the facts of a flow as a hook sees them, the verdict map and token buckets, and refusal
 * reports. Nothing here depends on the observation object (policer_probes): enforcement is
 * pinned and keeps working when policerd is gone.
 */
#ifndef POLICER_ENFORCE_COMMON_BPF_H
#define POLICER_ENFORCE_COMMON_BPF_H

#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "probe_abi.h"

#ifdef PL_DEFINE_ENF_MAPS
#define PL_ENF_MAP
#else
#define PL_ENF_MAP extern
#endif

/* ---- maps (defined in enforce_maps.bpf.c; pinned by policerd) ---- */

PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pl_enforce_state);
} pl_enf_state SEC(".maps");

/* Verdicts of flows of local sockets (struct pl_flow_key -> struct pl_flow_verdict). */
PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536); /* set by policerd */
    __type(key, struct pl_flow_key);
    __type(value, struct pl_flow_verdict);
} pl_flow_verdicts SEC(".maps");

/* Verdicts by 5-tuple, for TC and XDP (no local socket there). */
PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536); /* set by policerd */
    __type(key, struct pl_tuple_key);
    __type(value, struct pl_flow_verdict);
} pl_tuple_verdicts SEC(".maps");

/* Sources XDP drops before the stack sees them. */
PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 65536);
    __type(key, struct pl_blocklist_key);
    __type(value, __u32);
} pl_blocklist SEC(".maps");

PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384); /* set by policerd */
    __type(key, struct pl_limit_key);
    __type(value, struct pl_limit_bucket);
} pl_limit_buckets SEC(".maps");

/* Identity of each socket, for enforcement. BPF_F_CLONE: accepted sockets inherit it. */
PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
    __type(key, int);
    __type(value, struct pl_enf_sock);
} pl_enf_sock SEC(".maps");

PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 20);
} pl_enf_events SEC(".maps");

PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, PL_ECNT_MAX);
    __type(key, __u32);
    __type(value, __u64);
} pl_enf_counters SEC(".maps");

/* ---- the facts of one flow ---- */

struct pl_facts {
    __u8 daddr[16]; /* IPv4 in the first 4 bytes, network order */
    __u8 saddr[16];
    __u16 dport; /* host order */
    __u16 sport;
    __u8 ingress;
    __u8 udp;
    __u8 ipv6;
    __u8 src_known; /* the source address and port are known (bound) */
    __u8 ident_known; /* gid, comm are known (uid and cgroup always are) */
    __u8 exe_known;
    __u8 pad[2];
    __u32 uid;
    __u32 gid;
    __u32 tgid;
    __u32 pad2;
    __u64 cgroup_id;
    __u64 exe_dev;
    __u64 exe_ino;
    char comm[PL_COMM_LEN];
};

/* The facts of an inbound packet being judged, per CPU: cgroup_skb ingress runs with bottom
 * halves off, so two judgements never share a CPU's slot (egress, which may run preemptible
 * in process context, keeps its packet on the stack and judges nothing); off the stack, because a hook and
 * everything it calls get 512 bytes. (The socket-call hooks run in process context, which can
 * be preempted: they keep their facts on the stack.) */
struct pl_enf_scratch {
    struct pl_facts facts;
    struct pl_flow_key key;
    __u8 pkt[64]; /* struct pl_pkt (packet.bpf.h) */
};

PL_ENF_MAP struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct pl_enf_scratch);
} pl_enf_scratch SEC(".maps");

/* What the rule tables decided (pl_decide_g in rule_decide.bpf.c). */
enum { PL_D_NONE = 0, PL_D_DEFAULT = 1, PL_D_RULE = 2, PL_D_DEFER = 3, PL_D_ERROR = 4 };

struct pl_decision {
    __u32 kind;
    __u32 rule;
    __u32 generation;
    __u32 pad;
    struct pl_rule_action action; /* the rule's or the default's */
};

extern int pl_decide_g(const struct pl_facts *f, struct pl_decision *d);

/* ---- helpers ---- */

static __always_inline void pl_ecount(__u32 idx) {
    __u64 *v = bpf_map_lookup_elem(&pl_enf_counters, &idx);
    if (v) __sync_fetch_and_add(v, 1);
}

static __always_inline bool pl_refuses(const struct pl_rule_action *a) {
    return a->kind == PL_RA_DENY || a->kind == PL_RA_REJECT;
}

static __always_inline __u32 pl_current_generation(void) {
    __u32 zero = 0;
    const struct pl_enforce_state *st = bpf_map_lookup_elem(&pl_enf_state, &zero);
    return st ? st->generation : 0;
}

/* A verdict the kernel cached under an older rule set no longer applies. */
static __always_inline bool pl_verdict_current(const struct pl_flow_verdict *v) {
    return v->origin != PL_VO_KERNEL || v->generation == pl_current_generation();
}

/* The identity of the current task (process context only). Not inlined (nor is pl_report):
 * a hook's frame plus the decision's must stay under the 512-byte stack. */
static __noinline __attribute__((unused)) void pl_facts_current(struct pl_facts *f) {
    __u64 ug = bpf_get_current_uid_gid();
    f->uid = (__u32)ug;
    f->gid = (__u32)(ug >> 32);
    f->tgid = bpf_get_current_pid_tgid() >> 32;
    f->cgroup_id = bpf_get_current_cgroup_id();
    bpf_get_current_comm(f->comm, sizeof(f->comm));
    f->ident_known = 1;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct file *exe = BPF_CORE_READ(t, mm, exe_file);
    if (exe) {
        f->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
        f->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
        f->exe_known = 1;
    }
}

/* The identity a socket carries (inbound flows, and packets in softirq). */
static __always_inline void pl_facts_from_sock(struct pl_facts *f, const struct pl_enf_sock *s) {
    f->uid = s->uid;
    f->gid = s->gid;
    f->tgid = s->tgid;
    f->cgroup_id = s->cgroup_id;
    __builtin_memcpy(f->comm, s->comm, PL_COMM_LEN);
    f->ident_known = 1;
    f->exe_known = s->exe_known;
    f->exe_dev = s->exe_dev;
    f->exe_ino = s->exe_ino;
}

static __always_inline void pl_sock_from_facts(struct pl_enf_sock *s, const struct pl_facts *f) {
    s->uid = f->uid;
    s->gid = f->gid;
    s->tgid = f->tgid;
    s->cgroup_id = f->cgroup_id;
    __builtin_memcpy(s->comm, f->comm, PL_COMM_LEN);
    s->exe_known = f->exe_known;
    s->exe_dev = f->exe_dev;
    s->exe_ino = f->exe_ino;
}

/* Reports a refusal (or an audited would-be refusal). A full ring loses the report, never the
 * verdict; the loss is counted. */
static __noinline __attribute__((unused)) void pl_report(const struct pl_facts *f, const struct pl_decision *d,
                                      __u8 hook, __u64 cookie) {
    struct pl_deny_event *e = bpf_ringbuf_reserve(&pl_enf_events, sizeof(*e), 0);
    if (!e) {
        pl_ecount(PL_ECNT_EVENT_DROPS);
        return;
    }
    __builtin_memset(e, 0, sizeof(*e));
    e->hdr.type = PL_EV_DENY;
    e->hdr.size = sizeof(*e);
    e->hdr.ts_ns = bpf_ktime_get_boot_ns();
    e->cookie = cookie;
    e->tuple.family = f->ipv6 ? PL_AF_INET6 : PL_AF_INET;
    e->tuple.proto = f->udp ? PL_IPPROTO_UDP : PL_IPPROTO_TCP;
    e->tuple.direction = f->ingress ? PL_DIR_INGRESS : PL_DIR_EGRESS;
    /* The tuple is initiator -> responder; facts are local -> remote for egress. */
    __builtin_memcpy(e->tuple.saddr, f->saddr, 16);
    __builtin_memcpy(e->tuple.daddr, f->daddr, 16);
    e->tuple.sport = f->sport;
    e->tuple.dport = f->dport;
    e->cgroup_id = f->cgroup_id;
    e->exe_dev = f->exe_dev;
    e->exe_ino = f->exe_ino;
    e->exe_known = f->exe_known;
    e->uid = f->uid;
    e->gid = f->gid;
    e->tgid = f->tgid;
    e->rule = d->rule; /* 0xffffffff: the default */
    e->generation = d->generation;
    e->action = d->action.kind;
    e->audit = d->action.audit;
    e->hook = hook;
    __builtin_memcpy(e->comm, f->comm, PL_COMM_LEN);
    bpf_ringbuf_submit(e, 0);
}

/* Token bucket of (rule, identity): true when one more packet or connection may pass. Not
 * inlined, so that its key and new bucket do not add to the caller's stack frame. */
static __noinline __attribute__((unused)) bool pl_limit_pass(const struct pl_rule_action *a,
                                                              __u32 generation, __u64 id) {
    if (!a) return true;
    __u32 rate = a->rate, burst = a->burst;
    if (rate == 0) return false;
    struct pl_limit_key k = {};
    k.rule = a->rule;
    k.per = a->per;
    k.id = id;
    k.generation = generation;
    __u64 now = bpf_ktime_get_ns();
    __u64 cost = 1000000000ULL / rate;
    __u64 cap = cost * (burst ? burst : rate); /* the language's default burst is the rate */
    struct pl_limit_bucket *b = bpf_map_lookup_elem(&pl_limit_buckets, &k);
    if (!b) {
        struct pl_limit_bucket nb = {};
        nb.credit_ns = cap - cost; /* a new bucket is full, and this one passes */
        nb.last_ns = now;
        nb.passed = 1;
        bpf_map_update_elem(&pl_limit_buckets, &k, &nb, BPF_NOEXIST);
        return true;
    }
    /* Not locked: two CPUs racing on one bucket may both pass one packet; the rate holds
     * within that. */
    __u64 credit = b->credit_ns + (now - b->last_ns);
    if (credit > cap) credit = cap;
    b->last_ns = now;
    if (credit >= cost) {
        b->credit_ns = credit - cost;
        __sync_fetch_and_add(&b->passed, 1);
        return true;
    }
    b->credit_ns = credit;
    __sync_fetch_and_add(&b->dropped, 1);
    return false;
}

static __always_inline __u64 pl_limit_id(__u8 per, const struct pl_facts *f) {
    if (per == PL_RL_USER) return f->uid;
    if (per == PL_RL_CGROUP) return f->cgroup_id;
    return f->tgid;
}

#endif /* POLICER_ENFORCE_COMMON_BPF_H */
