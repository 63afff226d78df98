// rules_blocklist_test.cpp - the XDP source blocklist (rules/blocklist.h): which rules list
// which prefixes, what earlier rules carve out, and - differentially, on random rule sets -
// that every flow whose peer is in a listed prefix is refused by the reference evaluator
// (evaluate.h) at full knowledge. Listing too little is allowed; listing one address too
// many is the bug this file exists to catch.
//
// To reproduce or explore a random failure: POLICER_RULES_SEED=<seed> (and
// POLICER_RULES_SETS=<n> for a longer run).
#include "rules/blocklist.h"
#include "rules/compiler.h"
#include "rules/evaluate.h"
#include "rules/rule_set.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace policer::rules;

std::shared_ptr<const CompiledRules> compile_text(const std::string &text) {
    LoadResult r = load_rules_text("blocklist.rules", text);
    std::string diags;
    for (const auto &d : r.diags)
        diags += d.format();
    INFO("rules:\n" << text << "\ndiagnostics:\n" << diags);
    REQUIRE(r.set.has_value());
    return CompiledRules::compile(std::make_shared<RuleSet>(std::move(*r.set)));
}

Blocklist blocklist_of(const std::string &text,
                       BlocklistScope scope = BlocklistScope::IngressFlows) {
    BlocklistOptions o;
    o.scope = scope;
    return xdp_blocklist(*compile_text(text), o);
}

// "prefix rule" per entry, in the list's order.
std::vector<std::string> entries(const Blocklist &b) {
    std::vector<std::string> v;
    for (const auto &p : b.prefixes)
        v.push_back(p.str() + " " + p.rule);
    return v;
}

std::vector<std::string> prefixes(const Blocklist &b) {
    std::vector<std::string> v;
    for (const auto &p : b.prefixes)
        v.push_back(p.str());
    return v;
}

// Whether `text` (an address) falls in a listed prefix.
bool listed(const Blocklist &b, const std::string &text) {
    auto ip = parse_address(text);
    REQUIRE(ip.has_value());
    for (const auto &p : b.prefixes) {
        IpPrefix x;
        x.family = static_cast<uint8_t>(p.family);
        x.addr = p.addr;
        x.len = static_cast<uint8_t>(p.bits);
        if (x.contains(ip->family, ip->addr.data())) return true;
    }
    return false;
}

using Strings = std::vector<std::string>;

} // namespace

TEST_CASE("blocklist: a rule refusing by src.ip alone lists its prefixes") {
    auto b = blocklist_of(R"(
        rule bad-nets { when src.ip in (203.0.113.0/24, 198.51.100.7) action deny }
        rule scanners { when direction == ingress and src.ip == 192.0.2.0/28 action reject }
    )");
    CHECK(entries(b) ==
          Strings{"192.0.2.0/28 scanners", "198.51.100.7/32 bad-nets", "203.0.113.0/24 bad-nets"});
    REQUIRE(b.prefixes.size() == 3);
    CHECK(b.prefixes[0].action == ActionKind::Reject);
    CHECK(b.prefixes[1].action == ActionKind::Deny);
    CHECK(b.prefixes[0].family == 2);
    CHECK(b.prefixes[0].bits == 28);
    CHECK(b.omitted == 0);
    CHECK(b.note.empty());
}

TEST_CASE("blocklist: direction must admit ingress, and any other field disqualifies a term") {
    CHECK(prefixes(blocklist_of("rule r { when direction != egress and src.ip == 10.1.1.1 "
                                "action deny }")) == Strings{"10.1.1.1/32"});
    CHECK(prefixes(blocklist_of("rule r { when direction in (ingress, egress) and "
                                "src.ip == 10.1.1.1 action deny }")) == Strings{"10.1.1.1/32"});
    CHECK(blocklist_of("rule r { when direction == egress and src.ip == 10.1.1.1 action deny }")
              .prefixes.empty());
    for (const char *other : {"user.id == 0", "dst.port == 22", "l4.proto == tcp",
                              "ip.family == ipv4", "process.name == sshd", "dst.ip == 10.0.0.1",
                              "src.port == 5000", "l7.protocol == http"}) {
        CAPTURE(other);
        CHECK(blocklist_of(std::string("rule r { when src.ip == 10.1.1.1 and ") + other +
                           " action deny }")
                  .prefixes.empty());
    }
    // A pure disjunct is enough: the condition is true whenever it is.
    CHECK(prefixes(blocklist_of("rule r { when src.ip == 10.0.0.1 or (src.ip == 10.0.0.2 and "
                                "dst.port == 22) action deny }")) == Strings{"10.0.0.1/32"});
    // So is a negation that normal form turns into one.
    CHECK(prefixes(blocklist_of("rule r { when not (src.ip not in 10.9.0.0/16) action deny }")) ==
          Strings{"10.9.0.0/16"});
}

