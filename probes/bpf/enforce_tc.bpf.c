/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * enforce_tc.bpf.c - enforcement on interfaces (TC clsact on host uplinks and container
 * veths), where forwarded and bridged traffic has no local socket to carry a verdict:
 *  - every TCP/UDP packet is looked up in pl_tuple_verdicts by its 5-tuple, keyed as the
 *    peer sends it, so that one entry covers both directions;
 *  - deny and reject drop it, limit runs it through the verdict's token bucket;
 *  - a rejected TCP packet arriving from the peer is turned into a RST|ACK and sent back out
 *    of the interface it came in on, so that the peer fails fast instead of retrying.
 *
 * Counting: PL_ECNT_TC_DROPS counts every packet TC kept from its destination (including the
 * ones answered with a RST), PL_ECNT_TC_RESETS the RSTs sent, PL_ECNT_LIMIT_DROPS (the why,
 * shared with the socket hooks) the drops over a limit.
 */
#include "enforce_common.bpf.h"
#include "packet.bpf.h" /* PL_ETH_P_* */
#include <linux/pkt_cls.h>

#define PL_ETH_HLEN 14
#define PL_TCP_FIN 0x01
#define PL_TCP_SYN 0x02
#define PL_TCP_RST 0x04
#define PL_TCP_ACK 0x10
#define PL_CHECKSUM_PARTIAL 3 /* skb->ip_summed */

#include "wire.bpf.h"

struct pl_tcp {
    __be16 source;
    __be16 dest;
    __be32 seq;
    __be32 ack_seq;
    __u8 doff_res; /* data offset in the high nibble */
    __u8 flags;
    __be16 window;
    __u16 check;
    __be16 urg_ptr;
};

struct pl_udp {
    __be16 source;
    __be16 dest;
    __be16 len;
    __u16 check;
};

/* What the parser found: the tuple as in the header (saddr = sender of this packet). */
struct pl_tc_pkt {
    struct pl_tuple_key key;
    __u32 ip_hlen; /* 20..60 (IPv4), 40 (IPv6) */
    __u32 l4_len;  /* L4 header + payload, from the IP header */
    __u8 tcp_flags;
};

/* Headers + the largest IPv4 header + a TCP header without options: all the parser and the
 * RST builder read. */
#define PL_TC_HDR_MAX (PL_ETH_HLEN + 60 + 20)

/* The kernel's sk_buff, only for its checksum state (CO-RE: the flavour suffix maps it onto
 * struct sk_buff; read through bpf_cast_to_kern_ctx, which tc programs may use). */
