// enforce_test.cpp - kernel enforcement with real traffic: policerd loads a rule set, real
// processes (as other users, in network namespaces and containers) connect and send, and the
// tests assert what those processes saw (EPERM, timeouts, resets), what the peers received, and
// the events policerd reported. Each test pins its state in a directory of its own and removes
// it at the end, also when it fails.
#include "harness.h"
#include "sockaddr_text.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

using namespace pltest;

namespace {

const char *kConnect = PL_CONNECT;

// policerd enforcing `rules`, pinned under a test directory; removed with its pins.
struct Enforcing {
    TempDir dir;
    std::string pin;
    std::string rules_file;
    std::unique_ptr<Policerd> d;

    explicit Enforcing(const std::string &rules, const std::string &name) {
        pin = "/sys/fs/bpf/policer-test-" + name;
        rules_file = dir.file("test.rules");
        std::ofstream(rules_file) << rules;
        start();
    }
    void start() {
        d = std::make_unique<Policerd>(std::vector<std::string>{"--rules", rules_file, "--pin-dir",
                                                                pin, "--stats-interval", "0"});
        REQUIRE(d->wait_for([](const json &j) { return is_action(j, "agent-start"); }));
    }
    ~Enforcing() {
        if (d) d->stop();
        run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", pin});
    }
};

std::vector<std::string> in_netns(const TestNetns &n) {
    return {Binaries::run_in(), "--netns", n.name(), "--"};
}

// A UDP socket of the test process; counts what arrives within `wait`.
struct UdpSink {
    int fd = -1;
    explicit UdpSink(const std::string &ip, uint16_t port) {
        sockaddr_storage ss{};
        socklen_t len = sockaddr_from_text(ip.c_str(), port, ss);
        REQUIRE(len != 0);
        fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&ss), len) == 0);
        timeval tv{0, 200000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~UdpSink() { close(fd); }
    int count(std::chrono::milliseconds wait) {
        int n = 0;
        auto end = std::chrono::steady_clock::now() + wait;
        char buf[64];
        while (std::chrono::steady_clock::now() < end)
            if (recv(fd, buf, sizeof(buf), 0) > 0) ++n;
        return n;
    }
};

Policerd::Pred refused(const char *rule) {
    return [rule](const json &j) {
        return is_action(j, "connection-refused") && at(j, "rule.name") == rule;
    };
}

} // namespace

TEST_CASE("enforce: deny and reject refuse connect() and sendmsg() with EPERM, TCP and UDP over "
          "IPv4 and IPv6, while other users and ports pass") {
    TestNetns n(60);
    Enforcing e("rule nobody-tcp-7001 {\n"
                "    when user.id == 65534 and l4.proto == tcp and dst.port == 7001\n"
                "    action deny\n"
                "}\n"
                "rule nobody-7002 {\n"
                "    when user.name == nobody and dst.port == 7002\n"
                "    action reject\n"
                "}\n"
                "rule nobody-udp-7003 {\n"
                "    when user.id == 65534 and l4.proto == udp and dst.port == 7003\n"
                "    action deny\n"
                "}\n",
                "matrix");
    for (const std::string &ip : {n.ns_ip4(), n.ns_ip6()}) {
        CAPTURE(ip);
        CHECK(client(as_nobody(), {"tcp", ip, "7001"}) == "error EPERM");
        CHECK(client(as_nobody(), {"tcp", ip, "7002"}) == "error EPERM");
        CHECK(client(as_nobody(), {"udp", ip, "7002"}) == "error EPERM");
        CHECK(client(as_nobody(), {"udp", ip, "7003"}) == "error EPERM");
        CHECK(client(as_nobody(), {"udp-connected", ip, "7003"}) == "error EPERM");
        // Nothing listens there: the kernel let the call through when the answer is a refusal
        // by the peer rather than EPERM.
        CHECK(client(as_nobody(), {"tcp", ip, "7004"}) == "error ECONNREFUSED");
        CHECK(client(as_nobody(), {"udp", ip, "7004"}) == "sent 1 refused 0");
        CHECK(client({}, {"tcp", ip, "7001"}) == "error ECONNREFUSED"); // root is not nobody
    }
    // An IPv4-mapped destination is IPv4 to the rules (only connect6 sees it).
    CHECK(client(as_nobody(), {"tcp", "::ffff:" + n.ns_ip4(), "7001"}) == "error EPERM");

    auto ev = e.d->wait_for(refused("nobody-tcp-7001"));
    REQUIRE(ev);
    CHECK(at(*ev, "user.name") == "nobody");
    CHECK(at(*ev, "process.name") == "pl-connect");
    CHECK(at(*ev, "destination.port") == 7001);
    CHECK(at(*ev, "policer.verdict.enforced") == true);
    CHECK(at(*ev, "policer.verdict.hook") == "connect");
    CHECK(e.d->wait_for(refused("nobody-udp-7003")));
}

