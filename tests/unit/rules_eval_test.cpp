// rules_eval_test.cpp - what a rule set means for a flow (the reference semantics every engine
// must agree with): each field type under each operator; absent values (the flow has none)
// versus unknown ones (not determined yet) in three-valued logic; rules tried by priority then
// file order; defaults per direction; audit; decisions that must wait for L7 facts; and flows
// read from policer's own ECS events.
#include "rules/evaluate.h"
#include "rules/flow_attrs.h"
#include "rules/rule_set.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace {

using namespace policer::rules;

std::string diags_text(const LoadResult &r) {
    std::string s;
    for (const auto &d : r.diags)
        s += d.format();
    return s;
}

RuleSet load_ok(const std::string &text) {
    LoadResult r = load_rules_text("eval.rules", text);
    INFO("rules:\n" << text << "\ndiagnostics:\n" << diags_text(r));
    REQUIRE(r.set.has_value());
    return *r.set;
}

// The truth of one condition for a flow (the condition of a one-rule set).
Truth eval(const std::string &cond, const FlowAttrs &f, Tier known_up_to = Tier::L7) {
    RuleSet set = load_ok("rule r { when " + cond + " action deny }\n");
    return eval_cond(*set.rules.at(0).when, f, known_up_to);
}

constexpr Truth T = Truth::True;
constexpr Truth F = Truth::False;
constexpr Truth U = Truth::Unknown;

struct Case {
    const char *cond;
    Truth want;
};

void check_all(const FlowAttrs &f, std::initializer_list<Case> cases) {
    for (const Case &c : cases) {
        INFO("condition: " << c.cond);
        CHECK(truth_name(eval(c.cond, f)) == truth_name(c.want));
    }
}

// A flow with every field absent: tests set only what they are about.
FlowAttrs absent_flow() {
    FlowAttrs f;
    for (auto &a : f.attrs)
        a.state = AttrState::Absent;
    return f;
}

void set_risks(FlowAttrs &f, std::vector<std::string> risks) {
    Attr &a = f[*find_field("l7.risk")];
    a.state = AttrState::Known;
    a.set = std::move(risks);
}

const char *kind_name(Decision::Kind k) {
    return k == Decision::Kind::Rule      ? "rule"
           : k == Decision::Kind::Default ? "default"
                                          : "pending";
}

// The decision as a line: "rule name: action (audit)", "default: action", "pending: name".
std::string decision(const RuleSet &set, const FlowAttrs &f, Tier known_up_to = Tier::L7) {
    Decision d = decide_reference(set, f, known_up_to);
    std::string s = kind_name(d.kind);
    if (d.kind != Decision::Kind::Default) s += " " + set.rules.at(d.rule).name;
    if (d.kind != Decision::Kind::Pending) s += ": " + action_text(d.action);
    if (d.audit) s += " (audit)";
    return s;
}

} // namespace

TEST_CASE("rules eval: string fields under every operator") {
    FlowAttrs f = absent_flow();
    f.set_string("process.exe", "/usr/bin/curl");
    check_all(f, {
                     {"process.exe == /usr/bin/curl", T},
                     {"process.exe == \"/usr/bin/curl\"", T},
                     {"process.exe == /usr/bin/CURL", F}, // case matters
                     {"process.exe != /usr/bin/curl", F},
                     {"process.exe != /usr/bin/wget", T},
                     {"process.exe in (/bin/sh, /usr/bin/curl)", T},
                     {"process.exe in (/bin/sh, /usr/bin/wget)", F},
                     {"process.exe not in (/bin/sh, /usr/bin/curl)", F},
                     {"process.exe not in (/bin/sh)", T},
                     {"process.exe glob /usr/*", T},
                     {"process.exe glob \"*\"", T},
                     {"process.exe glob */curl", T},         // '*' runs across '/'
                     {"process.exe glob /usr/bin/c?rl", T},  // '?' is one character
                     {"process.exe glob /usr/bin/curl?", F}, // ... exactly one
                     {"process.exe glob /usr/bin/cu", F},    // the whole text must match
                     {"process.exe glob (/opt/*, *rl)", T},  // any of the patterns
                     {"process.exe not glob /opt/*", T},
                     {"process.exe not glob (/opt/*, /usr/*)", F},
                 });
}

