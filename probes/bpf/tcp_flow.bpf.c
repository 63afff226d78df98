/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tcp_flow.bpf.c - TCP flows from sock_ops: a flow starts when a SYN is about to leave
 * (connect) or when an inbound handshake completes, and ends when the socket reaches CLOSE,
 * with the kernel's own byte and segment counters. No per-packet work.
 */
#include "tcp_counters.bpf.h"

#define PL_TCP_CLOSE 7 /* BPF_TCP_CLOSE */

static __always_inline void pl_tuple_from_ops(struct pl_tuple *t, struct bpf_sock_ops *ops,
                                              bool egress) {
    __u8 *local = egress ? t->saddr : t->daddr;
    __u8 *remote = egress ? t->daddr : t->saddr;
    __u16 lport = ops->local_port;
    __u16 rport = bpf_ntohl(ops->remote_port);

    t->family = ops->family;
    t->proto = PL_IPPROTO_TCP;
    t->direction = egress ? PL_DIR_EGRESS : PL_DIR_INGRESS;
    if (ops->family == PL_AF_INET) {
        __u32 l = ops->local_ip4, r = ops->remote_ip4;
        __builtin_memcpy(local, &l, 4);
        __builtin_memcpy(remote, &r, 4);
    } else {
        __u32 l[4] = {ops->local_ip6[0], ops->local_ip6[1], ops->local_ip6[2], ops->local_ip6[3]};
        __u32 r[4] = {ops->remote_ip6[0], ops->remote_ip6[1], ops->remote_ip6[2],
                      ops->remote_ip6[3]};
        __builtin_memcpy(local, l, 16);
        __builtin_memcpy(remote, r, 16);
    }
    t->sport = egress ? lport : rport;
    t->dport = egress ? rport : lport;
}

/* Payload bytes each way (tcp_counters.bpf.h); sock_ops' own sequence-space counters when the
 * socket is not a full tcp_sock. */
static __always_inline void pl_payload_counters(struct bpf_sock_ops *ops,
                                                struct pl_flow_counters *c) {
    struct bpf_sock *sk = ops->sk;
    struct tcp_sock *tp = sk ? bpf_skc_to_tcp_sock(sk) : 0;
    if (!tp) {
        c->bytes_sent = ops->bytes_acked;
        c->bytes_received = ops->bytes_received;
        return;
    }
    pl_tcp_payload(tp, c);
}

static __always_inline void pl_emit_flow(struct bpf_sock_ops *ops, __u32 type, bool egress,
                                         const struct pl_ident *id, __u32 flags) {
    struct pl_flow_event *e = pl_reserve(sizeof(*e), type);
    if (!e) return;
    e->cookie = bpf_get_socket_cookie(ops);
    pl_tuple_from_ops(&e->tuple, ops, egress);
    e->ident = *id;
    e->flags = flags;
    if (type == PL_EV_FLOW_END) {
        pl_payload_counters(ops, &e->counters);
        e->counters.packets_sent = ops->segs_out;
        e->counters.packets_received = ops->segs_in;
    } else {
        __builtin_memset(&e->counters, 0, sizeof(e->counters));
    }
    bpf_ringbuf_submit(e, 0);
}

/* Adds a callback flag; other sock_ops programs' flags stay set. */
static __always_inline void pl_cb_flags_add(struct bpf_sock_ops *ops, __u32 flag) {
    bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | flag);
}

/* What the socket itself says of its owner, when no process context ever saw it: its uid and
 * cgroup (a listener that was already listening when policerd started). */
static __always_inline void pl_ident_from_sock(struct pl_ident *id, struct bpf_sock *sk) {
    __builtin_memset(id, 0, sizeof(*id));
    id->flags = PL_IDENT_NO_TASK;
    id->gid = (__u32)-1;
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
    if (!tp) {
        id->flags |= PL_IDENT_NO_UID;
        return;
    }
    struct sock *s = (struct sock *)tp;
    id->uid = BPF_CORE_READ(s, sk_uid.val);
    id->euid = id->uid;
    id->cgroup_id = BPF_CORE_READ(s, sk_cgrp_data.cgroup, kn, id);
}

