// rule_command.cpp - `policer rule check` and `policer rule explain`, and `policer fields`.
#include "cli/rule_command.h"

#include "cli/control_commands.h"
#include "cli/store_commands.h"

#include "common/result.h"

#include "rules/compiler.h"
#include "rules/explain.h"
#include "rules/field_catalogue.h"
#include "rules/field_docs.h"
#include "rules/kernel_tables.h"
#include "rules/parser.h"

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace policer::cli {
namespace {

using namespace policer::rules;
using Json = nlohmann::ordered_json;

constexpr const char *kRuleUsage = R"(usage: policer rule <command> [options]

Commands:
  check PATH...                  check rule files and rules.d directories; show how each rule
                                 is enforced (kernel, user space or L7) and why
  explain PATH... --flow FLOW    which rule decides a flow, and which predicates held or failed
  test PATH... [--since 24h]     replay the flows policerd stored through these rules: which
                                 verdicts would change (nothing enforced, nothing written)

The rule set a running policerd manages (over its control socket; --socket PATH):
  add FILE...|- [--replace]      add rules; checked as a whole, enforced at once, recorded
  rm|enable|disable NAME...      remove, enable or disable managed items
  list [--json]                  the managed items and the rules of policerd's --rules files
  show NAME                      the text of a managed item
  import --yes FILE|-            replace the whole managed set with a rule file
  export [-o FILE]               the managed set as a rule file
  history [NAME] [-v]            who changed what, when (with -v: diffs)
  rollback REVISION              restore the managed set of an earlier revision

Run `policer rule <command> --help` for options and examples. The language: docs/rules.md.
)";

constexpr const char *kCheckHelp = R"(
Loads every file given and every *.rules file in the directories given (in name order), and
reports every error with file:line:col, the line, and a suggestion where a word looks
misspelt. A set with any error is not loaded: nothing it says would be enforced.

On success prints each rule in decision order with the tier it is enforced at:
  kernel      at connect/bind/first packet, from compiled tables: not one packet passes
  user space  when policerd reports the flow, microseconds later
  L7          after nDPI has dissected the flow's first payload packets

Exit status: 0 valid (warnings allowed), 1 errors, 2 usage.

Examples:
  policer rule check /etc/policer/rules.d
  policer rule check --json new.rules | jq '.rules[] | select(.enforced_at != "kernel")'
)";

constexpr const char *kExplainHelp = R"(
FLOW is a JSON object: a policer event as policerd prints it (flow-start, flow-classified,
flow-end, with ECS field names), or a flat object of rule fields ({"user.name": "alice",
"dst.port": 22}; a field set to null is unknown). Give it inline, as @FILE, or - for stdin.
Fields the flow does not carry are absent; with --l7-pending, missing L7 fields are unknown
instead (as at connect time, before dissection), which can leave the verdict pending.

Exit status: 0 explained, 1 the rules have errors, 2 usage or a --flow that is not a flow.

Examples:
  policer rule explain rules.d --flow '{"user.name":"nobody","dst.port":22,"l4.proto":"tcp"}'
  policerd --events-stdout | head -n 5 | tail -n 1 > ev.json
  policer rule explain rules.d --flow @ev.json --all
)";

Json diag_json(const Diagnostic &d) {
    Json j;
    j["file"] = d.loc.file ? d.loc.file->path : "";
    j["line"] = d.loc.line;
    j["column"] = d.loc.col;
    j["severity"] = d.severity == Severity::Error ? "error" : "warning";
    j["message"] = d.message;
    if (!d.suggestion.empty()) j["suggestion"] = d.suggestion;
    return j;
}

void print_diags(const Diagnostics &diags) {
    for (const auto &d : diags)
        std::fputs(d.format().c_str(), stderr);
}

// What the kernel would be loaded with: table sizes and the names policerd must resolve.
Json kernel_json(const std::shared_ptr<const CompiledRules> &compiled) {
    std::string error;
    auto k = KernelTables::build(compiled, 0, error);
    Json j;
    if (!k) {
        j["error"] = error;
        return j;
    }
    j["terms"] = k->header().terms;
    j["bitmaps"] = k->bitmaps().size();
    j["bitmap_bytes"] = k->bitmap_bytes();
    j["range_prefixes"] = k->ranges().size();
    j["name_entries"] = k->names().size();
    Json fields = Json::array();
    for (int s = 0; s < PL_RF_COUNT; ++s)
        if (k->header().used_fields & (1u << s))
            fields.push_back(kernel_slot_name(static_cast<pl_rule_field>(s)));
    j["fields"] = fields;
    Json sym = Json::object();
    for (const auto &set : k->symbolic()) {
        Json v = set.values;
        for (const auto &p : set.patterns)
            v.push_back(p);
        sym[set.field->name] = v;
    }
    j["resolved_by_policerd"] = sym;
    return j;
}

