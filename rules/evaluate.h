// evaluate.h - the meaning of a rule set, written as plainly as possible: predicates and
// conditions evaluated over a flow's attributes in three-valued (Kleene) logic, and rules
// tried in decision order. This is the reference the compiled engine (engine.h) must agree
// with on every flow (tests/unit/rules_engine_test.cpp checks it on random rule sets).
#pragma once

#include "rules/flow_attrs.h"
#include "rules/rule_set.h"

#include <cstddef>

namespace policer::rules {

enum class Truth : uint8_t { False, True, Unknown };
Truth truth_not(Truth t);
const char *truth_name(Truth t);

// `known_up_to` is the view of one enforcement point: a predicate decided at a later tier is
// unknown there whatever the flow's attributes hold (the kernel, at connect, cannot run a
// pattern over user names even when it has the uid). Tier::L7: everything the flow holds.
Truth eval_predicate(const Predicate &p, const FlowAttrs &f, Tier known_up_to = Tier::L7);
Truth eval_cond(const Cond &c, const FlowAttrs &f, Tier known_up_to = Tier::L7);

struct Decision {
    enum class Kind {
        Rule,    // rule `rule` matched
        Default, // no rule matched: the default for the flow's direction
        Pending, // rule `rule` cannot be decided yet (it needs fields not known yet), and no
                 // rule before it matched: the decision waits for more facts
    };
    Kind kind = Kind::Default;
    size_t rule = SIZE_MAX; // index into RuleSet::rules
    Action action;          // the verdict (Rule, Default)
    bool audit = false;     // reported, not enforced (the rule's or the set's audit mode)

    bool operator==(const Decision &o) const {
        return kind == o.kind && rule == o.rule && audit == o.audit &&
               action.kind == o.action.kind && action.rate == o.action.rate &&
               action.burst == o.action.burst && action.per == o.action.per;
    }
};

// The default that applies to a flow: by its direction (egress when not known).
const Action &default_for(const RuleSet &set, const FlowAttrs &f);

// First match in decision order, rule by rule, condition by condition.
Decision decide_reference(const RuleSet &set, const FlowAttrs &f, Tier known_up_to = Tier::L7);

} // namespace policer::rules
