/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire.bpf.h - Ethernet, IPv4 and IPv6 headers as on the wire, for the programs that parse raw
 * frames (TC and XDP). Own definitions: the uapi ones drag in libc-compat machinery.
 */
#ifndef POLICER_WIRE_BPF_H
#define POLICER_WIRE_BPF_H

#include <linux/types.h>

struct pl_eth {
    __u8 dst[6];
    __u8 src[6];
    __be16 proto;
};

struct pl_ip4 {
    __u8 ver_ihl;
    __u8 tos;
    __be16 tot_len;
    __be16 id;
    __be16 frag_off;
    __u8 ttl;
    __u8 protocol;
    __u16 check;
    __u8 saddr[4];
    __u8 daddr[4];
};

struct pl_ip6 {
    __be32 vtc_flow;
    __be16 payload_len;
    __u8 nexthdr;
    __u8 hop_limit;
    __u8 saddr[16];
    __u8 daddr[16];
};

#endif /* POLICER_WIRE_BPF_H */
