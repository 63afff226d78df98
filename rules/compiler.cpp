// compiler.cpp - see compiler.h.
#include "rules/compiler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace policer::rules {
namespace {

// DNF beyond this many terms per rule: the rule is evaluated whole instead.
constexpr size_t kMaxTermsPerRule = 64;
// Overlap proofs between rules (for deferral) beyond this many pair checks: assume overlap.
constexpr size_t kMaxOverlapChecks = 4000000;

const u128 kMax128 = ~u128(0);

Op negate(Op op) {
    switch (op) {
    case Op::Eq: return Op::Ne;
    case Op::Ne: return Op::Eq;
    case Op::In: return Op::NotIn;
    case Op::NotIn: return Op::In;
    case Op::Glob: return Op::NotGlob;
    case Op::NotGlob: return Op::Glob;
    }
    return op;
}

PredPtr negated(const PredPtr &p) {
    auto n = std::make_shared<Predicate>(*p);
    n->op = negate(p->op);
    n->text = "not (" + p->text + ")";
    return n;
}

using Conj = std::vector<PredPtr>;

// DNF of `c` (negated when `neg`), or false when it has more than kMaxTermsPerRule terms.
bool dnf(const Cond &c, bool neg, std::vector<Conj> &out) {
    switch (c.kind) {
    case Cond::Kind::Pred: out = {{neg ? negated(c.pred) : c.pred}}; return true;
    case Cond::Kind::Not: return dnf(*c.kids[0], !neg, out);
    case Cond::Kind::And:
    case Cond::Kind::Or: {
        // De Morgan: a negated AND is an OR of negations, and the other way round.
        const bool is_or = (c.kind == Cond::Kind::Or) != neg;
        std::vector<Conj> acc;
        bool first = true;
        for (const auto &k : c.kids) {
            std::vector<Conj> part;
            if (!dnf(*k, neg, part)) return false;
            if (is_or) {
                acc.insert(acc.end(), part.begin(), part.end());
            } else if (first) {
                acc = std::move(part);
            } else {
                std::vector<Conj> prod;
                if (acc.size() * part.size() > kMaxTermsPerRule) return false;
                for (const auto &a : acc)
                    for (const auto &b : part) {
                        Conj t = a;
                        t.insert(t.end(), b.begin(), b.end());
                        prod.push_back(std::move(t));
                    }
                acc = std::move(prod);
            }
            first = false;
            if (acc.size() > kMaxTermsPerRule) return false;
        }
        out = std::move(acc);
        return true;
    }
    }
    return false;
}

bool is_range_type(FieldType t) {
    return t == FieldType::Number || t == FieldType::Port || t == FieldType::Address;
}

// Whether a literal is answered by its field's table (else it is residual).
bool indexable(const Predicate &p) {
    if (p.is_glob()) return false;
    return p.field->type != FieldType::StringSet;
}

// ".suffix" when `pattern` is "*.suffix" with no other wildcard (the common host/domain form).
std::optional<std::string> dot_suffix(const std::string &pattern) {
    if (pattern.size() < 3 || pattern[0] != '*' || pattern[1] != '.') return std::nullopt;
    if (pattern.find_first_of("*?", 1) != std::string::npos) return std::nullopt;
    return pattern.substr(1);
}

// The suffixes of a positive pattern literal when every one of its values is "*.suffix".
std::optional<std::vector<std::string>> literal_suffixes(const Predicate &p) {
    if (p.op != Op::Glob || p.values.empty()) return std::nullopt;
    std::vector<std::string> out;
    for (const Value &v : p.values) {
        auto s = dot_suffix(v.str);
        if (!s) return std::nullopt;
        out.push_back(std::move(*s));
    }
    return out;
}

bool kernel_decidable(const Predicate &p) {
    return p.tier() == Tier::Kernel;
}

// ---- range sets ----

RangeSet full_range(u128 max) {
    return RangeSet{{{0, max}}};
}

RangeSet normalize(std::vector<std::pair<u128, u128>> v) {
    std::sort(v.begin(), v.end());
    RangeSet out;
    for (const auto &x : v) {
        if (!out.r.empty() &&
            (x.first <= out.r.back().second ||
             (out.r.back().second != kMax128 && x.first == out.r.back().second + 1)))
            out.r.back().second = std::max(out.r.back().second, x.second);
        else
            out.r.push_back(x);
    }
    return out;
}

RangeSet complement(const RangeSet &s, u128 max) {
    RangeSet out;
    u128 next = 0;
    bool done = false;
    for (const auto &x : s.r) {
        if (x.first > next) out.r.push_back({next, x.first - 1});
        if (x.second >= max) {
            done = true;
            break;
        }
        next = x.second + 1;
    }
    if (!done && next <= max) out.r.push_back({next, max});
    return out;
}

RangeSet intersect(const RangeSet &a, const RangeSet &b) {
    RangeSet out;
    size_t i = 0, j = 0;
    while (i < a.r.size() && j < b.r.size()) {
        u128 lo = std::max(a.r[i].first, b.r[j].first);
        u128 hi = std::min(a.r[i].second, b.r[j].second);
        if (lo <= hi) out.r.push_back({lo, hi});
        (a.r[i].second < b.r[j].second) ? ++i : ++j;
    }
    return out;
}

// The keys a literal's values cover (positive sense), for a range field of `family` (2/10).
RangeSet literal_ranges(const Predicate &p, int family) {
    std::vector<std::pair<u128, u128>> v;
    for (const Value &x : p.values) {
        if (p.field->type == FieldType::Address) {
            if (x.ip.family != family) continue;
            u128 base = address_key(x.ip.addr.data(), x.ip.family);
            const unsigned bits = family == 2 ? 32 : 128;
            u128 span = x.ip.len == 0 ? (family == 2 ? (u128(1) << 32) - 1 : kMax128)
                                      : ((u128(1) << (bits - x.ip.len)) - 1);
            if (bits - x.ip.len == 128) span = kMax128;
            v.push_back({base, base + span});
        } else {
            v.push_back({x.lo, x.hi});
        }
    }
    return normalize(std::move(v));
}

u128 range_max(const FieldDef &f, int family) {
    if (f.type == FieldType::Port) return 65535;
    if (f.type == FieldType::Number) return 4294967295u;
    return family == 2 ? (u128(1) << 32) - 1 : kMax128;
}

// What a term accepts on a range field: the intersection of its literals there.
RangeSet term_ranges(const std::vector<const Predicate *> &lits, int family) {
    const FieldDef &f = *lits.front()->field;
    const u128 max = range_max(f, family);
    RangeSet acc = full_range(max);
    for (const Predicate *p : lits) {
        RangeSet s = literal_ranges(*p, family);
        acc = intersect(acc, p->negated() ? complement(s, max) : s);
    }
    return acc;
}

// What a term accepts on a name field: a finite set, or everything but a finite set.
struct NameSet {
    bool cofinite = true;    // start: everything
    std::set<std::string> s; // finite: the values; cofinite: the exceptions
};

NameSet term_names(const std::vector<const Predicate *> &lits) {
    NameSet acc;
    for (const Predicate *p : lits) {
        std::set<std::string> vals;
        for (const Value &v : p->values)
            vals.insert(v.str);
        if (p->negated()) {
            if (acc.cofinite)
                acc.s.insert(vals.begin(), vals.end());
            else
                for (const auto &x : vals)
                    acc.s.erase(x);
        } else if (acc.cofinite) {
            std::set<std::string> keep;
            for (const auto &x : vals)
                if (!acc.s.count(x)) keep.insert(x);
            acc = NameSet{false, std::move(keep)};
        } else {
            std::set<std::string> keep;
            for (const auto &x : acc.s)
                if (vals.count(x)) keep.insert(x);
            acc.s = std::move(keep);
        }
    }
    return acc;
}

// Terms' indexed literals, grouped by field.
using ByField = std::map<size_t, std::vector<const Predicate *>>; // catalogue index -> literals

ByField group(const Term &t) {
    ByField g;
    for (const auto &p : t.literals)
        if (indexable(*p)) g[FlowAttrs::index_of(*p->field)].push_back(p.get());
    return g;
}

bool accepts_absent(const std::vector<const Predicate *> &lits) {
    for (const Predicate *p : lits)
        if (!p->negated()) return false;
    return true;
}

// Builds the range table of `field` (one family) by a sweep over interval boundaries.
void build_ranges(FieldIndex &ix, int slot, int family, size_t nbits,
                  const std::vector<std::pair<size_t, RangeSet>> &constrained,
                  const Bitmap &wildcard) {
    std::vector<u128> bounds = {0};
    const u128 max = range_max(*ix.field, family);
    for (const auto &[term, rs] : constrained)
        for (const auto &x : rs.r) {
            bounds.push_back(x.first);
            if (x.second < max) bounds.push_back(x.second + 1);
        }
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    // Events: at interval index i, term t enters (+) or leaves (-).
    std::vector<std::vector<std::pair<size_t, bool>>> events(bounds.size() + 1);
    auto index_of = [&](u128 key) {
        return static_cast<size_t>(std::upper_bound(bounds.begin(), bounds.end(), key) -
                                   bounds.begin() - 1);
    };
    for (const auto &[term, rs] : constrained)
        for (const auto &x : rs.r) {
            events[index_of(x.first)].push_back({term, true});
            if (x.second < max) events[index_of(x.second + 1)].push_back({term, false});
        }
    Bitmap cur = wildcard;
    ix.starts[slot] = bounds;
    ix.bits[slot].reserve(bounds.size());
    for (size_t i = 0; i < bounds.size(); ++i) {
        for (const auto &[term, enter] : events[i])
            enter ? cur.set(term) : cur.clear(term);
        ix.bits[slot].push_back(cur);
    }
    (void)nbits;
}

const Bitmap *lookup(const FieldIndex &ix, const Attr &a) {
    if (a.state == AttrState::Absent) return &ix.absent;
    if (ix.kind == FieldIndex::Kind::Names) {
        auto it = ix.by_name.find(a.str);
        return it == ix.by_name.end() ? &ix.other : &it->second;
    }
    int slot = 0;
    u128 key = a.num;
    if (ix.field->type == FieldType::Address) {
        slot = a.family == 10 ? 1 : 0;
        key = address_key(a.addr.data(), a.family);
    }
    const auto &starts = ix.starts[slot];
    size_t i = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), key) -
                                   starts.begin() - 1);
    return &ix.bits[slot][i];
}