TEST_CASE("blocklist: allow, alert, limit and audit rules are never listed") {
    for (const char *action : {"allow", "alert", "limit 5/s"}) {
        CAPTURE(action);
        CHECK(blocklist_of(std::string("rule r { when src.ip == 10.1.1.1 action ") + action + " }")
                  .prefixes.empty());
    }
    CHECK(blocklist_of("rule r { audit\n when src.ip == 10.1.1.1 action deny }").prefixes.empty());
    auto b = blocklist_of("mode audit\nrule r { when src.ip == 10.1.1.1 action deny }");
    CHECK(b.prefixes.empty());
    CHECK_FALSE(b.note.empty());
    // Defaults are never used, even a default ingress deny.
    CHECK(blocklist_of("default ingress deny\ndefault egress deny\n"
                       "rule r { when src.ip == 10.1.1.1 action allow }",
                       BlocklistScope::PeerTraffic)
              .prefixes.empty());
}

TEST_CASE("blocklist: an earlier rule that may pass some flows carves its addresses out") {
    // An allow for one source and one port: that source's port-22 flows pass, so the source
    // must not be dropped; the rest of the /24 still is.
    auto b = blocklist_of(R"(
        rule deny-net { when src.ip in 203.0.113.0/24 action deny }
        rule ssh-from-admin { priority 10
            when src.ip == 203.0.113.5 and dst.port == 22 action allow }
    )");
    CHECK(prefixes(b) == Strings{"203.0.113.0/30", "203.0.113.4/32", "203.0.113.6/31",
                                 "203.0.113.8/29", "203.0.113.16/28", "203.0.113.32/27",
                                 "203.0.113.64/26", "203.0.113.128/25"});
    CHECK_FALSE(listed(b, "203.0.113.5"));
    CHECK(listed(b, "203.0.113.4"));
    CHECK(listed(b, "203.0.113.6"));

    // An earlier allow with no address constraint may match any source: nothing is listed.
    CHECK(blocklist_of("rule a { when dst.port == 22 action allow }\n"
                       "rule d { when src.ip in 10.0.0.0/8 action deny }")
              .prefixes.empty());
    // Alerts, limits and audit rules pass flows too.
    for (const char *earlier :
         {"rule e { when src.ip == 10.0.0.0/9 and user.id == 0 action alert }",
          "rule e { when src.ip == 10.0.0.0/9 action limit 10/s }",
          "rule e { audit\n when src.ip == 10.0.0.0/9 action deny }"}) {
        CAPTURE(earlier);
        CHECK(prefixes(blocklist_of(std::string(earlier) +
                                    "\nrule d { when src.ip in 10.0.0.0/8 action deny }")) ==
              Strings{"10.128.0.0/9"});
    }
    // An earlier allow that only admits egress flows cannot pass an ingress flow.
    CHECK(prefixes(blocklist_of("rule a { when direction == egress and dst.port == 22 "
                                "action allow }\n"
                                "rule d { when src.ip in 10.0.0.0/8 action deny }")) ==
          Strings{"10.0.0.0/8"});
    // An earlier refusing rule, pure or not, takes nothing away: what it matches is refused.
    auto e = blocklist_of("rule a { when src.ip == 10.0.0.0/9 and dst.port == 22 action reject }\n"
                          "rule d { when src.ip in 10.0.0.0/8 action deny }");
    CHECK(entries(e) == Strings{"10.0.0.0/8 d"});
    // A later allow changes nothing: the first match decides.
    CHECK(prefixes(blocklist_of("rule d { when src.ip in 10.0.0.0/8 action deny }\n"
                                "rule a { when src.ip == 10.1.2.3 action allow }")) ==
          Strings{"10.0.0.0/8"});
    // Of two refusing rules, the first in decision order is named.
    CHECK(
        entries(blocklist_of("rule d1 { when src.ip in 10.0.0.0/8 action deny }\n"
                             "rule d2 { priority 1\n when src.ip in 10.0.0.0/9 action reject }")) ==
        Strings{"10.0.0.0/9 d2", "10.128.0.0/9 d1"});
}

