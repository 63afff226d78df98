/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce_skb.bpf.c - enforcement on the packets of local sockets (cgroup_skb):
 *  - every packet of a flow with a verdict (tier 2/3 from policerd, or a kernel limit) is
 *    dropped, limited or passed by it;
 *  - the first packet of an inbound flow (a SYN to a listener, a datagram from a new peer) is
 *    decided by the rule tables with the identity of the socket that receives it.
 */
#include "enforce_common.bpf.h"
#include "packet.bpf.h"

#define PL_TCP_SYN 0x02
#define PL_TCP_RST 0x04
#define PL_TCP_ACK 0x10

/* 1: pass the packet; 0: drop it. */
static __always_inline int pl_packet_verdict(struct pl_flow_verdict *v, struct __sk_buff *skb) {
    if (v->origin == PL_VO_MARK) return 1;
    if (v->action == PL_RA_LIMIT) {
        struct pl_rule_action a = {};
        a.rule = v->rule;
        a.per = v->per;
        a.rate = v->rate;
        a.burst = v->burst;
        if (pl_limit_pass(&a, v->generation, v->limit_id)) return 1;
        if (v->audit) return 1;
        pl_ecount(PL_ECNT_LIMIT_DROPS);
    } else if (v->action == PL_RA_DENY || v->action == PL_RA_REJECT) {
        if (v->audit) return 1;
        pl_ecount(PL_ECNT_VERDICT_DROPS);
    } else {
        return 1;
    }
    __sync_fetch_and_add(&v->packets_dropped, 1);
    __sync_fetch_and_add(&v->bytes_dropped, skb->len);
    return 0;
}

/* Caches the verdict of an inbound UDP flow for its later packets. */
static __noinline int pl_cache_inbound(struct __sk_buff *skb, struct pl_flow_key *key,
                                       const struct pl_decision *d, int kind, __u64 limit_id) {
    struct pl_flow_verdict v = {};
    v.origin = PL_VO_KERNEL;
    v.generation = d->generation;
    v.rule = d->rule;
    v.action = kind == PL_D_DEFER ? PL_RA_ALLOW : d->action.kind; /* deferred: passes */
    v.audit = d->action.audit;
    v.per = d->action.per;
    v.rate = d->action.rate;
    v.burst = d->action.burst;
    v.limit_id = limit_id;
    bpf_map_update_elem(&pl_flow_verdicts, key, &v, BPF_ANY);
    struct pl_flow_verdict *cached = bpf_map_lookup_elem(&pl_flow_verdicts, key);
    return cached ? pl_packet_verdict(cached, skb) : 1;
}

/* The first packet of an inbound flow to socket `sk`: decide it with the socket's identity.
 * `key` (UDP) caches the verdict for the flow's later packets. Not inlined: its frame, the
 * decision's and the caller's must fit the 512-byte stack together. */
static __noinline int pl_judge_inbound(struct __sk_buff *skb, struct bpf_sock *sk,
                                       const struct pl_pkt *pkt, struct pl_flow_key *key) {
    __u32 zero = 0;
    struct pl_enf_scratch *sc = bpf_map_lookup_elem(&pl_enf_scratch, &zero);
    if (!sc) return 1;
    struct pl_facts *f = &sc->facts;
    __builtin_memset(f, 0, sizeof(*f));
    f->ingress = 1;
    f->udp = pkt->t.proto == PL_IPPROTO_UDP;
    f->ipv6 = pkt->t.family == PL_AF_INET6;
    /* Initiator -> responder: the peer is the source. */
    __builtin_memcpy(f->saddr, pkt->t.saddr, 16);
    __builtin_memcpy(f->daddr, pkt->t.daddr, 16);
    f->sport = pkt->t.sport;
    f->dport = pkt->t.dport;
    f->src_known = 1;
    struct pl_enf_sock *s = bpf_sk_storage_get(&pl_enf_sock, sk, 0, 0);
    if (s) {
        pl_facts_from_sock(f, s);
    } else {
        /* A socket older than enforcement: only its owner and cgroup are known. */
        f->uid = bpf_get_socket_uid(skb);
        f->cgroup_id = bpf_sk_cgroup_id(sk);
    }

    struct pl_decision d = {};
    int kind = pl_decide_g(f, &d);
    if (kind == PL_D_NONE) return 1;
    pl_ecount(PL_ECNT_DECISIONS);
    if (kind == PL_D_ERROR) {
        pl_ecount(PL_ECNT_EVAL_ERRORS);
        return 1;
    }
    if (kind == PL_D_DEFER) pl_ecount(PL_ECNT_DEFERRED);
    __u64 limit_id = pl_limit_id(d.action.per, f);
    bool tcp_limit = d.action.kind == PL_RA_LIMIT && !f->udp;
    if (kind != PL_D_DEFER && (pl_refuses(&d.action) || tcp_limit)) {
        /* TCP limits count connections: only this SYN is judged. */
        if (tcp_limit && pl_limit_pass(&d.action, d.generation, limit_id)) return 1;
        pl_report(f, &d, tcp_limit ? PL_HOOK_LIMIT : PL_HOOK_INGRESS, bpf_get_socket_cookie(skb));
        if (d.action.audit) {
            pl_ecount(PL_ECNT_AUDIT_WOULD_DENY);
            return 1;
        }
        pl_ecount(tcp_limit ? PL_ECNT_LIMIT_DROPS : PL_ECNT_INGRESS_DENIED);
        if (key) pl_cache_inbound(skb, key, &d, kind, limit_id);
        return 0;
    }
    if (!key) return 1;
    return pl_cache_inbound(skb, key, &d, kind, limit_id);
}

