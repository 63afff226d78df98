// rule_set.h - rule files, checked: every name resolved (fields, lists, macros), every value
// typed by its field, every rule in decision order. A rule set with any error does not exist:
// loading returns the diagnostics instead, so a broken file can never change what is enforced.
#pragma once

#include "rules/ast.h"
#include "rules/field_catalogue.h"
#include "rules/value.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace policer::rules {

struct Predicate {
    const FieldDef *field = nullptr;
    Op op = Op::Eq;
    std::vector<Value> values; // typed; glob ops hold patterns
    SourceLoc loc;
    std::string text; // as written, for explain

    bool is_glob() const { return op == Op::Glob || op == Op::NotGlob; }
    bool negated() const { return op == Op::Ne || op == Op::NotIn || op == Op::NotGlob; }
    Tier tier() const { return is_glob() ? field->glob_tier : field->tier; }
};
using PredPtr = std::shared_ptr<const Predicate>;

struct Cond;
using CondPtr = std::shared_ptr<const Cond>;

// A checked condition: macros are expanded (shared, not copied), values typed.
struct Cond {
    enum class Kind { And, Or, Not, Pred };
    Kind kind = Kind::Pred;
    std::vector<CondPtr> kids;
    PredPtr pred;
};

struct Rule {
    std::string name;
    SourceLoc loc;
    int64_t priority = 0;
    bool audit = false; // this rule's verdicts are reported, not enforced
    std::string description;
    CondPtr when;
    Action action;
    size_t order = 0; // position across files (files in name order), for ties in priority
};

struct RuleSet {
    // Decision order: higher priority first, then earlier file, then earlier in the file.
    std::vector<Rule> rules;
    Action default_egress;   // allow unless a file says otherwise
    Action default_ingress;  // allow unless a file says otherwise
    bool audit_mode = false; // the whole set is reported, not enforced
    std::vector<SourcePtr> sources;
    std::vector<std::string> files;
};

struct LoadResult {
    std::optional<RuleSet> set; // absent if there is any error
    Diagnostics diags;          // errors and warnings, in file order
};

// Loads rule files and directories (every *.rules file in a directory, in name order).
// `extra`: sources that follow the files (policerd's managed rules, kept in its store).
LoadResult load_rules(const std::vector<std::string> &paths, std::vector<SourcePtr> extra = {});
// Loads rule text given directly (tests, fuzzing, explain of a snippet).
LoadResult load_rules_text(const std::string &name, const std::string &text);
// Loads already-read sources.
LoadResult load_sources(std::vector<SourcePtr> sources, Diagnostics diags = {});

} // namespace policer::rules