TEST_CASE("rules eval: number and port fields, single values and inclusive ranges") {
    FlowAttrs f = absent_flow();
    f.set_number("user.id", 1000);
    f.set_number("dst.port", 443);
    f.set_number("src.port", 0);
    f.set_number("group.id", 4294967295ull);
    check_all(f, {
                     {"user.id == 1000", T},
                     {"user.id == 999", F},
                     {"user.id != 1000", F},
                     {"user.id in 1000-1999", T}, // the low end is in the range
                     {"user.id in 1001-1999", F},
                     {"user.id in 0-1000", T}, // the high end too
                     {"user.id in (0, 5-10, 1000)", T},
                     {"user.id not in (0, 1-999)", T},
                     {"user.id not in 1000-1000", F},
                     {"group.id == 4294967295", T},
                     {"group.id in 0-4294967294", F},
                     {"dst.port in (22, 443)", T},
                     {"dst.port in 400-443", T},
                     {"dst.port in 444-500", F},
                     {"dst.port not in 1-1023", F},
                     {"dst.port != 80", T},
                     {"src.port == 0", T},
                     {"src.port in 1-65535", F},
                 });
}

TEST_CASE("rules eval: addresses, CIDR prefixes, IPv6 and IPv4-mapped addresses") {
    FlowAttrs f = absent_flow();
    f.set_address("dst.ip", "10.1.2.3");
    f.set_address("src.ip", "fd00::1");
    check_all(f, {
                     {"dst.ip == 10.1.2.3", T},
                     {"dst.ip == 10.1.2.4", F},
                     {"dst.ip in 10.0.0.0/8", T},
                     {"dst.ip in 10.1.2.2/31", T},
                     {"dst.ip in 10.1.2.4/31", F},
                     {"dst.ip in 10.1.2.3/32", T},
                     {"dst.ip in 0.0.0.0/0", T},
                     {"dst.ip in 11.0.0.0/8", F},
                     {"dst.ip in ::/0", F}, // an IPv6 prefix never holds an IPv4 address
                     {"dst.ip != fd00::1", T},
                     {"dst.ip == ::ffff:10.1.2.3", T}, // written as mapped, it is IPv4
                     {"dst.ip in (fd00::/8, 10.0.0.0/8)", T},
                     {"dst.ip not in (192.168.0.0/16, 172.16.0.0/12)", T},
                     {"dst.ip not in (10.0.0.0/8)", F},
                     {"src.ip == fd00::1", T},
                     {"src.ip == fd00::2", F},
                     {"src.ip in fd00::/8", T},
                     {"src.ip in fd00::/127", T},
                     {"src.ip in fd00::2/127", F},
                     {"src.ip in fc00::/7", T},
                     {"src.ip in ::/0", T},
                     {"src.ip in 0.0.0.0/0", F},
                     {"src.ip not in 10.0.0.0/8", T},
                 });
    // A prefix that does not end on a byte boundary.
    FlowAttrs g = absent_flow();
    g.set_address("dst.ip", "192.168.1.255");
    g.set_address("src.ip", "192.168.2.0");
    check_all(g, {{"dst.ip in 192.168.0.0/23", T}, {"src.ip in 192.168.0.0/23", F}});
    // An IPv4 flow seen on an IPv6 socket is an IPv4 flow.
    FlowAttrs m = absent_flow();
    m.set_address("dst.ip", "::ffff:10.1.2.3");
    CHECK(m[*find_field("dst.ip")].family == 2);
    check_all(m, {{"dst.ip in 10.0.0.0/8", T}, {"dst.ip in ::/0", F}});
}

TEST_CASE("rules eval: enum fields") {
    FlowAttrs f = absent_flow();
    f.set_string("l4.proto", "tcp");
    f.set_string("direction", "ingress");
    f.set_string("ip.family", "ipv6");
    check_all(f, {
                     {"l4.proto == tcp", T},
                     {"l4.proto == udp", F},
                     {"l4.proto != udp", T},
                     {"l4.proto in (tcp, udp)", T},
                     {"l4.proto not in (udp)", T},
                     {"direction == ingress", T},
                     {"direction == egress", F},
                     {"ip.family in (ipv6)", T},
                 });
}

