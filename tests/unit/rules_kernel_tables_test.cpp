// The kernel's rule tables (rules/kernel_tables.h): their layout, the symbolic sets policerd
// resolves, and - on random rule sets and flows - that the kernel's evaluation over the
// exported tables never contradicts the reference evaluator at tier 1.
#include "rules/kernel_tables.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <map>
#include <random>
#include <sstream>

using namespace policer::rules;

namespace {

std::shared_ptr<const CompiledRules> compile_text(const std::string &text) {
    LoadResult r = load_rules_text("test.rules", text);
    std::string diags;
    for (const auto &d : r.diags)
        diags += d.format() + "\n";
    REQUIRE_MESSAGE(r.set, diags);
    return CompiledRules::compile(std::make_shared<RuleSet>(std::move(*r.set)));
}

KernelTables tables_of(const std::shared_ptr<const CompiledRules> &c) {
    std::string error;
    auto t = KernelTables::build(c, 1, error);
    REQUIRE_MESSAGE(t, error);
    return std::move(*t);
}

// ---- a small host: users, executables, cgroups, addresses with DNS names ----

struct Exe {
    uint64_t dev, ino;
    std::string path, comm;
};

struct Cgroup {
    uint64_t id;
    std::string path;
    Attr cid, cname, crt;
};

Attr known(const std::string &s) {
    Attr a;
    a.state = AttrState::Known;
    a.str = s;
    return a;
}

Attr absent() {
    Attr a;
    a.state = AttrState::Absent;
    return a;
}

const std::string kWebId(64, 'a');
const std::string kJobId(64, 'b');

struct Host {
    std::map<uint32_t, std::optional<std::string>> users = {
        {0, "root"}, {1000, "alice"}, {1001, "bob"}, {65534, "nobody"}, {4242, std::nullopt}};
    std::map<uint32_t, std::optional<std::string>> groups = {
        {0, "root"}, {100, "users"}, {65534, "nogroup"}, {5000, std::nullopt}};
    std::vector<Exe> exes = {{1, 10, "/usr/bin/curl", "curl"},
                             {1, 11, "/usr/bin/ssh", "ssh"},
                             {2, 5, "/opt/app/bin/server", "server"},
                             {1, 12, "/usr/sbin/nginx", "nginx"},
                             {1, 13, "/usr/bin/python3.11", "python3"}};
    std::vector<Cgroup> cgroups = {
        {100, "/system.slice/nginx.service", absent(), absent(), absent()},
        {200, "/system.slice/docker-" + kWebId + ".scope", known(kWebId), known("web"),
         known("docker")},
        {300, "/kubepods/pod1/cri-containerd-" + kJobId + ".scope", known(kJobId), Attr{},
         known("containerd")}, // name not resolved yet
        {400, "/user.slice/user-1000.slice/session-1.scope", absent(), absent(), absent()}};
    std::vector<std::string> v4 = {"10.0.0.5",  "10.1.2.3",      "192.168.1.10",
                                   "127.0.0.1", "93.184.216.34", "8.8.8.8"};
    std::vector<std::string> v6 = {"fd00::1", "2001:db8::5", "::1", "fe80::2"};
    std::map<std::string, std::string> domains = {{"93.184.216.34", "www.example.com"},
                                                  {"10.1.2.3", "db.api.example.com"},
                                                  {"2001:db8::5", "v6.example.net"}};
    std::vector<uint16_t> ports = {22, 53, 80, 443, 1024, 8080, 50000};