std::string pad(std::string s, size_t n) {
    if (s.size() < n) s.append(n - s.size(), ' ');
    return s;
}

int check(int argc, const char *const *argv) {
    cxxopts::Options spec("policer rule check", "Check rule files; show how each rule is enforced");
    spec.custom_help("[OPTION...] PATH...");
    spec.add_options()("json", "Machine-readable result on stdout (diagnostics included)")(
        "paths", "Rule files or directories",
        cxxopts::value<std::vector<std::string>>())("h,help", "Print this help");
    spec.parse_positional({"paths"});
    std::vector<std::string> paths;
    bool json = false;
    try {
        auto r = spec.parse(argc, argv);
        if (r.count("help")) {
            std::cout << spec.help() << kCheckHelp;
            return 0;
        }
        if (!r.count("paths")) {
            std::fputs("policer rule check: no rule file or directory given (see --help)\n",
                       stderr);
            return 2;
        }
        paths = r["paths"].as<std::vector<std::string>>();
        json = r.count("json") > 0;
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer rule check: %s (see --help)\n", e.what());
        return 2;
    }

    LoadResult loaded = load_rules(paths);
    std::shared_ptr<const CompiledRules> compiled;
    if (loaded.set) compiled = CompiledRules::compile(std::make_shared<RuleSet>(*loaded.set));

    if (json) {
        Json out;
        out["ok"] = bool(loaded.set);
        Json diags = Json::array();
        for (const auto &d : loaded.diags)
            diags.push_back(diag_json(d));
        out["diagnostics"] = diags;
        if (compiled) {
            const RuleSet &set = compiled->set();
            out["files"] = set.files;
            out["mode"] = set.audit_mode ? "audit" : "enforce";
            out["defaults"] = {{"egress", action_text(set.default_egress)},
                               {"ingress", action_text(set.default_ingress)}};
            Json rules = Json::array();
            for (size_t i = 0; i < set.rules.size(); ++i) {
                const Rule &r = set.rules[i];
                const RulePlan &p = compiled->plans()[i];
                Json rj;
                rj["name"] = r.name;
                rj["location"] = r.loc.str();
                rj["priority"] = r.priority;
                rj["action"] = action_text(r.action);
                rj["audit"] = r.audit || set.audit_mode;
                rj["tier"] = tier_name(p.tier);
                rj["enforced_at"] = tier_name(p.enforced_at);
                rj["reason"] = p.tier_reason;
                if (!p.deferred_reason.empty()) rj["deferred"] = p.deferred_reason;
                if (!r.description.empty()) rj["description"] = r.description;
                rules.push_back(rj);
            }
            out["rules"] = rules;
            out["terms"] = compiled->terms().size();
            out["table_bytes"] = compiled->bitmap_bytes();
            out["kernel"] = kernel_json(compiled);
        }
        std::cout << out.dump(2) << "\n";
        return loaded.set ? 0 : 1;
    }

    print_diags(loaded.diags);
    if (!loaded.set) {
        size_t errors = 0;
        for (const auto &d : loaded.diags)
            errors += d.severity == Severity::Error;
        std::fprintf(stderr, "policer rule check: %zu error%s; nothing would be loaded\n", errors,
                     errors == 1 ? "" : "s");
        return 1;
    }
    const RuleSet &set = compiled->set();
    std::printf("%s %s %s %s %s\n", pad("RULE", 28).c_str(), pad("PRIORITY", 9).c_str(),
                pad("ACTION", 34).c_str(), pad("ENFORCED", 11).c_str(), "WHY");
    for (size_t i = 0; i < set.rules.size(); ++i) {
        const Rule &r = set.rules[i];
        const RulePlan &p = compiled->plans()[i];
        std::string action = action_text(r.action) + (r.audit || set.audit_mode ? " (audit)" : "");
        std::string why =
            p.deferred_reason.empty() ? p.tier_reason : "deferred: " + p.deferred_reason;
        std::printf("%s %s %s %s %s\n", pad(r.name, 28).c_str(),
                    pad(std::to_string(r.priority), 9).c_str(), pad(action, 34).c_str(),
                    pad(tier_name(p.enforced_at), 11).c_str(), why.c_str());
    }
    std::printf("\n%zu rule%s in %zu file%s; default egress %s, ingress %s; mode %s; %zu terms, "
                "%zu KiB of tables\n",
                set.rules.size(), set.rules.size() == 1 ? "" : "s", set.files.size(),
                set.files.size() == 1 ? "" : "s", action_text(set.default_egress).c_str(),
                action_text(set.default_ingress).c_str(), set.audit_mode ? "audit" : "enforce",
                compiled->terms().size(), compiled->bitmap_bytes() / 1024);
    Json k = kernel_json(compiled);
    if (k.contains("error")) {
        std::printf("kernel tables: not possible (%s); every rule is decided in user space\n",
                    k["error"].get<std::string>().c_str());
        return 0;
    }
    std::string fields;
    for (const auto &f : k["fields"])
        fields += (fields.empty() ? "" : ", ") + f.get<std::string>();
    std::printf("kernel tables: %zu bitmaps (%zu KiB), %zu range prefixes, %zu names; looked up: "
                "%s\n",
                k["bitmaps"].get<size_t>(), k["bitmap_bytes"].get<size_t>() / 1024,
                k["range_prefixes"].get<size_t>(), k["name_entries"].get<size_t>(),
                fields.empty() ? "none" : fields.c_str());
    for (const auto &[field, values] : k["resolved_by_policerd"].items()) {
        std::string list;
        size_t shown = 0;
        for (const auto &v : values) {
            if (++shown > 10) { // --json has them all
                list += ", ... (" + std::to_string(values.size()) + " in all)";
                break;
            }
            list += (list.empty() ? "" : ", ") + v.get<std::string>();
        }
        std::printf("  policerd resolves %s: %s\n", field.c_str(), list.c_str());
    }
    return 0;
}