TEST_CASE("rules eval: string sets (nDPI risks) - == and in test membership") {
    FlowAttrs f = absent_flow();
    set_risks(f, {"known_proto_on_non_std_port", "self_signed_cert"});
    check_all(f, {
                     {"l7.risk == self_signed_cert", T},
                     {"l7.risk == obsolete_tls", F},
                     {"l7.risk != obsolete_tls", T},
                     {"l7.risk != self_signed_cert", F},
                     {"l7.risk in (obsolete_tls, known_proto_on_non_std_port)", T},
                     {"l7.risk in (obsolete_tls, binary_transfer)", F},
                     {"l7.risk not in (obsolete_tls, binary_transfer)", T},
                     {"l7.risk not in (self_signed_cert)", F},
                 });
    // Classified without any risk: a known, empty set.
    FlowAttrs none = absent_flow();
    set_risks(none, {});
    check_all(none, {{"l7.risk == self_signed_cert", F}, {"l7.risk != self_signed_cert", T}});
}

TEST_CASE("rules eval: an absent value matches no value - positive operators false, negated true") {
    const FlowAttrs f = absent_flow();
    check_all(f, {
                     {"container.id == abc", F},
                     {"container.id != abc", T},
                     {"container.id in (abc, def)", F},
                     {"container.id not in (abc, def)", T},
                     {"container.id glob \"*\"", F}, // not even the pattern for anything
                     {"container.id not glob \"*\"", T},
                     {"user.id == 0", F},
                     {"user.id != 0", T},
                     {"dst.port in 0-65535", F},
                     {"dst.ip in 0.0.0.0/0", F},
                     {"dst.ip not in ::/0", T},
                     {"l4.proto == tcp", F},
                     {"l4.proto != tcp", T},
                     {"l7.risk == x", F},
                     {"l7.risk != x", T},
                 });
}

TEST_CASE("rules eval: an unknown value makes every operator unknown") {
    FlowAttrs f; // every field unknown, as constructed
    for (const auto &a : f.attrs)
        REQUIRE(a.state == AttrState::Unknown);
    check_all(f, {
                     {"l7.host == example.com", U},
                     {"l7.host != example.com", U},
                     {"l7.host in (a, b)", U},
                     {"l7.host not in (a, b)", U},
                     {"l7.host glob \"*\"", U},
                     {"l7.host not glob \"*\"", U},
                     {"dst.port in 0-65535", U},
                     {"dst.ip not in ::/0", U},
                     {"l4.proto == tcp", U},
                     {"l7.risk != x", U},
                 });
}

TEST_CASE("rules eval: and, or and not follow Kleene's three-valued logic") {
    FlowAttrs f = absent_flow();
    f.set_number("dst.port", 22);
    f[*find_field("l7.host")].state = AttrState::Unknown;
    // Conditions of each truth value for this flow.
    const std::pair<const char *, Truth> atoms[] = {
        {"dst.port == 22", T}, {"dst.port == 23", F}, {"l7.host == x", U}};
    auto and_of = [](Truth a, Truth b) { return a == F || b == F ? F : a == U || b == U ? U : T; };
    auto or_of = [](Truth a, Truth b) { return a == T || b == T ? T : a == U || b == U ? U : F; };
    for (const auto &atom_a : atoms) {
        const std::string a = atom_a.first;
        const Truth ta = atom_a.second;
        for (const auto &atom_b : atoms) {
            const std::string b = atom_b.first;
            const Truth tb = atom_b.second;
            const std::string x = a + " and " + b;
            const std::string y = a + " or " + b;
            INFO(x << " / " << y);
            CHECK(truth_name(eval(x, f)) == truth_name(and_of(ta, tb)));
            CHECK(truth_name(eval(y, f)) == truth_name(or_of(ta, tb)));
        }
        INFO(a);
        CHECK(truth_name(eval("not " + a, f)) == truth_name(truth_not(ta)));
    }
    // The lines a reader checks first: false wins an and, true wins an or, not keeps unknown.
    check_all(f, {
                     {"dst.port == 23 and l7.host == x", F},
                     {"l7.host == x and dst.port == 23", F},
                     {"dst.port == 22 or l7.host == x", T},
                     {"l7.host == x or dst.port == 22", T},
                     {"not l7.host == x", U},
                     {"not (l7.host == x and dst.port == 23)", T},
                     {"not not dst.port == 22", T},
                     {"(l7.host == x or dst.port == 22) and not dst.port == 23", T},
                 });
    CHECK(truth_not(U) == U);
    CHECK(truth_not(T) == F);
    CHECK(truth_not(F) == T);
}

