/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * udp_flow.bpf.h - UDP flows, connected or not: one flow per (local socket, remote endpoint),
 * created by the first datagram either way and counted on every datagram. cgroup_skb runs
 * after the socket lookup, so the receiving socket - and its owner - is known on ingress too.
 * The flow ends when its socket is released (sock_owner.bpf.c) or when policerd finds it idle.
 */
#ifndef POLICER_UDP_FLOW_BPF_H
#define POLICER_UDP_FLOW_BPF_H

#include "common.bpf.h"
#include "packet.bpf.h"

/* Set by policerd: new UDP flows a socket may create per second before the rest of its new
 * remote endpoints are counted in one aggregate flow (a scan must not flood the ring). */
const volatile __u32 pl_cfg_udp_new_flows_per_sec = 1000;

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

/* Reports a new UDP flow, with the identity kept on its socket. Packet context is no process
 * context (softirq, kernel sockets such as VXLAN's): a socket that no process-context hook has
 * seen is named only by its owner uid and cgroup, never by whatever task happens to run. */
static __always_inline void pl_udp_flow_new(struct __sk_buff *skb, struct bpf_sock *sk,
                                            const struct pl_flow_key *key,
                                            const struct pl_tuple *tuple, __u32 flow_flags) {
    struct pl_sock_state *st = bpf_sk_storage_get(&pl_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (st) {
        if (st->ident.tgid == 0 && st->ident.cgroup_id == 0) {
            st->ident.uid = bpf_get_socket_uid(skb);
            st->ident.gid = (__u32)-1;
            st->ident.euid = st->ident.uid;
            st->ident.cgroup_id = bpf_skb_cgroup_id(skb);
            st->ident.flags = PL_IDENT_NO_TASK;
            pl_count(PL_CNT_NO_SOCK_STATE);
        }
        /* Before the event: even if the ring is full, the socket's close ends this flow. */
        st->flags |= PL_SOCK_HAS_UDP_FLOWS;
    }

    struct pl_flow_event *e = pl_reserve(sizeof(*e), PL_EV_FLOW_NEW);
    if (!e) return;
    e->cookie = key->cookie;
    e->tuple = *tuple;
    e->flags = flow_flags;
    __builtin_memset(&e->counters, 0, sizeof(e->counters));
    if (st) {
        e->ident = st->ident;
    } else {
        __builtin_memset(&e->ident, 0, sizeof(e->ident));
        e->ident.flags = PL_IDENT_NO_TASK | PL_IDENT_NO_UID;
        e->ident.gid = (__u32)-1;
        pl_count(PL_CNT_NO_SOCK_STATE);
    }
    bpf_ringbuf_submit(e, 0);
}

/* Counts one datagram into its flow, creating the flow on its first datagram. Returns the
 * flow's map value, or NULL. */
static __always_inline struct pl_udp_value *pl_udp_account(struct __sk_buff *skb,
                                                           struct bpf_sock *sk, bool egress,
                                                           const struct pl_pkt *pkt,
                                                           struct pl_flow_key *key) {
    __builtin_memset(key, 0, sizeof(*key));
    key->cookie = bpf_get_socket_cookie(skb);
    key->family = pkt->t.family;
    key->rport = egress ? pkt->t.dport : pkt->t.sport;
    __builtin_memcpy(key->raddr, egress ? pkt->t.daddr : pkt->t.saddr, 16);

    __u64 now = bpf_ktime_get_boot_ns();
    struct pl_udp_value *v = bpf_map_lookup_elem(&pl_udp_flows, key);
    if (v) {
        pl_count_packet(v, egress, pkt->payload_len, now);
        return v;
    }

    /* A new remote endpoint. Past the socket's rate of new flows, it joins the aggregate. */
    __u32 flow_flags = 0;
    struct pl_sock_state *st = bpf_sk_storage_get(&pl_sock, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (st) {
        if (now - st->udp_window_ns > 1000000000ull) {
            st->udp_window_ns = now;
            st->udp_new_flows = 0;
        }
        if (st->udp_new_flows >= pl_cfg_udp_new_flows_per_sec) {
            pl_count(PL_CNT_UDP_AGGREGATED);
            __builtin_memset(key->raddr, 0, sizeof(key->raddr));
            key->rport = 0;
            flow_flags = PL_FLOW_AGGREGATE;
            v = bpf_map_lookup_elem(&pl_udp_flows, key);
            if (v) {
                pl_count_packet(v, egress, pkt->payload_len, now);
                return v;
            }
        } else {
            st->udp_new_flows++;
        }
    }

    /* First datagram of this flow: it orients the tuple (sender = source). */
    struct pl_udp_value nv = {};
    nv.tuple = pkt->t;
    nv.tuple.direction = egress ? PL_DIR_EGRESS : PL_DIR_INGRESS;
    if (flow_flags & PL_FLOW_AGGREGATE)
        __builtin_memset(egress ? nv.tuple.daddr : nv.tuple.saddr, 0, 16);
    if (flow_flags & PL_FLOW_AGGREGATE) {
        if (egress)
            nv.tuple.dport = 0;
        else
            nv.tuple.sport = 0;
    }
    nv.first_ns = now;
    pl_count_packet(&nv, egress, pkt->payload_len, now);
    if (bpf_map_update_elem(&pl_udp_flows, key, &nv, BPF_NOEXIST)) {
        /* Another CPU created it first: count this datagram there. */
        v = bpf_map_lookup_elem(&pl_udp_flows, key);
        if (v)
            pl_count_packet(v, egress, pkt->payload_len, now);
        else
            pl_count(PL_CNT_UDP_FLOW_INSERT_FAIL);
        return v;
    }
    pl_udp_flow_new(skb, sk, key, &nv.tuple, flow_flags);
    return bpf_map_lookup_elem(&pl_udp_flows, key);
}

#endif /* POLICER_UDP_FLOW_BPF_H */
