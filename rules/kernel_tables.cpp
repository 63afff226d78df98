// kernel_tables.cpp - see kernel_tables.h.
#include "rules/kernel_tables.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace policer::rules {
namespace {

// A string no rule can name (the lexer refuses control characters): "a value no rule names".
const char *const kUnnamed = "\x01";

template <typename T>
std::string bytes_of(const T &v) {
    return std::string(reinterpret_cast<const char *>(&v), sizeof(v));
}

const FieldDef &field(const char *name) {
    return *find_field(name);
}

// A text value: known, or absent when there is none.
Attr text_attr(const std::optional<std::string> &v) {
    Attr a;
    a.state = v ? AttrState::Known : AttrState::Absent;
    a.str = v.value_or("");
    return a;
}

uint8_t action_kind(ActionKind k) {
    switch (k) {
    case ActionKind::Allow: return PL_RA_ALLOW;
    case ActionKind::Deny: return PL_RA_DENY;
    case ActionKind::Reject: return PL_RA_REJECT;
    case ActionKind::Alert: return PL_RA_ALERT;
    case ActionKind::Limit: return PL_RA_LIMIT;
    }
    return PL_RA_ALLOW;
}

uint8_t limit_per(LimitPer p) {
    switch (p) {
    case LimitPer::Process: return PL_RL_PROCESS;
    case LimitPer::User: return PL_RL_USER;
    case LimitPer::Cgroup: return PL_RL_CGROUP;
    }
    return PL_RL_CGROUP;
}

} // namespace

pl_rule_action kernel_action(const Action &a, bool audit, uint32_t rule) {
    pl_rule_action k{};
    k.kind = action_kind(a.kind);
    k.audit = audit ? 1 : 0;
    k.per = limit_per(a.per);
    k.rate = a.rate;
    k.burst = a.burst;
    k.rule = rule;
    return k;
}

namespace {

// Fields looked up in each slot, by name.
const std::vector<const char *> &slot_fields(pl_rule_field slot) {
    static const std::vector<std::vector<const char *>> kSlots = {
        {"direction", "l4.proto", "ip.family"},                                 // CLASS
        {"user.id"},                                                            // USER_ID
        {"user.name"},                                                          // USER_NAME
        {"group.id"},                                                           // GROUP_ID
        {"group.name"},                                                         // GROUP_NAME
        {"src.port"},                                                           // SRC_PORT
        {"dst.port"},                                                           // DST_PORT
        {"src.ip"},                                                             // SRC_IP4
        {"dst.ip"},                                                             // DST_IP4
        {"src.ip"},                                                             // SRC_IP6
        {"dst.ip"},                                                             // DST_IP6
        {"src.domain"},                                                         // SRC_DOMAIN
        {"dst.domain"},                                                         // DST_DOMAIN
        {"process.name"},                                                       // COMM
        {"process.exe"},                                                        // EXE
        {"cgroup.path", "container.id", "container.name", "container.runtime"}, // CGROUP
        {"iface"},                                                              // IFACE
    };
    return kSlots[slot];
}

// Big-endian bytes of the low `bits` bits of `v`, left-aligned in 16 bytes.
std::array<uint8_t, 16> key_bytes(u128 v, unsigned bits) {
    std::array<uint8_t, 16> out{};
    const unsigned n = bits / 8;
    for (unsigned i = 0; i < n; ++i)
        out[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
    return out;
}

std::string lpm_key(pl_rule_field slot, unsigned prefix_bits, std::array<uint8_t, 16> data) {
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned keep = prefix_bits > 8 * i ? std::min(8u, prefix_bits - 8 * i) : 0;
        data[i] &= static_cast<uint8_t>(keep == 8 ? 0xff : (0xff00 >> keep) & 0xff);
    }
    pl_rule_range_key k{};
    k.prefixlen = 32 + prefix_bits;
    k.field = slot;
    std::memcpy(k.data, data.data(), 16);
    return bytes_of(k);
}

u128 span_of(unsigned k) { // 2^k - 1, for k up to 128
    return k >= 128 ? ~u128(0) : (u128(1) << k) - 1;
}

} // namespace

