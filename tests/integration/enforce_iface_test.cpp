// enforce_iface_test.cpp - TC and XDP enforcement as policerd runs it: the interfaces it attaches
// to (configured ones, veths as they appear), what those programs drop for the verdicts policerd
// makes, and --remove-enforcement taking them off again. Real veths, real traffic; assertions
// are on what a user sees: the programs attached to an interface (as `tc filter show` and
// `ip link` would tell), the packets a peer receives, and policerd's own counters.
#include "harness.h"
#include "sockaddr_text.h"

#include "probes/iface_attach.h"

#include <doctest/doctest.h>

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

using namespace pltest;
namespace pp = policer::probes;

namespace {

struct IfaceEnforcing {
    TempDir dir;
    std::string pin;
    std::string rules_file;
    std::unique_ptr<Policerd> d;

    IfaceEnforcing(const std::string &rules, const std::string &name,
                   const std::vector<std::string> &extra) {
        pin = "/sys/fs/bpf/policer-test-" + name;
        rules_file = dir.file("test.rules");
        std::ofstream(rules_file) << rules;
        std::vector<std::string> args{"--rules", rules_file,         "--pin-dir",
                                      pin,       "--stats-interval", "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        d = std::make_unique<Policerd>(args);
        REQUIRE(d->wait_for([](const json &j) { return is_action(j, "agent-start"); }));
    }
    ~IfaceEnforcing() {
        if (d) d->stop();
        run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", pin});
    }
    // The enforcement counter `name` of the latest agent-stats so far.
    uint64_t latest(const std::string &name) {
        uint64_t v = 0;
        for (const auto &j : d->events())
            if (is_action(j, "agent-stats") && at(j, "policer.enforcement." + name).is_number())
                v = at(j, "policer.enforcement." + name).get<uint64_t>();
        return v;
    }
    // The enforcement counter `name` of an agent-stats, once it exceeds `above` (0 if never).
    uint64_t counter_above(const std::string &name, uint64_t above) {
        auto ev = d->wait_for(
            [&](const json &j) {
                return is_action(j, "agent-stats") &&
                       at(j, "policer.enforcement." + name).is_number() &&
                       at(j, "policer.enforcement." + name).get<uint64_t>() > above;
            },
            8000ms);
        return ev ? at(*ev, "policer.enforcement." + name).get<uint64_t>() : 0;
    }
};

int ifindex_of(const std::string &name) {
    return static_cast<int>(if_nametoindex(name.c_str()));
}

bool tc_is_policers(int ifindex) {
    for (bool ingress : {true, false}) {
        auto id = pp::tc_prog_id(ifindex, ingress);
        if (!id || !pp::is_policer_prog(*id)) return false;
    }
    return true;
}

bool wait_until(const std::function<bool()> &cond, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return cond();
}

// A UDP socket on the host that, once a peer has sent it a datagram, sends that peer one
// datagram every 5 ms (the server half of a flow that keeps talking after a verdict).
class UdpTalker {
public:
    UdpTalker(const std::string &ip, uint16_t port) {
        sockaddr_storage ss{};
        socklen_t len = sockaddr_from_text(ip.c_str(), port, ss);
        REQUIRE(len != 0);
        fd_ = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        int one = 1;
        setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr *>(&ss), len) == 0);
        timeval tv{0, 100000};
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        thread_ = std::thread([this] { loop(); });
    }
    ~UdpTalker() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    size_t received() const { return received_; }

private:
    void loop() {
        sockaddr_storage peer{};
        socklen_t plen = 0;
        char buf[256];
        while (!stop_) {
            sockaddr_storage from{};
            socklen_t flen = sizeof(from);
            ssize_t n = recvfrom(fd_, buf, sizeof(buf), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr *>(&from), &flen);
            if (n >= 0) {
                ++received_;
                peer = from;
                plen = flen;
            }
            if (plen) sendto(fd_, "talk", 4, 0, reinterpret_cast<sockaddr *>(&peer), plen);
            std::this_thread::sleep_for(5ms);
        }
    }

