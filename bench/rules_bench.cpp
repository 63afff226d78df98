// rules_bench.cpp - decisions/s of the compiled rule engine (CompiledRules::decide) against the
// rule-by-rule reference (decide_reference, the linear baseline: what a firewall walking its
// chain does), at 10, 1,000 and 10,000 rules, on the same flows in the same run. Results and
// how to read them: docs/BENCHMARKS.md ("Rule decisions").
//
//   pl-rules-bench [--quick] [--json] [--cold] [--patterns PCT] [--rules N] [--help]
//
// Rule sets and flows are generated from a fixed seed, so every run decides the same flows
// against the same rules. Every flow is decided by both engines before timing, and any
// difference fails the run (exit 1).

#include "rules/compiler.h"
#include "rules/evaluate.h"
#include "rules/rule_set.h"

#include "splitmix64.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace policer::rules;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSeed = 1;
constexpr size_t kSizes[] = {10, 1000, 10000};

struct Options {
    bool quick = false;
    bool json = false;
    size_t flows = 10000;        // flows per rule set
    double min_seconds = 0.5;    // per timed run of one engine
    int runs = 3;                // timed runs per engine (the median is reported)
    bool cold = false;           // --cold: do not bring flows into cache before timing them
    double pattern_share = 0.02; // generated rules with patterns only (nothing indexed)
    size_t only = 0;             // --rules N: just this size (for profiling), else kSizes
    double l7_unknown = 0.25;    // share of flows decided before dissection (L7 fields unknown)
    double targeted = 0.55;      // share of flows built to match one chosen rule
};

// splitmix64: small, fast, and the same sequence on every platform (std::uniform_* is not).
class Rng {
public:
    explicit Rng(uint64_t seed) : gen_(seed) {}
    uint64_t next() { return gen_.next(); }
    uint64_t below(uint64_t n) { return next() % n; }
    bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1p-53 < p; }
    template <typename T>
    const T &pick(const std::vector<T> &v) {
        return v[below(v.size())];
    }

private:
    SplitMix64 gen_;
};

std::string str(uint64_t n) {
    return std::to_string(n);
}

std::string hex(uint64_t v, int digits) {
    static const char d[] = "0123456789abcdef";
    std::string s(static_cast<size_t>(digits), '0');
    for (int i = digits - 1; i >= 0; --i, v >>= 4)
        s[static_cast<size_t>(i)] = d[v & 15];
    return s;
}

// ---- flows -------------------------------------------------------------------------------

// One attribute a flow must carry to match a rule. L7 fields are applied only to flows whose
// L7 fields are known (the others are decided at connect, before dissection).
struct Override {
    enum class Kind { String, Number, Address, Risk } kind;
    const char *field;
    std::string s;
    uint64_t n = 0;
};

bool is_l7(const char *field) {
    const FieldDef *f = find_field(field);
    return f && f->tier == Tier::L7;
}

void apply(FlowAttrs &f, const Override &o, bool l7_known) {
    if (is_l7(o.field) && !l7_known) return;
    switch (o.kind) {
    case Override::Kind::String: f.set_string(o.field, o.s); break;
    case Override::Kind::Number: f.set_number(o.field, o.n); break;
    case Override::Kind::Address: {
        // One family per flow: the other end, if of the other family, becomes this host.
        const bool v6 = o.s.find(':') != std::string::npos;
        f.set_address(o.field, o.s);
        f.set_string("ip.family", v6 ? "ipv6" : "ipv4");
        const char *other = std::strcmp(o.field, "dst.ip") == 0 ? "src.ip" : "dst.ip";
        if (f[*find_field(other)].family != (v6 ? 10 : 2))
            f.set_address(other, v6 ? "fd00::10" : "192.168.1.10");
        break;
    }
    case Override::Kind::Risk: {
        Attr &a = f[*find_field(o.field)];
        a.state = AttrState::Known;
        a.set.push_back(o.s);
        break;
    }
    }
}

Override S(const char *field, std::string v) {
    return {Override::Kind::String, field, std::move(v)};
}
Override N(const char *field, uint64_t v) {
    return {Override::Kind::Number, field, "", v};
}
Override A(const char *field, std::string v) {
    return {Override::Kind::Address, field, std::move(v)};
}

// Identities of ordinary processes on a host, none of them named in a generated rule except
// by the few rules that use common names on purpose.
struct Identity {
    const char *user;
    uint64_t uid;
    const char *group;
    uint64_t gid;
    const char *name;
    const char *exe;
    const char *parent;
    const char *cgroup;
};

const std::vector<Identity> &identities() {
    static const std::vector<Identity> ids = {
        {"root", 0, "root", 0, "curl", "/usr/bin/curl", "bash",
         "/user.slice/user-0.slice/session-1.scope"},
        {"root", 0, "root", 0, "apt", "/usr/bin/apt", "bash",
         "/user.slice/user-0.slice/session-1.scope"},
        {"www-data", 33, "www-data", 33, "nginx", "/usr/sbin/nginx", "nginx",
         "/system.slice/nginx.service"},
        {"postgres", 114, "postgres", 121, "postgres", "/usr/lib/postgresql/15/bin/postgres",
         "postgres", "/system.slice/postgresql.service"},
        {"systemd-resolve", 101, "systemd-resolve", 103, "systemd-resolve",
         "/usr/lib/systemd/systemd-resolved", "systemd", "/system.slice/systemd-resolved.service"},
        {"alice", 1000, "alice", 1000, "firefox", "/usr/lib/firefox/firefox", "gnome-shell",
         "/user.slice/user-1000.slice/session-2.scope"},
        {"alice", 1000, "alice", 1000, "python3", "/usr/bin/python3.11", "bash",
         "/user.slice/user-1000.slice/session-2.scope"},
        {"bob", 1001, "dev", 2000, "git", "/usr/bin/git", "bash",
         "/user.slice/user-1001.slice/session-4.scope"},
        {"bob", 1001, "dev", 2000, "ssh", "/usr/bin/ssh", "bash",
         "/user.slice/user-1001.slice/session-4.scope"},
        {"root", 0, "root", 0, "dockerd", "/usr/bin/dockerd", "systemd",
         "/system.slice/docker.service"},
        {"prometheus", 998, "prometheus", 998, "prometheus", "/usr/bin/prometheus", "systemd",
         "/system.slice/prometheus.service"},
        {"root", 0, "root", 0, "sshd", "/usr/sbin/sshd", "systemd", "/system.slice/ssh.service"},
    };
    return ids;
}

