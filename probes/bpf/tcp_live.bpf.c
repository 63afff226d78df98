/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tcp_live.bpf.c - the counters of live TCP flows, on demand. An iterator over the socket
 * storage map visits every socket policer follows, in every network namespace, and writes
 * one pl_tcp_live record per TCP flow; policerd reads it when asked for live flows (policer
 * top). Nothing is added to the packet path.
 */
#include "tcp_counters.bpf.h"

SEC("iter/bpf_sk_storage_map")
int pl_tcp_live(struct bpf_iter__bpf_sk_storage_map *ctx) {
    struct sock *sk = ctx->sk;
    struct pl_sock_state *st = ctx->value;
    if (!sk || !st) return 0;
    /* Only sockets with a reported flow: FLOW_NEW was emitted and FLOW_END is owed. */
    if (!(st->flags & PL_SOCK_TCP_FLOW)) return 0;
    struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
    if (!tp) return 0;

    struct pl_tcp_live rec = {};
    rec.cookie = bpf_get_socket_cookie(sk);
    pl_tcp_payload(tp, &rec.counters);
    rec.counters.packets_sent = BPF_CORE_READ(tp, segs_out);
    rec.counters.packets_received = BPF_CORE_READ(tp, segs_in);
    bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
    return 0;
}
