/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * packet.bpf.h - reads the IP and TCP/UDP headers of a packet seen by a cgroup_skb program
 * (the skb starts at the IP header): endpoints, and where the L4 payload is.
 */
#ifndef POLICER_PACKET_BPF_H
#define POLICER_PACKET_BPF_H

/* Only helpers and the ABI: shared by the observation and the enforcement objects. */
#include "kernel_types.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "probe_abi.h"

#define PL_ETH_P_IP 0x0800
#define PL_ETH_P_IPV6 0x86DD

struct pl_pkt {
    struct pl_tuple t; /* as in the header: src = sender of this packet */
    __u32 payload_off; /* offset of the L4 payload */
    __u32 payload_len; /* L4 payload bytes (UDP: from the UDP length field) */
    __u8 tcp_flags;    /* TCP: the flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10) */
    __u8 _pad[3];
};

/* Parses a TCP or UDP packet of protocol `proto`. Returns 0, or -1 when the headers are not
 * there or not what the socket says (extension headers, non-first fragments). */
static __always_inline int pl_parse_packet(struct __sk_buff *skb, __u8 proto, struct pl_pkt *p) {
    __u32 l4off;
    __u8 ver;

    if (bpf_skb_load_bytes(skb, 0, &ver, 1) < 0) return -1;
    ver >>= 4;
    __builtin_memset(p, 0, sizeof(*p));

    if (ver == 4 && skb->protocol == bpf_htons(PL_ETH_P_IP)) {
        __u8 hdr[20];
        if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)) < 0) return -1;
        if (hdr[9] != proto) return -1;
        /* Only the first fragment carries the L4 header. */
        if (((hdr[6] & 0x1f) | hdr[7]) != 0) return -1;
        l4off = (hdr[0] & 0x0f) * 4;
        if (l4off < 20) return -1;
        p->t.family = PL_AF_INET;
        __builtin_memcpy(p->t.saddr, &hdr[12], 4);
        __builtin_memcpy(p->t.daddr, &hdr[16], 4);
    } else if (ver == 6 && skb->protocol == bpf_htons(PL_ETH_P_IPV6)) {
        __u8 hdr[40];
        if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)) < 0) return -1;
        /* Extension headers before TCP/UDP are rare on sockets; such packets are counted,
         * not guessed at. */
        if (hdr[6] != proto) return -1;
        l4off = 40;
        p->t.family = PL_AF_INET6;
        __builtin_memcpy(p->t.saddr, &hdr[8], 16);
        __builtin_memcpy(p->t.daddr, &hdr[24], 16);
    } else {
        return -1;
    }
    l4off &= 0x3f;

    __u16 ports[2];
    if (bpf_skb_load_bytes(skb, l4off, ports, sizeof(ports)) < 0) return -1;
    p->t.proto = proto;
    p->t.sport = bpf_ntohs(ports[0]);
    p->t.dport = bpf_ntohs(ports[1]);

    if (proto == PL_IPPROTO_UDP) {
        __u16 ulen;
        if (bpf_skb_load_bytes(skb, l4off + 4, &ulen, sizeof(ulen)) < 0) return -1;
        ulen = bpf_ntohs(ulen);
        p->payload_off = l4off + 8;
        p->payload_len = ulen >= 8 ? ulen - 8 : 0;
    } else {
        __u8 off_flags[2];
        if (bpf_skb_load_bytes(skb, l4off + 12, off_flags, 2) < 0) return -1;
        p->tcp_flags = off_flags[1];
        __u32 thlen = (off_flags[0] >> 4) * 4;
        if (thlen < 20) return -1;
        p->payload_off = l4off + thlen;
        p->payload_len = skb->len > p->payload_off ? skb->len - p->payload_off : 0;
    }
    return 0;
}

#endif /* POLICER_PACKET_BPF_H */
