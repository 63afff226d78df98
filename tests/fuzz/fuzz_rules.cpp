// fuzz_rules.cpp - libFuzzer target for the rule language: any text must give a rule set or
// diagnostics (never a crash, a hang or a set despite errors), every diagnostic must format,
// and a set that loads must compile to an engine that decides every flow exactly as the
// reference evaluation does (evaluate.h), and explain it. Whatever `policer rule check --json`
// and `rule explain --json` print (messages, names, reasons) must be valid JSON text: dumping
// it throws, and so crashes here, on anything that is not UTF-8.
//
// The input is the rule text. The flows decided are built deterministically from the input's
// hash, with values taken mostly from the rule set itself (range ends and their neighbours,
// prefixes' first and last addresses, names, words) so that rules match and miss by a hair.
#include "rules/compiler.h"
#include "rules/evaluate.h"
#include "rules/explain.h"
#include "rules/rule_set.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace policer::rules;

namespace {

// A small deterministic generator (splitmix64): the same input always decides the same flows.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
    bool chance(unsigned percent) { return next() % 100 < percent; }
};

// Values worth trying per field, gathered from the rules' predicates.
struct Pools {
    std::map<const FieldDef *, std::vector<Attr>> by_field;

    void add(const Predicate &p) {
        auto &out = by_field[p.field];
        if (out.size() > 64) return;
        const uint64_t max = p.field->type == FieldType::Port ? 65535 : 4294967295ull;
        for (const Value &v : p.values) {
            Attr a;
            a.state = AttrState::Known;
            switch (p.field->type) {
            case FieldType::String:
            case FieldType::Enum:
                a.str = v.str;
                out.push_back(a);
                if (p.is_glob()) { // a text the pattern likely matches
                    std::string t;
                    for (char c : v.str)
                        if (c != '*') t += c == '?' ? 'x' : c;
                    a.str = t;
                    out.push_back(a);
                }
                break;
            case FieldType::Number:
            case FieldType::Port:
                for (uint64_t n : {v.lo, v.hi, v.lo - 1, v.hi + 1})
                    if (n <= max) {
                        a.num = n;
                        out.push_back(a);
                    }
                break;
            case FieldType::Address: {
                a.family = v.ip.family;
                a.addr = v.ip.addr;
                out.push_back(a);
                // The prefix's last address, and the one after it.
                const unsigned bits = v.ip.family == 2 ? 32 : 128;
                for (unsigned b = v.ip.len; b < bits; ++b)
                    a.addr[b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
                out.push_back(a);
                for (int i = static_cast<int>(bits / 8) - 1; i >= 0 && ++a.addr[i] == 0; --i) {
                }
                out.push_back(a);
                break;
            }
            case FieldType::StringSet:
                a.set = {v.str};
                out.push_back(a);
                break;
            }
        }
    }

    void walk(const Cond &c, std::set<const Cond *> &seen) {
        if (!seen.insert(&c).second) return; // macros are shared: visit each node once
        if (c.kind == Cond::Kind::Pred) add(*c.pred);
        for (const auto &k : c.kids)
            walk(*k, seen);
    }
};

FlowAttrs make_flow(Rng &rng, const Pools &pools) {
    static const char *kWords[] = {"", "a", "tcp", "udp", "egress", "ingress", "ipv4", "ipv6"};
    static const char *kAddrs[] = {"10.0.0.1",
                                   "0.0.0.0",
                                   "255.255.255.255",
                                   "::",
                                   "fd00::1",
                                   "::ffff:10.0.0.1",
                                   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
    static const uint64_t kNums[] = {0, 1, 22, 443, 1000, 65535, 4294967295ull};
    FlowAttrs f;
    for (const FieldDef &fd : field_catalogue()) {
        Attr &a = f[fd];
        if (rng.chance(15)) continue; // unknown
        if (rng.chance(15)) {
            a.state = AttrState::Absent;
            continue;
        }
        auto it = pools.by_field.find(&fd);
        if (it != pools.by_field.end() && !it->second.empty() && rng.chance(80)) {
            a = it->second[rng.below(it->second.size())];
            continue;
        }
        switch (fd.type) {
        case FieldType::String:
        case FieldType::Enum: f.set_string(fd.name, kWords[rng.below(8)]); break;
        case FieldType::Number: f.set_number(fd.name, kNums[rng.below(7)]); break;
        case FieldType::Port: f.set_number(fd.name, kNums[rng.below(6)]); break;
        case FieldType::Address: f.set_address(fd.name, kAddrs[rng.below(7)]); break;
        case FieldType::StringSet: a.state = AttrState::Known; break;
        }
    }
    return f;
}

[[noreturn]] void fail(const char *what, const std::string &detail) {
    std::fprintf(stderr, "fuzz_rules: %s\n%s\n", what, detail.c_str());
    std::abort();
}

std::string decision_text(const Decision &d) {
    return std::to_string(static_cast<int>(d.kind)) + " rule " +
           (d.rule == SIZE_MAX ? std::string("-") : std::to_string(d.rule)) + " " +
           action_text(d.action) + (d.audit ? " audit" : "");
}

} // namespace

// Output produced so far (read by nobody; its external linkage keeps the work done).
size_t fuzz_rules_output_bytes = 0;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string text(reinterpret_cast<const char *>(data), size);
    LoadResult r = load_rules_text("fuzz.rules", text);