std::string random_public_v4(Rng &rng) {
    // Avoids 10/8, 172.16/12, 192.168/16 and 198.18/15 (the blocked addresses of the rules).
    static const std::vector<uint64_t> firsts = {23, 34, 52, 64, 91, 104, 142, 151, 185, 203};
    return str(rng.pick(firsts)) + "." + str(rng.below(256)) + "." + str(rng.below(256)) + "." +
           str(1 + rng.below(254));
}

// A flow from no rule's point of view: an ordinary process talking to an ordinary peer.
// Every field is set (known or absent) except, when !l7_known, the L7 fields, which stay
// unknown as they are when a flow is decided at connect.
FlowAttrs background(Rng &rng, bool l7_known) {
    FlowAttrs f;
    const bool ingress = rng.chance(0.15);
    const bool v6 = rng.chance(0.1);
    const bool udp = !ingress && rng.chance(0.25);
    f.set_string("direction", ingress ? "ingress" : "egress");
    f.set_string("l4.proto", udp ? "udp" : "tcp");
    const std::string self = v6 ? "fd00::10" : "192.168.1.10";
    std::string peer;
    if (v6)
        peer = rng.chance(0.5)
                   ? "fd00::" + hex(rng.below(65536), 4)
                   : "2a00:1450:" + hex(rng.below(65536), 4) + "::" + hex(rng.below(65536), 4);
    else
        peer = rng.chance(0.4) ? "10." + str(rng.below(256)) + "." + str(rng.below(256)) + "." +
                                     str(1 + rng.below(254))
                               : random_public_v4(rng);
    f.set_address("src.ip", ingress ? peer : self);
    f.set_address("dst.ip", ingress ? self : peer);
    f.set_string("ip.family", v6 ? "ipv6" : "ipv4");
    f.set_number("src.port", 32768 + rng.below(28232));
    static const std::vector<uint64_t> out_ports = {443, 443,  443,  443,  80,   80, 53,
                                                    53,  8080, 5432, 6379, 9100, 123};
    static const std::vector<uint64_t> in_ports = {22, 80, 443, 443, 8443, 9100};
    uint64_t dport = ingress ? rng.pick(in_ports) : rng.pick(out_ports);
    if (rng.chance(0.1)) dport = 1024 + rng.below(64511);
    if (udp && dport != 53 && dport != 123) dport = rng.chance(0.5) ? 53 : 443; // DNS, QUIC
    f.set_number("dst.port", dport);
    const std::string domain =
        "www" + str(rng.below(1000)) + ".site" + str(rng.below(5000)) + ".example";
    if (!ingress && rng.chance(0.7))
        f.set_string("dst.domain", domain);
    else
        f.set_absent("dst.domain");
    f.set_absent("src.domain");
    f.set_string("iface", rng.chance(0.8) ? "eth0" : "ens5");

    const Identity &id = rng.pick(identities());
    f.set_string("user.name", id.user);
    f.set_number("user.id", id.uid);
    f.set_string("group.name", id.group);
    f.set_number("group.id", id.gid);
    f.set_string("process.name", id.name);
    f.set_string("process.exe", id.exe);
    f.set_string("process.cmdline", std::string(id.exe) + " --job " + str(rng.below(100000)));
    f.set_number("process.pid", 100 + rng.below(4000000));
    f.set_string("process.parent.name", id.parent);
    f.set_string("process.parent.exe", std::string("/usr/bin/") + id.parent);
    if (rng.chance(0.3)) { // a container
        const std::string cid =
            hex(rng.next(), 16) + hex(rng.next(), 16) + hex(rng.next(), 16) + hex(rng.next(), 16);
        f.set_string("container.id", cid);
        f.set_string("container.name", "bg-" + str(rng.below(500)));
        f.set_string("container.runtime", rng.chance(0.5) ? "docker" : "containerd");
        f.set_string("cgroup.path", "/system.slice/docker-" + cid + ".scope");
    } else {
        f.set_absent("container.id");
        f.set_absent("container.name");
        f.set_absent("container.runtime");
        f.set_string("cgroup.path", id.cgroup);
    }

    if (!l7_known) return f;
    for (const char *x : {"l7.protocol", "l7.app", "l7.category", "l7.host", "http.method",
                          "http.url", "tls.sni", "dns.query"})
        f.set_absent(x);
    Attr &risk = f[*find_field("l7.risk")];
    risk.state = AttrState::Known;
    if (rng.chance(0.1)) risk.set.push_back("known_proto_on_non_std_port");
    const std::string host = f[*find_field("dst.domain")].state == AttrState::Known
                                 ? domain
                                 : "host" + str(rng.below(100000)) + ".example";
    if (dport == 53) {
        f.set_string("l7.protocol", "dns");
        f.set_string("l7.app", "DNS");
        f.set_string("l7.category", "Network");
        f.set_string("l7.host", host);
        f.set_string("dns.query", host);
    } else if (dport == 80 || dport == 8080) {
        f.set_string("l7.protocol", "http");
        f.set_string("l7.app", "HTTP");
        f.set_string("l7.category", "Web");
        f.set_string("l7.host", host);
        f.set_string("http.method", rng.chance(0.8) ? "GET" : "POST");
        f.set_string("http.url", host + "/api/v" + str(rng.below(3)) + "/items");
    } else if (dport == 443 || dport == 8443) {
        f.set_string("l7.protocol", udp ? "quic" : "tls");
        f.set_string("l7.app", rng.chance(0.2) ? "Google" : "TLS");
        f.set_string("l7.category", "Web");
        f.set_string("l7.host", host);
        f.set_string("tls.sni", host);
    } else if (dport == 22) {
        f.set_string("l7.protocol", "ssh");
        f.set_string("l7.app", "SSH");
        f.set_string("l7.category", "RemoteAccess");
    }
    return f;
}