    int fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<size_t> received_{0};
};

// Datagrams arriving at ip:port within `wait`.
int udp_received(const std::string &ip, uint16_t port, const std::function<void()> &send,
                 std::chrono::milliseconds wait) {
    sockaddr_storage ss{};
    socklen_t len = sockaddr_from_text(ip.c_str(), port, ss);
    REQUIRE(len != 0);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&ss), len) == 0);
    timeval tv{0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    send();
    int n = 0;
    char buf[64];
    auto end = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < end)
        if (recv(fd, buf, sizeof(buf), 0) > 0) ++n;
    close(fd);
    return n;
}

} // namespace

TEST_CASE("enforce iface: policerd attaches TC to configured interfaces and to veths as they "
          "appear, XDP to uplinks, and --remove-enforcement takes them off") {
    TestNetns uplink(74);
    TestNetns early_veth(75);
    const int up_idx = ifindex_of(uplink.host_iface());
    REQUIRE(up_idx > 0);
    std::string pin;
    {
        IfaceEnforcing e(
            "rule nothing-here { when dst.port == 9 and l4.proto == tcp action deny }\n",
            "iface-attach", {"--xdp-iface", uplink.host_iface(), "--tc-iface", "plh7[4]-*"});
        pin = e.pin;
        auto start = e.d->wait_for([](const json &j) { return is_action(j, "agent-start"); });
        REQUIRE(start);
        const json ifs = at(*start, "policer.enforcement.interfaces");
        REQUIRE(ifs.is_array());
        auto entry = [&](const std::string &name) -> json {
            for (const auto &i : ifs)
                if (i.value("iface", "") == name) return i;
            return nullptr;
        };
        // The uplink: named by a glob for TC, by name for XDP.
        json up = entry(uplink.host_iface());
        REQUIRE(up.is_object());
        CHECK(up["tc"] == true);
        CHECK((up["xdp"] == "native" || up["xdp"] == "generic"));
        CHECK(tc_is_policers(up_idx));
        auto xid = pp::xdp_prog_id(up_idx);
        REQUIRE(xid);
        CHECK(pp::is_policer_prog(*xid));
        // A veth that was there before policerd: TC by default, no XDP (not configured).
        json early = entry(early_veth.host_iface());
        REQUIRE(early.is_object());
        CHECK(early["tc"] == true);
        CHECK(early["xdp"].is_null());
        CHECK(tc_is_policers(ifindex_of(early_veth.host_iface())));
        CHECK_FALSE(pp::xdp_prog_id(ifindex_of(early_veth.host_iface())));
        // Loopback is never touched.
        CHECK_FALSE(pp::tc_prog_id(1, true));

        // A container link created while policerd runs gets TC within moments.
        TestNetns late(76);
        const int late_idx = ifindex_of(late.host_iface());
        CHECK(wait_until([&] { return tc_is_policers(late_idx); }, 5000ms));
        auto stats = e.d->wait_for(
            [&](const json &j) {
                if (!is_action(j, "agent-stats")) return false;
                for (const auto &i : at(j, "policer.enforcement.interfaces"))
                    if (i.value("iface", "") == late.host_iface()) return true;
                return false;
            },
            5000ms);
        CHECK(stats);
        CHECK(at(*stats, "policer.enforcement.interface_attach_errors") == 0);

        // Stopped, policerd leaves the interfaces enforced (like the pinned socket hooks).
        CHECK(e.d->stop() == 0);
        CHECK(tc_is_policers(up_idx));
        CHECK(pp::xdp_prog_id(up_idx));
        e.d.reset();

        // Restarted without --xdp-iface: the XDP program it no longer wants is removed; TC on
        // the veths is replaced in place.
        e.d = std::make_unique<Policerd>(
            std::vector<std::string>{"--rules", e.rules_file, "--pin-dir", e.pin});
        REQUIRE(e.d->wait_for([](const json &j) { return is_action(j, "agent-start"); }));
        CHECK_FALSE(pp::xdp_prog_id(up_idx));
        CHECK(tc_is_policers(up_idx));
        CHECK(tc_is_policers(late_idx));
        e.d->stop();

        // --remove-enforcement: nothing of policer's left on any interface.
        auto r = run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", e.pin});
        CHECK(r.status == 0);
        CHECK_FALSE(pp::tc_prog_id(up_idx, true));
        CHECK_FALSE(pp::tc_prog_id(up_idx, false));
        CHECK_FALSE(pp::tc_prog_id(late_idx, true));
        CHECK_FALSE(pp::tc_prog_id(ifindex_of(early_veth.host_iface()), true));
    }
}