pl_rule_field kernel_slot(const FieldDef &f, bool ipv6) {
    const std::string n = f.name;
    if (n == "src.ip") return ipv6 ? PL_RF_SRC_IP6 : PL_RF_SRC_IP4;
    if (n == "dst.ip") return ipv6 ? PL_RF_DST_IP6 : PL_RF_DST_IP4;
    for (int s = 0; s < PL_RF_COUNT; ++s)
        for (const char *name : slot_fields(static_cast<pl_rule_field>(s)))
            if (n == name) return static_cast<pl_rule_field>(s);
    return PL_RF_COUNT;
}

const char *kernel_slot_name(pl_rule_field slot) {
    static const char *const kNames[PL_RF_COUNT] = {
        "class",      "uid",      "user name", "gid",      "group name", "src port",
        "dst port",   "src ipv4", "dst ipv4",  "src ipv6", "dst ipv6",   "src domain",
        "dst domain", "comm",     "exe",       "cgroup",   "iface"};
    return slot < PL_RF_COUNT ? kNames[slot] : "?";
}

uint32_t KernelTables::intern(const Bitmap &b) {
    std::vector<uint64_t> w(header_.words, 0);
    std::copy(b.w.begin(), b.w.begin() + std::min(b.w.size(), w.size()), w.begin());
    std::string k(reinterpret_cast<const char *>(w.data()), w.size() * 8);
    auto it = bitmap_ids_.find(k);
    if (it != bitmap_ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(bitmaps_.size());
    bitmaps_.push_back(std::move(w));
    bitmap_ids_.emplace(std::move(k), id);
    return id;
}

pl_rule_ref KernelTables::ref_for(const std::vector<std::pair<const FieldDef *, Attr>> &values) {
    const size_t nterms = header_.terms;
    Bitmap match(nterms, true), inexact(nterms, false);
    FlowAttrs fa;
    for (const auto &[f, a] : values)
        fa[*f] = a;
    for (const auto &[f, a] : values)
        for (const auto &[t, p] : literals_by_field_[FlowAttrs::index_of(*f)]) {
            const Truth r = eval_predicate(*p, fa);
            if (r == Truth::False) match.clear(t);
            if (r == Truth::Unknown) inexact.set(t);
        }
    return {intern(match), intern(inexact)};
}

void KernelTables::add_ranges(const FieldIndex &ix, int family, pl_rule_field slot) {
    const int s = family == 10 ? 1 : 0;
    const unsigned bits = ix.field->type == FieldType::Port     ? 16
                          : ix.field->type == FieldType::Number ? 32
                          : family == 10                        ? 128
                                                                : 32;
    const auto &starts = ix.starts[s];
    std::vector<uint32_t> ids;
    ids.reserve(starts.size());
    for (const Bitmap &b : ix.bits[s])
        ids.push_back(intern(b));
    size_t i = 0;
    while (i < starts.size()) {
        // Adjacent intervals with the same bitmap are one range.
        const uint32_t id = ids[i];
        size_t j = i + 1;
        while (j < starts.size() && ids[j] == id)
            ++j;
        u128 lo = starts[i];
        const u128 hi = j < starts.size() ? starts[j] - 1 : span_of(bits);
        // Cut [lo, hi] into aligned power-of-two blocks: LPM prefixes.
        for (;;) {
            unsigned k = 0;
            while (k < bits && (lo & span_of(k + 1)) == 0 && span_of(k + 1) <= hi - lo)
                ++k;
            RangeEntry e{};
            e.key.prefixlen = 32 + (bits - k);
            e.key.field = slot;
            const auto data = key_bytes(lo, bits);
            std::memcpy(e.key.data, data.data(), 16);
            e.ref = {id, PL_RULE_BM_EMPTY};
            lpm_[lpm_key(slot, bits - k, data)] = e.ref;
            ranges_.push_back(e);
            const u128 end = lo + span_of(k);
            if (end >= hi) break;
            lo = end + 1;
        }
        i = j;
    }
}

std::optional<KernelTables> KernelTables::build(std::shared_ptr<const CompiledRules> rules,
                                                uint32_t generation, std::string &error) {
    const auto &cterms = rules->terms();
    if (cterms.size() > PL_RULE_MAX_TERMS) {
        error = "the rule set has " + std::to_string(cterms.size()) +
                " conditions in normal form; the kernel tables hold " +
                std::to_string(PL_RULE_MAX_TERMS);
        return std::nullopt;
    }
    KernelTables k;
    k.rules_ = rules;
    const RuleSet &set = rules->set();
    auto &h = k.header_;
    h.generation = generation;
    h.terms = static_cast<uint32_t>(cterms.size());
    h.words = std::max<uint32_t>(1, (h.terms + 63) / 64);
    h.rules = static_cast<uint32_t>(set.rules.size());

    // Ids 0 and 1 are fixed (with no terms both are all zero: do not merge them).
    k.bitmaps_.push_back(std::vector<uint64_t>(h.words, 0));
    k.bitmap_ids_.emplace(std::string(h.words * 8, '\0'), PL_RULE_BM_EMPTY);
    Bitmap full(h.terms, true);
    full.w.resize(h.words, 0);
    k.bitmaps_.push_back(full.w);
    k.bitmap_ids_.emplace(std::string(reinterpret_cast<const char *>(full.w.data()), h.words * 8),
                          PL_RULE_BM_FULL);

    // Terms, their exactness, and the kernel-tier literals of each field.
    k.literals_by_field_.resize(field_catalogue().size());
    Bitmap exact(h.terms, false);
    for (size_t t = 0; t < cterms.size(); ++t) {
        const Term &term = cterms[t];
        const RulePlan &plan = rules->plans()[term.rule];
        k.terms_.push_back({static_cast<uint32_t>(term.rule),
                            static_cast<uint32_t>(plan.first_term),
                            static_cast<uint32_t>(plan.terms), 0});
        if (term.whole) continue; // too large for normal form: undecidable from the tables
        bool all_kernel = true;
        for (const auto &p : term.literals) {
            if (p->tier() != Tier::Kernel) {
                all_kernel = false;
                continue; // unknown in the kernel: rules nothing out
            }
            k.literals_by_field_[FlowAttrs::index_of(*p->field)].push_back({t, p.get()});
            const pl_rule_field slot = kernel_slot(*p->field);
            h.used_fields |= 1u << slot;
            if (slot == PL_RF_SRC_IP4) h.used_fields |= 1u << PL_RF_SRC_IP6;
            if (slot == PL_RF_DST_IP4) h.used_fields |= 1u << PL_RF_DST_IP6;
        }
        if (all_kernel) exact.set(t);
    }
    h.exact_bm = k.intern(exact);

    for (size_t r = 0; r < set.rules.size(); ++r)
        k.actions_.push_back(kernel_action(
            set.rules[r].action, set.rules[r].audit || set.audit_mode, static_cast<uint32_t>(r)));
    h.default_egress = kernel_action(set.default_egress, set.audit_mode, UINT32_MAX);
    h.default_ingress = kernel_action(set.default_ingress, set.audit_mode, UINT32_MAX);

    // A field a hook does not know rules nothing out and makes its terms inexact.
    for (int s = 0; s < PL_RF_COUNT; ++s) {
        std::vector<std::pair<const FieldDef *, Attr>> unknown;
        for (const char *name : slot_fields(static_cast<pl_rule_field>(s)))
            unknown.push_back({&field(name), Attr{}});
        h.unknown[s] = k.ref_for(unknown);
        h.missing[s] = h.unknown[s];
    }
    // Keys not in a name table: for ids, names and executables, a value no rule names; for
    // addresses, no domain known; cgroups and interfaces not resolved yet stay unknown.
    h.missing[PL_RF_USER_NAME] = k.ref_text("user.name", kUnnamed);
    h.missing[PL_RF_GROUP_NAME] = k.ref_text("group.name", kUnnamed);
    h.missing[PL_RF_COMM] = k.ref_text("process.name", kUnnamed);
    h.missing[PL_RF_EXE] = k.ref_text("process.exe", kUnnamed);
    h.missing[PL_RF_SRC_DOMAIN] = k.ref_text("src.domain", std::nullopt);
    h.missing[PL_RF_DST_DOMAIN] = k.ref_text("dst.domain", std::nullopt);

    // Class table: every combination of direction, transport and family.
    for (int c = 0; c < PL_RULE_CLASSES; ++c) {
        Attr dir, proto, fam;
        dir.state = proto.state = fam.state = AttrState::Known;
        dir.str = (c & 4) ? "ingress" : "egress";
        proto.str = (c & 2) ? "udp" : "tcp";
        fam.str = (c & 1) ? "ipv6" : "ipv4";
        k.classes_[c] = k.ref_for(
            {{&field("direction"), dir}, {&field("l4.proto"), proto}, {&field("ip.family"), fam}});
    }

    // Range tables, from the compiler's elementary intervals.
    for (const FieldIndex &ix : rules->indexes()) {
        if (ix.kind != FieldIndex::Kind::Ranges || ix.field->tier != Tier::Kernel) continue;
        const bool addr = ix.field->type == FieldType::Address;
        k.add_ranges(ix, 2, kernel_slot(*ix.field, false));
        if (addr) k.add_ranges(ix, 10, kernel_slot(*ix.field, true));
    }

    // Symbolic sets: the names rules use on fields only policerd can resolve to keys. Process
    // names need no resolving: they are the keys.
    std::set<std::string> comms;
    for (int s : {PL_RF_USER_NAME, PL_RF_GROUP_NAME, PL_RF_COMM, PL_RF_EXE, PL_RF_CGROUP,
                  PL_RF_SRC_DOMAIN, PL_RF_DST_DOMAIN, PL_RF_IFACE})
        for (const char *name : slot_fields(static_cast<pl_rule_field>(s))) {
            const FieldDef &f = field(name);
            std::set<std::string> values, patterns;
            for (const auto &[t, p] : k.literals_by_field_[FlowAttrs::index_of(f)])
                for (const Value &v : p->values)
                    (p->is_glob() ? patterns : values).insert(v.str);
            if (values.empty() && patterns.empty()) continue;
            if (s == PL_RF_COMM) {
                comms = values;
                continue;
            }
            k.symbolic_.push_back({static_cast<pl_rule_field>(s), &f,
                                   std::vector<std::string>(values.begin(), values.end()),
                                   std::vector<std::string>(patterns.begin(), patterns.end())});
        }
    for (const auto &c : comms) {
        if (c.size() >= PL_COMM_LEN) continue; // no comm is that long: never equal
        k.put_name({key_comm(c.c_str()), k.ref_text("process.name", c)});
    }
    return k;
}

pl_rule_ref KernelTables::ref_text(const char *field_name, const std::optional<std::string> &v) {
    return ref_for({{&field(field_name), text_attr(v)}});
}

pl_rule_ref KernelTables::ref_user_name(const std::optional<std::string> &name) {
    return ref_text("user.name", name);
}

pl_rule_ref KernelTables::ref_group_name(const std::optional<std::string> &name) {
    return ref_text("group.name", name);
}

pl_rule_ref KernelTables::ref_exe(const std::string &path) {
    return ref_text("process.exe", path);
}

pl_rule_ref KernelTables::ref_domain(pl_rule_field slot, const std::optional<std::string> &name) {
    return ref_text(slot == PL_RF_SRC_DOMAIN ? "src.domain" : "dst.domain", name);
}

pl_rule_ref KernelTables::ref_iface(const std::string &name) {
    return ref_text("iface", name);
}

pl_rule_ref KernelTables::ref_cgroup(const CgroupFacts &c) {
    return ref_for({{&field("cgroup.path"), text_attr(c.path)},
                    {&field("container.id"), c.container_id},
                    {&field("container.name"), c.container_name},
                    {&field("container.runtime"), c.container_runtime}});
}

bool KernelTables::holds(const NameEntry &e) const {
    auto it = name_index_.find(bytes_of(e.key));
    if (it == name_index_.end()) return false;
    const pl_rule_ref &r = names_[it->second].ref;
    return std::memcmp(&r, &e.ref, sizeof(r)) == 0;
}

void KernelTables::put_name(const NameEntry &e) {
    auto k = bytes_of(e.key);
    auto it = name_index_.find(k);
    if (it != name_index_.end()) {
        names_[it->second].ref = e.ref;
        return;
    }
    name_index_.emplace(std::move(k), names_.size());
    names_.push_back(e);
}

pl_rule_name_key KernelTables::key_id(pl_rule_field slot, uint32_t id) {
    pl_rule_name_key k{};
    k.field = slot;
    k.id = id;
    return k;
}

pl_rule_name_key KernelTables::key_exe(uint64_t dev, uint64_t ino) {
    pl_rule_name_key k{};
    k.field = PL_RF_EXE;
    k.exe.dev = dev;
    k.exe.ino = ino;
    return k;
}

pl_rule_name_key KernelTables::key_cgroup(uint64_t cgroup_id) {
    pl_rule_name_key k{};
    k.field = PL_RF_CGROUP;
    k.cgroup_id = cgroup_id;
    return k;
}

pl_rule_name_key KernelTables::key_comm(const char *comm) {
    pl_rule_name_key k{};
    k.field = PL_RF_COMM;
    std::strncpy(k.comm, comm, PL_COMM_LEN - 1);
    return k;
}

pl_rule_name_key KernelTables::key_domain(pl_rule_field slot, bool ipv6, const uint8_t *addr) {
    pl_rule_name_key k{};
    k.field = slot;
    k.family = ipv6 ? PL_AF_INET6 : PL_AF_INET;
    std::memcpy(k.addr, addr, ipv6 ? 16 : 4);
    return k;
}

pl_rule_ref KernelTables::ref_lpm(pl_rule_field slot, const uint8_t *data, unsigned bits) const {
    std::array<uint8_t, 16> d{};
    std::memcpy(d.data(), data, bits / 8);
    for (int len = static_cast<int>(bits); len >= 0; --len) {
        auto it = lpm_.find(lpm_key(slot, static_cast<unsigned>(len), d));
        if (it != lpm_.end()) return it->second;
    }
    return header_.unknown[slot]; // no table for the field (it is not in used_fields)
}

pl_rule_ref KernelTables::ref_name(pl_rule_field slot, const pl_rule_name_key &k) const {
    auto it = name_index_.find(bytes_of(k));
    return it == name_index_.end() ? header_.missing[slot] : names_[it->second].ref;
}

KernelDecision KernelTables::decide(const KernelFacts &f) const {
    const uint32_t words = header_.words;
    std::vector<uint64_t> cand(bitmaps_[PL_RULE_BM_FULL]), inexact(words, 0);
    auto be = [](uint64_t v, unsigned bytes) {
        std::array<uint8_t, 16> d{};
        for (unsigned i = 0; i < bytes; ++i)
            d[i] = static_cast<uint8_t>(v >> (8 * (bytes - 1 - i)));
        return d;
    };
    for (int s = 0; s < PL_RF_COUNT; ++s) {
        if (!(header_.used_fields & (1u << s))) continue;
        const auto slot = static_cast<pl_rule_field>(s);
        pl_rule_ref ref{};
        switch (slot) {
        case PL_RF_CLASS: ref = classes_[PL_RULE_CLASS(f.ingress, f.udp, f.ipv6)]; break;
        case PL_RF_USER_ID: ref = ref_lpm(slot, be(f.uid, 4).data(), 32); break;
        case PL_RF_GROUP_ID: ref = ref_lpm(slot, be(f.gid, 4).data(), 32); break;
        case PL_RF_USER_NAME: ref = ref_name(slot, key_id(slot, f.uid)); break;
        case PL_RF_GROUP_NAME: ref = ref_name(slot, key_id(slot, f.gid)); break;
        case PL_RF_SRC_PORT:
            ref = f.src_known ? ref_lpm(slot, be(f.sport, 2).data(), 16) : header_.unknown[slot];
            break;
        case PL_RF_DST_PORT: ref = ref_lpm(slot, be(f.dport, 2).data(), 16); break;
        case PL_RF_SRC_IP4:
        case PL_RF_DST_IP4:
        case PL_RF_SRC_IP6:
        case PL_RF_DST_IP6: {
            const bool v6slot = slot == PL_RF_SRC_IP6 || slot == PL_RF_DST_IP6;
            if (v6slot != f.ipv6) continue; // the other family's table
            const bool src = slot == PL_RF_SRC_IP4 || slot == PL_RF_SRC_IP6;
            if (src && !f.src_known) {
                ref = header_.unknown[slot];
                break;
            }
            ref = ref_lpm(slot, (src ? f.saddr : f.daddr).data(), f.ipv6 ? 128 : 32);
            break;
        }
        case PL_RF_SRC_DOMAIN:
            ref = f.src_known ? ref_name(slot, key_domain(slot, f.ipv6, f.saddr.data()))
                              : header_.unknown[slot];
            break;
        case PL_RF_DST_DOMAIN:
            ref = ref_name(slot, key_domain(slot, f.ipv6, f.daddr.data()));
            break;
        case PL_RF_COMM: ref = ref_name(slot, key_comm(f.comm)); break;
        case PL_RF_EXE:
            ref =
                f.exe_known ? ref_name(slot, key_exe(f.exe_dev, f.exe_ino)) : header_.unknown[slot];
            break;
        case PL_RF_CGROUP: ref = ref_name(slot, key_cgroup(f.cgroup_id)); break;
        case PL_RF_IFACE:
            ref = f.iface_known ? ref_name(slot, key_id(slot, f.ifindex)) : header_.unknown[slot];
            break;
        case PL_RF_COUNT: break;
        }
        const auto &m = bitmaps_[ref.match];
        const auto &x = bitmaps_[ref.inexact];
        for (uint32_t w = 0; w < words; ++w) {
            cand[w] &= m[w];
            inexact[w] |= x[w];
        }
    }

    KernelDecision d;
    const auto &exact = bitmaps_[header_.exact_bm];
    for (uint32_t w = 0; w < words; ++w) {
        if (!cand[w]) continue;
        const uint32_t first = w * 64 + static_cast<uint32_t>(__builtin_ctzll(cand[w]));
        const pl_rule_term &t = terms_[first];
        d.rule = t.rule;
        // The rule holds if one of its candidate terms is exact; else it waits for user space.
        for (uint32_t b = first; b < t.first_term + t.terms; ++b)
            if ((cand[b / 64] >> (b % 64)) & 1 && (exact[b / 64] >> (b % 64)) & 1 &&
                !((inexact[b / 64] >> (b % 64)) & 1)) {
                d.kind = KernelDecision::Kind::Rule;
                d.action = actions_[t.rule];
                return d;
            }
        d.kind = KernelDecision::Kind::Defer;
        return d;
    }
    d.kind = KernelDecision::Kind::Default;
    d.action = f.ingress ? header_.default_ingress : header_.default_egress;
    return d;
}

} // namespace policer::rules