TEST_CASE("blocklist: decision order is priority first, then file order") {
    // The allow comes later in the file but has the higher priority: it decides first.
    CHECK(blocklist_of("rule d { when src.ip in 10.0.0.0/8 action deny }\n"
                       "rule a { priority 5\n when src.ip in 10.0.0.0/8 and user.id == 0 "
                       "action allow }")
              .prefixes.empty());
    // The allow comes first in the file but has the lower priority: the deny decides first.
    CHECK(prefixes(blocklist_of("rule a { priority -1\n when src.ip in 10.0.0.0/8 and "
                                "user.id == 0 action allow }\n"
                                "rule d { when src.ip in 10.0.0.0/8 action deny }")) ==
          Strings{"10.0.0.0/8"});
    // Equal priorities: file order.
    CHECK(blocklist_of("rule a { when src.ip in 10.0.0.0/8 and user.id == 0 action allow }\n"
                       "rule d { when src.ip in 10.0.0.0/8 action deny }")
              .prefixes.empty());
}

TEST_CASE("blocklist: IPv6, and IPv4-mapped addresses") {
    CHECK(
        prefixes(blocklist_of("rule r { when src.ip in (2001:db8::/32, fd00::1) action deny }")) ==
        Strings{"2001:db8::/32", "fd00::1/128"});
    // A mapped address in a rule is IPv4, and is listed as IPv4.
    auto m = blocklist_of("rule r { when src.ip == ::ffff:192.0.2.9 action deny }");
    REQUIRE(m.prefixes.size() == 1);
    CHECK(m.prefixes[0].family == 2);
    CHECK(m.prefixes[0].str() == "192.0.2.9/32");
    // An IPv6 rule never speaks for ::ffff:0:0/96: flows from there are judged as IPv4.
    auto all6 = blocklist_of("rule r { when src.ip in ::/0 action deny }");
    CHECK(all6.prefixes.size() == 96);
    CHECK(listed(all6, "2001:db8::1"));
    CHECK(listed(all6, "::"));
    CHECK(listed(all6, "::fffe:ffff:ffff"));
    CHECK(listed(all6, "::1:0:0:0"));
    for (const auto &p : all6.prefixes) {
        CHECK(p.family == 10);
        CHECK(p.bits <= 96);
        // No entry covers ::ffff:a.b.c.d (bytes 10 and 11 are 0xff, the first 10 are zero).
        bool covers_mapped = true;
        for (unsigned bit = 0; bit < p.bits; ++bit) {
            const unsigned byte = bit / 8, shift = 7 - bit % 8;
            const unsigned want = byte >= 10 ? 1 : 0;
            if (((p.addr[byte] >> shift) & 1u) != want) covers_mapped = false;
        }
        CHECK_FALSE(covers_mapped);
    }
    // A negation covers every other address of both families (minus the mapped range).
    auto ne = blocklist_of("rule r { when src.ip != 10.0.0.1 action deny }");
    CHECK_FALSE(listed(ne, "10.0.0.1"));
    CHECK(listed(ne, "10.0.0.0"));
    CHECK(listed(ne, "10.0.0.2"));
    CHECK(listed(ne, "255.255.255.255"));
    CHECK(listed(ne, "fd00::1"));
    CHECK(ne.prefixes.size() == 32 + 96);
}

TEST_CASE("blocklist: by default a peer is listed only when flows to it are refused too") {
    // Replies to this host's own connections come from the peer: XDP would drop them.
    const char *ingress_only = "rule r { when src.ip in 203.0.113.0/24 action deny }";
    CHECK(blocklist_of(ingress_only, BlocklistScope::PeerTraffic).prefixes.empty());
    CHECK(xdp_blocklist(*compile_text(ingress_only)).prefixes.empty()); // the default scope

    auto both = blocklist_of("rule r { when src.ip in 203.0.113.0/24 or dst.ip in "
                             "203.0.113.0/24 action deny }",
                             BlocklistScope::PeerTraffic);
    CHECK(entries(both) == Strings{"203.0.113.0/24 r"});
    // The two halves intersect; each half's carving applies.
    auto part = blocklist_of(R"(
        rule inbound { when src.ip in 203.0.113.0/24 action deny }
        rule out { when direction == egress and dst.ip in 203.0.113.0/25 action reject }
        rule web { priority 1
            when direction == egress and dst.ip == 203.0.113.1 and dst.port == 443 action allow }
    )",
                             BlocklistScope::PeerTraffic);
    CHECK(entries(part) == Strings{"203.0.113.0/32 inbound", "203.0.113.2/31 inbound",
                                   "203.0.113.4/30 inbound", "203.0.113.8/29 inbound",
                                   "203.0.113.16/28 inbound", "203.0.113.32/27 inbound",
                                   "203.0.113.64/26 inbound"});
}