SEC("sockops")
int pl_tcp_sockops(struct bpf_sock_ops *ops) {
    struct bpf_sock *sk = ops->sk;
    struct pl_sock_state *st;
    struct pl_ident id;

    if (!sk) return 1;

    switch (ops->op) {
    case BPF_SOCK_OPS_TCP_LISTEN_CB:
        /* listen(2) runs in process context: the listener's owner. */
        pl_sock_adopt(sk);
        break;

    case BPF_SOCK_OPS_TCP_CONNECT_CB:
        /* connect(2): process context, the port is bound, the SYN is not sent yet. */
        st = pl_sock_adopt(sk);
        if (!st) {
            pl_ident_from_current(&id);
            pl_count(PL_CNT_NO_SOCK_STATE);
        } else {
            /* A socket can connect again (after connect(AF_UNSPEC)): a new flow. */
            st->flags &= ~(PL_SOCK_TCP_INGRESS | PL_SOCK_TCP_ESTABLISHED);
            st->flags |= PL_SOCK_TCP_FLOW;
            id = st->ident;
        }
        pl_cb_flags_add(ops, BPF_SOCK_OPS_STATE_CB_FLAG);
        pl_emit_flow(ops, PL_EV_FLOW_NEW, true, &id, 0);
        break;

    case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
        st = bpf_sk_storage_get(&pl_sock, sk, 0, 0);
        if (st) st->flags |= PL_SOCK_TCP_ESTABLISHED;
        break;

    case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: {
        /* softirq: the identity is the listener's, cloned onto this child socket. The
         * accept(2) probe replaces it with the process that takes the connection. */
        __u64 cookie = bpf_get_socket_cookie(ops);
        st = bpf_sk_storage_get(&pl_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
        if (st) {
            if (st->ident.tgid == 0 && st->ident.cgroup_id == 0)
                pl_ident_from_sock(&st->ident, sk); /* listener older than policerd */
            st->ident.flags |= PL_IDENT_LISTENER;
            st->flags |= PL_SOCK_TCP_FLOW | PL_SOCK_TCP_INGRESS | PL_SOCK_TCP_ESTABLISHED;
            id = st->ident;
        } else {
            pl_ident_from_sock(&id, sk);
            id.flags |= PL_IDENT_LISTENER;
            pl_count(PL_CNT_NO_SOCK_STATE);
        }
        bpf_map_update_elem(&pl_pending_accept, &cookie, &id.tgid, BPF_ANY);
        pl_cb_flags_add(ops, BPF_SOCK_OPS_STATE_CB_FLAG);
        pl_emit_flow(ops, PL_EV_FLOW_NEW, false, &id, PL_FLOW_ESTABLISHED);
        break;
    }

    case BPF_SOCK_OPS_STATE_CB:
        if (ops->args[1] != PL_TCP_CLOSE) break;
        st = bpf_sk_storage_get(&pl_sock, sk, 0, 0);
        if (!st || !(st->flags & PL_SOCK_TCP_FLOW)) break;
        st->flags &= ~PL_SOCK_TCP_FLOW; /* exactly one FLOW_END per flow */
        {
            bool ingress = st->flags & PL_SOCK_TCP_INGRESS;
            __u32 flags = PL_FLOW_CLOSED;
            if (st->flags & PL_SOCK_TCP_ESTABLISHED) flags |= PL_FLOW_ESTABLISHED;
            id = st->ident;
            if (ingress) {
                __u64 cookie = bpf_get_socket_cookie(ops);
                bpf_map_delete_elem(&pl_pending_accept, &cookie);
            }
            pl_emit_flow(ops, PL_EV_FLOW_END, !ingress, &id, flags);
        }
        break;
    }
    return 1;
}