struct sk_buff___pl {
    __u8 ip_summed : 2;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* Parses Ethernet + IPv4/IPv6 + TCP/UDP with direct packet access. -1: not a packet with a
 * tuple (other ethertypes, IPv6 extension headers, non-first fragments, truncated). */
static __always_inline int pl_tc_parse(struct __sk_buff *skb, struct pl_tc_pkt *p) {
    /* Headers may sit in paged data (GRO, some drivers): make the part read linear. */
    __u32 linear = skb->data_end - skb->data;
    if (linear < PL_TC_HDR_MAX && skb->len > linear)
        bpf_skb_pull_data(skb, skb->len < PL_TC_HDR_MAX ? skb->len : PL_TC_HDR_MAX);

    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct pl_eth *eth = data;
    if ((void *)(eth + 1) > end) return -1;

    void *l4;
    __u8 proto;
    if (eth->proto == bpf_htons(PL_ETH_P_IP)) {
        struct pl_ip4 *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return -1;
        if ((ip->ver_ihl >> 4) != 4) return -1;
        __u32 hlen = (ip->ver_ihl & 0x0f) * 4;
        if (hlen < sizeof(*ip)) return -1;
        /* Only the first fragment carries the L4 header. */
        if (ip->frag_off & bpf_htons(0x1fff)) return -1;
        __u32 tot = bpf_ntohs(ip->tot_len);
        if (tot < hlen) return -1;
        proto = ip->protocol;
        p->key.family = PL_AF_INET;
        __builtin_memcpy(p->key.saddr, ip->saddr, 4);
        __builtin_memcpy(p->key.daddr, ip->daddr, 4);
        p->ip_hlen = hlen;
        p->l4_len = tot - hlen;
        l4 = (void *)ip + hlen;
    } else if (eth->proto == bpf_htons(PL_ETH_P_IPV6)) {
        struct pl_ip6 *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return -1;
        /* Extension headers before TCP/UDP are not walked: such packets pass. */
        proto = ip->nexthdr;
        p->key.family = PL_AF_INET6;
        __builtin_memcpy(p->key.saddr, ip->saddr, 16);
        __builtin_memcpy(p->key.daddr, ip->daddr, 16);
        p->ip_hlen = sizeof(*ip);
        p->l4_len = bpf_ntohs(ip->payload_len);
        l4 = ip + 1;
    } else {
        return -1;
    }

    if (proto == PL_IPPROTO_TCP) {
        struct pl_tcp *th = l4;
        if ((void *)(th + 1) > end) return -1;
        if (p->l4_len < sizeof(*th)) return -1;
        p->key.sport = bpf_ntohs(th->source);
        p->key.dport = bpf_ntohs(th->dest);
        p->tcp_flags = th->flags;
    } else if (proto == PL_IPPROTO_UDP) {
        struct pl_udp *uh = l4;
        if ((void *)(uh + 1) > end) return -1;
        if (p->l4_len < sizeof(*uh)) return -1;
        p->key.sport = bpf_ntohs(uh->source);
        p->key.dport = bpf_ntohs(uh->dest);
    } else {
        return -1;
    }
    p->key.proto = proto;
    return 0;
}

/* One's complement sum of a 32-bit partial checksum, folded to 16 bits (not inverted). */
static __always_inline __u16 pl_csum_fold(__u64 sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)sum;
}

/* IPv4 pseudo header followed by the TCP header: what the TCP checksum covers of a RST. */
struct pl_rst4_sum {
    __u8 saddr[4];
    __u8 daddr[4];
    __u8 zero;
    __u8 proto;
    __be16 len;
    struct pl_tcp tcp;
};

struct pl_rst6_sum {
    __u8 saddr[16];
    __u8 daddr[16];
    __be32 len;
    __u8 zero[3];
    __u8 proto;
    struct pl_tcp tcp;
};

struct pl_rst4 {
    struct pl_ip4 ip;
    struct pl_tcp tcp;
};

struct pl_rst6 {
    struct pl_ip6 ip;
    struct pl_tcp tcp;
};

/*
 * The TCP checksum of the RST as the skb's checksum state wants it: with CHECKSUM_PARTIAL
 * (a veth peer's stack left the sum to "hardware") the field holds the folded pseudo-header
 * sum and whoever transmits completes it; otherwise it is the full checksum. Either way the
 * RST's header is written whole, so no incremental update has to account for the removed
 * payload.
 */
static __always_inline __u16 pl_rst_csum(void *sum_buf, __u32 pseudo_len, __u32 total_len,
                                         bool partial) {
    if (partial) return pl_csum_fold((__u32)bpf_csum_diff(0, 0, sum_buf, pseudo_len, 0));
    return ~pl_csum_fold((__u32)bpf_csum_diff(0, 0, sum_buf, total_len, 0));
}

/* Cuts `skb` to the reset's length and writes the swapped MACs and the IP+TCP reset `out`. */
static __always_inline int pl_rst_store(struct __sk_buff *skb, struct pl_eth macs, const void *out,
                                        __u32 out_len) {
    if (bpf_skb_change_tail(skb, PL_ETH_HLEN + out_len, 0) < 0) return -1;
    /* The MACs are outside what a CHECKSUM_COMPLETE sum covers at ingress (the redirect adds
     * them back itself); the IP and TCP bytes are inside it. */
    if (bpf_skb_store_bytes(skb, 0, &macs, 12, 0) < 0) return -1;
    if (bpf_skb_store_bytes(skb, PL_ETH_HLEN, out, out_len, BPF_F_RECOMPUTE_CSUM) < 0) return -1;
    return 0;
}