// A flow given to explain: an ECS event, or a flat object of rule field names.
Result<FlowAttrs> flow_from_json(const std::string &text, bool l7_pending) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error{"--flow is not a JSON object"};
    // policerd's events nest their fields ({"process": {"pid": 1}}); rule fields are flat.
    bool nested = false;
    for (auto it = j.begin(); it != j.end(); ++it)
        nested = nested || it->is_object();
    if (nested) return attrs_from_ecs(j, l7_pending);

    FlowAttrs f;
    for (auto it = j.begin(); it != j.end(); ++it)
        if (!find_field(it.key())) {
            std::string near = closest(it.key(), field_names());
            return Error{"--flow: unknown field '" + it.key() + "'" +
                         (near.empty() ? "" : " (did you mean '" + near + "'?)")};
        }
    for (const FieldDef &fd : field_catalogue()) {
        Attr &a = f[fd];
        auto it = j.find(fd.name);
        if (it == j.end()) {
            a.state = l7_pending && fd.tier == Tier::L7 ? AttrState::Unknown : AttrState::Absent;
            continue;
        }
        if (it->is_null()) {
            a.state = AttrState::Unknown;
            continue;
        }
        a = attr_from_json(fd, *it);
        if (a.state != AttrState::Known)
            return Error{std::string("--flow: ") + fd.name + " has a value that is not a " +
                         type_name(fd.type)};
    }
    return f;
}