Truth eval_terms_literals(const std::vector<PredPtr> &lits, const FlowAttrs &f) {
    Truth r = Truth::True;
    for (const auto &p : lits) {
        Truth t = eval_predicate(*p, f);
        if (t == Truth::False) return Truth::False;
        if (t == Truth::Unknown) r = Truth::Unknown;
    }
    return r;
}

// Whether two terms can both match one flow, judged on their indexed range/name fields.
bool may_overlap(const ByField &a, const ByField &b) {
    for (const auto &[fi, la] : a) {
        auto it = b.find(fi);
        if (it == b.end()) continue;
        const FieldDef &f = *la.front()->field;
        if (is_range_type(f.type)) {
            bool any = false;
            for (int fam :
                 f.type == FieldType::Address ? std::vector<int>{2, 10} : std::vector<int>{2}) {
                if (!intersect(term_ranges(la, fam), term_ranges(it->second, fam)).r.empty() ||
                    (accepts_absent(la) && accepts_absent(it->second)))
                    any = true;
            }
            if (!any) return false;
        } else {
            NameSet x = term_names(la), y = term_names(it->second);
            bool any;
            if (x.cofinite && y.cofinite)
                any = true;
            else if (!x.cofinite && !y.cofinite) {
                any = false;
                for (const auto &v : x.s)
                    any = any || y.s.count(v);
            } else {
                const NameSet &fin = x.cofinite ? y : x, &co = x.cofinite ? x : y;
                any = false;
                for (const auto &v : fin.s)
                    any = any || !co.s.count(v);
            }
            any = any || (accepts_absent(la) && accepts_absent(it->second));
            if (!any) return false;
        }
    }
    return true;
}

} // namespace