/*
 * Turns the TCP packet in `skb` (arriving from the peer) into a RST|ACK to that peer, in
 * place: MACs, addresses and ports swapped, payload and options cut, checksums made right.
 * 0: ready to be redirected; -1: not answerable (a RST, IPv4 options, unreadable), or the skb
 * is already half rewritten: the caller drops it either way.
 */
static __always_inline int pl_tc_make_reset(struct __sk_buff *skb, const struct pl_tc_pkt *p) {
    struct pl_eth eth;
    struct pl_tcp th;
    __u32 l4_off = PL_ETH_HLEN + p->ip_hlen;

    if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0) return -1;
    if (bpf_skb_load_bytes(skb, l4_off & 0x7f, &th, sizeof(th)) < 0) return -1;
    /* Never answer a reset (two policers facing each other would ping-pong). */
    if (th.flags & PL_TCP_RST) return -1;
    __u32 doff = (th.doff_res >> 4) * 4;
    if (doff < sizeof(th) || doff > p->l4_len) return -1;
    /* The ack covers everything the segment occupied in sequence space. */
    __u32 seg_len = p->l4_len - doff;
    if (th.flags & PL_TCP_SYN) seg_len++;
    if (th.flags & PL_TCP_FIN) seg_len++;

    struct pl_tcp rst = {};
    rst.source = th.dest;
    rst.dest = th.source;
    rst.seq = (th.flags & PL_TCP_ACK) ? th.ack_seq : 0;
    rst.ack_seq = bpf_htonl(bpf_ntohl(th.seq) + seg_len);
    rst.doff_res = 5 << 4;
    rst.flags = PL_TCP_RST | PL_TCP_ACK;

    struct sk_buff___pl *kskb = bpf_cast_to_kern_ctx(skb);
    bool partial = BPF_CORE_READ_BITFIELD(kskb, ip_summed) == PL_CHECKSUM_PARTIAL;

    struct pl_eth macs;
    __builtin_memcpy(macs.dst, eth.src, 6);
    __builtin_memcpy(macs.src, eth.dst, 6);

    if (p->key.family == PL_AF_INET) {
        /* Options would have to be cut out of the middle of the packet: just drop. */
        if (p->ip_hlen != sizeof(struct pl_ip4)) return -1;
        struct pl_ip4 ip;
        if (bpf_skb_load_bytes(skb, PL_ETH_HLEN, &ip, sizeof(ip)) < 0) return -1;

        struct pl_rst4 out = {};
        out.ip.ver_ihl = 0x45;
        out.ip.tos = ip.tos;
        out.ip.tot_len = bpf_htons(sizeof(out));
        out.ip.id = ip.id;
        out.ip.frag_off = bpf_htons(0x4000); /* DF, and no MF the packet may have had */
        out.ip.ttl = 64;
        out.ip.protocol = PL_IPPROTO_TCP;
        __builtin_memcpy(out.ip.saddr, ip.daddr, 4);
        __builtin_memcpy(out.ip.daddr, ip.saddr, 4);
        out.ip.check =
            ~pl_csum_fold((__u32)bpf_csum_diff(0, 0, (__be32 *)&out.ip, sizeof(out.ip), 0));

        struct pl_rst4_sum s = {};
        __builtin_memcpy(s.saddr, out.ip.saddr, 4);
        __builtin_memcpy(s.daddr, out.ip.daddr, 4);
        s.proto = PL_IPPROTO_TCP;
        s.len = bpf_htons(sizeof(rst));
        s.tcp = rst;
        rst.check = pl_rst_csum(&s, sizeof(s) - sizeof(s.tcp), sizeof(s), partial);
        out.tcp = rst;

        return pl_rst_store(skb, macs, &out, sizeof(out));
    }

    struct pl_ip6 ip;
    if (bpf_skb_load_bytes(skb, PL_ETH_HLEN, &ip, sizeof(ip)) < 0) return -1;
    struct pl_rst6 out = {};
    out.ip.vtc_flow = ip.vtc_flow;
    out.ip.payload_len = bpf_htons(sizeof(rst));
    out.ip.nexthdr = PL_IPPROTO_TCP;
    out.ip.hop_limit = 64;
    __builtin_memcpy(out.ip.saddr, ip.daddr, 16);
    __builtin_memcpy(out.ip.daddr, ip.saddr, 16);

    struct pl_rst6_sum s = {};
    __builtin_memcpy(s.saddr, out.ip.saddr, 16);
    __builtin_memcpy(s.daddr, out.ip.daddr, 16);
    s.len = bpf_htonl(sizeof(rst));
    s.proto = PL_IPPROTO_TCP;
    s.tcp = rst;
    rst.check = pl_rst_csum(&s, sizeof(s) - sizeof(s.tcp), sizeof(s), partial);
    out.tcp = rst;

    return pl_rst_store(skb, macs, &out, sizeof(out));
}

