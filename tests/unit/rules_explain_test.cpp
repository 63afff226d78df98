// rules_explain_test.cpp - `policer rule explain`: which rule decided a flow and why - each rule
// tried, in decision order, with every predicate's truth and the flow's value it was judged on
// - as text for a person and as JSON for tools.
#include "rules/compiler.h"
#include "rules/explain.h"
#include "rules/rule_set.h"

#include <doctest/doctest.h>

#include <string>

namespace {

using namespace policer::rules;

const char *kRules = R"(macro web = dst.port in (80, 443)
rule admins { priority 10 when user.name == admin and web action allow }
rule block_evil { when web and l7.host glob "*.evil.example" action reject }
rule web_ok { when web and not container.id == untrusted action allow }
rule ssh { audit when dst.port == 22 action limit 5/s burst 10 per user }
default egress deny
)";

std::shared_ptr<const RuleSet> load_set(const std::string &text = kRules) {
    LoadResult r = load_rules_text("x.rules", text);
    std::string diags;
    for (const auto &d : r.diags)
        diags += d.format();
    INFO(diags);
    REQUIRE(r.set.has_value());
    return std::make_shared<RuleSet>(*r.set);
}

FlowAttrs web_flow(const char *host) {
    FlowAttrs f;
    for (auto &a : f.attrs)
        a.state = AttrState::Absent;
    f.set_string("user.name", "bob");
    f.set_number("dst.port", 443);
    f.set_string("l7.host", host);
    return f;
}