// ---- rules -------------------------------------------------------------------------------

// One generated rule: its text (with any list or macro it declares) and what a flow must
// carry to match it (one way of matching, for rules with alternatives).
struct GenRule {
    std::string text;
    std::vector<Override> match;
};

std::string action(Rng &rng, const char *usual) {
    const uint64_t r = rng.below(100);
    if (r < 70) return usual;
    if (r < 78) return "alert";
    if (r < 86) return "deny";
    if (r < 92) return "reject";
    return "limit " + str(10 * (1 + rng.below(100))) + "/s burst " + str(2000) + " per " +
           (rng.chance(0.5) ? "cgroup" : "process");
}

// Mostly no priority (file order decides); some exceptions above, a few rules below.
std::string priority(Rng &rng) {
    const uint64_t r = rng.below(100);
    if (r < 7) return "    priority 100\n";
    if (r < 10) return "    priority 10\n";
    return "";
}

std::string rule_text(const std::string &name, Rng &rng, const std::string &when,
                      const std::string &act, bool describe = false) {
    std::string t = "rule \"" + name + "\" {\n" + priority(rng);
    if (describe) t += "    description \"generated rule " + name + "\"\n";
    if (rng.chance(0.02)) t += "    audit\n";
    return t + "    when " + when + "\n    action " + act + "\n}\n";
}

// Parameters unique to generated rule i: its own service, user, container, subnet, names.
std::string sub24(size_t i) {
    return "10." + str(100 + (i / 256) % 100) + "." + str(i % 256);
}
std::string blocked_v4(size_t i) {
    return "198.18." + str((i / 250) % 256) + "." + str(1 + i % 250);
}

