/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * udp_flow.bpf.c - UDP flows, connected or not: one flow per (local socket, remote endpoint),
 * created by the first datagram either way and counted on every datagram. cgroup_skb runs
 * after the socket lookup, so the receiving socket - and its owner - is known on ingress too.
 * The flow ends when its socket is released (sock_owner.bpf.c) or when policerd finds it idle.
 */
#include "common.bpf.h"

#define PL_ETH_P_IP 0x0800
#define PL_ETH_P_IPV6 0x86DD

struct pl_udp_hdr {
    __u16 source;
    __u16 dest;
    __u16 len;
    __u16 check;
};

/* Reads the endpoints of the datagram in skb (which starts at the IP header). */
static __always_inline int pl_parse_udp(struct __sk_buff *skb, struct pl_tuple *pkt,
                                        __u32 *payload) {
    struct pl_udp_hdr udp;
    __u32 l4off;
    __u8 ver;

    if (bpf_skb_load_bytes(skb, 0, &ver, 1) < 0) return -1;
    ver >>= 4;
    __builtin_memset(pkt, 0, sizeof(*pkt));

    if (ver == 4 && skb->protocol == bpf_htons(PL_ETH_P_IP)) {
        __u8 hdr[20];
        if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)) < 0) return -1;
        if (hdr[9] != PL_IPPROTO_UDP) return -1;
        /* Only the first fragment carries the UDP header. */
        if (((hdr[6] & 0x1f) | hdr[7]) != 0) return -1;
        l4off = (hdr[0] & 0x0f) * 4;
        pkt->family = PL_AF_INET;
        __builtin_memcpy(pkt->saddr, &hdr[12], 4);
        __builtin_memcpy(pkt->daddr, &hdr[16], 4);
    } else if (ver == 6 && skb->protocol == bpf_htons(PL_ETH_P_IPV6)) {
        __u8 hdr[40];
        if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)) < 0) return -1;
        /* Extension headers are rare on UDP sockets; such datagrams are counted, not
         * guessed at. */
        if (hdr[6] != PL_IPPROTO_UDP) return -1;
        l4off = 40;
        pkt->family = PL_AF_INET6;
        __builtin_memcpy(pkt->saddr, &hdr[8], 16);
        __builtin_memcpy(pkt->daddr, &hdr[24], 16);
    } else {
        return -1;
    }

    if (bpf_skb_load_bytes(skb, l4off & 0x3f, &udp, sizeof(udp)) < 0) return -1;
    pkt->proto = PL_IPPROTO_UDP;
    pkt->sport = bpf_ntohs(udp.source);
    pkt->dport = bpf_ntohs(udp.dest);
    __u16 ulen = bpf_ntohs(udp.len);
    *payload = ulen >= sizeof(udp) ? ulen - sizeof(udp) : 0;
    return 0;
}

static __always_inline void pl_count_packet(struct pl_udp_value *v, bool egress, __u32 payload,
                                            __u64 now) {
    if (egress) {
        __sync_fetch_and_add(&v->counters.packets_sent, 1);
        __sync_fetch_and_add(&v->counters.bytes_sent, payload);
    } else {
        __sync_fetch_and_add(&v->counters.packets_received, 1);
        __sync_fetch_and_add(&v->counters.bytes_received, payload);
    }
    v->last_ns = now;
}

static __always_inline int pl_udp_packet(struct __sk_buff *skb, bool egress) {
    struct bpf_sock *sk = skb->sk;
    if (!sk) return 1;
    sk = bpf_sk_fullsock(sk);
    if (!sk || sk->protocol != PL_IPPROTO_UDP) return 1;

    struct pl_tuple pkt;
    __u32 payload = 0;
    if (pl_parse_udp(skb, &pkt, &payload) < 0) {
        pl_count(PL_CNT_UDP_PARSE_FAIL);
        return 1;
    }

    struct pl_udp_key key = {};
    key.cookie = bpf_get_socket_cookie(skb);
    key.family = pkt.family;
    key.rport = egress ? pkt.dport : pkt.sport;
    __builtin_memcpy(key.raddr, egress ? pkt.daddr : pkt.saddr, 16);

    __u64 now = bpf_ktime_get_boot_ns();
    struct pl_udp_value *v = bpf_map_lookup_elem(&pl_udp_flows, &key);
    if (v) {
        pl_count_packet(v, egress, payload, now);
        return 1;
    }

    /* First datagram of this flow: it orients the tuple (sender = source). */
    struct pl_udp_value nv = {};
    nv.tuple = pkt;
    nv.tuple.direction = egress ? PL_DIR_EGRESS : PL_DIR_INGRESS;
    nv.first_ns = now;
    pl_count_packet(&nv, egress, payload, now);
    long err = bpf_map_update_elem(&pl_udp_flows, &key, &nv, BPF_NOEXIST);
    if (err) {
        /* Another CPU created it first: count this datagram there. */
        v = bpf_map_lookup_elem(&pl_udp_flows, &key);
        if (v)
            pl_count_packet(v, egress, payload, now);
        else
            pl_count(PL_CNT_UDP_FLOW_INSERT_FAIL);
        return 1;
    }

    struct pl_flow_event *e = pl_reserve(sizeof(*e), PL_EV_FLOW_NEW);
    if (!e) return 1;
    e->cookie = key.cookie;
    e->tuple = nv.tuple;
    e->flags = 0;
    __builtin_memset(&e->counters, 0, sizeof(e->counters));

    /* Egress runs in the sender's context; ingress does not, so a socket no process has used
     * since policerd started is known only by its owner uid and cgroup until one does. */
    struct pl_sock_state *st;
    if (egress) {
        st = pl_sock_adopt(sk);
    } else {
        st = bpf_sk_storage_get(&pl_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
        if (st && st->ident.tgid == 0 && st->ident.cgroup_id == 0) {
            st->ident.uid = bpf_get_socket_uid(skb);
            st->ident.gid = (__u32)-1;
            st->ident.euid = st->ident.uid;
            st->ident.cgroup_id = bpf_skb_cgroup_id(skb);
            st->ident.flags = PL_IDENT_NO_TASK;
            pl_count(PL_CNT_NO_SOCK_STATE);
        }
    }
    if (st) {
        st->flags |= PL_SOCK_HAS_UDP_FLOWS;
        e->ident = st->ident;
    } else {
        __builtin_memset(&e->ident, 0, sizeof(e->ident));
        e->ident.flags = PL_IDENT_NO_TASK;
        pl_count(PL_CNT_NO_SOCK_STATE);
    }
    bpf_ringbuf_submit(e, 0);
    return 1;
}

SEC("cgroup_skb/egress")
int pl_udp_egress(struct __sk_buff *skb) {
    return pl_udp_packet(skb, true);
}

SEC("cgroup_skb/ingress")
int pl_udp_ingress(struct __sk_buff *skb) {
    return pl_udp_packet(skb, false);
}
