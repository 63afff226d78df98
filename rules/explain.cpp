// explain.cpp - see explain.h.
#include "rules/explain.h"

#include <arpa/inet.h>

namespace policer::rules {
namespace {

void collect(const Cond &c, const FlowAttrs &f, std::vector<PredicateTrace> &out) {
    if (c.kind == Cond::Kind::Pred) {
        PredicateTrace t;
        t.text = c.pred->text;
        t.loc = c.pred->loc;
        t.truth = eval_predicate(*c.pred, f);
        t.field = c.pred->field->name;
        t.value = attr_text(*c.pred->field, f[*c.pred->field]);
        out.push_back(std::move(t));
        return;
    }
    for (const auto &k : c.kids)
        collect(*k, f, out);
}

std::string decision_text(const RuleSet &set, const Decision &d) {
    switch (d.kind) {
    case Decision::Kind::Rule: {
        const Rule &r = set.rules[d.rule];
        return action_text(d.action) + ", by rule '" + r.name + "' (" + r.loc.str() + ")" +
               (d.audit ? " - audit: reported, not enforced" : "");
    }
    case Decision::Kind::Default:
        return action_text(d.action) + ", by default (no rule matched)" +
               (d.audit ? " - audit: reported, not enforced" : "");
    case Decision::Kind::Pending:
        return "pending: rule '" + set.rules[d.rule].name +
               "' needs facts not known yet (unknown fields below); the decision waits";
    }
    return "";
}

const char *kind_name(Decision::Kind k) {
    switch (k) {
    case Decision::Kind::Rule: return "rule";
    case Decision::Kind::Default: return "default";
    case Decision::Kind::Pending: return "pending";
    }
    return "?";
}

} // namespace

std::string attr_text(const FieldDef &f, const Attr &a) {
    if (a.state == AttrState::Unknown) return "unknown";
    if (a.state == AttrState::Absent) return "absent";
    switch (f.type) {
    case FieldType::String:
    case FieldType::Enum: return a.str;
    case FieldType::Number:
    case FieldType::Port: return std::to_string(a.num);
    case FieldType::Address: {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(a.family == 2 ? AF_INET : AF_INET6, a.addr.data(), buf, sizeof(buf));
        return buf;
    }
    case FieldType::StringSet: {
        std::string s = "[";
        for (size_t i = 0; i < a.set.size(); ++i)
            s += (i ? ", " : "") + a.set[i];
        return s + "]";
    }
    }
    return "";
}

Explanation explain(const RuleSet &set, const FlowAttrs &flow, bool all) {
    Explanation e;
    e.decision = decide_reference(set, flow);
    const size_t last =
        e.decision.kind == Decision::Kind::Default || all ? set.rules.size() : e.decision.rule + 1;
    for (size_t i = 0; i < last; ++i) {
        RuleTrace t;
        t.rule = i;
        t.truth = eval_cond(*set.rules[i].when, flow);
        collect(*set.rules[i].when, flow, t.predicates);
        e.rules.push_back(std::move(t));
    }
    return e;
}

std::string render_text(const RuleSet &set, const Explanation &e, const CompiledRules *plan) {
    std::string out = "verdict: " + decision_text(set, e.decision) + "\n";
    for (const RuleTrace &t : e.rules) {
        const Rule &r = set.rules[t.rule];
        out += "\nrule '" + r.name + "' (priority " + std::to_string(r.priority) + ", " +
               r.loc.str() + "): " + truth_name(t.truth);
        if (t.truth == Truth::True) out += " -> " + action_text(r.action);
        if (plan) {
            const RulePlan &p = plan->plans()[t.rule];
            out += std::string("  [enforced in ") + tier_name(p.enforced_at) + "]";
        }
        out += "\n";
        size_t width = 0;
        for (const auto &p : t.predicates)
            width = std::max(width, p.text.size());
        for (const auto &p : t.predicates) {
            out += "    " + p.text + std::string(width - p.text.size() + 2, ' ') +
                   truth_name(p.truth) +
                   std::string(8 - std::string(truth_name(p.truth)).size(), ' ') + "(" + p.field +
                   " = " + p.value + ")\n";
        }
    }
    return out;
}

nlohmann::ordered_json render_json(const RuleSet &set, const Explanation &e,
                                   const CompiledRules *plan) {
    nlohmann::ordered_json j;
    j["verdict"]["kind"] = kind_name(e.decision.kind);
    if (e.decision.kind != Decision::Kind::Pending) {
        j["verdict"]["action"] = action_name(e.decision.action.kind);
        if (e.decision.action.kind == ActionKind::Limit)
            j["verdict"]["limit"] = action_text(e.decision.action);
        j["verdict"]["audit"] = e.decision.audit;
    }
    if (e.decision.rule != SIZE_MAX) {
        const Rule &r = set.rules[e.decision.rule];
        j["verdict"]["rule"] = r.name;
        j["verdict"]["location"] = r.loc.str();
    }
    nlohmann::ordered_json rules = nlohmann::ordered_json::array();
    for (const RuleTrace &t : e.rules) {
        const Rule &r = set.rules[t.rule];
        nlohmann::ordered_json rj;
        rj["rule"] = r.name;
        rj["priority"] = r.priority;
        rj["location"] = r.loc.str();
        rj["result"] = truth_name(t.truth);
        if (plan) rj["enforced_at"] = tier_name(plan->plans()[t.rule].enforced_at);
        nlohmann::ordered_json preds = nlohmann::ordered_json::array();
        for (const auto &p : t.predicates)
            preds.push_back({{"predicate", p.text},
                             {"location", p.loc.str()},
                             {"result", truth_name(p.truth)},
                             {"field", p.field},
                             {"value", p.value}});
        rj["predicates"] = preds;
        rules.push_back(rj);
    }
    j["rules"] = rules;
    return j;
}

} // namespace policer::rules