TEST_CASE("blocklist: at most max_entries prefixes, the widest kept") {
    BlocklistOptions o;
    o.scope = BlocklistScope::IngressFlows;
    o.max_entries = 2;
    auto c = compile_text("rule r { when src.ip in (10.0.0.1, 10.0.0.3, 192.168.0.0/16, "
                          "172.16.0.0/12, 10.0.0.5) action deny }");
    auto b = xdp_blocklist(*c, o);
    CHECK(prefixes(b) == Strings{"172.16.0.0/12", "192.168.0.0/16"});
    CHECK(b.omitted == 3);
    o.max_entries = kMaxBlocklistEntries;
    CHECK(xdp_blocklist(*c, o).prefixes.size() == 5);
}

// ---- random rule sets against the reference evaluator ----

namespace {

const Strings kAddrValues = {
    "10.0.0.0/8",     "10.0.0.0/30", "10.0.0.1",       "10.0.0.2/31", "10.128.0.0/9",
    "192.168.0.0/16", "192.168.1.1", "0.0.0.0/0",      "128.0.0.0/1", "::ffff:10.0.0.1",
    "fd00::/8",       "fd00::1",     "fd00::/127",     "::/0",        "2001:db8::/32",
    "8000::/1",       "::1",         "255.255.255.255"};
// Addresses flows use for the other end: rule values and their neighbours.
const Strings kFlowAddrs4 = {"10.0.0.1", "10.0.0.2",        "10.0.0.4", "192.168.1.1",
                             "1.2.3.4",  "255.255.255.255", "0.0.0.0",  "10.200.0.1"};
const Strings kFlowAddrs6 = {"fd00::1", "fd00::2", "2001:db8::5", "::1", "8000::1", "fe80::1"};

struct Gen {
    std::mt19937_64 rng;
    size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
    bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }
    const std::string &any(const Strings &v) { return v[pick(v.size())]; }

    std::string values(const Strings &pool) {
        const size_t n = 1 + pick(3);
        std::string s = "(";
        for (size_t i = 0; i < n; ++i)
            s += (i ? ", " : "") + any(pool);
        return s + ")";
    }

    std::string pred() {
        static const char *ops[] = {"==", "!=", "in", "not in"};
        const char *op = ops[pick(4)];
        const bool list = op[0] == 'i' || op[0] == 'n';
        const size_t kind = pick(100);
        std::string field;
        Strings pool;
        if (kind < 45) {
            field = "src.ip";
            pool = kAddrValues;
        } else if (kind < 60) {
            field = "direction";
            pool = {"ingress", "egress"};
        } else if (kind < 70) {
            field = "dst.ip";
            pool = kAddrValues;
        } else if (kind < 78) {
            field = "dst.port";
            pool = {"22", "80", "1-1023", "443"};
        } else if (kind < 86) {
            field = "user.id";
            pool = {"0", "1000", "5-10"};
        } else if (kind < 93) {
            field = "l4.proto";
            pool = {"tcp", "udp"};
        } else {
            field = "ip.family";
            pool = {"ipv4", "ipv6"};
        }
        return field + " " + op + " " + (list ? values(pool) : any(pool));
    }

    std::string cond(int depth) {
        const size_t k = depth > 2 ? 0 : pick(10);
        if (k < 4) return pred();
        if (k < 7) return "(" + cond(depth + 1) + " and " + cond(depth + 1) + ")";
        if (k < 9) return "(" + cond(depth + 1) + " or " + cond(depth + 1) + ")";
        return "not " + cond(depth + 1);
    }

    std::string rule_set(size_t n) {
        static const Strings actions = {"allow", "deny", "deny",     "reject",
                                        "alert", "deny", "limit 5/s"};
        static const Strings prios = {"-1", "0", "0", "0", "3"};
        std::string s;
        if (chance(3)) s += "mode audit\n";
        if (chance(30)) s += "default ingress deny\n";
        for (size_t i = 0; i < n; ++i) {
            s += "rule r" + std::to_string(i) + " {\n";
            if (chance(50)) s += "  priority " + any(prios) + "\n";
            if (chance(10)) s += "  audit\n";
            s += "  when " + cond(0) + "\n  action " + any(actions) + "\n}\n";
        }
        return s;
    }

    // A random address inside a listed prefix.
    Attr address_in(const BlockPrefix &p) {
        Attr a;
        a.state = AttrState::Known;
        a.family = static_cast<uint8_t>(p.family);
        const unsigned width = p.family == 2 ? 32 : 128;
        a.addr = p.addr;
        const int mode = static_cast<int>(pick(3)); // 0: first, 1: last, 2: random
        for (unsigned bit = p.bits; bit < width; ++bit) {
            const unsigned byte = bit / 8, shift = 7 - bit % 8;
            const bool one = mode == 1 || (mode == 2 && chance(50));
            if (one) a.addr[byte] = static_cast<uint8_t>(a.addr[byte] | (1u << shift));
        }
        return a;
    }