bool contains(const std::string &text, const std::string &part) {
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("rules explain: the rules tried until the decision, with each predicate's truth") {
    auto set = load_set();
    const FlowAttrs f = web_flow("www.evil.example");
    Explanation e = explain(*set, f, false);

    CHECK(e.decision == decide_reference(*set, f));
    CHECK(e.decision.kind == Decision::Kind::Rule);
    CHECK(set->rules[e.decision.rule].name == "block_evil");
    CHECK(e.decision.action.kind == ActionKind::Reject);

    // admins, then block_evil: nothing after the deciding rule.
    REQUIRE(e.rules.size() == 2);
    const RuleTrace &admins = e.rules[0];
    CHECK(set->rules[admins.rule].name == "admins");
    CHECK(admins.truth == Truth::False);
    REQUIRE(admins.predicates.size() == 2);
    CHECK(admins.predicates[0].text == "user.name == admin");
    CHECK(admins.predicates[0].truth == Truth::False);
    CHECK(admins.predicates[0].field == "user.name");
    CHECK(admins.predicates[0].value == "bob");
    CHECK(admins.predicates[0].loc.str() == "x.rules:2:32");
    // The macro's predicate, expanded, pointing where the macro says it.
    CHECK(admins.predicates[1].text == "dst.port in (80, 443)");
    CHECK(admins.predicates[1].truth == Truth::True);
    CHECK(admins.predicates[1].value == "443");
    CHECK(admins.predicates[1].loc.str() == "x.rules:1:13");

    const RuleTrace &evil = e.rules[1];
    CHECK(evil.truth == Truth::True);
    REQUIRE(evil.predicates.size() == 2);
    CHECK(evil.predicates[1].text == "l7.host glob \"*.evil.example\"");
    CHECK(evil.predicates[1].truth == Truth::True);
    CHECK(evil.predicates[1].value == "www.evil.example");
}

TEST_CASE("rules explain: with all, every rule is traced, including those after the decision") {
    auto set = load_set();
    const FlowAttrs f = web_flow("www.example.com");
    Explanation e = explain(*set, f, true);
    CHECK(set->rules[e.decision.rule].name == "web_ok");
    REQUIRE(e.rules.size() == 4);
    CHECK(e.rules[2].truth == Truth::True);
    // The negated predicate is shown as written, with its own truth: absent container.id is
    // not "untrusted", so the predicate is false and its negation held.
    REQUIRE(e.rules[2].predicates.size() == 2);
    CHECK(e.rules[2].predicates[1].text == "container.id == untrusted");
    CHECK(e.rules[2].predicates[1].truth == Truth::False);
    CHECK(e.rules[2].predicates[1].value == "absent");
    CHECK(e.rules[3].truth == Truth::False);
    CHECK(e.rules[3].predicates[0].value == "443");
}

TEST_CASE("rules explain: a pending decision shows the unknown predicates it waits for") {
    auto set = load_set();
    FlowAttrs f = web_flow("");
    f[*find_field("l7.host")].state = AttrState::Unknown;
    Explanation e = explain(*set, f, false);
    CHECK(e.decision.kind == Decision::Kind::Pending);
    REQUIRE(e.rules.size() == 2);
    CHECK(e.rules[1].truth == Truth::Unknown);
    CHECK(e.rules[1].predicates[1].truth == Truth::Unknown);
    CHECK(e.rules[1].predicates[1].value == "unknown");

    const std::string text = render_text(*set, e, nullptr);
    CHECK(contains(text, "verdict: pending: rule 'block_evil' needs facts not known yet"));
    CHECK(contains(text, "rule 'block_evil' (priority 0, x.rules:3:1): unknown\n"));

    auto j = render_json(*set, e, nullptr);
    CHECK(j["verdict"]["kind"] == "pending");
    CHECK_FALSE(j["verdict"].contains("action"));
    CHECK(j["verdict"]["rule"] == "block_evil");
    CHECK(j["rules"][1]["result"] == "unknown");
    CHECK(j["rules"][1]["predicates"][1]["value"] == "unknown");
}

TEST_CASE("rules explain: no rule matched - every rule traced, the default decides") {
    auto set = load_set();
    FlowAttrs f = web_flow("www.example.com");
    f.set_number("dst.port", 8080);
    Explanation e = explain(*set, f, false);
    CHECK(e.decision.kind == Decision::Kind::Default);
    CHECK(e.decision.action.kind == ActionKind::Deny);
    CHECK(e.rules.size() == set->rules.size());
    for (const auto &t : e.rules)
        CHECK(t.truth == Truth::False);

    const std::string text = render_text(*set, e, nullptr);
    CHECK(text.rfind("verdict: deny, by default (no rule matched)\n", 0) == 0);
    auto j = render_json(*set, e, nullptr);
    CHECK(j["verdict"]["kind"] == "default");
    CHECK(j["verdict"]["action"] == "deny");
    CHECK(j["verdict"]["audit"] == false);
    CHECK_FALSE(j["verdict"].contains("rule"));
    CHECK(j["rules"].size() == 4);
}

TEST_CASE("rules explain: text form - the verdict, each rule, aligned predicate lines") {
    auto set = load_set();
    auto compiled = CompiledRules::compile(set);
    const FlowAttrs f = web_flow("www.evil.example");
    Explanation e = explain(*set, f, false);
    const std::string text = render_text(*set, e, compiled.get());
    CHECK(text == "verdict: reject, by rule 'block_evil' (x.rules:3:1)\n"
                  "\n"
                  "rule 'admins' (priority 10, x.rules:2:1): false  [enforced in kernel]\n"
                  "    user.name == admin     false   (user.name = bob)\n"
                  "    dst.port in (80, 443)  true    (dst.port = 443)\n"
                  "\n"
                  "rule 'block_evil' (priority 0, x.rules:3:1): true -> reject  [enforced in L7]\n"
                  "    dst.port in (80, 443)          true    (dst.port = 443)\n"
                  "    l7.host glob \"*.evil.example\"  true    (l7.host = www.evil.example)\n");
    // Without a plan, nothing about enforcement.
    CHECK_FALSE(contains(render_text(*set, e, nullptr), "enforced"));
}

TEST_CASE("rules explain: JSON form - verdict, rules, predicates with locations") {
    auto set = load_set();
    auto compiled = CompiledRules::compile(set);
    const FlowAttrs f = web_flow("www.evil.example");
    auto j = render_json(*set, explain(*set, f, false), compiled.get());
    CHECK(j["verdict"]["kind"] == "rule");
    CHECK(j["verdict"]["action"] == "reject");
    CHECK(j["verdict"]["audit"] == false);
    CHECK(j["verdict"]["rule"] == "block_evil");
    CHECK(j["verdict"]["location"] == "x.rules:3:1");
    REQUIRE(j["rules"].size() == 2);
    const auto &r0 = j["rules"][0];
    CHECK(r0["rule"] == "admins");
    CHECK(r0["priority"] == 10);
    CHECK(r0["location"] == "x.rules:2:1");
    CHECK(r0["result"] == "false");
    CHECK(r0["enforced_at"] == "kernel");
    REQUIRE(r0["predicates"].size() == 2);
    CHECK(r0["predicates"][0] == nlohmann::ordered_json{{"predicate", "user.name == admin"},
                                                        {"location", "x.rules:2:32"},
                                                        {"result", "false"},
                                                        {"field", "user.name"},
                                                        {"value", "bob"}});
    CHECK(j["rules"][1]["enforced_at"] == "L7");
    // Keys in a stable order, for diffs and for people reading the output.
    CHECK(j.dump().rfind("{\"verdict\":{\"kind\":\"rule\",\"action\":\"reject\"", 0) == 0);
}

TEST_CASE("rules explain: limits and audit in the verdict") {
    auto set = load_set();
    FlowAttrs f = web_flow("x");
    f.set_number("dst.port", 22);
    Explanation e = explain(*set, f, false);
    CHECK(set->rules[e.decision.rule].name == "ssh");
    CHECK(e.decision.audit);
    const std::string text = render_text(*set, e, nullptr);
    CHECK(text.rfind("verdict: limit 5/s burst 10 per user, by rule 'ssh' (x.rules:5:1) - audit: "
                     "reported, not enforced\n",
                     0) == 0);
    CHECK(contains(text, "): true -> limit 5/s burst 10 per user\n"));
    auto j = render_json(*set, e, nullptr);
    CHECK(j["verdict"]["action"] == "limit");
    CHECK(j["verdict"]["limit"] == "limit 5/s burst 10 per user");
    CHECK(j["verdict"]["audit"] == true);
}

TEST_CASE("rules explain: values as shown for each field type") {
    FlowAttrs f;
    f.set_string("l4.proto", "udp");
    f.set_number("user.id", 1000);
    f.set_number("dst.port", 53);
    f.set_address("dst.ip", "10.0.0.53");
    f.set_address("src.ip", "fd00::5");
    f.set_absent("container.id");
    Attr &risk = f[*find_field("l7.risk")];
    risk.state = AttrState::Known;
    risk.set = {"a", "b"};
    auto shown = [&](const char *name) {
        return attr_text(*find_field(name), f[*find_field(name)]);
    };
    CHECK(shown("l4.proto") == "udp");
    CHECK(shown("user.id") == "1000");
    CHECK(shown("dst.port") == "53");
    CHECK(shown("dst.ip") == "10.0.0.53");
    CHECK(shown("src.ip") == "fd00::5");
    CHECK(shown("container.id") == "absent");
    CHECK(shown("l7.host") == "unknown");
    CHECK(shown("l7.risk") == "[a, b]");
    risk.set.clear();
    CHECK(shown("l7.risk") == "[]");
    // An IPv4 address seen on an IPv6 socket is shown as IPv4.
    f.set_address("src.ip", "::ffff:10.0.0.5");
    CHECK(shown("src.ip") == "10.0.0.5");
}

TEST_CASE("rules explain: agrees with the compiled engine on the flows it explains") {
    auto set = load_set();
    auto compiled = CompiledRules::compile(set);
    FlowAttrs pending = web_flow("");
    pending[*find_field("l7.host")].state = AttrState::Unknown;
    FlowAttrs other = web_flow("a");
    other.set_number("dst.port", 9);
    for (const FlowAttrs &f :
         {web_flow("www.evil.example"), web_flow("www.example.com"), pending, other}) {
        Explanation e = explain(*set, f, false);
        CHECK(e.decision == compiled->decide(f));
    }
}
