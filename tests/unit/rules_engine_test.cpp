// rules_engine_test.cpp - the compiled engine (compiler.h: normal form, per-field tables,
// bitmaps) must decide every flow exactly as the plain reference evaluation does
// (evaluate.h). Checked on hand-made cases for the compiler's special paths, then
// differentially on many random rule sets, written as text and loaded like any rule file, and
// many random flows whose values come from the same small pools so that rules really match.
//
// A failure prints the seed, the rule text and the flow. To reproduce or explore, run with
// POLICER_RULES_SEED=<seed> (and POLICER_RULES_SETS=<n> for a longer run).
#include "rules/compiler.h"
#include "rules/evaluate.h"
#include "rules/rule_set.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace policer::rules;

std::shared_ptr<const RuleSet> load_set(const std::string &text) {
    LoadResult r = load_rules_text("engine.rules", text);
    std::string diags;
    for (const auto &d : r.diags)
        diags += d.format();
    INFO("rules:\n" << text << "\ndiagnostics:\n" << diags);
    REQUIRE(r.set.has_value());
    return std::make_shared<RuleSet>(*r.set);
}

FlowAttrs absent_flow() {
    FlowAttrs f;
    for (auto &a : f.attrs)
        a.state = AttrState::Absent;
    return f;
}

std::string flow_text(const FlowAttrs &f) {
    std::string s;
    for (const FieldDef &fd : field_catalogue()) {
        const Attr &a = f[fd];
        s += std::string("  ") + fd.name + " = ";
        if (a.state == AttrState::Unknown)
            s += "unknown";
        else if (a.state == AttrState::Absent)
            s += "absent";
        else if (fd.type == FieldType::String || fd.type == FieldType::Enum)
            s += "\"" + a.str + "\"";
        else if (fd.type == FieldType::Number || fd.type == FieldType::Port)
            s += std::to_string(a.num);
        else if (fd.type == FieldType::Address) {
            IpPrefix p;
            p.family = a.family;
            p.addr = a.addr;
            p.len = a.family == 2 ? 32 : 128;
            s += p.str();
        } else {
            s += "[";
            for (size_t i = 0; i < a.set.size(); ++i)
                s += (i ? ", " : "") + a.set[i];
            s += "]";
        }
        s += "\n";
    }
    return s;
}

std::string decision_text(const RuleSet &set, const Decision &d) {
    std::string s = d.kind == Decision::Kind::Rule      ? "rule"
                    : d.kind == Decision::Kind::Default ? "default"
                                                        : "pending";
    if (d.rule != SIZE_MAX)
        s += " #" + std::to_string(d.rule) +
             (d.rule < set.rules.size() ? " '" + set.rules[d.rule].name + "'" : "");
    if (d.kind != Decision::Kind::Pending) s += ": " + action_text(d.action);
    if (d.audit) s += " (audit)";
    return s;
}

// ---- random rule sets and flows ----

// Values rules are written with, by field type. Small pools, shared with the flows below, so
// that predicates are true often enough for every path to be taken.
const std::vector<std::string> kRuleStrings = {
    "a", "b", "ab", "alice", "bob", "/usr/bin/curl", "/usr/sbin/nginx", "x.example.com", "GET"};
const std::vector<std::string> kRulePatterns = {
    "*", "a*", "*b", "?", "??", "/usr/*", "*.example.com", "*curl", "b?b", "*a*b*"};
const std::vector<std::string> kRuleNumbers = {
    "0",          "1",    "999",       "1000",      "1001",         "1999",        "2000",
    "4294967295", "0-10", "1000-1999", "1001-1001", "5-4294967295", "0-4294967295"};
const std::vector<std::string> kRulePorts = {"0",      "22",      "53",      "80",
                                             "443",    "8080",    "65535",   "1-1023",
                                             "80-443", "443-443", "0-65535", "1024-65535"};
