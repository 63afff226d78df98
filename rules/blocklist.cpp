// blocklist.cpp - see blocklist.h. Address sets are kept as sorted inclusive ranges of
// 128-bit keys, one set per family (IPv4 keys are 32 bits wide), so that unions, carving and
// the final cut into CIDR prefixes are exact.
#include "rules/blocklist.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

namespace policer::rules {
namespace {

using Range = std::pair<u128, u128>; // inclusive
using Ranges = std::vector<Range>;

constexpr int kFamilies[2] = {2, 10};
constexpr unsigned kWidth[2] = {32, 128};
const u128 kAll128 = ~u128(0);

u128 family_max(int fi) {
    return fi == 0 ? (u128(1) << 32) - 1 : kAll128;
}

// Low `host` bits set (host <= 128).
u128 host_mask(unsigned host) {
    return host >= 128 ? kAll128 : (u128(1) << host) - 1;
}

// Big-endian: keys order like addresses.
u128 key_of(const std::array<uint8_t, 16> &a, int fi) {
    u128 k = 0;
    for (unsigned i = 0; i < kWidth[fi] / 8; ++i)
        k = (k << 8) | a[i];
    return k;
}

std::array<uint8_t, 16> addr_of(u128 k, int fi) {
    std::array<uint8_t, 16> a{};
    const unsigned n = kWidth[fi] / 8;
    for (unsigned i = 0; i < n; ++i)
        a[n - 1 - i] = static_cast<uint8_t>(k >> (8 * i));
    return a;
}

// ---- range vectors (small: one literal's or one term's addresses) ----

Ranges normalize(Ranges v) {
    std::sort(v.begin(), v.end());
    Ranges out;
    for (const Range &x : v) {
        if (!out.empty() && (x.first <= out.back().second ||
                             (out.back().second != kAll128 && x.first == out.back().second + 1)))
            out.back().second = std::max(out.back().second, x.second);
        else
            out.push_back(x);
    }
    return out;
}

Ranges complement(const Ranges &s, u128 max) {
    Ranges out;
    u128 next = 0;
    for (const Range &x : s) {
        if (x.first > next) out.push_back({next, x.first - 1});
        if (x.second >= max) return out;
        next = x.second + 1;
    }
    out.push_back({next, max});
    return out;
}

Ranges intersect(const Ranges &a, const Ranges &b) {
    Ranges out;
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        const u128 lo = std::max(a[i].first, b[j].first);
        const u128 hi = std::min(a[i].second, b[j].second);
        if (lo <= hi) out.push_back({lo, hi});
        (a[i].second < b[j].second) ? ++i : ++j;
    }
    return out;
}

// ---- range maps (large: everything earlier rules cover, everything listed so far) ----

// lo -> hi, disjoint; adjacent ranges merged.
using RangeMap = std::map<u128, u128>;

struct Tagged {
    u128 hi;
    size_t rule; // index into RuleSet::rules
};
// lo -> (hi, rule), disjoint; never merged (ranges of different rules may touch).
using TaggedMap = std::map<u128, Tagged>;

u128 hi_of(const u128 &hi) {
    return hi;
}
u128 hi_of(const Tagged &t) {
    return t.hi;
}

void add(RangeMap &m, u128 lo, u128 hi) {
    auto it = m.upper_bound(lo);
    if (it != m.begin()) {
        auto prev = std::prev(it);
        if (prev->second >= lo || prev->second + 1 == lo) {
            lo = prev->first;
            hi = std::max(hi, prev->second);
            m.erase(prev);
        }
    }
    while (it != m.end() && (it->first <= hi || (hi != kAll128 && it->first == hi + 1))) {
        hi = std::max(hi, it->second);
        it = m.erase(it);
    }
    m.emplace(lo, hi);
}

// The parts of [lo, hi] that `m` does not hold, in order.
template <typename Map>
void uncovered(const Map &m, u128 lo, u128 hi, Ranges &out) {
    u128 cur = lo;
    auto it = m.upper_bound(lo);
    if (it != m.begin()) {
        auto prev = std::prev(it);
        if (hi_of(prev->second) >= cur) {
            if (hi_of(prev->second) >= hi) return;
            cur = hi_of(prev->second) + 1;
        }
    }
    for (; it != m.end() && it->first <= hi; ++it) {
        if (it->first > cur) out.push_back({cur, it->first - 1});
        if (hi_of(it->second) >= hi) return;
        cur = hi_of(it->second) + 1;
    }
    out.push_back({cur, hi});
}

// The parts of [lo, hi] that `m` holds, in order.
Ranges overlap(const RangeMap &m, u128 lo, u128 hi) {
    Ranges out;
    auto it = m.upper_bound(lo);
    if (it != m.begin()) --it;
    for (; it != m.end() && it->first <= hi; ++it) {
        const u128 a = std::max(lo, it->first), b = std::min(hi, it->second);
        if (a <= b) out.push_back({a, b});
    }
    return out;
}

// ---- terms ----

// What one term says about one half of the analysis (an address field and a direction).
struct TermShape {
    bool possible = true; // false: its direction literals exclude the half's direction
    bool pure = true;     // it constrains nothing but the address field and direction
    Ranges addrs[2];      // the addresses it admits, per family (nothing else considered)
};

// The keys a literal on an address field admits in family `fi`.
Ranges literal_ranges(const Predicate &p, int fi) {
    Ranges v;
    for (const Value &x : p.values) {
        if (x.ip.family != kFamilies[fi]) continue;
        const unsigned host = kWidth[fi] - std::min<unsigned>(x.ip.len, kWidth[fi]);
        const u128 base = key_of(x.ip.addr, fi) & ~host_mask(host);
        v.push_back({base, base | host_mask(host)});
    }
    v = normalize(std::move(v));
    return p.negated() ? complement(v, family_max(fi)) : v;
}

TermShape shape(const Term &t, const FieldDef *field, const FieldDef *dir_field,
                const std::string &dir) {
    TermShape s;
    for (int fi = 0; fi < 2; ++fi)
        s.addrs[fi] = {{0, family_max(fi)}};
    if (t.whole) {
        // Too large for normal form: it may match anything, and proves nothing.
        s.pure = false;
        return s;
    }
    for (const PredPtr &p : t.literals) {
        if (p->field == field && !p->is_glob()) {
            for (int fi = 0; fi < 2; ++fi)
                s.addrs[fi] = intersect(s.addrs[fi], literal_ranges(*p, fi));
        } else if (p->field == dir_field && !p->is_glob()) {
            bool any = false;
            for (const Value &v : p->values)
                any = any || v.str == dir;
            if (any == p->negated()) {
                s.possible = false;
                return s;
            }
        } else {
            s.pure = false;
        }
    }
    return s;
}

bool refuses(const Rule &r) {
    return !r.audit && (r.action.kind == ActionKind::Deny || r.action.kind == ActionKind::Reject);
}

// One half: the addresses (of `field`, for flows of direction `dir`) at which every flow is
// refused, tagged with the rule that refuses them.
std::array<TaggedMap, 2> analyze(const CompiledRules &c, const char *field_name,
                                 const std::string &dir) {
    const FieldDef *field = find_field(field_name);
    const FieldDef *dir_field = find_field("direction");
    std::array<RangeMap, 2> covered; // where an earlier non-refusing rule might match
    std::array<TaggedMap, 2> listed;
    const RuleSet &set = c.set();
    // Terms are in decision order (rule by rule), which is all the walk needs.
    for (const Term &t : c.terms()) {
        const Rule &rule = set.rules[t.rule];
        const TermShape s = shape(t, field, dir_field, dir);
        if (!s.possible) continue;
        const bool refusing = refuses(rule);
        if (refusing && !s.pure) continue; // proves nothing, and what it matches is refused
        for (int fi = 0; fi < 2; ++fi)
            for (const Range &r : s.addrs[fi]) {
                if (!refusing) {
                    add(covered[fi], r.first, r.second);
                    continue;
                }
                Ranges fresh, pieces;
                uncovered(covered[fi], r.first, r.second, fresh);
                for (const Range &f : fresh)
                    uncovered(listed[fi], f.first, f.second, pieces);
                for (const Range &p : pieces)
                    listed[fi].emplace(p.first, Tagged{p.second, t.rule});
            }
    }
    return listed;
}

// Cuts [lo, hi] of family `fi` into the fewest CIDR prefixes: (base, length).
void cut_into_prefixes(u128 lo, u128 hi, int fi, std::vector<std::pair<u128, unsigned>> &out) {
    const unsigned width = kWidth[fi];
    for (;;) {
        // The largest block that starts at lo, is aligned there, and ends by hi.
        unsigned host = 0;
        while (host < width) {
            const unsigned next = host + 1;
            if (next == 128) {
                if (lo == 0 && hi == kAll128) host = next;
                break;
            }
            const u128 mask = host_mask(next);
            if ((lo & mask) != 0 || hi - lo < mask) break;
            host = next;
        }
        out.push_back({lo, width - host});
        const u128 end = lo + host_mask(host);
        if (end >= hi) return;
        lo = end + 1;
    }
}

} // namespace

