// compiler.h - a rule set compiled for fast decisions and for the kernel.
//
// Every rule's condition is put in disjunctive normal form; each conjunction ("term") gets one
// bit, in decision order. For each field that can be indexed, the compiler builds a table from
// the field's value to the bitmap of terms that value does not rule out: elementary intervals
// for numbers, ports and addresses, a hash for names and words. A decision ANDs one bitmap per
// field and tries the set bits in order; only predicates no table can answer (patterns, L7
// sets) are evaluated, and only for those candidates. The cost grows with the number of
// candidate terms and with (terms / 64) word operations, not with the rules' conditions.
//
// The same bitmaps, restricted to tier-1 fields, are what the kernel evaluates at connect time
// (export in kernel_tables.h): the user-space engine and the kernel decide from one structure.
#pragma once

#include "rules/evaluate.h"
#include "rules/rule_set.h"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace policer::rules {

using u128 = unsigned __int128;

// A set of terms, one bit each, in decision order.
struct Bitmap {
    std::vector<uint64_t> w;

    explicit Bitmap(size_t bits = 0, bool ones = false);
    void set(size_t i) { w[i / 64] |= 1ull << (i % 64); }
    void clear(size_t i) { w[i / 64] &= ~(1ull << (i % 64)); }
    bool test(size_t i) const { return (w[i / 64] >> (i % 64)) & 1; }
    void and_with(const Bitmap &o);
    void or_with(const Bitmap &o);
};

// Sorted, disjoint, inclusive ranges of 128-bit keys: the values one term accepts on a field.
struct RangeSet {
    std::vector<std::pair<u128, u128>> r;
};

// One conjunction of a rule's condition.
struct Term {
    size_t rule = 0;               // index into RuleSet::rules
    std::vector<PredPtr> literals; // all of them (negations folded into the operators)
    std::vector<PredPtr> residual; // those no field table answers
    CondPtr whole;                 // set instead of literals when DNF would be too large
    bool kernel_exact = false;     // every literal is decidable from the tier-1 tables
};

// How one rule will be enforced, and why.
struct RulePlan {
    Tier tier = Tier::Kernel;        // of its own predicates
    std::string tier_reason;         // "l7.host == x: known only once nDPI has dissected ..."
    Tier enforced_at = Tier::Kernel; // at least `tier`; later if a rule above it must wait
    std::string deferred_reason;     // why enforced_at > tier, or empty
    size_t first_term = 0, terms = 0;
};

// The table of one field: value -> bitmap of terms the value does not rule out.
struct FieldIndex {
    const FieldDef *field = nullptr;
    enum class Kind { Ranges, Names } kind = Kind::Names;
    // Ranges: interval i covers [starts[i], starts[i+1]) (the last one to the key maximum).
    // Addresses have one table per family (index 0: IPv4, 1: IPv6).
    std::vector<u128> starts[2];
    std::vector<Bitmap> bits[2];
    // Names: value -> bitmap; `other` for any value not listed.
    std::unordered_map<std::string, Bitmap> by_name;
    Bitmap other;
    Bitmap absent; // when the flow has no value for the field
    // Patterns "*.suffix" (host and domain names): a term whose pattern on this field is only
    // such suffixes stays a candidate only for values ending in one of them. `unsuffixed`:
    // the other terms; by_suffix: ".suffix" -> the terms that pattern keeps.
    Bitmap unsuffixed;
    std::unordered_map<std::string, Bitmap> by_suffix;
};

class CompiledRules {
public:
    // Compiles a checked rule set. Deterministic: the same set gives the same tables.
    static std::shared_ptr<const CompiledRules> compile(std::shared_ptr<const RuleSet> set);

    // The same answer as decide_reference() on the same set and flow.
    Decision decide(const FlowAttrs &f) const;
    // decide()'s first phase: the terms no field table rules out for `f`. `unknown` is set
    // when a table's field is unknown (then every literal of a candidate must be evaluated).
    Bitmap candidates(const FlowAttrs &f, bool *unknown = nullptr) const;

    const RuleSet &set() const { return *set_; }
    const std::vector<Term> &terms() const { return terms_; }
    const std::vector<RulePlan> &plans() const { return plans_; }
    const std::vector<FieldIndex> &indexes() const { return indexes_; }
    size_t bitmap_bytes() const; // memory held by the tables

private:
    std::shared_ptr<const RuleSet> set_;
    std::vector<Term> terms_;
    std::vector<RulePlan> plans_;
    std::vector<FieldIndex> indexes_;
};

// The key of an address in the range tables (IPv4 in the low 32 bits).
u128 address_key(const uint8_t *addr, uint8_t family);

} // namespace policer::rules
