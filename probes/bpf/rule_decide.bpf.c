/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * rule_decide.bpf.c - the kernel's rule decision: KernelTables::decide() (rules/kernel_tables.h)
 * over the rule tables of probe_abi.h, in two banks.
 *
 * Shape (measured in the issue-5 prototype, docs/enforcement.md): look up each field's ref
 * first, then one global function walks the bitmap words once, ANDing every field's word in a
 * register, and stops at the first word with a candidate; a second global function checks that
 * the candidate's rule is exact. Global (non-static) functions are verified once per program,
 * whatever the number of words, so verification stays flat up to PL_RULE_MAX_TERMS terms.
 *
 * Bitmaps, ranges, names and actions are inner maps of two-slot outer maps: policerd fills the
 * bank not in use with maps sized for the new rule set, then moves pl_enf_state.generation to
 * it. A decision reads the generation once, so it never mixes two rule sets.
 */
#include "enforce_common.bpf.h"

#define NW PL_RULE_BM_WORDS

/* ---- the banked rule tables ---- */

struct pl_bitmaps_inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_INNER_MAP); /* each bank sized for its rule set */
    __uint(max_entries, 2);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, NW * 8);
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, PL_RULE_BANKS);
    __type(key, __u32);
    __array(values, struct pl_bitmaps_inner);
} pl_rule_bitmaps SEC(".maps");

struct pl_ranges_inner {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __uint(max_entries, 1);
    __uint(key_size, sizeof(struct pl_rule_range_key)); /* sizes, not BTF types: the linker */
    __uint(value_size, sizeof(struct pl_rule_ref));     /* leaves inner types as forwards */
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, PL_RULE_BANKS);
    __type(key, __u32);
    __array(values, struct pl_ranges_inner);
} pl_rule_ranges SEC(".maps");

struct pl_names_inner {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1);
    __uint(key_size, sizeof(struct pl_rule_name_key));
    __uint(value_size, sizeof(struct pl_rule_ref));
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, PL_RULE_BANKS);
    __type(key, __u32);
    __array(values, struct pl_names_inner);
} pl_rule_names SEC(".maps");

struct pl_actions_inner {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_INNER_MAP);
    __uint(max_entries, 1);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(struct pl_rule_action));
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, PL_RULE_BANKS);
    __type(key, __u32);
    __array(values, struct pl_actions_inner);
} pl_rule_actions SEC(".maps");

/* Fixed-size tables, bank-major. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, PL_RULE_BANKS);
    __type(key, __u32);
    __type(value, struct pl_rule_header);
} pl_rule_headers SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, PL_RULE_BANKS *PL_RULE_CLASSES);
    __type(key, __u32);
    __type(value, struct pl_rule_ref);
} pl_rule_classes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, PL_RULE_BANKS *PL_RULE_MAX_TERMS);
    __type(key, __u32);
    __type(value, struct pl_rule_term);
} pl_rule_terms SEC(".maps");

/* ---- bit arithmetic ---- */

/* Index of the lowest set bit of x != 0, without branches: the popcount of the bits below it.
 * (clang 14 crashes on __builtin_ctzll for BPF; branches would multiply verifier paths.) */
static __always_inline __u32 pl_ctz64(__u64 x) {
    __u64 v = (x & -x) - 1;
    v = v - ((v >> 1) & 0x5555555555555555ULL);
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
    v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (__u32)((v * 0x0101010101010101ULL) >> 56);
}

/* Bits [lo, hi) of word w. */
static __always_inline __u64 pl_word_mask(__u32 w, __u32 lo, __u32 hi) {
    __u64 m = ~0ULL;
    __u32 base = w << 6;
    if (lo > base) m &= ~0ULL << ((lo - base) & 63);
    if (hi < base + 64) m &= (1ULL << ((hi - base) & 63)) - 1;
    return m;
}

/* ---- field lookups ---- */

/* The refs of every field slot for one flow; FULL/EMPTY for a slot not looked up. Scalars
 * only, so that global functions may take it. The IPv4 and IPv6 slots of an address share an
 * entry (a flow has one family; the other family's slot is FULL), which keeps the scan's
 * pointers - and the stack, 512 bytes for a hook and every function it calls - small. */
#define PL_REFS 15
struct pl_refs {
    __u32 m[PL_REFS];
    __u32 x[PL_REFS];
    __u32 bank;
};

