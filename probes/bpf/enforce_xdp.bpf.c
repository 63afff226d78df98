/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce_xdp.bpf.c - the earliest enforcement on an uplink (XDP, before an skb exists):
 * drops every IP packet from a source in pl_blocklist, and TCP/UDP packets whose tuple (as
 * received: saddr = peer) has a deny or reject verdict in pl_tuple_verdicts. Rejects are
 * only dropped here: answering with a RST is TC's job (enforce_tc.bpf.c). Limits are left to
 * TC too, which sees the same packets next.
 */
#include "enforce_common.bpf.h"
#include "packet.bpf.h" /* PL_ETH_P_* */

#include "wire.bpf.h"

/* The ports: the first 4 bytes of both TCP and UDP headers. */
struct pl_xdp_ports {
    __be16 source;
    __be16 dest;
};

static __always_inline bool pl_xdp_blocked(const struct pl_blocklist_key *bk) {
    return bpf_map_lookup_elem(&pl_blocklist, bk) != 0;
}

/* A deny/reject verdict in force for this tuple (audit verdicts enforce nothing). */
static __always_inline bool pl_xdp_refused(const struct pl_tuple_key *k, __u64 bytes) {
    struct pl_flow_verdict *v = bpf_map_lookup_elem(&pl_tuple_verdicts, k);
    if (!v || v->origin == PL_VO_MARK || v->audit || !pl_verdict_current(v)) return false;
    if (v->action != PL_RA_DENY && v->action != PL_RA_REJECT) return false;
    __sync_fetch_and_add(&v->packets_dropped, 1);
    __sync_fetch_and_add(&v->bytes_dropped, bytes);
    return true;
}

SEC("xdp")
int pl_enf_xdp(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct pl_eth *eth = data;
    if ((void *)(eth + 1) > end) return XDP_PASS;

    struct pl_blocklist_key bk = {};
    struct pl_tuple_key k = {};
    void *l4 = 0;
    __u8 proto;

    if (eth->proto == bpf_htons(PL_ETH_P_IP)) {
        struct pl_ip4 *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return XDP_PASS;
        if ((ip->ver_ihl >> 4) != 4) return XDP_PASS;
        __u32 hlen = (ip->ver_ihl & 0x0f) * 4;
        if (hlen < sizeof(*ip)) return XDP_PASS;
        bk.prefixlen = 8 + 32;
        bk.family = PL_AF_INET;
        __builtin_memcpy(bk.addr, ip->saddr, 4);
        proto = ip->protocol;
        k.family = PL_AF_INET;
        __builtin_memcpy(k.saddr, ip->saddr, 4);
        __builtin_memcpy(k.daddr, ip->daddr, 4);
        /* Non-first fragments have no ports: only the blocklist applies to them. */
        if (!(ip->frag_off & bpf_htons(0x1fff))) l4 = (void *)ip + hlen;
    } else if (eth->proto == bpf_htons(PL_ETH_P_IPV6)) {
        struct pl_ip6 *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return XDP_PASS;
        bk.prefixlen = 8 + 128;
        bk.family = PL_AF_INET6;
        __builtin_memcpy(bk.addr, ip->saddr, 16);
        proto = ip->nexthdr; /* extension headers are not walked: the tuple check skips them */
        k.family = PL_AF_INET6;
        __builtin_memcpy(k.saddr, ip->saddr, 16);
        __builtin_memcpy(k.daddr, ip->daddr, 16);
        l4 = ip + 1;
    } else {
        return XDP_PASS; /* ARP and the like: never blocked, or neighbours would vanish */
    }

    if (pl_xdp_blocked(&bk)) goto drop;

    if (!l4 || (proto != PL_IPPROTO_TCP && proto != PL_IPPROTO_UDP)) return XDP_PASS;
    struct pl_xdp_ports *ports = l4;
    if ((void *)(ports + 1) > end) return XDP_PASS;
    k.proto = proto;
    k.sport = bpf_ntohs(ports->source);
    k.dport = bpf_ntohs(ports->dest);
    if (pl_xdp_refused(&k, end - data)) goto drop;
    return XDP_PASS;

drop:
    pl_ecount(PL_ECNT_XDP_DROPS);
    return XDP_DROP;
}
