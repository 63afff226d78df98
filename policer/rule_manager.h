// rule_manager.h - the managed rule set: rules, lists, macros and settings added through the
// control socket and kept, with their history, in the store. It is combined with the --rules
// files (files first) into the set policerd enforces. Every change is planned here and checked
// as a whole - the rule set after the change must load without errors - before the daemon
// installs it and records it; a refused change leaves everything as it was.
//
// Pure computation over entries: no kernel, no store, no I/O beyond reading the rule files.
#pragma once

#include "rules/compiler.h"
#include "rules/source.h"
#include "store/policy_store.h"

#include <memory>
#include <string>
#include <vector>

namespace policer::daemon {

// A planned change: the entries after it and their compiled rule set, or why it is refused.
struct RulePlan {
    bool ok = false;
    std::string error;
    std::vector<std::string> diagnostics; // formatted "file:line:col: error: ..." (may be >1 line)
    std::vector<store::PolicyEntry> entries;
    std::vector<std::string> changed; // entry names
    std::string summary;
    std::shared_ptr<const rules::CompiledRules> compiled;
};

class RuleManager {
public:
    explicit RuleManager(std::vector<std::string> files) : files_(std::move(files)) {}

    const std::vector<std::string> &files() const { return files_; }

    // The files and the enabled `entries`, loaded and compiled.
    RulePlan compile(const std::vector<store::PolicyEntry> &entries) const;

    // `text` (a rule file's contents, named `source` in diagnostics) added to `current`. An
    // item whose name is already managed is an error unless `replace`.
    RulePlan add(const std::vector<store::PolicyEntry> &current, const std::string &text,
                 const std::string &source, bool replace) const;
    // The managed set replaced by the items of `text` (export_text()'s output imports back
    // exactly, disabled items included).
    RulePlan import(const std::string &text, const std::string &source) const;
    RulePlan remove(const std::vector<store::PolicyEntry> &current,
                    const std::vector<std::string> &names) const;
    RulePlan set_enabled(const std::vector<store::PolicyEntry> &current,
                         const std::vector<std::string> &names, bool enabled) const;

    // The managed set as one rule file; disabled items have every line prefixed "#disabled ".
    static std::string export_text(const std::vector<store::PolicyEntry> &entries);

private:
    // Parses `text` into entries (an error plan if it does not parse or is empty). Items that
    // start on a line flagged in `disabled_lines` are disabled.
    RulePlan split(const std::string &text, const std::string &source,
                   const std::vector<bool> *disabled_lines = nullptr) const;
    // Checks files + `others` + the candidate text as one source; compiles into `plan`.
    void check(RulePlan &plan, const std::vector<store::PolicyEntry> &others,
               rules::SourcePtr candidate) const;

    RulePlan as_stored(RulePlan checked) const;

    std::vector<std::string> files_;
};

} // namespace policer::daemon
