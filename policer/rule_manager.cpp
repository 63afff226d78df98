// rule_manager.cpp - planning and checking changes to the managed rule set.
#include "policer/rule_manager.h"

#include "rules/parser.h"
#include "rules/rule_set.h"

#include <algorithm>
#include <set>

namespace policer::daemon {
namespace {

using store::PolicyEntry;

rules::SourcePtr source_of(const PolicyEntry &e) {
    auto f = std::make_shared<rules::SourceFile>();
    f->path = "managed:" + e.name;
    f->text = e.text;
    return f;
}

std::vector<rules::SourcePtr> sources_of(const std::vector<PolicyEntry> &entries) {
    std::vector<rules::SourcePtr> out;
    for (const auto &e : entries)
        if (e.enabled) out.push_back(source_of(e));
    return out;
}

RulePlan refuse(std::string why) {
    RulePlan p;
    p.error = std::move(why);
    return p;
}

std::string joined(const std::vector<std::string> &names) {
    std::string s;
    for (const auto &n : names)
        s += (s.empty() ? "" : ", ") + n;
    return s;
}

// Names of `names` not among `entries`.
std::vector<std::string> unknown(const std::vector<PolicyEntry> &entries,
                                 const std::vector<std::string> &names) {
    std::vector<std::string> out;
    for (const auto &n : names)
        if (std::none_of(entries.begin(), entries.end(),
                         [&](const PolicyEntry &e) { return e.name == n; }))
            out.push_back(n);
    return out;
}

} // namespace

void RuleManager::check(RulePlan &plan, const std::vector<PolicyEntry> &others,
                        rules::SourcePtr candidate) const {
    auto sources = sources_of(others);
    if (candidate) sources.push_back(std::move(candidate));
    rules::LoadResult loaded = rules::load_rules(files_, std::move(sources));
    for (const auto &d : loaded.diags)
        plan.diagnostics.push_back(d.format());
    if (!loaded.set) {
        plan.ok = false;
        plan.error = "the rule set after this change has errors; nothing was changed";
        return;
    }
    plan.compiled = rules::CompiledRules::compile(
        std::make_shared<const rules::RuleSet>(std::move(*loaded.set)));
    plan.ok = true;
}

RulePlan RuleManager::as_stored(RulePlan checked) const {
    // Compiled again from the entries as they will be stored, so that every rule's location
    // (what rule.list, explain and events name) is its managed entry, not the text it came in.
    RulePlan plan = compile(checked.entries);
    plan.changed = std::move(checked.changed);
    plan.summary = std::move(checked.summary);
    return plan;
}

RulePlan RuleManager::compile(const std::vector<PolicyEntry> &entries) const {
    RulePlan plan;
    plan.entries = entries;
    check(plan, entries, nullptr);
    return plan;
}

RulePlan RuleManager::split(const std::string &text, const std::string &source,
                            const std::vector<bool> *disabled_lines) const {
    auto src = std::make_shared<rules::SourceFile>();
    src->path = source.empty() ? "<rules>" : source;
    src->text = text;
    rules::Diagnostics diags;
    rules::ParsedFile parsed = rules::parse_file(src, diags);
    RulePlan plan;
    for (const auto &d : diags)
        plan.diagnostics.push_back(d.format());
    if (rules::has_errors(diags)) {
        plan.error = "the rule text has errors; nothing was changed";
        return plan;
    }
    if (parsed.items.empty()) {
        plan.error = "the rule text holds no rule, list, macro, default or mode";
        return plan;
    }
    std::set<std::string> seen;
    for (const auto &it : parsed.items) {
        PolicyEntry e;
        e.text = text.substr(it.begin, it.end - it.begin);
        using K = rules::ItemSpan::Kind;
        switch (it.kind) {
        case K::Rule: e.kind = "rule"; break;
        case K::List: e.kind = "list"; break;
        case K::Macro: e.kind = "macro"; break;
        case K::Default:
        case K::Mode: e.kind = "setting"; break;
        }
        if (it.kind == K::Mode)
            e.name = "mode";
        else if (it.kind == K::Default)
            e.name =
                e.text.find("ingress") != std::string::npos ? "default ingress" : "default egress";
        else
            e.name = it.name;
        if (disabled_lines) {
            const size_t line = static_cast<size_t>(
                std::count(text.begin(), text.begin() + static_cast<long>(it.begin), '\n'));
            e.enabled = !(line < disabled_lines->size() && (*disabled_lines)[line]);
        }
        if (!seen.insert(e.name).second)
            return refuse("'" + e.name + "' is defined twice in " + src->path);
        plan.entries.push_back(std::move(e));
        plan.changed.push_back(plan.entries.back().name);
    }
    plan.ok = true;
    return plan;
}

RulePlan RuleManager::add(const std::vector<PolicyEntry> &current, const std::string &text,
                          const std::string &source, bool replace) const {
    RulePlan items = split(text, source);
    if (!items.ok) return items;
    std::vector<PolicyEntry> others;
    std::vector<std::string> clashes;
    for (const auto &e : current) {
        bool replaced = std::any_of(items.entries.begin(), items.entries.end(),
                                    [&](const PolicyEntry &n) { return n.name == e.name; });
        if (!replaced)
            others.push_back(e);
        else if (!replace)
            clashes.push_back(e.name);
    }
    if (!clashes.empty())
        return refuse("already managed: " + joined(clashes) +
                      " (remove it first, or add with --replace)");
    RulePlan plan;
    plan.changed = items.changed;
    plan.summary = "add " + joined(items.changed);
    // Checked with the text as the user wrote it, so diagnostics point into their file.
    auto candidate = std::make_shared<rules::SourceFile>();
    candidate->path = source.empty() ? "<rules>" : source;
    candidate->text = text;
    check(plan, others, candidate);
    if (!plan.ok) return plan;
    // Replaced entries keep their place; new ones go last.
    plan.entries.clear();
    for (const auto &e : current) {
        auto it = std::find_if(items.entries.begin(), items.entries.end(),
                               [&](const PolicyEntry &n) { return n.name == e.name; });
        plan.entries.push_back(it == items.entries.end() ? e : *it);
    }
    for (const auto &n : items.entries)
        if (std::none_of(current.begin(), current.end(),
                         [&](const PolicyEntry &e) { return e.name == n.name; }))
            plan.entries.push_back(n);
    return as_stored(std::move(plan));
}

RulePlan RuleManager::import(const std::string &text, const std::string &source) const {
    // What export wrote for disabled items comes back disabled.
    const std::string prefix = "#disabled ";
    std::string plain;
    std::vector<bool> disabled;
    for (size_t start = 0; start < text.size();) {
        size_t nl = text.find('\n', start);
        std::string line = text.substr(start, nl == std::string::npos ? nl : nl - start + 1);
        const bool off = line.compare(0, prefix.size(), prefix) == 0;
        disabled.push_back(off);
        plain += off ? line.substr(prefix.size()) : line;
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    RulePlan items = split(plain, source, &disabled);
    if (!items.ok) return items;
    RulePlan plan;
    plan.changed = items.changed;
    plan.summary = "import " + std::to_string(items.entries.size()) + " item(s) from " +
                   (source.empty() ? "<rules>" : source);
    auto candidate = std::make_shared<rules::SourceFile>();
    candidate->path = source.empty() ? "<rules>" : source;
    candidate->text = text;
    check(plan, {}, candidate);
    if (!plan.ok) return plan;
    plan.entries = std::move(items.entries);
    return as_stored(std::move(plan));
}

RulePlan RuleManager::remove(const std::vector<PolicyEntry> &current,
                             const std::vector<std::string> &names) const {
    if (names.empty()) return refuse("name at least one managed item");
    if (auto missing = unknown(current, names); !missing.empty())
        return refuse("not managed: " + joined(missing) +
                      " (rules from --rules files are changed in their files)");
    RulePlan plan;
    for (const auto &e : current)
        if (std::find(names.begin(), names.end(), e.name) == names.end()) plan.entries.push_back(e);
    plan.changed = names;
    plan.summary = "remove " + joined(names);
    check(plan, plan.entries, nullptr);
    return plan;
}

RulePlan RuleManager::set_enabled(const std::vector<PolicyEntry> &current,
                                  const std::vector<std::string> &names, bool enabled) const {
    if (names.empty()) return refuse("name at least one managed item");
    if (auto missing = unknown(current, names); !missing.empty())
        return refuse("not managed: " + joined(missing) +
                      " (rules from --rules files are changed in their files)");
    RulePlan plan;
    plan.entries = current;
    for (auto &e : plan.entries)
        if (std::find(names.begin(), names.end(), e.name) != names.end()) e.enabled = enabled;
    plan.changed = names;
    plan.summary = std::string(enabled ? "enable " : "disable ") + joined(names);
    check(plan, plan.entries, nullptr);
    return plan;
}

std::string RuleManager::export_text(const std::vector<PolicyEntry> &entries) {
    std::string out = "# policer managed rules (policer rule export)\n";
    for (const auto &e : entries) {
        out += "\n";
        if (e.enabled) {
            out += e.text + "\n";
            continue;
        }
        size_t start = 0;
        while (start <= e.text.size()) {
            size_t nl = e.text.find('\n', start);
            out += "#disabled " + e.text.substr(start, nl == std::string::npos ? nl : nl - start) +
                   "\n";
            if (nl == std::string::npos) break;
            start = nl + 1;
        }
    }
    return out;
}

} // namespace policer::daemon