const std::vector<std::string> kRuleAddresses = {"10.0.0.1",
                                                 "10.0.0.2",
                                                 "10.1.2.3",
                                                 "192.168.1.1",
                                                 "0.0.0.0",
                                                 "10.0.0.0/8",
                                                 "10.0.0.0/30",
                                                 "10.0.0.2/31",
                                                 "192.168.0.0/16",
                                                 "0.0.0.0/0",
                                                 "10.0.0.1/32",
                                                 "128.0.0.0/1",
                                                 "::ffff:10.0.0.1",
                                                 "fd00::1",
                                                 "fd00::2",
                                                 "::1",
                                                 "::",
                                                 "fd00::/8",
                                                 "fd00::/127",
                                                 "fd00::2/127",
                                                 "::/0",
                                                 "2001:db8::/32",
                                                 "8000::/1",
                                                 "fd00::1/128",
                                                 "255.255.255.255",
                                                 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
const std::vector<std::string> kRisks = {"r1", "r2", "r3", "risky_thing"};

// Values flows hold, by field type: the rule values, their neighbours and the extremes.
const std::vector<std::string> kFlowStrings = {"a",
                                               "b",
                                               "ab",
                                               "alice",
                                               "bob",
                                               "/usr/bin/curl",
                                               "/usr/sbin/nginx",
                                               "x.example.com",
                                               "y.example.com",
                                               "GET",
                                               "",
                                               "bb",
                                               "bob b",
                                               "aXb",
                                               "bab"};
const std::vector<uint64_t> kFlowNumbers = {
    0, 1, 5, 10, 11, 999, 1000, 1001, 1500, 1999, 2000, 4294967294ull, 4294967295ull};
const std::vector<uint64_t> kFlowPorts = {0,   1,   22,   53,   79,   80,    81,
                                          443, 444, 1023, 1024, 8080, 65534, 65535};
const std::vector<std::string> kFlowAddresses = {"10.0.0.0",
                                                 "10.0.0.1",
                                                 "10.0.0.2",
                                                 "10.0.0.3",
                                                 "10.0.0.4",
                                                 "10.1.2.3",
                                                 "192.168.1.1",
                                                 "0.0.0.0",
                                                 "255.255.255.255",
                                                 "127.255.255.255",
                                                 "128.0.0.0",
                                                 "::ffff:10.0.0.1",
                                                 "fd00::",
                                                 "fd00::1",
                                                 "fd00::2",
                                                 "fd00::3",
                                                 "::1",
                                                 "::",
                                                 "2001:db8::1",
                                                 "2001:db9::",
                                                 "8000::",
                                                 "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                                 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                                                 "fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};

class Gen {
public:
    explicit Gen(uint64_t seed) : rng_(seed) {}

    size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
    template <typename T>
    const T &pick(const std::vector<T> &v) {
        return v[below(v.size())];
    }

    // A rule set of `nrules` rules over a handful of fields, as rule text.
    std::string rule_set(size_t nrules) {
        fields_.clear();
        const auto &cat = field_catalogue();
        const size_t nfields = 2 + below(9);
        for (size_t i = 0; i < nfields; ++i)
            fields_.push_back(&cat[below(cat.size())]);
        // Make L7 rules common: they are what makes decisions wait.
        if (chance(0.6)) fields_.push_back(find_field(chance(0.5) ? "l7.host" : "l7.risk"));

        std::string text = "# generated\n";
        lists_.clear();
        const size_t nlists = below(5);
        for (size_t i = 0; i < nlists; ++i) {
            const FieldDef *f = pick(fields_);
            if (f->type == FieldType::StringSet && chance(0.5)) continue;
            std::string name = "lst" + std::to_string(i);
            text += "list " + name + " = (";
            const size_t n = below(4); // may be empty: it never matches
            for (size_t k = 0; k < n; ++k)
                text += (k ? ", " : "") + value(*f, chance(0.3));
            text += chance(0.2) && n ? ",)\n" : ")\n";
            lists_.push_back({name, f});
        }
        macros_.clear();
        const size_t nmacros = below(5);
        for (size_t i = 0; i < nmacros; ++i) {
            std::string name = "mac" + std::to_string(i);
            text += "macro " + name + " = " + expr(2) + "\n";
            macros_.push_back(name); // later macros may use earlier ones
        }
        for (size_t i = 0; i < nrules; ++i) {
            text += "rule r" + std::to_string(i) + " {";
            if (chance(0.5)) text += " priority " + std::to_string(static_cast<int>(below(7)) - 3);
            if (chance(0.1)) text += " audit";
            if (chance(0.1)) text += " description \"rule " + std::to_string(i) + "\"";
            text += " when " + (chance(0.04) ? wide() : expr(3));
            text += " action " + action() + " }\n";
        }
        if (chance(0.5)) text += std::string("default egress ") + plain_action() + "\n";
        if (chance(0.5)) text += std::string("default ingress ") + plain_action() + "\n";
        if (chance(0.1)) text += "mode audit\n";
        return text;
    }

    // A flow: each field known (from the pools), absent or unknown; sometimes everything L7
    // unknown at once, as at connect time.
    FlowAttrs flow() {
        FlowAttrs f;
        const bool l7_pending = chance(0.3);
        const double unknown = chance(0.5) ? 0.0 : 0.1;
        for (const FieldDef &fd : field_catalogue()) {
            Attr &a = f[fd];
            if ((l7_pending && fd.tier == Tier::L7) || chance(unknown)) {
                a.state = AttrState::Unknown;
                continue;
            }
            if (chance(0.1)) {
                a.state = AttrState::Absent;
                continue;
            }
            switch (fd.type) {
            case FieldType::String: f.set_string(fd.name, pick(kFlowStrings)); break;
            case FieldType::Enum:
                f.set_string(fd.name, chance(0.1) ? "other" : fd.values[below(fd.values.size())]);
                break;
            case FieldType::Number: f.set_number(fd.name, pick(kFlowNumbers)); break;
            case FieldType::Port: f.set_number(fd.name, pick(kFlowPorts)); break;
            case FieldType::Address: f.set_address(fd.name, pick(kFlowAddresses)); break;
            case FieldType::StringSet:
                a.state = AttrState::Known;
                for (const auto &r : kRisks)
                    if (chance(0.3)) a.set.push_back(r);
                if (chance(0.1)) a.set.push_back("other");
                break;
            }
        }
        return f;
    }

private:
    std::string value(const FieldDef &f, bool glob) {
        std::string v;
        switch (f.type) {
        case FieldType::String:
            v = glob || chance(0.2) ? pick(kRulePatterns) : pick(kRuleStrings);
            break;
        case FieldType::Enum: v = f.values[below(f.values.size())]; break;
        case FieldType::Number: v = pick(kRuleNumbers); break;
        case FieldType::Port: v = pick(kRulePorts); break;
        case FieldType::Address: v = pick(kRuleAddresses); break;
        case FieldType::StringSet: v = pick(kRisks); break;
        }
        return chance(0.2) ? "\"" + v + "\"" : v;
    }

    std::string predicate() {
        const FieldDef &f = *pick(fields_);
        static const std::vector<std::string> kAll = {"==",     "!=",   "in",
                                                      "not in", "glob", "not glob"};
        // Mostly positive operators: negated ones match almost any flow, and a set where some
        // rule always matches never reaches its default.
        const size_t nops = f.type == FieldType::String ? 6 : 4;
        size_t o = below(nops);
        if (o % 2 == 1 && chance(0.6)) --o;
        const std::string op = kAll[o];
        const bool glob = op == "glob" || op == "not glob";
        std::string s = std::string(f.name) + " " + op + " ";
        if (op == "==" || op == "!=") return s + value(f, false);
        std::vector<const std::string *> lists;
        for (const auto &l : lists_)
            if (l.second == &f) lists.push_back(&l.first);
        const size_t how = below(10);
        if (how < 3 && !lists.empty()) return s + *lists[below(lists.size())];
        if (how < 6) return s + value(f, glob);
        s += "(";
        const size_t n = 1 + below(4);
        for (size_t i = 0; i < n; ++i)
            s += (i ? ", " : "") + value(f, glob);
        return s + (chance(0.1) ? ",)" : ")");
    }

    std::string expr(int depth) {
        if (depth <= 0 || chance(0.35)) {
            if (!macros_.empty() && chance(0.15)) return pick(macros_);
            return predicate();
        }
        const size_t kind = below(7);
        if (kind == 0) return "not " + (chance(0.5) ? predicate() : "(" + expr(depth - 1) + ")");
        const char *joiner = kind <= 4 ? " and " : " or ";
        std::string s = "(";
        const size_t n = 2 + below(3);
        for (size_t i = 0; i < n; ++i)
            s += (i ? joiner : "") + expr(depth - 1);
        return s + ")";
    }

    // A condition whose normal form has more than 64 terms: an and of 7 two-way ors is 128.
    std::string wide() {
        std::string s = chance(0.3) ? "not (" : "(";
        const size_t n = 7 + below(3);
        for (size_t i = 0; i < n; ++i) {
            const bool neg = s[0] == 'n';
            s += (i ? (neg ? " or " : " and ") : "") + std::string("(") + predicate() +
                 (neg ? " and " : " or ") + predicate() + ")";
        }
        return s + ")";
    }

    const char *plain_action() {
        static const char *kActions[] = {"allow", "deny", "reject", "alert"};
        return kActions[below(4)];
    }

    std::string action() {
        if (!chance(0.15)) return plain_action();
        static const std::vector<std::string> kLimits = {
            "limit 5/s", "limit 5/s burst 10", "limit 1/s per process", "limit 100/s per user",
            "limit 7/s burst 7 per cgroup"};
        return pick(kLimits);
    }

    std::mt19937_64 rng_;
    std::vector<const FieldDef *> fields_;
    std::vector<std::pair<std::string, const FieldDef *>> lists_;
    std::vector<std::string> macros_;
};

uint64_t env_or(const char *name, uint64_t fallback) {
    const char *v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Everything compile() produces, as text: equal texts, equal compilations.
std::string dump(const CompiledRules &c) {
    std::string s;
    for (const Term &t : c.terms()) {
        s += "term rule " + std::to_string(t.rule) + (t.whole ? " whole" : "") +
             (t.kernel_exact ? " exact" : "") + ":";
        for (const auto &p : t.literals)
            s += " [" + std::string(p->field->name) + " " + op_text(p->op) + " " + p->text + "]";
        s += " residual " + std::to_string(t.residual.size()) + "\n";
    }
    for (const RulePlan &p : c.plans())
        s += "plan " + std::string(tier_name(p.tier)) + " " + tier_name(p.enforced_at) + " " +
             std::to_string(p.first_term) + "+" + std::to_string(p.terms) + " " + p.tier_reason +
             " | " + p.deferred_reason + "\n";
    auto bits = [](const Bitmap &b) {
        std::string x;
        for (uint64_t w : b.w)
            x += std::to_string(w) + ",";
        return x;
    };
    for (const FieldIndex &ix : c.indexes()) {
        s += std::string("index ") + ix.field->name + " absent " + bits(ix.absent) + " other " +
             bits(ix.other) + "\n";
        for (int slot = 0; slot < 2; ++slot)
            for (size_t i = 0; i < ix.starts[slot].size(); ++i)
                s += "  " + std::to_string(static_cast<uint64_t>(ix.starts[slot][i] >> 64)) + ":" +
                     std::to_string(static_cast<uint64_t>(ix.starts[slot][i])) + " " +
                     bits(ix.bits[slot][i]) + "\n";
        std::vector<std::string> names;
        for (const auto &[k, b] : ix.by_name)
            names.push_back("  " + k + " " + bits(b) + "\n");
        std::sort(names.begin(), names.end());
        for (const auto &n : names)
            s += n;
    }
    return s;
}

// Decides `flows` with both engines; on a difference, reports everything needed to reproduce.
bool agree(const std::string &what, const std::string &text, const CompiledRules &c,
           const std::vector<FlowAttrs> &flows) {
    const RuleSet &set = c.set();
    for (const FlowAttrs &f : flows) {
        const Decision want = decide_reference(set, f);
        const Decision got = c.decide(f);
        if (got == want) continue;
        std::string msg = what + ": the compiled engine disagrees with the reference\n" +
                          "  reference: " + decision_text(set, want) + "\n" +
                          "  compiled:  " + decision_text(set, got) + "\nrules:\n" + text +
                          "flow:\n" + flow_text(f);
        std::fputs(msg.c_str(), stderr);
        FAIL_CHECK(msg);
        return false;
    }
    return true;
}

} // namespace

TEST_CASE("rules engine: agrees with the reference on hand-made rule sets") {
    const char *sets[] = {
        // Ranges meeting and overlapping, negated ranges, absent ports.
        ("rule a { when dst.port in (1-100, 101-200) and dst.port != 150 action deny }\n"
         "rule b { when dst.port not in 50-60 action alert }\n"
         "rule c { when src.port == 65535 or dst.port in 0-0 action reject }\n"),
        // Both address families in one predicate, mapped addresses, /0 and /1 prefixes.
        ("rule a { when dst.ip in (10.0.0.0/8, fd00::/8) and src.ip not in (::/0) action deny }\n"
         "rule b { when dst.ip in (128.0.0.0/1, 8000::/1) action alert }\n"
         "rule c { when dst.ip == ::ffff:10.0.0.1 or src.ip in 0.0.0.0/0 action reject }\n"),
        // Names: a finite set, everything but a set, and an empty intersection.
        ("rule a { when user.name in (alice, bob) and user.name != bob action deny }\n"
         "rule b { when user.name != alice and user.name not in (bob, a) action alert }\n"
         "rule c { when user.name == alice and user.name == bob action reject }\n"
         "rule d { when l4.proto == tcp and direction != ingress action allow }\n"),
        // Residual predicates: patterns and risk sets, with and without unknown L7 fields.
        ("rule a { priority 5 when l7.host glob *.example.com and dst.port == 443 action deny }\n"
         "rule b { when l7.risk in (r1, r2) or process.exe not glob /usr/* action alert }\n"
         "rule c { when not (l7.risk == r3) action reject }\n"),
        // Unknown fields inside negations.
        ("rule a { when not (l7.host == a and dst.port == 80) action deny }\n"
         "rule b { when not (l7.host != a or dst.port != 80) action alert }\n"),
    };
    Gen g(7);
    for (const char *text : sets) {
        auto set = load_set(text);
        auto c = CompiledRules::compile(set);
        std::vector<FlowAttrs> flows;
        for (int i = 0; i < 3000; ++i)
            flows.push_back(g.flow());
        CHECK(agree("hand-made set", text, *c, flows));
    }
}

TEST_CASE("rules engine: a condition beyond 64 terms in normal form is evaluated whole") {
    // 2^6 = 64 terms: still in normal form. 2^7 = 128: the whole condition, as one term.
    auto cond = [](int pairs) {
        const char *fields[] = {"dst.port",    "src.port", "user.id", "group.id",
                                "process.pid", "dst.ip",   "src.ip"};
        std::string s;
        for (int i = 0; i < pairs; ++i) {
            const bool ip = i >= 5;
            s += std::string(i ? " and " : "") + "(" + fields[i] +
                 " == " + (ip ? "10.0.0.1" : "1") + " or " + fields[i] +
                 " == " + (ip ? "10.0.0.2" : "2") + ")";
        }
        return s;
    };
    const std::string text = "rule six { when " + cond(6) + " action deny }\n" +
                             "rule seven { when " + cond(7) + " action reject }\n" +
                             "rule after { when dst.port == 1 action alert }\n";
    auto set = load_set(text);
    auto c = CompiledRules::compile(set);
    REQUIRE(c->plans().size() == 3);
    CHECK(c->plans()[0].terms == 64);
    CHECK(c->plans()[1].terms == 1);
    const Term &whole = c->terms()[c->plans()[1].first_term];
    CHECK(whole.whole == set->rules[1].when);
    CHECK(whole.literals.empty());
    CHECK(c->plans()[2].first_term == 65);

    // Every combination of the seven fields' values 1, 2 and 3 (or the matching addresses).
    std::vector<FlowAttrs> flows;
    for (int combo = 0; combo < 2187; ++combo) {
        FlowAttrs f = absent_flow();
        int x = combo;
        for (const char *name : {"dst.port", "src.port", "user.id", "group.id", "process.pid"}) {
            f.set_number(name, 1 + x % 3);
            x /= 3;
        }
        for (const char *name : {"dst.ip", "src.ip"}) {
            f.set_address(name, "10.0.0." + std::to_string(1 + x % 3));
            x /= 3;
        }
        flows.push_back(f);
    }
    // And with each field unknown in turn.
    for (size_t i = 0; i < 64; ++i) {
        FlowAttrs f = flows[i * 31];
        f[*find_field(i % 2 ? "dst.ip" : "user.id")].state = AttrState::Unknown;
        flows.push_back(f);
    }
    CHECK(agree("wide condition", text, *c, flows));
}

TEST_CASE("rules engine: plans say at which tier each rule is enforced, and why") {
    auto set = load_set(R"(macro web = dst.port in (80, 443)
rule admins { priority 10 when user.name == admin and web action allow }
rule block_evil { when web and l7.host glob "*.evil.example" action reject }
rule web_ok { when web action allow }
rule ssh { when dst.port == 22 action deny }
rule scripts { when process.cmdline glob "*python*" action alert }
rule admin_glob { when user.name glob "adm*" action alert }
)");
    auto c = CompiledRules::compile(set);
    const auto &p = c->plans();
    REQUIRE(p.size() == 6);
    CHECK(p[0].tier == Tier::Kernel);
    CHECK(p[0].enforced_at == Tier::Kernel);
    CHECK(p[0].deferred_reason.empty());
    // The reason quotes one of the rule's predicates of its tier, and why that tier.
    CHECK((p[0].tier_reason.rfind("user.name == admin: names are resolved ahead of time", 0) == 0 ||
           p[0].tier_reason.rfind("dst.port in (80, 443): the kernel reads it", 0) == 0));

    CHECK(p[1].tier == Tier::L7);
    CHECK(p[1].tier_reason ==
          "l7.host glob \"*.evil.example\": known only once nDPI has dissected the flow's first "
          "payload packets");
    // web_ok could be decided in the kernel, but block_evil comes first and may match the same
    // flows: web_ok must wait for it.
    CHECK(p[2].tier == Tier::Kernel);
    CHECK(p[2].enforced_at == Tier::L7);
    CHECK(p[2].deferred_reason.find("rule 'block_evil' (priority 0) comes first") == 0);
    // ssh's port cannot be one of block_evil's: no reason to wait.
    CHECK(p[3].enforced_at == Tier::Kernel);
    CHECK(p[3].deferred_reason.empty());
    CHECK(p[4].tier == Tier::UserSpace);
    CHECK(p[4].tier_reason.find("only policerd knows it") != std::string::npos);
    // A pattern over user names cannot be resolved to uids ahead of time.
    CHECK(p[5].tier == Tier::UserSpace);
    CHECK(p[5].tier_reason.find("a pattern cannot be resolved to ids") != std::string::npos);

    for (size_t i = 0; i < p.size(); ++i) {
        CHECK(p[i].terms >= 1);
        for (size_t t = p[i].first_term; t < p[i].first_term + p[i].terms; ++t)
            CHECK(c->terms()[t].rule == i);
    }
}

TEST_CASE("rules engine: per-field tables - ranges for numbers and addresses, names for text") {
    auto set = load_set("rule a { when dst.port in 1000-1999 and user.name == alice action deny }\n"
                        "rule b { when dst.ip in 10.0.0.0/8 action alert }\n");
    auto c = CompiledRules::compile(set);
    REQUIRE(c->indexes().size() == 3);
    for (const FieldIndex &ix : c->indexes()) {
        INFO(ix.field->name);
        if (std::string(ix.field->name) == "dst.port") {
            CHECK(ix.kind == FieldIndex::Kind::Ranges);
            // [0,1000) [1000,2000) [2000,max]: term 0 only in the middle.
            REQUIRE(ix.starts[0].size() == 3);
            CHECK(static_cast<uint64_t>(ix.starts[0][1]) == 1000);
            CHECK(static_cast<uint64_t>(ix.starts[0][2]) == 2000);
            CHECK_FALSE(ix.bits[0][0].test(0));
            CHECK(ix.bits[0][1].test(0));
            CHECK(ix.bits[0][1].test(1)); // term 1 says nothing about ports
            CHECK_FALSE(ix.absent.test(0));
        } else if (std::string(ix.field->name) == "user.name") {
            CHECK(ix.kind == FieldIndex::Kind::Names);
            REQUIRE(ix.by_name.count("alice") == 1);
            CHECK(ix.by_name.at("alice").test(0));
            CHECK_FALSE(ix.other.test(0));
            CHECK(ix.other.test(1));
        } else {
            CHECK(std::string(ix.field->name) == "dst.ip");
            CHECK(ix.kind == FieldIndex::Kind::Ranges);
            CHECK(ix.starts[1].size() == 1); // no IPv6 value: one interval, no term in it
            CHECK_FALSE(ix.bits[1][0].test(1));
        }
    }
    CHECK(c->bitmap_bytes() > 0);
}

TEST_CASE("rules engine: random rule sets - compiled decisions equal the reference") {
    const uint64_t seed = env_or("POLICER_RULES_SEED", 20261124);
    const size_t nsets = env_or("POLICER_RULES_SETS", 600);
    const size_t nflows = 300;
    INFO("seed " << seed << " (rerun with POLICER_RULES_SEED=" << seed << ")");
    const auto start = std::chrono::steady_clock::now();

    size_t decisions = 0, whole_terms = 0, pending = 0, by_rule = 0, by_default = 0;
    size_t max_rules = 0, failures = 0;
    for (size_t s = 0; s < nsets && failures < 3; ++s) {
        Gen g(seed * 1000003 + s);
        // Mostly small sets; some large ones, up to 200 rules.
        const size_t roll = g.below(10);
        const size_t nrules = roll < 6   ? 1 + g.below(20)
                              : roll < 9 ? 20 + g.below(60)
                                         : 80 + g.below(121);
        const std::string text = g.rule_set(nrules);
        LoadResult r = load_rules_text("random.rules", text);
        if (!r.set) {
            std::string diags;
            for (const auto &d : r.diags)
                diags += d.format();
            FAIL_CHECK("seed " << seed << " set " << s << ": generated rules do not load:\n"
                               << text << diags);
            ++failures;
            continue;
        }
        auto set = std::make_shared<RuleSet>(std::move(*r.set));
        max_rules = std::max(max_rules, set->rules.size());
        auto c = CompiledRules::compile(set);

        // Every rule has a plan with a reason, covering its own terms in order.
        REQUIRE(c->plans().size() == set->rules.size());
        size_t next_term = 0;
        for (size_t i = 0; i < c->plans().size(); ++i) {
            const RulePlan &p = c->plans()[i];
            CHECK_FALSE(p.tier_reason.empty());
            CHECK(p.enforced_at >= p.tier);
            CHECK(p.first_term == next_term);
            CHECK(p.terms >= 1);
            next_term += p.terms;
        }
        CHECK(next_term == c->terms().size());
        for (const Term &t : c->terms())
            whole_terms += t.whole != nullptr;

        // Deterministic: the same set compiles to the same terms, plans and tables.
        if (s % 10 == 0) CHECK(dump(*CompiledRules::compile(set)) == dump(*c));

        std::vector<FlowAttrs> flows;
        for (size_t i = 0; i < nflows; ++i)
            flows.push_back(g.flow());
        const std::string what = "seed " + std::to_string(seed) + " set " + std::to_string(s);
        if (!agree(what, text, *c, flows)) ++failures;
        for (const FlowAttrs &f : flows) {
            const Decision d = decide_reference(*set, f);
            pending += d.kind == Decision::Kind::Pending;
            by_rule += d.kind == Decision::Kind::Rule;
            by_default += d.kind == Decision::Kind::Default;
        }
        decisions += flows.size();
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("seed " << seed << ": " << nsets << " rule sets (up to " << max_rules << " rules), "
                    << decisions << " flows: " << by_rule << " by a rule, " << by_default
                    << " by default, " << pending << " pending; " << whole_terms
                    << " conditions evaluated whole; " << secs << " s");
    // The generator must reach every outcome, or the comparison proves little.
    CHECK(by_rule > decisions / 10);
    CHECK(by_default > decisions / 50);
    CHECK(pending > decisions / 50);
    CHECK(whole_terms > 0);
    CHECK(max_rules >= 150);
}
