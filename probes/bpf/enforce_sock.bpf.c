/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce_sock.bpf.c - tier 1 at the socket calls: connect(2) and sendmsg(2) with an address
 * are decided by the rule tables in the caller's context, before any packet exists. A refused
 * call returns EPERM to the caller and nothing is sent. Sockets also get the identity that
 * inbound flows are later judged with (at creation, refreshed at bind).
 */
#include "enforce_common.bpf.h"

/* Gives the socket the identity of the current task. */
static __always_inline void pl_enf_adopt(struct bpf_sock *sk) {
    struct pl_enf_sock *s = bpf_sk_storage_get(&pl_enf_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!s) return;
    struct pl_facts f = {};
    pl_facts_current(&f);
    pl_sock_from_facts(s, &f);
}

SEC("cgroup/sock_create")
int pl_enf_sock_create(struct bpf_sock *sk) {
    if (sk->protocol == PL_IPPROTO_TCP || sk->protocol == PL_IPPROTO_UDP) pl_enf_adopt(sk);
    return 1;
}

/* A server that binds after changing user (or a socket passed to another process) is judged as
 * the process that bound it. */
SEC("cgroup/post_bind4")
int pl_enf_post_bind4(struct bpf_sock *sk) {
    if (sk->protocol == PL_IPPROTO_TCP || sk->protocol == PL_IPPROTO_UDP) pl_enf_adopt(sk);
    return 1;
}

SEC("cgroup/post_bind6")
int pl_enf_post_bind6(struct bpf_sock *sk) {
    if (sk->protocol == PL_IPPROTO_TCP || sk->protocol == PL_IPPROTO_UDP) pl_enf_adopt(sk);
    return 1;
}

/* Destination and (if bound) source of a call, from the v4 or v6 context. A v4-mapped v6
 * destination is an IPv4 flow (only connect6/sendmsg6 run for it). */
static __always_inline void pl_facts_addr4(struct bpf_sock_addr *ctx, struct pl_facts *f) {
    __u32 d4 = ctx->user_ip4;
    __builtin_memcpy(f->daddr, &d4, 4);
    struct bpf_sock *sk = ctx->sk;
    if (sk) {
        __u32 s4 = sk->src_ip4;
        __builtin_memcpy(f->saddr, &s4, 4);
        f->sport = (__u16)sk->src_port;
        f->src_known = s4 != 0 && f->sport != 0;
    }
}

static __always_inline void pl_facts_addr6(struct bpf_sock_addr *ctx, struct pl_facts *f) {
    __u32 a0 = ctx->user_ip6[0], a1 = ctx->user_ip6[1], a2 = ctx->user_ip6[2],
          a3 = ctx->user_ip6[3];
    struct bpf_sock *sk = ctx->sk;
    if (!a0 && !a1 && a2 == bpf_htonl(0xffff)) {
        __builtin_memcpy(f->daddr, &a3, 4);
        if (sk) {
            __u32 s3 = sk->src_ip6[3];
            __builtin_memcpy(f->saddr, &s3, 4);
            f->src_known = s3 != 0;
        }
    } else {
        f->ipv6 = 1;
        __builtin_memcpy(f->daddr, &a0, 4);
        __builtin_memcpy(f->daddr + 4, &a1, 4);
        __builtin_memcpy(f->daddr + 8, &a2, 4);
        __builtin_memcpy(f->daddr + 12, &a3, 4);
        if (sk) {
            __u32 s0 = sk->src_ip6[0], s1 = sk->src_ip6[1], s2 = sk->src_ip6[2],
                  s3 = sk->src_ip6[3];
            __builtin_memcpy(f->saddr, &s0, 4);
            __builtin_memcpy(f->saddr + 4, &s1, 4);
            __builtin_memcpy(f->saddr + 8, &s2, 4);
            __builtin_memcpy(f->saddr + 12, &s3, 4);
            f->src_known = (s0 | s1 | s2 | s3) != 0;
        }
    }
    if (sk) {
        f->sport = (__u16)sk->src_port;
        f->src_known = f->src_known && f->sport != 0;
    }
}

/* Remembers the verdict of a UDP flow (socket, remote) the socket started: sendmsg() reuses
 * it, replies are recognised as that flow, and limits are applied per datagram. */
/* Not inlined: its records get their own stack frame (the caller's and the decision's frames
 * together must stay under 512 bytes). */
static __always_inline void pl_udp_key(struct pl_flow_key *k, const struct pl_facts *f,
                                       __u64 cookie) {
    __builtin_memset(k, 0, sizeof(*k));
    k->cookie = cookie;
    k->family = f->ipv6 ? PL_AF_INET6 : PL_AF_INET;
    __builtin_memcpy(k->raddr, f->daddr, 16);
    k->rport = f->dport;
}

/* The verdict sendmsg() to this remote got under the rule set in force: 1 pass, 0 refuse,
 * -1 not judged yet. Not inlined, like the rest: the hook's frame stays small. */
static __noinline int pl_cached_udp(const struct pl_facts *f, __u64 cookie) {
    struct pl_flow_key k;
    pl_udp_key(&k, f, cookie);
    struct pl_flow_verdict *v = bpf_map_lookup_elem(&pl_flow_verdicts, &k);
    if (!v || v->origin == PL_VO_MARK || !pl_verdict_current(v)) return -1;
    return !v->audit && (v->action == PL_RA_DENY || v->action == PL_RA_REJECT) ? 0 : 1;
}