// A rule of one of the kinds real policies are made of. Most rules pin an identity or an
// address that few flows have; a few name common processes (curl, nginx) but also pin
// something rarer (a domain, a port, a subnet).
GenRule generate_rule(size_t i, double pattern_share, Rng &rng) {
    const std::string n = str(i);
    const std::string exe = "/opt/svc" + n + "/bin/svc" + n;
    const std::string pname = "p" + n;
    const uint64_t uid = 10000 + i, gid = 20000 + i;
    static const std::vector<uint64_t> svc_ports = {80, 443, 5432, 6379, 8080, 9092, 9200, 27017};
    static const std::vector<const char *> common = {"curl", "python3", "nginx", "git"};
    // Exactly pattern_share of the rules (spread evenly) have patterns only: a chance per
    // rule would give the small sets a share that varies with the seed.
    const bool pattern_only = static_cast<uint64_t>(double(i + 1) * pattern_share) >
                              static_cast<uint64_t>(double(i) * pattern_share);
    const uint64_t r = pattern_only ? 99 : rng.below(98);
    GenRule g;
    if (r < 24) { // a service may reach its backends
        const uint64_t port = rng.pick(svc_ports);
        const bool common_name = rng.chance(0.2);
        const std::string who = common_name
                                    ? std::string("process.name == \"") + rng.pick(common) + "\""
                                    : "process.exe == \"" + exe + "\"";
        g.text = rule_text("svc-" + n, rng,
                           who + " and dst.ip in (" + sub24(i) +
                               ".0/24) and dst.port == " + str(port) + " and l4.proto == tcp",
                           action(rng, "allow"), rng.chance(0.3));
        g.match = {A("dst.ip", sub24(i) + "." + str(1 + rng.below(254))), N("dst.port", port),
                   S("l4.proto", "tcp"), S("direction", "egress")};
        if (common_name) {
            const std::string name = who.substr(17, who.size() - 18);
            g.match.push_back(S("process.name", name));
        } else {
            g.match.push_back(S("process.exe", exe));
        }
    } else if (r < 34) { // users of a team may not reach admin ports outside
        g.text = "list team" + n + " = (\"u" + n + "\", \"u" + n + "x\", \"u" + n + "y\")\n" +
                 rule_text("team-" + n, rng,
                           "user.name in team" + n + " and dst.port in admin_ports and to_internet",
                           action(rng, "reject"));
        g.match = {S("user.name", "u" + n + "x"), N("user.id", uid), N("dst.port", 22),
                   S("direction", "egress"), A("dst.ip", "203.0.113." + str(1 + i % 250))};
    } else if (r < 40) { // one uid, outside the internal networks
        g.text = rule_text("uid-" + n, rng,
                           "user.id == " + str(uid) + " and not dst.ip in internal_nets",
                           action(rng, "alert"));
        g.match = {N("user.id", uid), A("dst.ip", "34.1." + str(i % 256) + ".9")};
    } else if (r < 52) { // a container's egress to the internet is limited
        g.text = rule_text("ctr-" + n, rng, "container.name == \"app-" + n + "\" and to_internet",
                           "limit " + str(50 + i % 500) + "/s burst 1000 per cgroup");
        const std::string cid = hex(i, 16) + hex(i * 7, 16) + hex(i * 13, 16) + hex(i * 31, 16);
        g.match = {
            S("container.name", "app-" + n),
            S("container.id", cid),
            S("container.runtime", "containerd"),
            S("cgroup.path", "/kubepods/besteffort/pod" + n + "/cri-containerd-" + cid + ".scope"),
            S("direction", "egress"),
            A("dst.ip", random_public_v4(rng))};
    } else if (r < 60) { // a systemd unit: UDP to high ports
        g.text = rule_text("unit-" + n, rng,
                           "cgroup.path == \"/system.slice/unit" + n +
                               ".service\" and dst.port in (1024-65535) and l4.proto == udp",
                           action(rng, "deny"));
        g.match = {S("cgroup.path", "/system.slice/unit" + n + ".service"),
                   N("dst.port", 1024 + rng.below(64000)), S("l4.proto", "udp")};
    } else if (r < 70) { // blocked addresses (IPv4 and IPv6)
        g.text = rule_text("block-" + n, rng,
                           "dst.ip in (" + blocked_v4(i) + ", 2001:db8:" + hex(i, 4) + "::/48)",
                           action(rng, "deny"));
        g.match = {rng.chance(0.8) ? A("dst.ip", blocked_v4(i))
                                   : A("dst.ip", "2001:db8:" + hex(i, 4) + ":1::5"),
                   S("direction", "egress")};
    } else if (r < 75) { // a process may reach one name, learned from DNS
        g.text = rule_text("dom-" + n, rng,
                           "process.name == \"" + pname + "\" and dst.domain == \"h" + n +
                               ".bench.example\"",
                           action(rng, "allow"));
        g.match = {S("process.name", pname), S("dst.domain", "h" + n + ".bench.example")};
    } else if (r < 78) { // a group may not reach a zone (a pattern, but with an identity)
        g.text =
            rule_text("zone-" + n, rng,
                      "group.name == \"g" + n + "\" and dst.domain glob \"*.d" + n + ".example\"",
                      action(rng, "deny"));
        g.match = {S("group.name", "g" + n), N("group.id", gid),
                   S("dst.domain", "api.d" + n + ".example")};
    } else if (r < 84) { // L7: a process may not talk to trackers (known after dissection)
        g.text =
            rule_text("l7host-" + n, rng,
                      "process.name == \"" + pname + "\" and l7.host glob \"*.t" + n + ".example\"",
                      action(rng, "reject"));
        g.match = {S("process.name", pname), S("l7.protocol", "tls"),
                   S("l7.host", "cdn.t" + n + ".example"), N("dst.port", 443)};
    } else if (r < 87) { // L7: SSH by one uid, or uploads from one container
        if (rng.chance(0.5)) {
            g.text =
                rule_text("l7ssh-" + n, rng,
                          "l7.protocol == ssh and user.id == " + str(uid) + " and dst.port != 22",
                          action(rng, "alert"));
            g.match = {S("l7.protocol", "ssh"), N("user.id", uid), N("dst.port", 2222)};
        } else {
            g.text = rule_text("upload-" + n, rng,
                               "container.name == \"app-" + n +
                                   "\" and http.method == POST and http.url glob \"*/upload*\"",
                               action(rng, "deny"));
            g.match = {S("container.name", "app-" + n), S("http.method", "POST"),
                       S("http.url", "x.example/upload/1"), S("l7.protocol", "http")};
        }
    } else if (r < 89) { // L7: risky flows of one executable
        g.text = rule_text("risk-" + n, rng, "process.exe == \"" + exe + "\" and l7.risk in risky",
                           "alert");
        g.match = {S("process.exe", exe), {Override::Kind::Risk, "l7.risk", "possible_exploit", 0}};
    } else if (r < 94) { // ingress: a port open to trusted networks only
        const uint64_t port = 20000 + i % 40000;
        g.text = rule_text("in-" + n, rng,
                           "direction == ingress and dst.port == " + str(port) +
                               " and not src.ip in trusted_nets",
                           action(rng, "reject"));
        g.match = {S("direction", "ingress"), N("dst.port", port),
                   A("src.ip", random_public_v4(rng)), A("dst.ip", "192.168.1.10")};
    } else if (r < 98) { // a macro with alternatives: two terms
        g.text = "macro tool" + n + " = process.name == \"" + pname +
                 "\" or process.exe == \"/usr/local/bin/t" + n + "\"\n" +
                 rule_text("tool-" + n, rng, "tool" + n + " and web and user.id != 0",
                           action(rng, "alert"));
        g.match = {S("process.exe", "/usr/local/bin/t" + n), S("l4.proto", "tcp"),
                   N("dst.port", 443)};
    } else { // patterns only: nothing indexed rules them out, so every flow evaluates them
        if (rng.chance(0.5)) {
            g.text = rule_text("ads-" + n, rng, "dst.domain glob \"*.ads" + n + ".example\"",
                               action(rng, "deny"));
            g.match = {S("dst.domain", "x.ads" + n + ".example")};
        } else {
            g.text = rule_text("cmd-" + n, rng, "process.cmdline glob \"*--insecure-" + n + " *\"",
                               "alert");
            g.match = {S("process.cmdline", "/usr/bin/tool --insecure-" + n + " -v")};
        }
    }
    return g;
}