TEST_CASE("rules eval: a predicate decided at a later tier is unknown at an earlier one") {
    FlowAttrs f = absent_flow();
    f.set_string("user.name", "admin");
    f.set_string("l7.host", "example.com");
    // Equality on user.name is resolved to uids for the kernel; a pattern cannot be.
    CHECK(eval("user.name == admin", f, Tier::Kernel) == T);
    CHECK(eval("user.name glob adm*", f, Tier::Kernel) == U);
    CHECK(eval("user.name glob adm*", f, Tier::UserSpace) == T);
    CHECK(eval("l7.host == example.com", f, Tier::UserSpace) == U);
    CHECK(eval("l7.host == example.com", f, Tier::L7) == T);
    // A false predicate of an earlier tier still decides an and.
    CHECK(eval("user.name == root and l7.host == example.com", f, Tier::Kernel) == F);
}

TEST_CASE("rules decide: the first rule in decision order that matches decides") {
    RuleSet set = load_ok(R"(rule web { when dst.port in (80, 443) action allow }
rule ssh_deny { when dst.port == 22 action deny }
rule ssh_admin { priority 10 when dst.port == 22 and user.name == admin action allow }
rule low { priority -1 when l4.proto == tcp action reject }
rule also_web { when dst.port == 443 action alert }
rule tie { priority 10 when dst.port == 22 action limit 5/s burst 10 per user }
)");
    FlowAttrs f = absent_flow();
    f.set_string("l4.proto", "tcp");
    f.set_number("dst.port", 22);
    f.set_string("user.name", "admin");
    CHECK(decision(set, f) == "rule ssh_admin: allow"); // priority 10 comes first
    f.set_string("user.name", "bob");
    // Equal priorities: file order. "tie" is after ssh_admin in the file.
    CHECK(decision(set, f) == "rule tie: limit 5/s burst 10 per user");
    f.set_number("dst.port", 443);
    CHECK(decision(set, f) == "rule web: allow"); // before also_web in the file
    f.set_number("dst.port", 8080);
    CHECK(decision(set, f) == "rule low: reject");
    f.set_string("l4.proto", "udp");
    CHECK(decision(set, f) == "default: allow");

    Decision d = decide_reference(set, f);
    CHECK(d.kind == Decision::Kind::Default);
    CHECK(d.rule == SIZE_MAX);
}

TEST_CASE("rules decide: the default follows the flow's direction, egress when not known") {
    RuleSet set = load_ok("default egress deny\ndefault ingress reject\n"
                          "rule r { when dst.port == 1 action allow }\n");
    FlowAttrs f = absent_flow();
    f.set_string("direction", "ingress");
    CHECK(decision(set, f) == "default: reject");
    CHECK(&default_for(set, f) == &set.default_ingress);
    f.set_string("direction", "egress");
    CHECK(decision(set, f) == "default: deny");
    f.set_absent("direction");
    CHECK(decision(set, f) == "default: deny");
    f[*find_field("direction")].state = AttrState::Unknown;
    CHECK(decision(set, f) == "default: deny");
    f.set_number("dst.port", 1);
    CHECK(decision(set, f) == "rule r: allow");
}

TEST_CASE("rules decide: audit per rule and for the whole set") {
    const std::string rules = "rule watched { audit when dst.port == 22 action deny }\n"
                              "rule enforced { when dst.port == 23 action deny }\n"
                              "default egress reject\n";
    RuleSet set = load_ok(rules);
    FlowAttrs f = absent_flow();
    f.set_number("dst.port", 22);
    CHECK(decision(set, f) == "rule watched: deny (audit)");
    f.set_number("dst.port", 23);
    CHECK(decision(set, f) == "rule enforced: deny");
    f.set_number("dst.port", 24);
    CHECK(decision(set, f) == "default: reject");

    // In audit mode everything is reported, nothing enforced - the default included.
    RuleSet audit = load_ok(rules + "mode audit\n");
    f.set_number("dst.port", 22);
    CHECK(decision(audit, f) == "rule watched: deny (audit)");
    f.set_number("dst.port", 23);
    CHECK(decision(audit, f) == "rule enforced: deny (audit)");
    f.set_number("dst.port", 24);
    CHECK(decision(audit, f) == "default: reject (audit)");
}