u128 address_key(const uint8_t *addr, uint8_t family) {
    u128 k = 0;
    const int n = family == 2 ? 4 : 16;
    for (int i = 0; i < n; ++i)
        k = (k << 8) | addr[i];
    return k;
}

Bitmap::Bitmap(size_t bits, bool ones) : w((bits + 63) / 64, ones ? ~0ull : 0) {
    if (ones && bits % 64) w.back() = (1ull << (bits % 64)) - 1;
}

void Bitmap::and_with(const Bitmap &o) {
    for (size_t i = 0; i < w.size(); ++i)
        w[i] &= o.w[i];
}

void Bitmap::or_with(const Bitmap &o) {
    for (size_t i = 0; i < w.size(); ++i)
        w[i] |= o.w[i];
}

size_t CompiledRules::bitmap_bytes() const {
    size_t n = 0;
    for (const auto &ix : indexes_) {
        for (int s = 0; s < 2; ++s)
            for (const auto &b : ix.bits[s])
                n += b.w.size() * 8;
        for (const auto &[k, b] : ix.by_name)
            n += b.w.size() * 8 + k.size();
        n += (ix.other.w.size() + ix.absent.w.size() + ix.unsuffixed.w.size()) * 8;
        for (const auto &[k, b] : ix.by_suffix)
            n += b.w.size() * 8 + k.size();
    }
    return n;
}

