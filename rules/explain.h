// explain.h - why a flow gets its verdict: each rule tried, in decision order, with every
// predicate's truth and the flow's value it was judged on (`policer rule explain`).
#pragma once

#include "rules/compiler.h"
#include "rules/evaluate.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace policer::rules {

struct PredicateTrace {
    std::string text; // as written
    SourceLoc loc;
    Truth truth = Truth::Unknown;
    std::string field;
    std::string value; // the flow's value, "absent" or "unknown"
};

struct RuleTrace {
    size_t rule = 0; // index into RuleSet::rules
    Truth truth = Truth::Unknown;
    std::vector<PredicateTrace> predicates; // in source order, macros expanded
};

struct Explanation {
    Decision decision;
    std::vector<RuleTrace> rules; // tried until the decision (all of them with `all`)
};

// Explains with the reference semantics (evaluate.h).
Explanation explain(const RuleSet &set, const FlowAttrs &flow, bool all);

// The flow's value of a field, as explain shows it.
std::string attr_text(const FieldDef &f, const Attr &a);

// Human-readable (plan: how each rule is enforced, may be null).
std::string render_text(const RuleSet &set, const Explanation &e, const CompiledRules *plan);
nlohmann::ordered_json render_json(const RuleSet &set, const Explanation &e,
                                   const CompiledRules *plan);

} // namespace policer::rules