TEST_CASE("rules decide: a rule that needs unknown L7 facts makes the decision wait") {
    RuleSet set = load_ok(R"(rule known_good { priority 20 when dst.ip in 10.0.0.0/8 action allow }
rule evil_host { priority 10 when dst.port == 443 and l7.host glob "*.evil.example" action reject }
rule tls { when dst.port == 443 action allow }
rule other { when dst.port != 443 action alert }
)");
    FlowAttrs f = absent_flow();
    f.set_address("dst.ip", "93.184.216.34");
    f.set_number("dst.port", 443);
    f[*find_field("l7.host")].state = AttrState::Unknown;
    // evil_host may match: tls, though it matches, must not decide before evil_host can.
    CHECK(decision(set, f) == "pending evil_host");
    Decision d = decide_reference(set, f);
    CHECK(d.kind == Decision::Kind::Pending);
    CHECK(d.rule == 1);
    CHECK_FALSE(d.audit);

    // A rule above the L7 one decides without waiting.
    f.set_address("dst.ip", "10.1.1.1");
    CHECK(decision(set, f) == "rule known_good: allow");
    // Another port: evil_host is false whatever the host (false and unknown is false).
    f.set_address("dst.ip", "93.184.216.34");
    f.set_number("dst.port", 80);
    CHECK(decision(set, f) == "rule other: alert");
    // Once dissected, the host decides.
    f.set_number("dst.port", 443);
    f.set_string("l7.host", "www.evil.example");
    CHECK(decision(set, f) == "rule evil_host: reject");
    f.set_string("l7.host", "www.example.com");
    CHECK(decision(set, f) == "rule tls: allow");
    // No host at all (not TLS, say): evil_host is false, not pending.
    f.set_absent("l7.host");
    CHECK(decision(set, f) == "rule tls: allow");
}

TEST_CASE("rules decide: seen from the kernel, a user-space rule waits") {
    RuleSet set = load_ok(R"(rule scripts { when process.cmdline glob "*python*" action deny }
rule rest { when l4.proto == tcp action allow }
)");
    FlowAttrs f = absent_flow();
    f.set_string("process.cmdline", "/usr/bin/python3 x.py");
    f.set_string("l4.proto", "tcp");
    CHECK(decision(set, f, Tier::Kernel) == "pending scripts");
    CHECK(decision(set, f, Tier::UserSpace) == "rule scripts: deny");
    CHECK(decision(set, f) == "rule scripts: deny");
}

TEST_CASE("rules flows: set_* and unknown field names") {
    FlowAttrs f;
    f.set_string("user.name", "alice");
    f.set_number("dst.port", 53);
    f.set_address("dst.ip", "fd00::53");
    f.set_address("src.ip", "not an address"); // malformed: absent, never a wrong address
    f.set_absent("container.id");
    const Attr &u = f[*find_field("user.name")];
    CHECK(u.state == AttrState::Known);
    CHECK(u.str == "alice");
    CHECK(f[*find_field("dst.port")].num == 53);
    CHECK(f[*find_field("dst.ip")].family == 10);
    CHECK(f[*find_field("dst.ip")].addr[15] == 0x53);
    CHECK(f[*find_field("src.ip")].state == AttrState::Absent);
    CHECK(f[*find_field("container.id")].state == AttrState::Absent);
    CHECK(f[*find_field("l7.host")].state == AttrState::Unknown);
    CHECK(FlowAttrs::index_of(*find_field("direction")) == 0);
    CHECK_THROWS_AS(f.set_string("usr.name", "x"), std::logic_error);
}

