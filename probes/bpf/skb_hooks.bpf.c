/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * skb_hooks.bpf.c - the per-packet path of local sockets: one cgroup_skb program per
 * direction runs every packet-level concern (UDP flow accounting, payload sampling), so a
 * packet pays for one program invocation and one header parse.
 */
#include "payload_sample.bpf.h"
#include "udp_flow.bpf.h"

static __always_inline int pl_skb(struct __sk_buff *skb, bool egress) {
    struct bpf_sock *sk = skb->sk;
    if (!sk) return 1;
    sk = bpf_sk_fullsock(sk);
    if (!sk) return 1;

    struct pl_pkt pkt;
    struct pl_flow_key key;
    if (sk->protocol == PL_IPPROTO_UDP) {
        if (pl_parse_packet(skb, PL_IPPROTO_UDP, &pkt) < 0) {
            pl_count(PL_CNT_UDP_PARSE_FAIL);
            return 1;
        }
        struct pl_udp_value *v = pl_udp_account(skb, sk, egress, &pkt, &key);
        if (v) pl_sample(skb, &key, &v->sample, egress, &pkt);
    } else if (sk->protocol == PL_IPPROTO_TCP) {
        /* Only sockets with a flow (they all have storage) are sampled, and a flow whose
         * sampling is over is left at this one test. */
        struct pl_sock_state *st = bpf_sk_storage_get(&pl_sock, sk, 0, 0);
        if (!st || st->sample.done || !(st->flags & PL_SOCK_TCP_FLOW)) return 1;
        if (pl_parse_packet(skb, PL_IPPROTO_TCP, &pkt) < 0) {
            pl_count(PL_CNT_SAMPLE_PARSE_FAIL);
            return 1;
        }
        __builtin_memset(&key, 0, sizeof(key));
        key.cookie = bpf_get_socket_cookie(skb);
        pl_sample(skb, &key, &st->sample, egress, &pkt);
    }
    return 1; /* observe only */
}

SEC("cgroup_skb/egress")
int pl_skb_egress(struct __sk_buff *skb) {
    return pl_skb(skb, true);
}

SEC("cgroup_skb/ingress")
int pl_skb_ingress(struct __sk_buff *skb) {
    return pl_skb(skb, false);
}