static __always_inline const struct pl_rule_ref *pl_lpm(void *ranges, __u32 slot, const void *data,
                                                        __u32 bytes) {
    struct pl_rule_range_key k = {};
    k.prefixlen = 32 + bytes * 8;
    k.field = slot;
    __builtin_memcpy(k.data, data, bytes > 16 ? 16 : bytes);
    return bpf_map_lookup_elem(ranges, &k);
}

/* The ref of `slot`, packed as match | inexact << 32; ~0 for a slot of the other family.
 * Pointers do not leave this function, so the verifier's paths merge right after it. */
static __always_inline __u64 pl_field_ref(__u32 slot, const struct pl_facts *f,
                                          const struct pl_rule_header *h, void *ranges,
                                          void *names, __u32 bank) {
    const struct pl_rule_ref *r = 0;
    struct pl_rule_name_key nk = {};
    bool unknown = false, named = false;
    __u32 be;
    __u16 be16;

    switch (slot) {
    case PL_RF_CLASS: {
        __u32 c = bank * PL_RULE_CLASSES + PL_RULE_CLASS(f->ingress, f->udp, f->ipv6);
        r = bpf_map_lookup_elem(&pl_rule_classes, &c);
        break;
    }
    case PL_RF_USER_ID:
        be = bpf_htonl(f->uid);
        r = pl_lpm(ranges, slot, &be, 4);
        break;
    case PL_RF_GROUP_ID:
        if (!f->ident_known) {
            unknown = true;
            break;
        }
        be = bpf_htonl(f->gid);
        r = pl_lpm(ranges, slot, &be, 4);
        break;
    case PL_RF_USER_NAME:
        nk.id = f->uid;
        named = true;
        break;
    case PL_RF_GROUP_NAME:
        unknown = !f->ident_known;
        nk.id = f->gid;
        named = true;
        break;
    case PL_RF_SRC_PORT:
        if (!f->src_known) {
            unknown = true;
            break;
        }
        be16 = bpf_htons(f->sport);
        r = pl_lpm(ranges, slot, &be16, 2);
        break;
    case PL_RF_DST_PORT:
        be16 = bpf_htons(f->dport);
        r = pl_lpm(ranges, slot, &be16, 2);
        break;
    case PL_RF_SRC_IP4:
    case PL_RF_SRC_IP6:
        if (f->ipv6 != (slot == PL_RF_SRC_IP6)) return ~0ULL; /* the other family's table */
        if (!f->src_known) {
            unknown = true;
            break;
        }
        r = f->ipv6 ? pl_lpm(ranges, slot, f->saddr, 16) : pl_lpm(ranges, slot, f->saddr, 4);
        break;
    case PL_RF_DST_IP4:
    case PL_RF_DST_IP6:
        if (f->ipv6 != (slot == PL_RF_DST_IP6)) return ~0ULL;
        r = f->ipv6 ? pl_lpm(ranges, slot, f->daddr, 16) : pl_lpm(ranges, slot, f->daddr, 4);
        break;
    case PL_RF_SRC_DOMAIN:
        unknown = !f->src_known;
        nk.family = f->ipv6 ? PL_AF_INET6 : PL_AF_INET;
        __builtin_memcpy(nk.addr, f->saddr, 16);
        named = true;
        break;
    case PL_RF_DST_DOMAIN:
        nk.family = f->ipv6 ? PL_AF_INET6 : PL_AF_INET;
        __builtin_memcpy(nk.addr, f->daddr, 16);
        named = true;
        break;
    case PL_RF_COMM:
        unknown = !f->ident_known;
        __builtin_memcpy(nk.comm, f->comm, PL_COMM_LEN);
        named = true;
        break;
    case PL_RF_EXE:
        unknown = !f->exe_known;
        nk.exe.dev = f->exe_dev;
        nk.exe.ino = f->exe_ino;
        named = true;
        break;
    case PL_RF_CGROUP:
        nk.cgroup_id = f->cgroup_id;
        named = true;
        break;
    default: /* PL_RF_IFACE: unknown at the socket hooks */
        unknown = true;
        break;
    }
    if (named && !unknown) {
        nk.field = slot;
        r = bpf_map_lookup_elem(names, &nk);
        if (!r) r = &h->missing[slot];
    }
    if (!r) r = &h->unknown[slot];
    return r->match | ((__u64)r->inexact << 32);
}