int explain_cmd(int argc, const char *const *argv) {
    cxxopts::Options spec("policer rule explain", "Explain the verdict a flow gets");
    spec.custom_help("[OPTION...] PATH... --flow FLOW");
    // clang-format off
    spec.add_options()
        ("flow", "The flow: JSON, @FILE or - (stdin)", cxxopts::value<std::string>())
        ("all", "Show every rule, not only those tried before the verdict")
        ("l7-pending", "Missing L7 fields are unknown (not yet dissected), not absent")
        ("json", "Machine-readable output")
        ("paths", "Rule files or directories", cxxopts::value<std::vector<std::string>>())
        ("h,help", "Print this help");
    // clang-format on
    spec.parse_positional({"paths"});
    std::vector<std::string> paths;
    std::string flow_arg;
    bool all = false, json = false, l7_pending = false;
    try {
        auto r = spec.parse(argc, argv);
        if (r.count("help")) {
            std::cout << spec.help() << kExplainHelp;
            return 0;
        }
        if (!r.count("paths") || !r.count("flow")) {
            std::fputs("policer rule explain: give rule files or directories and --flow (see "
                       "--help)\n",
                       stderr);
            return 2;
        }
        paths = r["paths"].as<std::vector<std::string>>();
        flow_arg = r["flow"].as<std::string>();
        all = r.count("all") > 0;
        json = r.count("json") > 0;
        l7_pending = r.count("l7-pending") > 0;
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer rule explain: %s (see --help)\n", e.what());
        return 2;
    }

    std::string flow_text = flow_arg;
    if (flow_arg == "-") {
        flow_text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else if (!flow_arg.empty() && flow_arg[0] == '@') {
        std::ifstream in(flow_arg.substr(1));
        if (!in) {
            std::fprintf(stderr, "policer rule explain: cannot read %s\n", flow_arg.c_str() + 1);
            return 1;
        }
        flow_text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto flow = flow_from_json(flow_text, l7_pending);
    if (!flow) {
        std::fprintf(stderr, "policer rule explain: %s\n", flow.error().message.c_str());
        return 2;
    }

    LoadResult loaded = load_rules(paths);
    print_diags(loaded.diags);
    if (!loaded.set) {
        std::fputs("policer rule explain: the rules have errors\n", stderr);
        return 1;
    }
    auto set = std::make_shared<RuleSet>(std::move(*loaded.set));
    auto compiled = CompiledRules::compile(set);
    Explanation e = explain(*set, *flow, all);
    // The compiled engine and the reference must agree; if they ever do not, say so loudly.
    if (!(compiled->decide(*flow) == e.decision))
        std::fputs("policer rule explain: internal error: the compiled engine disagrees with "
                   "the reference evaluation (please report this rule set and flow)\n",
                   stderr);
    if (json)
        std::cout << render_json(*set, e, compiled.get()).dump(2) << "\n";
    else
        std::cout << render_text(*set, e, compiled.get());
    return 0;
}

} // namespace

int rule_command(int argc, const char *const *argv) {
    if (argc < 2) {
        std::fputs(kRuleUsage, stderr);
        return 2;
    }
    const std::string sub = argv[1];
    if (sub == "-h" || sub == "--help") {
        std::fputs(kRuleUsage, stdout);
        return 0;
    }
    if (sub == "check") return check(argc - 1, argv + 1);
    if (sub == "explain") return explain_cmd(argc - 1, argv + 1);
    if (sub == "test") return rule_test_command(argc - 1, argv + 1);
    if (is_control_rule_command(sub)) return control_rule_command(argc - 1, argv + 1);
    std::string near = closest(sub, {"check", "explain", "test", "add", "rm", "enable", "disable",
                                     "list", "show", "import", "export", "history", "rollback"});
    std::fprintf(stderr, "policer rule: unknown command '%s'%s\n\n%s", sub.c_str(),
                 near.empty() ? "" : (" (did you mean '" + near + "'?)").c_str(), kRuleUsage);
    return 2;
}

int fields_command(int argc, const char *const *argv) {
    cxxopts::Options spec("policer fields", "The fields rules can test");
    spec.add_options()("json", "Machine-readable")("markdown", "A Markdown table (docs/rules.md)")(
        "h,help", "Print this help");
    bool json = false, md = false;
    try {
        auto r = spec.parse(argc, argv);
        if (r.count("help")) {
            std::cout << spec.help();
            return 0;
        }
        if (!r.unmatched().empty()) {
            std::fprintf(stderr, "policer fields: unexpected argument '%s'\n",
                         r.unmatched()[0].c_str());
            return 2;
        }
        json = r.count("json") > 0;
        md = r.count("markdown") > 0;
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer fields: %s\n", e.what());
        return 2;
    }
    if (json) {
        Json out = Json::array();
        for (const FieldDef &f : field_catalogue()) {
            Json j;
            j["name"] = f.name;
            j["type"] = type_name(f.type);
            j["tier"] = tier_name(f.tier);
            j["glob_tier"] = tier_name(f.glob_tier);
            j["operators"] = operators_text(f.type);
            if (!f.values.empty()) j["values"] = f.values;
            j["event_field"] = f.ecs;
            j["doc"] = f.doc;
            j["tier_reason"] = f.tier_reason;
            out.push_back(j);
        }
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (md) {
        std::cout << fields_markdown();
        return 0;
    }
    std::printf("%s %s %s %s\n", pad("FIELD", 20).c_str(), pad("TYPE", 22).c_str(),
                pad("ENFORCED IN", 24).c_str(), "MEANING");
    for (const FieldDef &f : field_catalogue()) {
        std::printf("%s %s %s %s\n", pad(f.name, 20).c_str(), pad(type_text(f), 22).c_str(),
                    pad(tier_text(f), 24).c_str(), f.doc);
    }
    std::printf("\nOperators: string ==, !=, in, not in, glob, not glob; number and port also "
                "ranges (1000-1999);\naddress CIDR prefixes (10.0.0.0/8); see docs/rules.md.\n");
    return 0;
}

} // namespace policer::cli