std::shared_ptr<const CompiledRules> CompiledRules::compile(std::shared_ptr<const RuleSet> set) {
    auto c = std::shared_ptr<CompiledRules>(new CompiledRules);
    c->set_ = set;

    // 1. Terms, rule by rule, in decision order.
    for (size_t r = 0; r < set->rules.size(); ++r) {
        const Rule &rule = set->rules[r];
        RulePlan plan;
        plan.first_term = c->terms_.size();
        std::vector<Conj> conjs;
        if (dnf(*rule.when, false, conjs)) {
            for (auto &conj : conjs) {
                Term t;
                t.rule = r;
                t.literals = std::move(conj);
                c->terms_.push_back(std::move(t));
            }
        } else {
            Term t;
            t.rule = r;
            t.whole = rule.when;
            c->terms_.push_back(std::move(t));
        }
        plan.terms = c->terms_.size() - plan.first_term;

        // The rule's own tier: its latest predicate, and why.
        std::vector<const Predicate *> preds;
        std::vector<const Cond *> stack = {rule.when.get()};
        while (!stack.empty()) {
            const Cond *x = stack.back();
            stack.pop_back();
            if (x->kind == Cond::Kind::Pred) preds.push_back(x->pred.get());
            for (const auto &k : x->kids)
                stack.push_back(k.get());
        }
        plan.tier = Tier::Kernel;
        const Predicate *latest = nullptr;
        for (const Predicate *p : preds)
            if (!latest || p->tier() > plan.tier) {
                if (p->tier() > plan.tier || !latest) {
                    plan.tier = std::max(plan.tier, p->tier());
                    latest = p;
                }
            }
        for (const Predicate *p : preds)
            if (p->tier() == plan.tier) {
                latest = p;
                break;
            }
        plan.tier_reason =
            latest ? latest->text + ": " + tier_reason(*latest->field, latest->is_glob()) : "";
        plan.enforced_at = plan.tier;
        c->plans_.push_back(std::move(plan));
    }
    const size_t nbits = c->terms_.size();

    // 2. Residual literals and kernel exactness of each term.
    std::vector<ByField> grouped(nbits);
    for (size_t i = 0; i < nbits; ++i) {
        Term &t = c->terms_[i];
        if (t.whole) continue;
        grouped[i] = group(t);
        t.kernel_exact = true;
        for (const auto &p : t.literals) {
            if (!indexable(*p)) t.residual.push_back(p);
            t.kernel_exact = t.kernel_exact && kernel_decidable(*p);
        }
    }

    // 3. One table per indexed field.
    std::vector<size_t> fields;
    for (const auto &g : grouped)
        for (const auto &[fi, lits] : g)
            fields.push_back(fi);
    for (const auto &t : c->terms_)
        for (const auto &p : t.residual)
            if (literal_suffixes(*p)) fields.push_back(FlowAttrs::index_of(*p->field));
    std::sort(fields.begin(), fields.end());
    fields.erase(std::unique(fields.begin(), fields.end()), fields.end());
    for (size_t fi : fields) {
        FieldIndex ix;
        ix.field = &field_catalogue()[fi];
        Bitmap wildcard(nbits, true); // terms with no literal on this field
        std::vector<size_t> constrained;
        for (size_t t = 0; t < nbits; ++t)
            if (grouped[t].count(fi)) {
                wildcard.clear(t);
                constrained.push_back(t);
            }
        ix.absent = wildcard;
        for (size_t t : constrained)
            if (accepts_absent(grouped[t].at(fi))) ix.absent.set(t);

        if (is_range_type(ix.field->type)) {
            ix.kind = FieldIndex::Kind::Ranges;
            const bool addr = ix.field->type == FieldType::Address;
            for (int slot = 0; slot < (addr ? 2 : 1); ++slot) {
                const int family = slot == 0 ? 2 : 10;
                std::vector<std::pair<size_t, RangeSet>> sets;
                for (size_t t : constrained)
                    sets.push_back({t, term_ranges(grouped[t].at(fi), family)});
                build_ranges(ix, slot, family, nbits, sets, wildcard);
            }
        } else {
            ix.kind = FieldIndex::Kind::Names;
            ix.other = wildcard;
            std::map<std::string, std::vector<std::pair<size_t, bool>>>
                mentions; // value -> (term, in set)
            for (size_t t : constrained) {
                NameSet ns = term_names(grouped[t].at(fi));
                if (ns.cofinite) ix.other.set(t);
                for (const auto &v : ns.s)
                    mentions[v].push_back({t, !ns.cofinite});
            }
            for (const auto &[v, terms] : mentions) {
                Bitmap b = ix.other;
                for (const auto &[t, member] : terms)
                    member ? b.set(t) : b.clear(t);
                ix.by_name.emplace(v, std::move(b));
            }
        }
        // Suffix patterns: one literal per term is enough to rule the term out.
        ix.unsuffixed = Bitmap(nbits, true);
        for (size_t t = 0; t < nbits; ++t)
            for (const auto &p : c->terms_[t].residual) {
                if (FlowAttrs::index_of(*p->field) != fi) continue;
                auto sfx = literal_suffixes(*p);
                if (!sfx) continue;
                ix.unsuffixed.clear(t);
                for (const auto &s : *sfx)
                    ix.by_suffix.try_emplace(s, nbits).first->second.set(t);
                break;
            }
        if (ix.by_suffix.empty()) ix.unsuffixed = Bitmap();
        c->indexes_.push_back(std::move(ix));
    }

    // 4. Deferral: a rule the kernel could decide waits when a rule above it that may match
    //    the same flows needs a later tier (its verdict comes first).
    size_t checks = 0;
    Tier highest_above = Tier::Kernel;
    for (size_t r = 0; r < c->plans_.size(); ++r) {
        RulePlan &p = c->plans_[r];
        if (highest_above > p.tier) {
            for (size_t h = 0; h < r && p.enforced_at < highest_above; ++h) {
                const RulePlan &hp = c->plans_[h];
                if (hp.tier <= p.enforced_at) continue;
                bool overlap = false;
                for (size_t a = hp.first_term; a < hp.first_term + hp.terms && !overlap; ++a)
                    for (size_t b = p.first_term; b < p.first_term + p.terms && !overlap; ++b) {
                        if (++checks > kMaxOverlapChecks || c->terms_[a].whole ||
                            c->terms_[b].whole) {
                            overlap = true;
                            break;
                        }
                        overlap = may_overlap(grouped[a], grouped[b]);
                    }
                if (overlap) {
                    p.enforced_at = hp.tier;
                    const Rule &hr = set->rules[h];
                    p.deferred_reason =
                        "rule '" + hr.name + "' (priority " + std::to_string(hr.priority) +
                        ") comes first and may match the same flows; on those, the verdict "
                        "waits for it in " +
                        tier_name(hp.tier) + " (" + hp.tier_reason + ")";
                }
            }
        }
        highest_above = std::max(highest_above, p.tier);
    }
    for (auto &t : c->terms_)
        t.kernel_exact = t.kernel_exact && c->plans_[t.rule].enforced_at == Tier::Kernel;
    return c;
}