    Attr other_address(int family) {
        Attr a;
        auto ip = parse_address(family == 2 ? any(kFlowAddrs4) : any(kFlowAddrs6));
        a.state = AttrState::Known;
        a.family = ip->family;
        a.addr = ip->addr;
        return a;
    }

    // A flow at full knowledge: every field known or absent.
    FlowAttrs flow(const std::string &direction, const Attr &peer, bool peer_is_src) {
        FlowAttrs f;
        for (auto &a : f.attrs)
            a.state = AttrState::Absent;
        f.set_string("direction", direction);
        f[*find_field(peer_is_src ? "src.ip" : "dst.ip")] = peer;
        f[*find_field(peer_is_src ? "dst.ip" : "src.ip")] = other_address(peer.family);
        f.set_string("ip.family", peer.family == 2 ? "ipv4" : "ipv6");
        f.set_string("l4.proto", chance(50) ? "tcp" : "udp");
        static const uint64_t ports[] = {22, 80, 443, 1000, 5000, 0, 65535};
        f.set_number("dst.port", ports[pick(7)]);
        f.set_number("src.port", ports[pick(7)]);
        static const uint64_t uids[] = {0, 5, 1000, 4294967295u};
        if (chance(90)) f.set_number("user.id", uids[pick(4)]);
        return f;
    }
};

std::string addr_text(const Attr &a) {
    IpPrefix p;
    p.family = a.family;
    p.addr = a.addr;
    p.len = a.family == 2 ? 32 : 128;
    return p.str();
}

uint64_t env_or(const char *name, uint64_t def) {
    const char *v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : def;
}

} // namespace

TEST_CASE("blocklist: on random rule sets, every flow from a listed prefix is refused by the "
          "reference evaluator") {
    const uint64_t seed = env_or("POLICER_RULES_SEED", 20261124);
    const uint64_t sets = env_or("POLICER_RULES_SETS", 1500);
    Gen g{std::mt19937_64(seed)};
    size_t listed_sets = 0, flows_checked = 0;
    for (uint64_t s = 0; s < sets; ++s) {
        const std::string text = g.rule_set(1 + g.pick(6));
        LoadResult r = load_rules_text("random.rules", text);
        INFO("seed " << seed << ", set " << s << ":\n" << text);
        REQUIRE(r.set.has_value());
        auto set = std::make_shared<RuleSet>(std::move(*r.set));
        auto compiled = CompiledRules::compile(set);
        for (BlocklistScope scope : {BlocklistScope::IngressFlows, BlocklistScope::PeerTraffic}) {
            BlocklistOptions o;
            o.scope = scope;
            Blocklist b = xdp_blocklist(*compiled, o);
            if (!b.prefixes.empty() && scope == BlocklistScope::IngressFlows) ++listed_sets;
            // Every listed prefix (at most 40 per set, spread over the list), a few flows each.
            const size_t step = b.prefixes.size() > 40 ? b.prefixes.size() / 40 : 1;
            for (size_t i = 0; i < b.prefixes.size(); i += step) {
                const BlockPrefix &p = b.prefixes[i];
                for (int k = 0; k < 4; ++k) {
                    const bool egress = scope == BlocklistScope::PeerTraffic && (k % 2 == 1);
                    const Attr peer = g.address_in(p);
                    FlowAttrs f = g.flow(egress ? "egress" : "ingress", peer, !egress);
                    const Decision d = decide_reference(*set, f, Tier::L7);
                    ++flows_checked;
                    INFO("scope " << (scope == BlocklistScope::PeerTraffic ? "peer" : "ingress")
                                  << ", prefix " << p.str() << " (rule " << p.rule << "), "
                                  << (egress ? "egress flow to " : "ingress flow from ")
                                  << addr_text(peer));
                    REQUIRE(d.kind == Decision::Kind::Rule);
                    CHECK_FALSE(d.audit);
                    CHECK(
                        (d.action.kind == ActionKind::Deny || d.action.kind == ActionKind::Reject));
                }
            }
        }
    }
    MESSAGE("random blocklists: " << listed_sets << " of " << sets << " sets listed prefixes; "
                                  << flows_checked << " flows checked");
    // Not vacuous: a fair share of the random sets must list something.
    CHECK(listed_sets * 10 >= sets);
}