TEST_CASE("enforce: an inbound deny drops the first packet of TCP and UDP flows, IPv4 and IPv6, "
          "judged with the identity of the receiving socket") {
    TestNetns n(61);
    TcpServer tcp4(n.host_ip4(), false), tcp6(n.host_ip6(), false);
    UdpSink udp4(n.host_ip4(), 7013), udp6(n.host_ip6(), 7013);
    UdpSink open4(n.host_ip4(), 7014);
    const std::string p4 = std::to_string(tcp4.port()), p6 = std::to_string(tcp6.port());
    Enforcing e("rule from-ns-tcp {\n"
                "    when direction == ingress and src.ip in (" +
                    n.ns_ip4() + ", " + n.ns_ip6() + ") and dst.port in (" + p4 + ", " + p6 +
                    ") and user.id == 0\n"
                    "    action deny\n"
                    "}\n"
                    "rule from-ns-udp {\n"
                    "    when direction == ingress and l4.proto == udp and dst.port == 7013\n"
                    "    action deny\n"
                    "}\n",
                "ingress");
    CHECK(client(in_netns(n), {"tcp", n.host_ip4(), p4, "--timeout-ms", "1500"}) ==
          "error ETIMEDOUT");
    CHECK(client(in_netns(n), {"tcp", n.host_ip6(), p6, "--timeout-ms", "1500"}) ==
          "error ETIMEDOUT");
    CHECK(tcp4.connection_count() == 0);
    CHECK(tcp6.connection_count() == 0);
    CHECK(client(in_netns(n), {"udp", n.host_ip4(), "7013", "--count", "5"}) ==
          "sent 5 refused 0"); // sent: it is the receiving side that drops
    CHECK(client(in_netns(n), {"udp", n.host_ip6(), "7013", "--count", "5"}) == "sent 5 refused 0");
    CHECK(udp4.count(500ms) == 0);
    CHECK(udp6.count(500ms) == 0);
    // A port no rule names is open.
    CHECK(client(in_netns(n), {"udp", n.host_ip4(), "7014", "--count", "3"}) == "sent 3 refused 0");
    CHECK(open4.count(500ms) == 3);
    auto ev = e.d->wait_for(refused("from-ns-tcp"));
    REQUIRE(ev);
    CHECK(at(*ev, "policer.verdict.hook") == "ingress");
    CHECK(at(*ev, "source.ip") == n.ns_ip4());
}

TEST_CASE("enforce: audit mode reports would-be refusals and refuses nothing") {
    TestNetns n(62);
    Enforcing e("mode audit\n"
                "rule nobody-7021 {\n"
                "    when user.id == 65534 and dst.port == 7021\n"
                "    action deny\n"
                "}\n",
                "audit");
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7021"}) == "error ECONNREFUSED");
    auto ev =
        e.d->wait_for([](const json &j) { return is_action(j, "connection-would-be-refused"); });
    REQUIRE(ev);
    CHECK(at(*ev, "policer.verdict.audit") == true);
    CHECK(at(*ev, "policer.verdict.enforced") == false);
    CHECK(at(*ev, "rule.name") == "nobody-7021");
}

TEST_CASE("enforce: kill -9 leaves enforcement in place, a restarted policerd adopts it, and a "
          "broken reload keeps the rule set in force") {
    TestNetns n(63);
    Enforcing e("rule nobody-7031 {\n"
                "    when user.id == 65534 and dst.port == 7031\n"
                "    action deny\n"
                "}\n",
                "restart");
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7031"}) == "error EPERM");
    e.d->stop(9);
    // No daemon: the pinned programs still refuse.
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7031"}) == "error EPERM");
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7032"}) == "error ECONNREFUSED");

    e.start();
    auto agent = e.d->wait_for([](const json &j) { return is_action(j, "agent-start"); });
    REQUIRE(agent);
    CHECK(at(*agent, "policer.enforcement.adopted") == true);
    const auto gen = at(*agent, "policer.enforcement.generation").get<uint64_t>();
    CHECK(gen >= 2);
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7031"}) == "error EPERM");

    // A broken file: refused with its error, the set in force stays.
    std::ofstream(e.rules_file) << "rule broken {\n    when usr.id == 1\n    action deny\n}\n";
    e.d->signal_hup();
    auto failed = e.d->wait_for([](const json &j) { return is_action(j, "rules-reload-failed"); });
    REQUIRE(failed);
    CHECK(at(*failed, "error.message").get<std::string>().find("test.rules:2:10") !=
          std::string::npos);
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7031"}) == "error EPERM");

    // A good file: the new set replaces the old in one switch.
    std::ofstream(e.rules_file) << "rule nobody-7032 {\n    when user.id == 65534 and dst.port "
                                   "== 7032\n    action deny\n}\n";
    e.d->signal_hup();
    auto ok = e.d->wait_for([](const json &j) { return is_action(j, "rules-reloaded"); });
    REQUIRE(ok);
    CHECK(at(*ok, "policer.rules.generation").get<uint64_t>() == gen + 1);
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7031"}) == "error ECONNREFUSED");
    CHECK(client(as_nobody(), {"tcp", n.ns_ip4(), "7032"}) == "error EPERM");
}