std::string BlockPrefix::str() const {
    IpPrefix p;
    p.family = static_cast<uint8_t>(family);
    p.addr = addr;
    p.len = static_cast<uint8_t>(bits);
    const unsigned full = family == 2 ? 32 : 128;
    std::string s = p.str();
    // IpPrefix::str() omits the length of a single address; a blocklist entry always shows it.
    return bits == full ? s + "/" + std::to_string(full) : s;
}

Blocklist xdp_blocklist(const CompiledRules &rules, const BlocklistOptions &opts) {
    Blocklist out;
    const RuleSet &set = rules.set();
    if (set.audit_mode) {
        out.note = "mode audit: the rule set refuses nothing";
        return out;
    }

    std::array<TaggedMap, 2> ingress = analyze(rules, "src.ip", "ingress");
    std::array<RangeMap, 2> egress; // addresses every egress flow to which is refused
    if (opts.scope == BlocklistScope::PeerTraffic) {
        const std::array<TaggedMap, 2> to = analyze(rules, "dst.ip", "egress");
        for (int fi = 0; fi < 2; ++fi)
            for (const auto &[lo, t] : to[fi])
                add(egress[fi], lo, t.hi);
    }
    // IPv6 entries never speak for ::ffff:0:0/96 (flows from there are judged as IPv4).
    RangeMap mapped;
    mapped.emplace(u128(0xffff) << 32, (u128(0xffff) << 32) | 0xffffffffu);

    std::vector<BlockPrefix> all;
    for (int fi = 0; fi < 2; ++fi) {
        // The listed ranges, restricted as the options say, adjacent ones of a rule joined.
        std::vector<std::pair<Range, size_t>> kept;
        for (const auto &[lo, t] : ingress[fi]) {
            Ranges parts = opts.scope == BlocklistScope::PeerTraffic ? overlap(egress[fi], lo, t.hi)
                                                                     : Ranges{{lo, t.hi}};
            for (const Range &p : parts) {
                Ranges final_parts;
                if (fi == 1)
                    uncovered(mapped, p.first, p.second, final_parts);
                else
                    final_parts.push_back(p);
                for (const Range &f : final_parts) {
                    if (!kept.empty() && kept.back().second == t.rule &&
                        kept.back().first.second + 1 == f.first)
                        kept.back().first.second = f.second;
                    else
                        kept.push_back({f, t.rule});
                }
            }
        }
        for (const auto &[r, rule] : kept) {
            std::vector<std::pair<u128, unsigned>> cidrs;
            cut_into_prefixes(r.first, r.second, fi, cidrs);
            for (const auto &[base, bits] : cidrs) {
                BlockPrefix b;
                b.family = kFamilies[fi];
                b.addr = addr_of(base, fi);
                b.bits = bits;
                b.rule = set.rules[rule].name;
                b.action = set.rules[rule].action.kind;
                all.push_back(std::move(b));
            }
        }
    }

    auto by_address = [](const BlockPrefix &a, const BlockPrefix &b) {
        if (a.family != b.family) return a.family < b.family;
        return a.addr < b.addr;
    };
    if (all.size() > opts.max_entries) {
        // Keep the widest: they cover the most addresses per entry.
        std::stable_sort(all.begin(), all.end(), [&](const BlockPrefix &a, const BlockPrefix &b) {
            if (a.bits != b.bits) return a.bits < b.bits;
            return by_address(a, b);
        });
        out.omitted = all.size() - opts.max_entries;
        all.resize(opts.max_entries);
    }
    std::sort(all.begin(), all.end(), by_address);
    out.prefixes = std::move(all);
    return out;
}

} // namespace policer::rules