struct Generated {
    std::string text;
    std::vector<std::vector<Override>> matches; // per rule, in file order
};

// A rule set of exactly `size` rules: shared lists and macros, a few broad rules on top
// (high priority), generated rules, and a broad rule at the bottom (negative priority).
Generated generate_rules(size_t size, double pattern_share, Rng &rng) {
    Generated g;
    std::string rules =
        "rule \"dns\" {\n    priority 1000\n"
        "    when l4.proto == udp and dst.port == 53 and dst.ip in dns_resolvers\n"
        "    action allow\n}\n"
        "rule \"no-telnet\" {\n    priority 1000\n    when dst.port == 23\n"
        "    action deny\n}\n"
        "rule \"admin-in\" {\n    priority 900\n"
        "    when direction == ingress and dst.port in admin_ports and src.ip not in trusted_nets\n"
        "    action reject\n}\n";
    g.matches.push_back({S("l4.proto", "udp"), N("dst.port", 53), A("dst.ip", "10.0.0.2")});
    g.matches.push_back({N("dst.port", 23), S("l4.proto", "tcp")});
    g.matches.push_back({S("direction", "ingress"), N("dst.port", 22), A("src.ip", "185.1.2.3"),
                         A("dst.ip", "192.168.1.10")});
    for (size_t i = 0; i + 4 < size; ++i) {
        GenRule r = generate_rule(i, pattern_share, rng);
        rules += r.text;
        g.matches.push_back(std::move(r.match));
    }
    rules += "rule \"odd-port-out\" {\n    priority -100\n"
             "    when to_internet and dst.port not in (53, 80, 123, 443, 8080)\n"
             "    action alert\n}\n";
    g.matches.push_back({S("direction", "egress"), A("dst.ip", "91.2.3.4"), N("dst.port", 4444)});

    // Shared lists and macros, each declared only if a rule uses it (an unused one is a
    // warning, and a real rule set loads clean).
    g.text = "# generated by pl-rules-bench: " + str(size) +
             " rules\n"
             "default egress allow\n"
             "default ingress deny\n"
             "list internal_nets = (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fd00::/8)\n"
             "list trusted_nets = (10.0.0.0/8, 192.168.0.0/16, fd00::/8)\n"
             "list admin_ports = (22, 3389, 5900-5901)\n"
             "list dns_resolvers = (10.0.0.2, 10.0.0.3, fd00::53)\n"
             "macro to_internet = direction == egress and dst.ip not in internal_nets\n";
    if (rules.find(" in risky\n") != std::string::npos)
        g.text += "list risky = (possible_exploit, malicious_sha1_certificate, "
                  "binary_application_transfer)\n";
    if (rules.find(" and web and ") != std::string::npos)
        g.text += "macro web = l4.proto == tcp and dst.port in (80, 443, 8080)\n";
    g.text += rules;
    return g;
}

// Flows: some built to match one rule chosen at random (so hits land early, late and
// anywhere between), the rest ordinary traffic that mostly matches nothing and falls to the
// default, or to the broad rule at the bottom.
std::vector<FlowAttrs> generate_flows(const Generated &g, const Options &o, Rng &rng) {
    std::vector<FlowAttrs> flows;
    flows.reserve(o.flows);
    for (size_t i = 0; i < o.flows; ++i) {
        const bool l7_known = !rng.chance(o.l7_unknown);
        FlowAttrs f = background(rng, l7_known);
        if (rng.chance(o.targeted))
            for (const Override &x : g.matches[rng.below(g.matches.size())])
                apply(f, x, l7_known);
        flows.push_back(std::move(f));
    }
    return flows;
}

// ---- measuring ---------------------------------------------------------------------------

// Folds a decision into a checksum that the timed loops accumulate, so that no decision can
// be optimized away, and that both engines must agree on.
uint64_t fold(const Decision &d) {
    return (d.rule + 1) * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(d.kind) * 31 +
           static_cast<uint64_t>(d.action.kind) * 7 + d.action.rate + (d.audit ? 1 : 0);
}

// Reads what a decision may read of a flow (every attribute and the start of its strings),
// so that the timed decisions find the flow in cache, as they do in a daemon, which decides a
// flow it has just built. Without this, 10,000 flows (about 35 MB) are read from memory, and
// that, not the engine, is most of the cost at 10 rules (--cold shows it).
uint64_t touch(const FlowAttrs &f) {
    uint64_t s = 0;
    for (const Attr &a : f.attrs) {
        s += static_cast<uint64_t>(a.state) + a.num + a.addr[0] + a.str.size();
        if (!a.str.empty()) s += static_cast<unsigned char>(a.str[0]);
        for (const auto &x : a.set)
            s += x.size();
    }
    return s;
}

// Flows are timed in batches small enough to stay in cache once touched.
constexpr size_t kBatch = 64;