TEST_CASE("enforce iface: a policerd verdict on a live UDP flow is applied at the container's "
          "veth, and XDP drops a source every rule refuses before the stack") {
    TestNetns n(77);
    TestNetns blocked(78);
    // Tier 2: a command line is known only in user space, so the first datagrams pass and the
    // verdict lands on the live flow. The peer keeps talking to the refused process: TC on the
    // veth drops its packets on the way out of the host.
    IfaceEnforcing e("rule no-talker {\n"
                     "    when process.cmdline glob \"*--count 333*\" and l4.proto == udp\n"
                     "    action deny\n"
                     "}\n"
                     // Everything with the peer 10.231.78.2: XDP's blocklist. (The sender's own
                     // flow, to 10.231.78.1, is not refused: its datagrams leave its namespace
                     // and meet XDP on the host's side of the link.)
                     "rule blocked-host {\n"
                     "    when (direction == ingress and src.ip == 10.231.78.2)\n"
                     "      or (direction == egress and dst.ip == 10.231.78.2)\n"
                     "    action deny\n"
                     "}\n",
                     "iface-verdict", {"--xdp-iface", blocked.host_iface()});

    for (const std::string &host_ip : {n.host_ip4(), n.host_ip6()}) {
        CAPTURE(host_ip);
        REQUIRE(e.d->wait_for([](const json &j) { return is_action(j, "agent-stats"); }));
        const uint64_t before = e.latest("tc_dropped");
        UdpTalker talker(host_ip, 7401);
        auto r = run({Binaries::run_in(), "--netns", n.name(), "--", PL_CONNECT, "udp", host_ip,
                      "7401", "--count", "333", "--ms", "3000"},
                     20s);
        CHECK(r.status == 0);
        // The verdict: the first datagram(s) before it arrived; not all 333.
        CHECK(talker.received() >= 1);
        CHECK(talker.received() < 333);
        auto refused = e.d->wait_for([](const json &j) {
            return at(j, "rule.name") == "no-talker" && at(j, "policer.verdict.kernel").is_string();
        });
        CHECK(refused);
        // The talker's datagrams to the refused flow were dropped by TC on the veth.
        CHECK(e.counter_above("tc_dropped", before + 20) > before + 20);
    }

    auto start = e.d->wait_for([](const json &j) { return is_action(j, "agent-start"); });
    REQUIRE(start);
    CHECK(at(*start, "policer.enforcement.xdp_blocklist") == 1);
    // XDP: the blocked host's datagrams never reach the host's socket, and XDP counts them.
    const int received = udp_received(
        blocked.host_ip4(), 7402,
        [&] {
            run({Binaries::run_in(), "--netns", blocked.name(), "--", PL_CONNECT, "udp",
                 blocked.host_ip4(), "7402", "--count", "50", "--ms", "500"});
        },
        800ms);
    CHECK(received == 0);
    CHECK(e.counter_above("xdp_dropped", 49) >= 50);
    // Another network's datagrams to the same kind of socket arrive.
    const int other = udp_received(
        n.host_ip4(), 7403,
        [&] {
            run({Binaries::run_in(), "--netns", n.name(), "--", PL_CONNECT, "udp", n.host_ip4(),
                 "7403", "--count", "20", "--ms", "200"});
        },
        500ms);
    CHECK(other == 20);
}