static __always_inline int pl_enf_tc(struct __sk_buff *skb, bool ingress) {
    struct pl_tc_pkt p = {};
    if (pl_tc_parse(skb, &p) < 0) return TC_ACT_OK;

    /* The key is the tuple as the peer sends it: an egress packet is the reply direction. */
    struct pl_tuple_key k = {};
    k.family = p.key.family;
    k.proto = p.key.proto;
    if (ingress) {
        __builtin_memcpy(k.saddr, p.key.saddr, 16);
        __builtin_memcpy(k.daddr, p.key.daddr, 16);
        k.sport = p.key.sport;
        k.dport = p.key.dport;
    } else {
        __builtin_memcpy(k.saddr, p.key.daddr, 16);
        __builtin_memcpy(k.daddr, p.key.saddr, 16);
        k.sport = p.key.dport;
        k.dport = p.key.sport;
    }

    struct pl_flow_verdict *v = bpf_map_lookup_elem(&pl_tuple_verdicts, &k);
    if (!v || v->origin == PL_VO_MARK || !pl_verdict_current(v)) return TC_ACT_OK;
    if (v->action == PL_RA_LIMIT) {
        struct pl_rule_action la = {};
        la.rule = v->rule;
        la.per = v->per;
        la.rate = v->rate;
        la.burst = v->burst;
        if (pl_limit_pass(&la, v->generation, v->limit_id)) return TC_ACT_OK;
        if (v->audit) return TC_ACT_OK;
        pl_ecount(PL_ECNT_LIMIT_DROPS);
    } else if (v->action == PL_RA_DENY || v->action == PL_RA_REJECT) {
        if (v->audit) return TC_ACT_OK;
        /* A RST towards the peer of a rejected flow ends it, as reject wants: our own (the
         * ingress program redirects them out through this hook) and the host's alike. */
        if (!ingress && v->action == PL_RA_REJECT && (p.tcp_flags & PL_TCP_RST)) return TC_ACT_OK;
    } else {
        return TC_ACT_OK;
    }
    __sync_fetch_and_add(&v->packets_dropped, 1);
    __sync_fetch_and_add(&v->bytes_dropped, skb->len);
    pl_ecount(PL_ECNT_TC_DROPS);

    /* A RST only goes back to a peer that sent the packet in: at egress the sender is this
     * host (or traffic forwarded through it), and a RST for it would have to be injected into
     * the stack; it is dropped, and a local sender's own socket hooks refuse it anyway. */
    if (ingress && v->action == PL_RA_REJECT && p.key.proto == PL_IPPROTO_TCP &&
        pl_tc_make_reset(skb, &p) == 0) {
        pl_ecount(PL_ECNT_TC_RESETS);
        return bpf_redirect(skb->ifindex, 0);
    }
    return TC_ACT_SHOT;
}

SEC("tc")
int pl_enf_tc_ingress(struct __sk_buff *skb) {
    return pl_enf_tc(skb, true);
}

SEC("tc")
int pl_enf_tc_egress(struct __sk_buff *skb) {
    return pl_enf_tc(skb, false);
}