    // What policerd writes for the symbolic sets.
    void resolve(KernelTables &k) const {
        for (const auto &[uid, name] : users)
            k.put_name({KernelTables::key_id(PL_RF_USER_NAME, uid), k.ref_user_name(name)});
        for (const auto &[gid, name] : groups)
            k.put_name({KernelTables::key_id(PL_RF_GROUP_NAME, gid), k.ref_group_name(name)});
        for (const auto &e : exes)
            k.put_name({KernelTables::key_exe(e.dev, e.ino), k.ref_exe(e.path)});
        for (const auto &c : cgroups)
            k.put_name(
                {KernelTables::key_cgroup(c.id), k.ref_cgroup({c.path, c.cid, c.cname, c.crt})});
        for (const auto &[ip, name] : domains) {
            auto p = parse_address(ip);
            for (auto slot : {PL_RF_SRC_DOMAIN, PL_RF_DST_DOMAIN})
                k.put_name({KernelTables::key_domain(slot, p->family == 10, p->addr.data()),
                            k.ref_domain(slot, name)});
        }
    }
};

// One flow, as the kernel sees it and as the reference sees it at tier 1.
struct TestFlow {
    KernelFacts facts;
    FlowAttrs attrs;
    std::string text;
};

TestFlow make_flow(const Host &h, std::mt19937 &rng) {
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    TestFlow t;
    KernelFacts &k = t.facts;
    FlowAttrs &a = t.attrs;
    k.ingress = rng() % 2;
    k.udp = rng() % 2;
    k.ipv6 = rng() % 3 == 0;
    a.set_string("direction", k.ingress ? "ingress" : "egress");
    a.set_string("l4.proto", k.udp ? "udp" : "tcp");
    a.set_string("ip.family", k.ipv6 ? "ipv6" : "ipv4");
    const auto &pool = k.ipv6 ? h.v6 : h.v4;
    const std::string sip = pool[pick(pool.size())], dip = pool[pick(pool.size())];
    auto sp = parse_address(sip), dp = parse_address(dip);
    std::memcpy(k.saddr.data(), sp->addr.data(), 16);
    std::memcpy(k.daddr.data(), dp->addr.data(), 16);
    a.set_address("src.ip", sip);
    a.set_address("dst.ip", dip);
    for (const auto &[field, ip] : {std::pair{"src.domain", sip}, std::pair{"dst.domain", dip}}) {
        auto it = h.domains.find(ip);
        if (it == h.domains.end())
            a.set_absent(field);
        else
            a.set_string(field, it->second);
    }
    k.sport = h.ports[pick(h.ports.size())];
    k.dport = h.ports[pick(h.ports.size())];
    a.set_number("src.port", k.sport);
    a.set_number("dst.port", k.dport);
    // An outbound socket not bound before connect(): its source is not known to the hook.
    k.src_known = !(!k.ingress && rng() % 3 == 0);
    if (!k.src_known)
        for (const char *field : {"src.ip", "src.port", "src.domain"})
            a[*find_field(field)] = Attr{};

    auto user = std::next(h.users.begin(), static_cast<long>(pick(h.users.size())));
    k.uid = user->first;
    a.set_number("user.id", k.uid);
    user->second ? a.set_string("user.name", *user->second) : a.set_absent("user.name");
    auto group = std::next(h.groups.begin(), static_cast<long>(pick(h.groups.size())));
    k.gid = group->first;
    a.set_number("group.id", k.gid);
    group->second ? a.set_string("group.name", *group->second) : a.set_absent("group.name");

    const Exe &e = h.exes[pick(h.exes.size())];
    std::strncpy(k.comm, e.comm.c_str(), PL_COMM_LEN - 1);
    a.set_string("process.name", e.comm);
    k.exe_known = rng() % 8 != 0; // a process the map missed: exe unknown to the kernel
    k.exe_dev = e.dev;
    k.exe_ino = e.ino;
    if (k.exe_known) a.set_string("process.exe", e.path);
    // process.exe stays Unknown otherwise

    const Cgroup &c = h.cgroups[pick(h.cgroups.size())];
    k.cgroup_id = c.id;
    a.set_string("cgroup.path", c.path);
    a[*find_field("container.id")] = c.cid;
    a[*find_field("container.name")] = c.cname;
    a[*find_field("container.runtime")] = c.crt;
    // iface, user-space and L7 fields: unknown at connect (the reference ignores their
    // predicates at tier 1 anyway; give them values to prove it).
    a.set_string("process.cmdline", e.path + " --flag");
    a.set_number("process.pid", 1234);
    a.set_string("l7.protocol", "tls");

    std::ostringstream o;
    o << (k.ingress ? "ingress " : "egress ") << (k.udp ? "udp " : "tcp ") << sip << ":" << k.sport
      << " -> " << dip << ":" << k.dport << " uid " << k.uid << " gid " << k.gid << " " << e.path
      << (k.exe_known ? "" : " (exe unknown)") << " cgroup " << c.path;
    t.text = o.str();
    return t;
}

// ---- random rule sets over every kind of field ----

struct Pool {
    const char *field;
    std::vector<const char *> values;
    std::vector<const char *> patterns;
};

const std::vector<Pool> &pools() {
    static const std::vector<Pool> p = {
        {"direction", {"egress", "ingress"}, {}},
        {"l4.proto", {"tcp", "udp"}, {}},
        {"ip.family", {"ipv4", "ipv6"}, {}},
        {"src.ip",
         {"10.0.0.0/8", "10.1.0.0/16", "192.168.1.10", "fd00::/8", "::1", "0.0.0.0/0"},
         {}},
        {"dst.ip",
         {"10.0.0.0/8", "10.1.2.3", "93.184.216.0/24", "2001:db8::/32", "::/0", "127.0.0.1",
          "8.0.0.0/7"},
         {}},
        {"src.port", {"22", "1024-65535", "0-1023", "50000"}, {}},
        {"dst.port", {"22", "53", "80", "443", "8000-8999", "1-1023"}, {}},
        {"user.id", {"0", "1000", "1000-1999", "65534", "4242"}, {}},
        {"user.name", {"root", "alice", "bob", "nobody", "carol"}, {"a*"}},
        {"group.id", {"0", "100", "65534", "100-200"}, {}},
        {"group.name", {"root", "users", "nogroup"}, {"no*"}},
        {"process.name",
         {"curl", "ssh", "server", "nginx", "python3", "averyveryverylongname"},
         {"py*"}},
        {"process.exe", {"/usr/bin/curl", "/usr/bin/ssh", "/opt/app/bin/server"}, {"/usr/*"}},
        {"cgroup.path", {"/system.slice/nginx.service"}, {"/system.slice/*", "/kubepods/*"}},
        {"container.name", {"web", "db"}, {"w*"}},
        {"container.runtime", {"docker", "containerd", "podman"}, {}},
        {"container.id", {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, {}},
        {"dst.domain", {"www.example.com", "db.api.example.com"}, {"*.example.com", "*.net"}},
        {"src.domain", {"www.example.com"}, {"*.api.example.com"}},
        {"iface", {"eth0"}, {"veth*"}},
        {"process.pid", {"1234", "1-100"}, {}},
        {"process.cmdline", {"/usr/bin/curl --flag"}, {"*--flag*"}},
        {"l7.protocol", {"tls", "http"}, {}},
    };
    return p;
}

std::string quoted(const char *v) {
    return std::string("\"") + v + "\"";
}

std::string random_pred(std::mt19937 &rng) {
    // Kernel fields most of the time: they are what the tables are about.
    const auto &all = pools();
    const Pool &p = all[rng() % 10 < 8 ? rng() % (all.size() - 3) : all.size() - 3 + rng() % 3];
    auto value = [&] { return quoted(p.values[rng() % p.values.size()]); };
    if (!p.patterns.empty() && rng() % 4 == 0)
        return std::string(p.field) + (rng() % 3 == 0 ? " not glob " : " glob ") +
               quoted(p.patterns[rng() % p.patterns.size()]);
    switch (rng() % 4) {
    case 0: return std::string(p.field) + " == " + value();
    case 1: return std::string(p.field) + " != " + value();
    default: {
        std::string s = std::string(p.field) + (rng() % 3 == 0 ? " not in (" : " in (");
        const size_t n = 1 + rng() % 3;
        for (size_t i = 0; i < n; ++i)
            s += (i ? ", " : "") + value();
        return s + ")";
    }
    }
}

std::string random_expr(std::mt19937 &rng, int depth) {
    if (depth == 0 || rng() % 3 == 0) return random_pred(rng);
    switch (rng() % 4) {
    case 0: return "not (" + random_expr(rng, depth - 1) + ")";
    case 1: return "(" + random_expr(rng, depth - 1) + " or " + random_expr(rng, depth - 1) + ")";
    default: return "(" + random_expr(rng, depth - 1) + " and " + random_expr(rng, depth - 1) + ")";
    }
}

std::string random_rules(std::mt19937 &rng, size_t n) {
    static const char *const kActions[] = {"allow", "deny", "reject", "alert",
                                           "limit 50/s burst 100 per cgroup"};
    std::ostringstream o;
    if (rng() % 5 == 0) o << "mode audit\n";
    o << "default egress " << kActions[rng() % 4] << "\ndefault ingress " << kActions[rng() % 4]
      << "\n";
    for (size_t i = 0; i < n; ++i) {
        o << "rule r" << i << " {\n  when " << random_expr(rng, 1 + static_cast<int>(rng() % 3))
          << "\n  action " << kActions[rng() % 5] << "\n";
        if (rng() % 3 == 0) o << "  priority " << rng() % 5 << "\n";
        if (rng() % 6 == 0) o << "  audit\n";
        o << "}\n";
    }
    return o.str();
}

bool has_whole_term(const CompiledRules &c, size_t rule) {
    const RulePlan &p = c.plans()[rule];
    for (size_t t = p.first_term; t < p.first_term + p.terms; ++t)
        if (c.terms()[t].whole) return true;
    return false;
}

} // namespace

TEST_CASE("kernel tables: the class, range and name tables of a small policy") {
    auto c = compile_text(R"(
        rule ssh-root-only { when dst.port == 22 and user.name != root action reject }
        rule no-private { when process.name == curl and dst.ip in (10.0.0.0/8, fd00::/8) action deny }
        rule dns-rate { when l4.proto == udp and dst.port == 53 action limit 50/s burst 100 per cgroup }
        rule tls-only { when dst.port == 443 and l7.protocol != tls action reject }
        default ingress deny
    )");
    KernelTables k = tables_of(c);
    const pl_rule_header &h = k.header();
    CHECK(h.generation == 1);
    CHECK(h.rules == 4);
    CHECK(h.terms == 4);
    CHECK(h.words == 1);
    const uint32_t used = (1u << PL_RF_CLASS) | (1u << PL_RF_USER_NAME) | (1u << PL_RF_DST_PORT) |
                          (1u << PL_RF_DST_IP4) | (1u << PL_RF_DST_IP6) | (1u << PL_RF_COMM);
    CHECK(h.used_fields == used);
    // Exact: every term but tls-only's (it needs nDPI).
    CHECK(k.bitmaps()[h.exact_bm][0] == 0b0111);
    CHECK(h.default_egress.kind == PL_RA_ALLOW);
    CHECK(h.default_ingress.kind == PL_RA_DENY);
    REQUIRE(k.actions().size() == 4);
    CHECK(k.actions()[2].kind == PL_RA_LIMIT);
    CHECK(k.actions()[2].rate == 50);
    CHECK(k.actions()[2].burst == 100);
    CHECK(k.actions()[2].per == PL_RL_CGROUP);

    // Class: only dns-rate's term is ruled out for TCP.
    CHECK(k.bitmaps()[k.classes()[PL_RULE_CLASS(0, 0, 0)].match][0] == 0b1011);
    CHECK(k.bitmaps()[k.classes()[PL_RULE_CLASS(1, 1, 1)].match][0] == 0b1111);

    // The dst.port table covers all ports with prefixes: 22, 53 and 443 are single ports.
    std::map<std::pair<uint32_t, uint32_t>, uint64_t> port_entries; // (prefixlen, port) -> bits
    for (const auto &e : k.ranges())
        if (e.key.field == PL_RF_DST_PORT)
            port_entries[{e.key.prefixlen - 32, (uint32_t(e.key.data[0]) << 8) | e.key.data[1]}] =
                k.bitmaps()[e.ref.match][0];
    CHECK(port_entries.at({16, 22}) == 0b0011);  // ssh-root-only, no-private
    CHECK(port_entries.at({16, 53}) == 0b0110);  // no-private, dns-rate
    CHECK(port_entries.at({16, 443}) == 0b1010); // no-private, tls-only
    CHECK(port_entries.at({12, 0}) == 0b0010);   // ports 0-15: only no-private may match
    uint64_t covered = 0;
    for (const auto &[k2, bits] : port_entries)
        covered += uint64_t(1) << (16 - k2.first);
    CHECK(covered == 65536); // a partition of the port space

    // Process names are keys as they are; user names are a symbolic set for policerd.
    bool curl = false;
    for (const auto &e : k.names())
        if (e.key.field == PL_RF_COMM && std::string(e.key.comm) == "curl")
            curl = k.bitmaps()[e.ref.match][0] == 0b1111;
    CHECK(curl);
    CHECK(k.bitmaps()[h.missing[PL_RF_COMM].match][0] == 0b1101); // not curl: no-private out
    REQUIRE(k.symbolic().size() == 1);
    CHECK(k.symbolic()[0].slot == PL_RF_USER_NAME);
    CHECK(k.symbolic()[0].values == std::vector<std::string>{"root"});
    CHECK(k.bitmaps()[k.ref_user_name("root").match][0] == 0b1110);
    CHECK(k.bitmaps()[k.ref_user_name(std::nullopt).match][0] == 0b1111);
}

TEST_CASE("kernel tables: decisions at connect for the documented examples") {
    auto c = compile_text(R"(
        rule ssh-root-only { when dst.port == 22 and user.name != root action reject }
        rule web-api-tls { when container.name == web and dst.domain glob "*.api.example.com"
                             and l7.protocol != tls action deny }
        rule curl-private { when process.name == curl and dst.ip in 10.0.0.0/8 action deny }
    )");
    KernelTables k = tables_of(c);
    Host h;
    h.resolve(k);

    KernelFacts f;
    auto v4 = [](const char *ip) {
        std::array<uint8_t, 16> a{};
        inet_pton(AF_INET, ip, a.data());
        return a;
    };
    f.daddr = v4("10.0.0.5");
    f.dport = 22;
    f.uid = 1000;
    std::strcpy(f.comm, "ssh");
    f.cgroup_id = 400;
    KernelDecision d = k.decide(f);
    CHECK(d.kind == KernelDecision::Kind::Rule);
    CHECK(d.rule == 0);
    CHECK(d.action.kind == PL_RA_REJECT);

    f.uid = 0; // root may
    CHECK(k.decide(f).kind == KernelDecision::Kind::Default);

    std::strcpy(f.comm, "curl"); // curl to 10/8 on any port
    f.dport = 80;
    d = k.decide(f);
    CHECK(d.kind == KernelDecision::Kind::Rule);
    CHECK(d.rule == 2);
    CHECK(d.action.kind == PL_RA_DENY);

    // The web container to the API: the verdict needs nDPI, so the kernel defers - and curl's
    // rule below it must wait too (it may be the L7 rule that decides).
    f.cgroup_id = 200;
    f.daddr = v4("10.1.2.3"); // db.api.example.com
    d = k.decide(f);
    CHECK(d.kind == KernelDecision::Kind::Defer);
    CHECK(d.rule == 1);
    // Not the API: the L7 rule is ruled out in the kernel, and curl's rule decides at once.
    f.daddr = v4("10.0.0.5");
    d = k.decide(f);
    CHECK(d.kind == KernelDecision::Kind::Rule);
    CHECK(d.rule == 2);
    // A cgroup policerd has not resolved yet: whether it is `web` is unknown: defer.
    f.cgroup_id = 999;
    f.daddr = v4("10.1.2.3");
    CHECK(k.decide(f).kind == KernelDecision::Kind::Defer);
}

TEST_CASE("kernel tables: a condition too large for normal form is deferred, never misjudged") {
    // 2^7 = 128 conjunctions: the compiler evaluates it whole; the kernel cannot.
    std::string cond;
    for (int i = 0; i < 7; ++i)
        cond += std::string(i ? " and " : "") + "(dst.port == " + std::to_string(1000 + i) +
                " or user.id == " + std::to_string(i) + ")";
    auto c = compile_text("rule big { when " + cond + " action deny }\n" +
                          "rule ssh { when dst.port == 22 action reject }\n");
    REQUIRE(c->terms()[0].whole);
    KernelTables k = tables_of(c);
    KernelFacts f;
    f.dport = 22;
    f.uid = 1000;
    // The reference knows `big` is false here and decides `ssh`; the kernel must wait.
    KernelDecision d = k.decide(f);
    CHECK(d.kind == KernelDecision::Kind::Defer);
    CHECK(d.rule == 0);
}

TEST_CASE("kernel tables: a rule set larger than the kernel's bitmaps is refused with a reason") {
    std::string text;
    for (int i = 0; i < PL_RULE_MAX_TERMS + 1; ++i)
        text += "rule r" + std::to_string(i) + " { when dst.port == " + std::to_string(i % 65536) +
                " action deny }\n";
    LoadResult r = load_rules_text("big.rules", text);
    REQUIRE(r.set);
    auto c = CompiledRules::compile(std::make_shared<RuleSet>(std::move(*r.set)));
    std::string error;
    CHECK_FALSE(KernelTables::build(c, 1, error));
    CHECK(error.find("16384") != std::string::npos);
}

TEST_CASE("kernel tables: the kernel's evaluation agrees with the reference at tier 1 on random "
          "rule sets") {
    const uint32_t seed = 20261124;
    std::mt19937 rng(seed);
    Host h;
    size_t decided = 0, deferred = 0, defaults = 0, conservative = 0;
    for (int round = 0; round < 150; ++round) {
        const std::string text = random_rules(rng, 1 + rng() % 40);
        LoadResult r = load_rules_text("random.rules", text);
        REQUIRE_MESSAGE(r.set, text);
        auto set = std::make_shared<RuleSet>(std::move(*r.set));
        auto c = CompiledRules::compile(set);
        KernelTables k = tables_of(c);
        h.resolve(k);
        for (int i = 0; i < 200; ++i) {
            TestFlow t = make_flow(h, rng);
            const Decision ref = decide_reference(*set, t.attrs, Tier::Kernel);
            const KernelDecision kd = k.decide(t.facts);
            INFO("seed " << seed << " round " << round << "\nflow: " << t.text << "\nrules:\n"
                         << text);
            switch (kd.kind) {
            case KernelDecision::Kind::Rule:
                ++decided;
                REQUIRE(ref.kind == Decision::Kind::Rule);
                REQUIRE(ref.rule == kd.rule);
                CHECK(kd.action.audit == (ref.audit ? 1 : 0));
                break;
            case KernelDecision::Kind::Default:
                ++defaults;
                REQUIRE(ref.kind == Decision::Kind::Default);
                CHECK(kd.action.kind == k.header().default_egress.kind * !t.facts.ingress +
                                            k.header().default_ingress.kind * t.facts.ingress);
                break;
            case KernelDecision::Kind::Defer:
                ++deferred;
                if (ref.kind == Decision::Kind::Pending && ref.rule == kd.rule) break;
                // Only a condition too large for normal form defers where the reference
                // could decide - and never past the reference's rule.
                ++conservative;
                REQUIRE(has_whole_term(*c, kd.rule));
                REQUIRE((ref.kind == Decision::Kind::Default || ref.rule >= kd.rule));
                break;
            }
        }
    }
    MESSAGE("kernel decided " << decided << ", defaulted " << defaults << ", deferred " << deferred
                              << " (" << conservative << " for oversized conditions)");
    // The random sets must exercise every outcome, or the test proves little.
    CHECK(decided > 1000);
    CHECK(defaults > 100);
    CHECK(deferred > 500);
}