TEST_CASE("rules flows: read from a flow-start event, L7 fields unknown while pending") {
    // A flow-start as policerd prints it (docs/events.md): curl in a container, to port 443.
    const auto doc = nlohmann::json::parse(R"({
      "@timestamp": "2026-11-24T10:00:00.000000Z",
      "event": {"kind": "event", "category": ["network"], "type": ["start", "connection"],
                "action": "flow-start", "dataset": "policer.flow"},
      "host": {"name": "web-1"},
      "network": {"transport": "tcp", "iana_number": "6", "type": "ipv4",
                  "direction": "egress"},
      "source": {"ip": "::ffff:10.0.0.5", "port": 54321},
      "destination": {"ip": "93.184.216.34", "port": 443, "domain": "example.com"},
      "process": {"pid": 4321, "name": "curl", "executable": "/usr/bin/curl",
                  "command_line": "curl https://example.com/", "args_count": 2,
                  "parent": {"pid": 4000, "name": "bash", "executable": "/usr/bin/bash"}},
      "user": {"id": "1000", "name": "alice"},
      "group": {"id": "1000", "name": "alice"},
      "cgroup": {"id": 1234, "path": "/system.slice/docker-0123abcd.scope"},
      "container": {"id": "0123abcd", "runtime": "docker"},
      "policer": {"flow": {"cookie": 77, "identity": "full"}}
    })");

    for (bool pending : {false, true}) {
        INFO("l7_pending: " << pending);
        FlowAttrs f = attrs_from_ecs(doc, pending);
        auto attr = [&](const char *name) -> const Attr & { return f[*find_field(name)]; };
        CHECK(attr("direction").str == "egress");
        CHECK(attr("l4.proto").str == "tcp");
        CHECK(attr("ip.family").str == "ipv4");
        CHECK(attr("src.ip").family == 2); // IPv4 on an IPv6 socket
        CHECK(attr("src.ip").addr[0] == 10);
        CHECK(attr("src.ip").addr[3] == 5);
        CHECK(attr("src.port").num == 54321);
        CHECK(attr("dst.port").num == 443);
        CHECK(attr("dst.domain").str == "example.com");
        CHECK(attr("user.id").num == 1000); // ECS keeps ids as strings
        CHECK(attr("user.name").str == "alice");
        CHECK(attr("group.id").num == 1000);
        CHECK(attr("process.name").str == "curl");
        CHECK(attr("process.exe").str == "/usr/bin/curl");
        CHECK(attr("process.cmdline").str == "curl https://example.com/");
        CHECK(attr("process.pid").num == 4321);
        CHECK(attr("process.parent.exe").str == "/usr/bin/bash");
        CHECK(attr("cgroup.path").str == "/system.slice/docker-0123abcd.scope");
        CHECK(attr("container.id").str == "0123abcd");
        CHECK(attr("container.runtime").str == "docker");
        // Not in the event: absent, whatever the phase, for fields known at flow start ...
        CHECK(attr("container.name").state == AttrState::Absent);
        CHECK(attr("iface").state == AttrState::Absent);
        CHECK(attr("src.domain").state == AttrState::Absent);
        // ... while L7 fields are not known yet at flow start.
        for (const char *l7 : {"l7.protocol", "l7.app", "l7.category", "l7.host", "l7.risk",
                               "http.method", "http.url", "tls.sni", "dns.query"}) {
            INFO(l7);
            CHECK(attr(l7).state == (pending ? AttrState::Unknown : AttrState::Absent));
        }
    }

    RuleSet set =
        load_ok(R"(rule no_evil { priority 10 when tls.sni glob "*.evil.example" action reject }
rule curl_web { when process.name == curl and dst.port == 443 and user.id in 1000-1999 action allow }
default egress deny
)");
    CHECK(decision(set, attrs_from_ecs(doc, true)) == "pending no_evil");
    CHECK(decision(set, attrs_from_ecs(doc, false)) == "rule curl_web: allow");
}

TEST_CASE("rules flows: read from a flow-classified event with L7 fields") {
    const auto doc = nlohmann::json::parse(R"({
      "event": {"action": "flow-classified"},
      "network": {"transport": "tcp", "type": "ipv6", "direction": "ingress",
                  "protocol": "tls"},
      "source": {"ip": "2001:db8::7", "port": 40000},
      "destination": {"ip": "fd00::1", "port": 443},
      "process": {"pid": 99, "name": "nginx", "executable": "/usr/sbin/nginx"},
      "user": {"id": "33", "name": "www-data"},
      "tls": {"version": "1.3", "client": {"server_name": "shop.example"}},
      "policer": {"l7": {"protocol": "TLS.Amazon", "master": "TLS", "application": "Amazon",
                         "category": "Web", "host": "shop.example",
                         "risks": ["self_signed_cert", "obsolete_tls"], "classified": true}}
    })");
    FlowAttrs f = attrs_from_ecs(doc, true);
    auto attr = [&](const char *name) -> const Attr & { return f[*find_field(name)]; };
    CHECK(attr("direction").str == "ingress");
    CHECK(attr("ip.family").str == "ipv6");
    CHECK(attr("src.ip").family == 10);
    CHECK(attr("dst.ip").addr[0] == 0xfd);
    CHECK(attr("l7.protocol").str == "tls");
    CHECK(attr("l7.app").str == "Amazon");
    CHECK(attr("l7.category").str == "Web");
    CHECK(attr("l7.host").str == "shop.example");
    CHECK(attr("tls.sni").str == "shop.example");
    CHECK(attr("l7.risk").set == std::vector<std::string>{"self_signed_cert", "obsolete_tls"});
    // Dissected as TLS: no HTTP or DNS fields, and those are still "not known" with pending.
    CHECK(attr("http.method").state == AttrState::Unknown);
    CHECK(attr("dns.query").state == AttrState::Unknown);

    RuleSet set = load_ok(
        R"(rule risky { when l7.risk == self_signed_cert and direction == ingress action alert }
rule v6 { when src.ip in 2001:db8::/32 action deny }
)");
    CHECK(decision(set, f) == "rule risky: alert");
}

