/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * payload_sample.bpf.h - copies the first packets of each flow, both directions, from the IP
 * header on, to the pl_samples ring for nDPI. Bounded per flow (packets per direction) and per
 * packet (bytes); stops early once user space marks the flow classified in pl_flow_state, so
 * a classified flow costs one flag test per packet from then on.
 */
#ifndef POLICER_PAYLOAD_SAMPLE_BPF_H
#define POLICER_PAYLOAD_SAMPLE_BPF_H

#include "common.bpf.h"
#include "packet.bpf.h"

/* Set by policerd before load. */
const volatile __u32 pl_cfg_sample_packets = 8;  /* per direction, at most 65535 */
const volatile __u32 pl_cfg_sample_bytes = 1500; /* per packet, at most PL_SAMPLE_MAX */

static __always_inline void pl_sample(struct __sk_buff *skb, const struct pl_flow_key *key,
                                      struct pl_sample_state *st, bool egress,
                                      const struct pl_pkt *pkt) {
    if (st->done || pkt->payload_len == 0) return;

    __u16 taken = egress ? st->sent : st->received;
    if (taken >= pl_cfg_sample_packets) {
        __u16 other = egress ? st->received : st->sent;
        if (other >= pl_cfg_sample_packets) st->done = 1;
        return;
    }
    struct pl_flow_state *fs = bpf_map_lookup_elem(&pl_flow_state, key);
    if (fs && (fs->flags & PL_FLOW_STATE_CLASSIFIED)) {
        st->done = 1;
        return;
    }

    __u32 zero = 0;
    struct pl_sample_event *e = bpf_map_lookup_elem(&pl_sample_scratch, &zero);
    if (!e) return;
    __u32 cap = skb->len;
    if (cap > pl_cfg_sample_bytes) cap = pl_cfg_sample_bytes;
    if (cap == 0) return;
    /* The same value, written so the verifier sees it in [1, PL_SAMPLE_MAX]. */
    cap = ((cap - 1) & (PL_SAMPLE_MAX - 1)) + 1;
    if (bpf_skb_load_bytes(skb, 0, e->data, cap) < 0) return;

    e->hdr.type = PL_EV_SAMPLE;
    e->hdr.size = PL_SAMPLE_HEADER_SIZE + cap;
    e->hdr.ts_ns = bpf_ktime_get_boot_ns();
    e->cookie = key->cookie;
    e->pkt_len = skb->len;
    e->cap_len = cap;
    e->egress = egress;
    e->proto = pkt->t.proto;
    if (bpf_ringbuf_output(&pl_samples, e, PL_SAMPLE_HEADER_SIZE + cap, 0) < 0) {
        pl_count(PL_CNT_RB_DROP_BASE + PL_EV_SAMPLE);
        return;
    }
    pl_count(PL_CNT_SAMPLES);
    if (egress)
        st->sent = taken + 1;
    else
        st->received = taken + 1;
}

#endif /* POLICER_PAYLOAD_SAMPLE_BPF_H */