// Whole passes over `flows` until the timed decisions add up to at least min_seconds; returns
// ns per call of `fn` (which returns something to fold into the checksums). `first` gets the
// checksum of the first pass (equal for two engines that agree), `sink` that of all passes.
template <typename Fn>
double timed_run(const std::vector<FlowAttrs> &flows, const Fn &fn, const Options &o,
                 double min_seconds, uint64_t &first, uint64_t &sink) {
    size_t calls = 0;
    double timed = 0;
    do {
        uint64_t pass = 0;
        for (size_t b = 0; b < flows.size(); b += kBatch) {
            const size_t e = std::min(flows.size(), b + kBatch);
            if (!o.cold)
                for (size_t i = b; i < e; ++i)
                    sink += touch(flows[i]);
            const auto t0 = Clock::now();
            for (size_t i = b; i < e; ++i)
                pass += fn(flows[i]);
            timed += std::chrono::duration<double>(Clock::now() - t0).count();
        }
        if (calls == 0) first = pass;
        sink += pass;
        calls += flows.size();
    } while (timed < min_seconds);
    return timed * 1e9 / static_cast<double>(calls);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

size_t popcount(const Bitmap &b) {
    size_t n = 0;
    for (uint64_t w : b.w)
        n += static_cast<size_t>(__builtin_popcountll(w));
    return n;
}

// Candidate terms up to the deciding rule: those the second phase evaluates.
size_t evaluated(const CompiledRules &c, const Bitmap &cand, const Decision &d) {
    size_t n = 0;
    for (size_t t = 0; t < c.terms().size(); ++t)
        if (cand.test(t)) {
            if (d.kind != Decision::Kind::Default && c.terms()[t].rule > d.rule) break;
            ++n;
        }
    return n;
}

struct Result {
    size_t rules = 0, terms = 0, words = 0, bitmap_bytes = 0, indexes = 0;
    size_t unindexed = 0; // terms no table can rule out: candidates for every flow
    double load_ms = 0, compile_ms = 0;
    double compiled_ns = 0, reference_ns = 0, and_ns = 0;
    double candidates = 0, evaluated = 0, tried = 0; // per flow
    size_t by_kind[3] = {0, 0, 0};                   // rule, default, pending
    uint64_t checksum = 0;
};

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

const char *kind_name(Decision::Kind k) {
    return k == Decision::Kind::Rule      ? "rule"
           : k == Decision::Kind::Default ? "default"
                                          : "pending";
}

std::string describe(const Decision &d, const RuleSet &set) {
    std::string s = kind_name(d.kind);
    if (d.rule != SIZE_MAX) s += " '" + set.rules[d.rule].name + "'";
    if (d.kind != Decision::Kind::Pending) s += " " + action_text(d.action);
    return s + (d.audit ? " (audit)" : "");
}

// Loads, compiles, checks and times one rule set. Returns false on any disagreement.
bool run_size(size_t size, const Options &o, Result &res) {
    Rng rng(kSeed * 1000003 + size);
    const Generated g = generate_rules(size, o.pattern_share, rng);
    const std::vector<FlowAttrs> flows = generate_flows(g, o, rng);

    auto t0 = Clock::now();
    LoadResult lr = load_rules_text("bench-" + str(size) + ".rules", g.text);
    res.load_ms = ms_since(t0);
    if (!lr.set) {
        for (const auto &d : lr.diags)
            std::fprintf(stderr, "pl-rules-bench: %s: %s\n", d.loc.str().c_str(),
                         d.message.c_str());
        std::fprintf(stderr, "pl-rules-bench: the generated %zu-rule set does not load\n", size);
        return false;
    }
    // A realistic set loads clean: a warning means the generator wrote something odd.
    for (const auto &d : lr.diags)
        std::fprintf(stderr, "pl-rules-bench: warning: %s: %s\n", d.loc.str().c_str(),
                     d.message.c_str());
    auto set = std::make_shared<const RuleSet>(std::move(*lr.set));
    if (set->rules.size() != size) {
        std::fprintf(stderr, "pl-rules-bench: generated %zu rules, not %zu\n", set->rules.size(),
                     size);
        return false;
    }
    t0 = Clock::now();
    auto compiled = CompiledRules::compile(set);
    res.compile_ms = ms_since(t0);
    const CompiledRules &c = *compiled;
    res.rules = size;
    res.terms = c.terms().size();
    res.words = (res.terms + 63) / 64;
    res.bitmap_bytes = c.bitmap_bytes();
    res.indexes = c.indexes().size();
    for (size_t i = 0; i < c.terms().size(); ++i) {
        const Term &t = c.terms()[i];
        bool suffixed = false; // a "*.suffix" pattern is indexed too
        for (const auto &ix : c.indexes())
            suffixed = suffixed || (!ix.by_suffix.empty() && !ix.unsuffixed.test(i));
        if (t.whole || (t.residual.size() == t.literals.size() && !suffixed)) ++res.unindexed;
    }

    // Every flow, both engines: the same decision, or the run fails. This is also the warm-up.
    size_t mismatches = 0;
    double cand_sum = 0, eval_sum = 0, tried_sum = 0;
    for (size_t i = 0; i < flows.size(); ++i) {
        const Decision a = c.decide(flows[i]), b = decide_reference(*set, flows[i]);
        if (!(a == b)) {
            if (++mismatches <= 5)
                std::fprintf(stderr,
                             "pl-rules-bench: %zu rules, flow %zu: compiled: %s; reference: %s\n",
                             size, i, describe(a, *set).c_str(), describe(b, *set).c_str());
            continue;
        }
        ++res.by_kind[a.kind == Decision::Kind::Rule      ? 0
                      : a.kind == Decision::Kind::Default ? 1
                                                          : 2];
        const Bitmap cand = c.candidates(flows[i]);
        cand_sum += static_cast<double>(popcount(cand));
        eval_sum += static_cast<double>(evaluated(c, cand, a));
        tried_sum += static_cast<double>(a.kind == Decision::Kind::Default ? size : a.rule + 1);
    }
    if (mismatches) {
        std::fprintf(stderr, "pl-rules-bench: %zu rules: %zu of %zu flows decided differently\n",
                     size, mismatches, flows.size());
        return false;
    }
    const double nf = static_cast<double>(flows.size());
    res.candidates = cand_sum / nf;
    res.evaluated = eval_sum / nf;
    res.tried = tried_sum / nf;

    // Timed runs, alternating engines so that a change in machine load hits both alike.
    std::vector<double> comp, ref, phase;
    uint64_t sink = 0;
    for (int r = 0; r < o.runs; ++r) {
        uint64_t first_c = 0, first_r = 0, first_a = 0;
        comp.push_back(timed_run(
            flows, [&](const FlowAttrs &f) { return fold(c.decide(f)); }, o, o.min_seconds, first_c,
            sink));
        ref.push_back(timed_run(
            flows, [&](const FlowAttrs &f) { return fold(decide_reference(*set, f)); }, o,
            o.min_seconds, first_r, sink));
        if (first_c != first_r) {
            std::fprintf(stderr, "pl-rules-bench: %zu rules: the timed passes disagree\n", size);
            return false;
        }
        phase.push_back(timed_run(
            flows, [&](const FlowAttrs &f) { return popcount(c.candidates(f)); }, o,
            o.min_seconds / 2, first_a, sink));
    }
    res.compiled_ns = median(comp);
    res.reference_ns = median(ref);
    res.and_ns = median(phase);
    res.checksum = sink;
    return true;
}

// ---- output ------------------------------------------------------------------------------

std::string grouped(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    std::string s = buf, out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (i && (s.size() - i) % 3 == 0) out += ',';
        out += s[i];
    }
    return out;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return in ? a + " " + b + " " + c : "?";
}

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            size_t colon = line.find(':');
            return colon == std::string::npos ? "?" : line.substr(colon + 2);
        }
    return "?";
}

