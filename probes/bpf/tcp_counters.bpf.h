/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * tcp_counters.bpf.h - a TCP socket's payload counters, read from its tcp_sock: at the end of a
 * flow (sock_ops) and for live flows (the pl_tcp_live iterator), with one definition of
 * "payload".
 */
#ifndef POLICER_TCP_COUNTERS_BPF_H
#define POLICER_TCP_COUNTERS_BPF_H

#include "common.bpf.h"

/*
 * Payload bytes each way. sock_ops' bytes_acked and bytes_received count sequence space, so
 * they include the SYN and FIN; users count bytes the application wrote and read. Sent payload
 * is tcp_sock's bytes_sent minus retransmissions; received payload is bytes_received minus
 * the FIN when this socket processed one (SOCK_DONE, set by tcp_fin()).
 */
static __always_inline void pl_tcp_payload(struct tcp_sock *tp, struct pl_flow_counters *c) {
    __u64 sent = BPF_CORE_READ(tp, bytes_sent);
    __u64 retrans = BPF_CORE_READ(tp, bytes_retrans);
    __u64 received = BPF_CORE_READ(tp, bytes_received);
    unsigned long flags = BPF_CORE_READ((struct sock *)tp, __sk_common.skc_flags);
    if ((flags & (1ul << bpf_core_enum_value(enum sock_flags, SOCK_DONE))) && received > 0)
        received -= 1;
    c->bytes_sent = sent > retrans ? sent - retrans : 0;
    c->bytes_received = received;
}

#endif /* POLICER_TCP_COUNTERS_BPF_H */