TEST_CASE("rules flows: malformed or null values in an event are absent") {
    const auto doc = nlohmann::json::parse(R"({
      "destination": {"ip": "not-an-ip", "port": "https"},
      "source": {"ip": 12345, "port": 70000},
      "user": {"id": -1, "name": null},
      "group": {"id": 4294967296},
      "process": {"pid": "12x", "name": 42},
      "network": {"transport": ["tcp"]},
      "policer": {"l7": {"host": null, "risks": "single_risk"}}
    })");
    FlowAttrs f = attrs_from_ecs(doc, true);
    auto state = [&](const char *name) { return f[*find_field(name)].state; };
    for (const char *absent : {"dst.ip", "dst.port", "src.ip", "src.port", "user.id", "user.name",
                               "group.id", "process.pid", "l4.proto"}) {
        INFO(absent);
        CHECK(state(absent) == AttrState::Absent);
    }
    // A number where text is expected is taken as its text.
    CHECK(state("process.name") == AttrState::Known);
    CHECK(f[*find_field("process.name")].str == "42");
    // An L7 field given as null is "not known" while pending.
    CHECK(state("l7.host") == AttrState::Unknown);
    // One risk given as a string rather than an array.
    CHECK(f[*find_field("l7.risk")].set == std::vector<std::string>{"single_risk"});
    // Not an object at all: every field absent.
    FlowAttrs e = attrs_from_ecs(nlohmann::json::array({1, 2}));
    for (const auto &a : e.attrs)
        CHECK(a.state == AttrState::Absent);
}

TEST_CASE("rules values: glob patterns") {
    CHECK(glob_match("*", ""));
    CHECK(glob_match("", ""));
    CHECK_FALSE(glob_match("", "a"));
    CHECK_FALSE(glob_match("?", ""));
    CHECK(glob_match("a*b*c", "aXbYbZc"));
    CHECK_FALSE(glob_match("a*b*c", "aXbYbZ"));
    CHECK(glob_match("*.example.com", "a.b.example.com"));
    CHECK_FALSE(glob_match("*.example.com", "example.com"));
    CHECK(glob_match("/usr/*/bin", "/usr/local/lib/bin")); // '*' crosses '/'
    CHECK(glob_match("**?", "x"));
    // A pattern that makes naive backtracking exponential stays quick.
    CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST_CASE("rules values: addresses as text") {
    auto v4 = parse_address("192.0.2.1");
    REQUIRE(v4);
    CHECK(v4->family == 2);
    CHECK(v4->len == 32);
    CHECK(v4->str() == "192.0.2.1");
    auto mapped = parse_address("::ffff:192.0.2.1");
    REQUIRE(mapped);
    CHECK(mapped->family == 2);
    CHECK(mapped->addr == v4->addr);
    auto v6 = parse_address("2001:db8::1");
    REQUIRE(v6);
    CHECK(v6->family == 10);
    CHECK(v6->str() == "2001:db8::1");
    CHECK_FALSE(parse_address("192.0.2.1/24"));
    CHECK_FALSE(parse_address("example.com"));
    CHECK_FALSE(parse_address(""));
    IpPrefix net = *parse_address("192.0.2.0");
    net.len = 25;
    CHECK(net.str() == "192.0.2.0/25");
    CHECK(net.contains(2, parse_address("192.0.2.127")->addr.data()));
    CHECK_FALSE(net.contains(2, parse_address("192.0.2.128")->addr.data()));
    CHECK_FALSE(net.contains(10, v6->addr.data()));
}