void print_table(const std::vector<Result> &rs, const Options &o) {
    std::printf("\n%-7s %16s %16s %7s %12s %13s\n", "rules", "compiled dec/s", "reference dec/s",
                "ratio", "compiled ns", "reference ns");
    for (const Result &r : rs)
        std::printf("%-7s %16s %16s %6.1fx %12.0f %13.0f\n", grouped(double(r.rules)).c_str(),
                    grouped(1e9 / r.compiled_ns).c_str(), grouped(1e9 / r.reference_ns).c_str(),
                    r.reference_ns / r.compiled_ns, r.compiled_ns, r.reference_ns);
    const Result &a = rs.front();
    for (size_t i = 1; i < rs.size(); ++i)
        std::printf("cost x %s/%s (%.0fx rules): compiled %.1fx, reference %.0fx\n",
                    grouped(double(rs[i].rules)).c_str(), grouped(double(a.rules)).c_str(),
                    double(rs[i].rules) / double(a.rules), rs[i].compiled_ns / a.compiled_ns,
                    rs[i].reference_ns / a.reference_ns);
    if (rs.size() > 2) {
        const Result &m = rs[rs.size() - 2], &z = rs.back();
        std::printf("cost x %s/%s (%.0fx rules): compiled %.1fx, reference %.1fx\n",
                    grouped(double(z.rules)).c_str(), grouped(double(m.rules)).c_str(),
                    double(z.rules) / double(m.rules), z.compiled_ns / m.compiled_ns,
                    z.reference_ns / m.reference_ns);
    }

    std::printf("\nwhat drives the cost (per decision: averages over the %zu flows):\n", o.flows);
    std::printf("%-7s %6s %5s %6s %9s %10s %8s %10s %7s %7s %7s %9s  %s\n", "rules", "terms",
                "words", "tables", "unindexed", "bitmap KB", "load ms", "compile ms", "AND ns",
                "cand", "eval'd", "ref tried", "rule/default/pending");
    for (const Result &r : rs)
        std::printf("%-7s %6zu %5zu %6zu %9zu %10.0f %8.1f %10.1f %7.0f %7.1f %7.1f %9.1f  "
                    "%zu/%zu/%zu\n",
                    grouped(double(r.rules)).c_str(), r.terms, r.words, r.indexes, r.unindexed,
                    double(r.bitmap_bytes) / 1024, r.load_ms, r.compile_ms, r.and_ns, r.candidates,
                    r.evaluated, r.tried, r.by_kind[0], r.by_kind[1], r.by_kind[2]);
    std::printf("words: 64-bit words per bitmap (terms / 64); tables: indexed fields, one lookup "
                "and one AND each;\nunindexed: terms no table rules out (patterns other than "
                "*.suffix); AND ns: "
                "that first phase alone; cand: terms\nleft after it; eval'd: candidates evaluated "
                "up to the decision; ref tried: rules the reference evaluates\n");
}