_Static_assert(sizeof(struct pl_pkt) <= sizeof(((struct pl_enf_scratch *)0)->pkt), "scratch pkt");

/* The full TCP or UDP socket a packet belongs to, and its protocol; NULL for any other. */
static __always_inline struct bpf_sock *pl_skb_flow_sock(struct __sk_buff *skb, __u32 *proto) {
    struct bpf_sock *sk = skb->sk;
    if (!sk) return 0;
    sk = bpf_sk_fullsock(sk);
    if (!sk) return 0;
    *proto = sk->protocol;
    return *proto == PL_IPPROTO_TCP || *proto == PL_IPPROTO_UDP ? sk : 0;
}

/* Egress: packets of flows with a verdict. Nothing is judged here (connect/sendmsg did). */
static __always_inline int pl_enf_egress(struct __sk_buff *skb) {
    __u32 proto = 0;
    if (!pl_skb_flow_sock(skb, &proto)) return 1;
    struct pl_flow_key key = {};
    key.cookie = bpf_get_socket_cookie(skb);
    struct pl_flow_verdict *v = bpf_map_lookup_elem(&pl_flow_verdicts, &key);
    if (!v) return 1;
    struct pl_pkt pkt;
    if (proto == PL_IPPROTO_TCP) {
        if (!pl_verdict_current(v)) return 1;
        if (pl_parse_packet(skb, PL_IPPROTO_TCP, &pkt) == 0 && (pkt.tcp_flags & PL_TCP_RST))
            return 1; /* the reset policerd sends to end the flow */
        return pl_packet_verdict(v, skb);
    }
    /* UDP: a marked socket has verdicts per remote endpoint. */
    if (pl_parse_packet(skb, PL_IPPROTO_UDP, &pkt) < 0) return 1;
    key.family = pkt.t.family;
    __builtin_memcpy(key.raddr, pkt.t.daddr, 16);
    key.rport = pkt.t.dport;
    struct pl_flow_verdict *fv = bpf_map_lookup_elem(&pl_flow_verdicts, &key);
    return fv && pl_verdict_current(fv) ? pl_packet_verdict(fv, skb) : 1;
}

/* Ingress: packets of flows with a verdict, and the first packet of inbound flows. Runs with
 * bottom halves off: its packet and key live in the per-CPU scratch. */
static __always_inline int pl_enf_ingress(struct __sk_buff *skb) {
    __u32 proto = 0;
    struct bpf_sock *sk = pl_skb_flow_sock(skb, &proto);
    if (!sk) return 1;
    __u32 zero = 0;
    struct pl_enf_scratch *sc = bpf_map_lookup_elem(&pl_enf_scratch, &zero);
    if (!sc) return 1;
    struct pl_flow_key *key = &sc->key;
    struct pl_pkt *pkt = (struct pl_pkt *)sc->pkt;
    __builtin_memset(key, 0, sizeof(*key));
    key->cookie = bpf_get_socket_cookie(skb);
    struct pl_flow_verdict *v = bpf_map_lookup_elem(&pl_flow_verdicts, key);

    if (proto == PL_IPPROTO_TCP) {
        if (v && pl_verdict_current(v)) {
            /* A reset ending a refused flow is let through: it is what tells the process. */
            if (pl_parse_packet(skb, PL_IPPROTO_TCP, pkt) == 0 && (pkt->tcp_flags & PL_TCP_RST))
                return 1;
            return pl_packet_verdict(v, skb);
        }
        if (sk->state != BPF_TCP_LISTEN) return 1;
        /* A listener receives SYNs (and handshake ACKs): judge each SYN. */
        if (pl_parse_packet(skb, PL_IPPROTO_TCP, pkt) < 0) return 1;
        if ((pkt->tcp_flags & (PL_TCP_SYN | PL_TCP_ACK)) != PL_TCP_SYN) return 1;
        return pl_judge_inbound(skb, sk, pkt, 0);
    }

    /* UDP: verdicts are per remote endpoint. */
    if (pl_parse_packet(skb, PL_IPPROTO_UDP, pkt) < 0) return 1;
    key->family = pkt->t.family;
    __builtin_memcpy(key->raddr, pkt->t.saddr, 16);
    key->rport = pkt->t.sport;
    struct pl_flow_verdict *fv = bpf_map_lookup_elem(&pl_flow_verdicts, key);
    if (fv && pl_verdict_current(fv)) return pl_packet_verdict(fv, skb);
    /* Replies to what the socket sent belong to that (egress) flow: its connect() or
     * sendmsg() was judged. Only datagrams from a peer that spoke first are inbound flows. */
    if (fv && (fv->flags & PL_FV_EGRESS)) return 1;
    if (sk->dst_port) return 1; /* connected: the peer was chosen by connect() */
    return pl_judge_inbound(skb, sk, pkt, key);
}

SEC("cgroup_skb/egress")
int pl_enf_skb_egress(struct __sk_buff *skb) {
    return pl_enf_egress(skb);
}

SEC("cgroup_skb/ingress")
int pl_enf_skb_ingress(struct __sk_buff *skb) {
    return pl_enf_ingress(skb);
}
