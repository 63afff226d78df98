/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sock_owner.bpf.c - gives every TCP and UDP socket the identity of the process that made it
 * (socket local storage), refreshes it when another process connects or sends through it,
 * and reports the close of UDP sockets so their flows end. All hooks here run in process
 * context, which is why identity is captured here and nowhere else.
 */
#include "common.bpf.h"

SEC("cgroup/sock_create")
int pl_sock_create(struct bpf_sock *sk) {
    if (sk->protocol != PL_IPPROTO_TCP && sk->protocol != PL_IPPROTO_UDP) return 1;
    struct pl_sock_state *st = bpf_sk_storage_get(&pl_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (st) pl_ident_from_current(&st->ident);
    return 1; /* observe only: never refuse here */
}

SEC("cgroup/sock_release")
int pl_sock_release(struct bpf_sock *sk) {
    if (sk->protocol != PL_IPPROTO_UDP) return 1;
    struct pl_sock_state *st = bpf_sk_storage_get(&pl_sock, sk, 0, 0);
    if (!st || !(st->flags & PL_SOCK_HAS_UDP_FLOWS)) return 1;
    struct pl_sock_close_event *e = pl_reserve(sizeof(*e), PL_EV_SOCK_CLOSE);
    if (!e) return 1;
    e->cookie = bpf_get_socket_cookie(sk);
    bpf_ringbuf_submit(e, 0);
    return 1;
}

static __always_inline int pl_adopt_addr(struct bpf_sock_addr *ctx) {
    struct bpf_sock *sk = ctx->sk;
    if (sk && (sk->protocol == PL_IPPROTO_TCP || sk->protocol == PL_IPPROTO_UDP)) pl_sock_adopt(sk);
    return 1;
}

SEC("cgroup/connect4")
int pl_connect4(struct bpf_sock_addr *ctx) {
    return pl_adopt_addr(ctx);
}

SEC("cgroup/connect6")
int pl_connect6(struct bpf_sock_addr *ctx) {
    return pl_adopt_addr(ctx);
}

SEC("cgroup/sendmsg4")
int pl_sendmsg4(struct bpf_sock_addr *ctx) {
    return pl_adopt_addr(ctx);
}

SEC("cgroup/sendmsg6")
int pl_sendmsg6(struct bpf_sock_addr *ctx) {
    return pl_adopt_addr(ctx);
}

SEC("cgroup/recvmsg4")
int pl_recvmsg4(struct bpf_sock_addr *ctx) {
    return pl_adopt_addr(ctx);
}

SEC("cgroup/recvmsg6")
int pl_recvmsg6(struct bpf_sock_addr *ctx) {
    return pl_adopt_addr(ctx);
}