    size_t formatted = 0;
    nlohmann::json out = nlohmann::json::array();
    for (const Diagnostic &d : r.diags) {
        if (d.format().empty()) fail("a diagnostic formats to nothing", text);
        formatted += d.format().size();
        out.push_back({d.loc.line, d.loc.col, d.message, d.suggestion});
    }
    formatted += out.dump().size();
    // A set exists exactly when there is no error: a broken file never changes what is enforced.
    if (r.set.has_value() == has_errors(r.diags)) fail("rule set and errors disagree", text);
    if (!r.set) return 0;

    auto set = std::make_shared<RuleSet>(std::move(*r.set));
    auto compiled = CompiledRules::compile(set);
    if (compiled->plans().size() != set->rules.size()) fail("a rule without a plan", text);
    for (size_t i = 0; i < set->rules.size(); ++i) {
        const RulePlan &p = compiled->plans()[i];
        if (p.tier_reason.empty() || p.enforced_at < p.tier) fail("a plan without reason", text);
        const Rule &rule = set->rules[i];
        out.push_back({rule.name, rule.description, action_text(rule.action), p.tier_reason,
                       p.deferred_reason});
    }
    formatted += out.dump().size();

    Pools pools;
    std::set<const Cond *> seen;
    for (const Rule &rule : set->rules)
        pools.walk(*rule.when, seen);

    uint64_t h = 1469598103934665603ull; // FNV-1a of the input seeds the flows
    for (size_t i = 0; i < size; ++i)
        h = (h ^ data[i]) * 1099511628211ull;
    Rng rng{h};
    for (int i = 0; i < 8; ++i) {
        const FlowAttrs f = make_flow(rng, pools);
        const Decision want = decide_reference(*set, f);
        const Decision got = compiled->decide(f);
        if (!(got == want))
            fail("compiled decision differs from the reference",
                 "reference: " + decision_text(want) + "\ncompiled:  " + decision_text(got) +
                     "\nrules:\n" + text);
        if (i == 0) {
            const Explanation e = explain(*set, f, true);
            if (!(e.decision == want)) fail("explain differs from the reference", text);
            formatted += render_text(*set, e, compiled.get()).size();
            formatted += render_json(*set, e, compiled.get()).dump().size();
        }
    }
    fuzz_rules_output_bytes += formatted; // keeps the formatting from being optimised away
    return 0;
}