void print_json(const std::vector<Result> &rs, const Options &o, const std::string &load_before,
                uint64_t checksum) {
    std::printf("{\"bench\":\"rules\",\"seed\":%" PRIu64
                ",\"flows\":%zu,\"quick\":%s,\"cold\":%s,\"pattern_share\":%.4f,\"runs\":%d,"
                "\"sizes\":[",
                kSeed, o.flows, o.quick ? "true" : "false", o.cold ? "true" : "false",
                o.pattern_share, o.runs);
    for (size_t i = 0; i < rs.size(); ++i) {
        const Result &r = rs[i];
        std::printf("%s{\"rules\":%zu,\"terms\":%zu,\"words\":%zu,\"tables\":%zu,"
                    "\"unindexed_terms\":%zu,"
                    "\"bitmap_bytes\":%zu,\"load_ms\":%.3f,\"compile_ms\":%.3f,"
                    "\"compiled_per_s\":%.0f,\"reference_per_s\":%.0f,\"ratio\":%.3f,"
                    "\"compiled_ns\":%.1f,\"reference_ns\":%.1f,\"and_phase_ns\":%.1f,"
                    "\"candidates\":%.2f,\"evaluated\":%.2f,\"reference_tried\":%.2f,"
                    "\"decisions\":{\"rule\":%zu,\"default\":%zu,\"pending\":%zu}}",
                    i ? "," : "", r.rules, r.terms, r.words, r.indexes, r.unindexed, r.bitmap_bytes,
                    r.load_ms, r.compile_ms, 1e9 / r.compiled_ns, 1e9 / r.reference_ns,
                    r.reference_ns / r.compiled_ns, r.compiled_ns, r.reference_ns, r.and_ns,
                    r.candidates, r.evaluated, r.tried, r.by_kind[0], r.by_kind[1], r.by_kind[2]);
    }
    // Growth of the cost per decision between every pair of sizes, smaller first.
    std::printf("],\"growth\":[");
    bool first = true;
    for (size_t i = 0; i < rs.size(); ++i)
        for (size_t j = i + 1; j < rs.size(); ++j) {
            std::printf("%s{\"from\":%zu,\"to\":%zu,\"rules\":%.1f,\"compiled\":%.3f,"
                        "\"reference\":%.3f}",
                        first ? "" : ",", rs[i].rules, rs[j].rules,
                        double(rs[j].rules) / double(rs[i].rules),
                        rs[j].compiled_ns / rs[i].compiled_ns,
                        rs[j].reference_ns / rs[i].reference_ns);
            first = false;
        }
    std::printf("],\"cpus\":%u,\"load_average_before\":\"%s\",\"load_average_after\":\"%s\","
                "\"checksum\":\"%016" PRIx64 "\"}\n",
                std::thread::hardware_concurrency(), load_before.c_str(), load_average().c_str(),
                checksum);
}

void usage(FILE *out) {
    std::fprintf(
        out,
        "usage: pl-rules-bench [--quick] [--json] [--cold] [--patterns PCT] [--rules N] [--help]\n"
        "\n"
        "Decisions/s of the compiled rule engine (CompiledRules::decide) against the\n"
        "rule-by-rule reference (decide_reference) at 10, 1,000 and 10,000 generated rules,\n"
        "on 10,000 generated flows each (fixed seed). Every flow is decided by both engines\n"
        "first; any difference exits 1. Timing: 3 runs of >= 0.5 s per engine, alternating;\n"
        "medians.\n"
        "\n"
        "  --quick         1,000 flows, one short run per engine (a smoke test)\n"
        "  --json          one machine-readable line instead of the tables\n"
        "  --cold          do not bring each batch of flows into cache before timing it\n"
        "  --patterns PCT  share of generated rules with patterns only, which no table\n"
        "                  indexes (default 2)\n"
        "  --rules N       only a set of N rules (N >= 4), e.g. for profiling\n"
        "  --help          this text\n");
}

} // namespace

int main(int argc, char **argv) {
    // Line by line, so that progress and warnings (stderr) appear in order.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    Options o;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--quick")) {
            o.quick = true;
            o.flows = 1000;
            o.min_seconds = 0.05;
            o.runs = 1;
        } else if (!std::strcmp(argv[i], "--cold")) {
            o.cold = true;
        } else if (!std::strcmp(argv[i], "--patterns") && i + 1 < argc) {
            const double pct = std::strtod(argv[++i], nullptr);
            if (!(pct >= 0 && pct <= 100)) {
                std::fprintf(stderr, "pl-rules-bench: --patterns needs a percentage\n");
                return 2;
            }
            o.pattern_share = pct / 100;
        } else if (!std::strcmp(argv[i], "--rules") && i + 1 < argc) {
            o.only = std::strtoull(argv[++i], nullptr, 10);
            if (o.only < 4) {
                std::fprintf(stderr, "pl-rules-bench: --rules needs a number of at least 4\n");
                return 2;
            }
        } else if (!std::strcmp(argv[i], "--json")) {
            o.json = true;
        } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "pl-rules-bench: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    const std::string load_before = load_average();
    if (!o.json)
        std::printf("pl-rules-bench: %zu flows per rule set (%.0f%% with L7 fields unknown), "
                    "%.1f%% pattern-only rules, seed %" PRIu64 ", %d timed run(s) of >= %.2f s "
                    "per engine (median)%s; %u CPUs: %s; load average before: %s\n",
                    o.flows, o.l7_unknown * 100, o.pattern_share * 100, kSeed, o.runs,
                    o.min_seconds, o.cold ? ", flows cold" : "",
                    std::thread::hardware_concurrency(), cpu_model().c_str(), load_before.c_str());
    std::vector<Result> results;
    uint64_t checksum = 0;
    std::vector<size_t> sizes(std::begin(kSizes), std::end(kSizes));
    if (o.only) sizes = {o.only};
    for (size_t size : sizes) {
        Result r;
        if (!run_size(size, o, r)) return 1;
        checksum ^= r.checksum;
        results.push_back(r);
        if (!o.json)
            std::printf("pl-rules-bench: %zu rules: identical decisions on all %zu flows\n", size,
                        o.flows);
    }
    if (o.json) {
        print_json(results, o, load_before, checksum);
    } else {
        print_table(results, o);
        std::printf("load average after: %s; checksum %016" PRIx64 "\n", load_average().c_str(),
                    checksum);
    }
    return 0;
}