static __noinline void pl_remember_udp(__u64 cookie, const struct pl_facts *f,
                                       const struct pl_decision *d, int kind) {
    struct pl_flow_key kk;
    const struct pl_flow_key *k = &kk;
    pl_udp_key(&kk, f, cookie);
    struct pl_flow_verdict v = {};
    v.origin = PL_VO_KERNEL;
    v.flags = PL_FV_EGRESS;
    v.generation = d->generation;
    v.rule = d->rule;
    v.action = kind == PL_D_DEFER ? PL_RA_ALLOW : d->action.kind;
    v.audit = d->action.audit;
    v.per = d->action.per;
    v.rate = d->action.rate;
    v.burst = d->action.burst;
    v.limit_id = pl_limit_id(d->action.per, f);
    bpf_map_update_elem(&pl_flow_verdicts, k, &v, BPF_ANY);
    if (v.action == PL_RA_LIMIT) {
        /* Mark the socket: its packets look up verdicts per remote. */
        struct pl_flow_key mk = {};
        mk.cookie = k->cookie;
        struct pl_flow_verdict mark = {};
        mark.origin = PL_VO_MARK;
        bpf_map_update_elem(&pl_flow_verdicts, &mk, &mark, BPF_NOEXIST);
    }
}

/* 1: the call proceeds; 0: EPERM. */
static __always_inline int pl_judge_call(struct bpf_sock_addr *ctx, struct pl_facts *f, __u8 hook) {
    struct bpf_sock *sk = ctx->sk;
    if (!sk || (ctx->protocol != PL_IPPROTO_TCP && ctx->protocol != PL_IPPROTO_UDP)) return 1;
    f->udp = ctx->protocol == PL_IPPROTO_UDP;
    f->dport = bpf_ntohs((__u16)ctx->user_port);
    __u64 cookie = bpf_get_socket_cookie(ctx);

    if (f->udp && hook == PL_HOOK_SENDMSG) {
        /* Datagrams to a remote already judged under this rule set reuse the verdict. */
        int cached = pl_cached_udp(f, cookie);
        if (cached == 0) pl_ecount(PL_ECNT_SENDMSG_DENIED);
        if (cached >= 0) return cached;
    }
    pl_facts_current(f);

    struct pl_decision d = {};
    int kind = pl_decide_g(f, &d);
    if (kind == PL_D_NONE) return 1;
    pl_ecount(PL_ECNT_DECISIONS);
    if (kind == PL_D_ERROR) {
        pl_ecount(PL_ECNT_EVAL_ERRORS); /* fail open, counted: policerd warns */
        return 1;
    }
    if (kind == PL_D_DEFER) pl_ecount(PL_ECNT_DEFERRED);
    if (f->udp && (hook == PL_HOOK_SENDMSG || d.action.kind == PL_RA_LIMIT))
        pl_remember_udp(cookie, f, &d, kind);
    if (kind == PL_D_DEFER) return 1;

    if (d.action.kind == PL_RA_LIMIT) {
        if (f->udp) return 1; /* limited per datagram, on the packet path */
        /* TCP: a token per connection. */
        if (pl_limit_pass(&d.action, d.generation, pl_limit_id(d.action.per, f)))
            return 1;
        pl_report(f, &d, PL_HOOK_LIMIT, cookie);
        if (d.action.audit) {
            pl_ecount(PL_ECNT_AUDIT_WOULD_DENY);
            return 1;
        }
        pl_ecount(PL_ECNT_LIMIT_DROPS);
        return 0;
    }
    if (!pl_refuses(&d.action)) return 1;
    pl_report(f, &d, hook, cookie);
    if (d.action.audit) {
        pl_ecount(PL_ECNT_AUDIT_WOULD_DENY);
        return 1;
    }
    pl_ecount(hook == PL_HOOK_CONNECT ? PL_ECNT_CONNECT_DENIED : PL_ECNT_SENDMSG_DENIED);
    return 0;
}

SEC("cgroup/connect4")
int pl_enf_connect4(struct bpf_sock_addr *ctx) {
    struct pl_facts f = {};
    pl_facts_addr4(ctx, &f);
    return pl_judge_call(ctx, &f, PL_HOOK_CONNECT);
}

SEC("cgroup/connect6")
int pl_enf_connect6(struct bpf_sock_addr *ctx) {
    struct pl_facts f = {};
    pl_facts_addr6(ctx, &f);
    return pl_judge_call(ctx, &f, PL_HOOK_CONNECT);
}

SEC("cgroup/sendmsg4")
int pl_enf_sendmsg4(struct bpf_sock_addr *ctx) {
    struct pl_facts f = {};
    pl_facts_addr4(ctx, &f);
    return pl_judge_call(ctx, &f, PL_HOOK_SENDMSG);
}

SEC("cgroup/sendmsg6")
int pl_enf_sendmsg6(struct bpf_sock_addr *ctx) {
    struct pl_facts f = {};
    pl_facts_addr6(ctx, &f);
    return pl_judge_call(ctx, &f, PL_HOOK_SENDMSG);
}