/* ---- the word loops (global: verified once) ---- */

#define PL_BM(p, id)                                                                               \
    const __u64 *p = bpf_map_lookup_elem(bms, &(id));                                              \
    if (!p) return -2;

#define PL_BM_ALL(pre, arr)                                                                        \
    PL_BM(pre##0, arr[0]) PL_BM(pre##1, arr[1]) PL_BM(pre##2, arr[2]) PL_BM(pre##3, arr[3])        \
    PL_BM(pre##4, arr[4]) PL_BM(pre##5, arr[5]) PL_BM(pre##6, arr[6]) PL_BM(pre##7, arr[7])        \
    PL_BM(pre##8, arr[8]) PL_BM(pre##9, arr[9]) PL_BM(pre##10, arr[10])                            \
    PL_BM(pre##11, arr[11]) PL_BM(pre##12, arr[12]) PL_BM(pre##13, arr[13])                        \
    PL_BM(pre##14, arr[14])

#define PL_AND_ALL(p, w)                                                                           \
    (p##0[w] & p##1[w] & p##2[w] & p##3[w] & p##4[w] & p##5[w] & p##6[w] & p##7[w] & p##8[w] &    \
     p##9[w] & p##10[w] & p##11[w] & p##12[w] & p##13[w] & p##14[w])

_Static_assert(PL_RF_COUNT == 17 && PL_REFS == 15, "PL_BM_ALL names 15 entries");

/* First term no field rules out (-1: none; -2: a bad bitmap id). */
__noinline int pl_scan_g(const struct pl_refs *r, __u32 n) {
    if (!r) return -2;
    __u32 bank = r->bank;
    void *bms = bpf_map_lookup_elem(&pl_rule_bitmaps, &bank);
    if (!bms) return -2;
    PL_BM_ALL(m, r->m)
    for (__u64 w = 0; w < NW; w++) {
        if (w >= n) break;
        __u64 c = PL_AND_ALL(m, w);
        if (c) return (int)((w << 6) + pl_ctz64(c));
    }
    return -1;
}

/* Word w of the AND of every field's match bitmap (inexact = 0), or of the OR of every field's
 * inexact bitmap (inexact = 1). One lookup per field: only for the words of one rule. */
__noinline __u64 pl_word_g(const struct pl_refs *r, __u32 w, int inexact) {
    if (!r) return 0;
    __u64 acc = inexact ? 0 : ~0ULL;
    __u32 bank = r->bank;
    void *bms = bpf_map_lookup_elem(&pl_rule_bitmaps, &bank);
    if (!bms) return inexact ? ~0ULL : 0;
    __u64 wi = w & (NW - 1);
    for (int j = 0; j < PL_REFS; j++) {
        __u32 id = inexact ? r->x[j] : r->m[j];
        const __u64 *p = bpf_map_lookup_elem(bms, &id);
        if (!p) return inexact ? ~0ULL : 0; /* bad id: no candidate / all inexact */
        if (inexact)
            acc |= p[wi];
        else
            acc &= p[wi];
    }
    return acc;
}

/* Whether a term of [lo, hi) is a candidate, exact, and made inexact by no field. */
__noinline int pl_exact_g(const struct pl_refs *r, __u32 exact_id, __u32 lo, __u32 hi) {
    if (!r || hi <= lo) return 0;
    __u32 bank = r->bank;
    void *bms = bpf_map_lookup_elem(&pl_rule_bitmaps, &bank);
    if (!bms) return -2;
    const __u64 *e = bpf_map_lookup_elem(bms, &exact_id);
    if (!e) return -2;
    __u32 wlo = lo >> 6, whi = (hi - 1) >> 6;
    for (__u32 i = 0; i < NW; i++) {
        __u64 w = (__u64)wlo + i;
        if (w > whi) break;
        w &= NW - 1;
        __u64 bits = e[w] & pl_word_mask(w, lo, hi);
        if (!bits) continue;
        bits &= pl_word_g(r, w, 0);
        if (!bits) continue;
        if (bits & ~pl_word_g(r, w, 1)) return 1;
    }
    return 0;
}

/* Looks up every field of the flow: the refs the scan ANDs. Its own frame (the lookup keys) is
 * not on the stack while the scan runs. 0, or PL_D_ERROR. */
__noinline int pl_refs_g(const struct pl_facts *f, struct pl_refs *r) {
    if (!f || !r) return PL_D_ERROR;
    __u32 bank = r->bank & 1;
    const struct pl_rule_header *h = bpf_map_lookup_elem(&pl_rule_headers, &bank);
    void *ranges = bpf_map_lookup_elem(&pl_rule_ranges, &bank);
    void *names = bpf_map_lookup_elem(&pl_rule_names, &bank);
    if (!h || !ranges || !names) return PL_D_ERROR;
    const __u32 used = h->used_fields;

#define PL_REF(slot, j)                                                                            \
    {                                                                                              \
        __u64 ref = (used & (1u << (slot))) ? pl_field_ref((slot), f, h, ranges, names, bank)     \
                                             : ~0ULL;                                              \
        if (ref != ~0ULL) {                                                                        \
            r->m[j] = (__u32)ref;                                                                  \
            r->x[j] = (__u32)(ref >> 32);                                                          \
        }                                                                                          \
    }
    for (int j = 0; j < PL_REFS; j++) {
        r->m[j] = PL_RULE_BM_FULL;
        r->x[j] = PL_RULE_BM_EMPTY;
    }
    PL_REF(PL_RF_CLASS, 0)
    PL_REF(PL_RF_USER_ID, 1)
    PL_REF(PL_RF_USER_NAME, 2)
    PL_REF(PL_RF_GROUP_ID, 3)
    PL_REF(PL_RF_GROUP_NAME, 4)
    PL_REF(PL_RF_SRC_PORT, 5)
    PL_REF(PL_RF_DST_PORT, 6)
    PL_REF(PL_RF_SRC_IP4, 7)
    PL_REF(PL_RF_SRC_IP6, 7)
    PL_REF(PL_RF_DST_IP4, 8)
    PL_REF(PL_RF_DST_IP6, 8)
    PL_REF(PL_RF_SRC_DOMAIN, 9)
    PL_REF(PL_RF_DST_DOMAIN, 10)
    PL_REF(PL_RF_COMM, 11)
    PL_REF(PL_RF_EXE, 12)
    PL_REF(PL_RF_CGROUP, 13)
    PL_REF(PL_RF_IFACE, 14)
#undef PL_REF
    return 0;
}

/* The decision for one flow. Verified once per program and shared by every hook. */
__noinline int pl_decide_g(const struct pl_facts *f, struct pl_decision *d) {
    if (!f || !d) return PL_D_ERROR;
    __u32 zero = 0;
    const struct pl_enforce_state *st = bpf_map_lookup_elem(&pl_enf_state, &zero);
    __u32 generation = st ? st->generation : 0;
    if (!generation) return PL_D_NONE;
    __u32 bank = generation & 1;
    d->generation = generation;
    const struct pl_rule_header *h = bpf_map_lookup_elem(&pl_rule_headers, &bank);
    if (!h) return PL_D_ERROR;
    /* The default first: it applies when no term can match. */
    d->action = f->ingress ? h->default_ingress : h->default_egress;
    d->rule = 0xffffffffu;
    if (!h->terms) return PL_D_DEFAULT;
    struct pl_refs r;
    r.bank = bank;
    if (pl_refs_g(f, &r)) return PL_D_ERROR;

    int first = pl_scan_g(&r, h->words);
    if (first == -2) return PL_D_ERROR;
    if (first < 0) return PL_D_DEFAULT;
    __u32 ti = bank * PL_RULE_MAX_TERMS + ((__u32)first & (PL_RULE_MAX_TERMS - 1));
    const struct pl_rule_term *t = bpf_map_lookup_elem(&pl_rule_terms, &ti);
    if (!t) return PL_D_ERROR;
    __u32 rule = t->rule;
    __u32 hi = t->first_term + t->terms;
    if (hi <= (__u32)first) return PL_D_ERROR;
    void *actions = bpf_map_lookup_elem(&pl_rule_actions, &bank);
    if (!actions) return PL_D_ERROR;
    const struct pl_rule_action *a = bpf_map_lookup_elem(actions, &rule);
    if (!a) return PL_D_ERROR;
    d->rule = rule;
    d->action = *a;
    int ex = pl_exact_g(&r, h->exact_bm, (__u32)first, hi);
    if (ex < 0) return PL_D_ERROR;
    return ex ? PL_D_RULE : PL_D_DEFER;
}