Bitmap CompiledRules::candidates(const FlowAttrs &f, bool *unknown) const {
    Bitmap cand(terms_.size(), true);
    for (const auto &ix : indexes_) {
        const Attr &a = f[*ix.field];
        if (a.state == AttrState::Unknown) {
            if (unknown) *unknown = true; // any term may still match: all literals evaluated
            continue;
        }
        cand.and_with(*lookup(ix, a));
        if (!ix.by_suffix.empty()) {
            // A "*.suffix" term stays only if the value ends in its suffix: try the value's
            // suffixes that start at a dot (an absent value keeps none of those terms).
            Bitmap keep = ix.unsuffixed;
            if (a.state == AttrState::Known)
                for (size_t pos = a.str.find('.'); pos != std::string::npos;
                     pos = a.str.find('.', pos + 1)) {
                    auto it = ix.by_suffix.find(a.str.substr(pos));
                    if (it != ix.by_suffix.end()) keep.or_with(it->second);
                }
            cand.and_with(keep);
        }
    }
    return cand;
}

Decision CompiledRules::decide(const FlowAttrs &f) const {
    bool unknown = false;
    const Bitmap cand = candidates(f, &unknown);

    Decision d;
    size_t cur_rule = SIZE_MAX;
    Truth cur = Truth::False;
    auto finish = [&](size_t rule, Truth t) {
        if (t == Truth::False) return false;
        d.rule = rule;
        if (t == Truth::Unknown) {
            d.kind = Decision::Kind::Pending;
        } else {
            d.kind = Decision::Kind::Rule;
            d.action = set_->rules[rule].action;
            d.audit = set_->rules[rule].audit || set_->audit_mode;
        }
        return true;
    };
    for (size_t wi = 0; wi < cand.w.size(); ++wi) {
        for (uint64_t word = cand.w[wi]; word; word &= word - 1) {
            const size_t ti = wi * 64 + static_cast<size_t>(__builtin_ctzll(word));
            const Term &t = terms_[ti];
            if (t.rule != cur_rule) {
                if (cur_rule != SIZE_MAX && finish(cur_rule, cur)) return d;
                cur_rule = t.rule;
                cur = Truth::False;
            }
            if (cur == Truth::True) continue;
            Truth tt = t.whole ? eval_cond(*t.whole, f)
                               : eval_terms_literals(unknown ? t.literals : t.residual, f);
            if (tt == Truth::True)
                cur = Truth::True;
            else if (tt == Truth::Unknown)
                cur = Truth::Unknown;
        }
    }
    if (cur_rule != SIZE_MAX && finish(cur_rule, cur)) return d;
    d.kind = Decision::Kind::Default;
    d.action = default_for(*set_, f);
    d.audit = set_->audit_mode;
    return d;
}

} // namespace policer::rules
