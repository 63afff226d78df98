// evaluate.cpp - see evaluate.h.
#include "rules/evaluate.h"

namespace policer::rules {
namespace {

// Whether one known attribute value is matched by one rule value (the positive sense).
bool value_matches(const Predicate &p, const Value &v, const Attr &a) {
    switch (p.field->type) {
    case FieldType::String: return p.is_glob() ? glob_match(v.str, a.str) : v.str == a.str;
    case FieldType::Enum: return v.str == a.str;
    case FieldType::Number:
    case FieldType::Port: return a.num >= v.lo && a.num <= v.hi;
    case FieldType::Address: return v.ip.contains(a.family, a.addr.data());
    case FieldType::StringSet:
        for (const auto &s : a.set)
            if (s == v.str) return true;
        return false;
    }
    return false;
}

} // namespace

Truth truth_not(Truth t) {
    return t == Truth::True ? Truth::False : t == Truth::False ? Truth::True : Truth::Unknown;
}

const char *truth_name(Truth t) {
    return t == Truth::True ? "true" : t == Truth::False ? "false" : "unknown";
}

Truth eval_predicate(const Predicate &p, const FlowAttrs &f, Tier known_up_to) {
    const Attr &a = f[*p.field];
    if (a.state == AttrState::Unknown || p.tier() > known_up_to) return Truth::Unknown;
    bool any = false;
    if (a.state == AttrState::Known)
        for (const Value &v : p.values)
            if (value_matches(p, v, a)) {
                any = true;
                break;
            }
    // An absent value matches no value: positive operators are false, negated ones true.
    return any != p.negated() ? Truth::True : Truth::False;
}

Truth eval_cond(const Cond &c, const FlowAttrs &f, Tier known_up_to) {
    switch (c.kind) {
    case Cond::Kind::Pred: return eval_predicate(*c.pred, f, known_up_to);
    case Cond::Kind::Not: return truth_not(eval_cond(*c.kids[0], f, known_up_to));
    case Cond::Kind::And: {
        Truth r = Truth::True;
        for (const auto &k : c.kids) {
            Truth t = eval_cond(*k, f, known_up_to);
            if (t == Truth::False) return Truth::False;
            if (t == Truth::Unknown) r = Truth::Unknown;
        }
        return r;
    }
    case Cond::Kind::Or: {
        Truth r = Truth::False;
        for (const auto &k : c.kids) {
            Truth t = eval_cond(*k, f, known_up_to);
            if (t == Truth::True) return Truth::True;
            if (t == Truth::Unknown) r = Truth::Unknown;
        }
        return r;
    }
    }
    return Truth::Unknown;
}

const Action &default_for(const RuleSet &set, const FlowAttrs &f) {
    const Attr &dir = f[*find_field("direction")];
    return dir.state == AttrState::Known && dir.str == "ingress" ? set.default_ingress
                                                                 : set.default_egress;
}

Decision decide_reference(const RuleSet &set, const FlowAttrs &f, Tier known_up_to) {
    Decision d;
    for (size_t i = 0; i < set.rules.size(); ++i) {
        const Rule &r = set.rules[i];
        Truth t = eval_cond(*r.when, f, known_up_to);
        if (t == Truth::False) continue;
        d.rule = i;
        if (t == Truth::Unknown) {
            d.kind = Decision::Kind::Pending;
            return d;
        }
        d.kind = Decision::Kind::Rule;
        d.action = r.action;
        d.audit = r.audit || set.audit_mode;
        return d;
    }
    d.kind = Decision::Kind::Default;
    d.action = default_for(set, f);
    d.audit = set.audit_mode;
    return d;
}

} // namespace policer::rules