TEST_CASE("enforce: an L7 verdict cuts a live HTTP flow within a bounded window and resets it") {
    TestNetns n(64);
    // A server on the host that counts every byte it receives.
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(lfd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, n.host_ip4().c_str(), &a.sin_addr);
    REQUIRE(bind(lfd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0);
    REQUIRE(listen(lfd, 8) == 0);
    socklen_t alen = sizeof(a);
    getsockname(lfd, reinterpret_cast<sockaddr *>(&a), &alen);
    const std::string port = std::to_string(ntohs(a.sin_port));
    std::atomic<long> received{0};
    std::thread server([&] {
        int c = accept(lfd, nullptr, nullptr);
        if (c < 0) return;
        timeval tv{6, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char buf[65536];
        ssize_t r;
        while ((r = recv(c, buf, sizeof(buf), 0)) > 0)
            received += r;
        close(c);
    });
    Enforcing e("rule no-http-to-test-port {\n"
                "    when l7.protocol == http and dst.port == " +
                    port + "\n    action reject\n}\n",
                "l7");
    // 1 KiB every 5 ms for 3 s: 600 KiB if nothing stopped it.
    auto out = run({Binaries::run_in(), "--netns", n.name(), "--", kConnect, "stream", n.host_ip4(),
                    port, "--ms", "3000"},
                   20s);
    server.join();
    close(lfd);
    CAPTURE(out.out);
    // The client was cut: its send failed (reset or aborted) before the 3 s were up.
    CHECK(out.out.find("error E") != std::string::npos);
    // The detection window: what reached the server before the verdict bit.
    MESSAGE("detection window: " << received.load() << " bytes reached the server");
    CHECK(received.load() > 0);
    CHECK(received.load() < 64 * 1024);
    auto ev = e.d->wait_for([&](const json &j) {
        return at(j, "policer.verdict.kernel").is_string() &&
               at(j, "rule.name") == "no-http-to-test-port";
    });
    if (!ev)
        for (const auto &j : e.d->events())
            if (at(j, "destination.port") == std::stoi(port)) MESSAGE(j.dump());
    REQUIRE(ev);
    CHECK(at(*ev, "policer.verdict.kernel").get<std::string>().find("dropped") == 0);
}

TEST_CASE("enforce: a limit rule holds a UDP rate within tolerance and drops the excess") {
    TestNetns n(65);
    UdpSink sink(n.host_ip4(), 7051);
    Enforcing e("rule udp-7051-limit {\n"
                "    when l4.proto == udp and dst.port == 7051\n"
                "    action limit 50/s burst 50 per process\n"
                "}\n",
                "limit");
    // 1,000 datagrams over 2 s from one process: the bucket passes 50 + 50/s * 2 s = 150.
    auto out = client(in_netns(n),
                      {"udp-connected", n.host_ip4(), "7051", "--count", "1000", "--ms", "2000"});
    CAPTURE(out);
    int got = sink.count(700ms);
    MESSAGE("limit 50/s burst 50 over 2 s: " << got << " datagrams passed of 1000");
    CHECK(got >= 120);
    CHECK(got <= 190);
}

TEST_CASE("enforce: a rule on a container by name applies to the container's processes") {
    TestContainer c(66);
    const std::string dir = "/var/lib/docker/containers/" + c.id();
    const bool made_root = !std::filesystem::exists("/var/lib/docker");
    std::filesystem::create_directories(dir);
    for (const auto *d : {"/var/lib/docker", "/var/lib/docker/containers"})
        chmod(d, 0711);
    chmod(dir.c_str(), 0700);
    std::ofstream(dir + "/config.v2.json")
        << R"({"ID":")" << c.id() << R"(","Name":"/web-policer-test"})";
    struct Cleanup {
        std::string dir;
        bool root;
        ~Cleanup() { std::filesystem::remove_all(root ? "/var/lib/docker" : dir); }
    } cleanup{dir, made_root};
    Enforcing e("rule web-not-7061 {\n"
                "    when container.name == web-policer-test and dst.port == 7061\n"
                "    action deny\n"
                "}\n",
                "container");
    auto in_c = [&](const std::string &port) {
        auto r = run(c.argv(0, 0, {kConnect, "tcp", c.net().host_ip4(), port}), 20s);
        return r.out.substr(0, r.out.find('\n'));
    };
    CHECK(in_c("7061") == "error EPERM");
    CHECK(in_c("7062") == "error ECONNREFUSED");
    // The same call from the host is not the container's.
    CHECK(client({}, {"tcp", c.net().host_ip4(), "7061"}) == "error ECONNREFUSED");
}
