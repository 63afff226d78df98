// adversarial_test.cpp - identity under conditions an attacker (or an ordinary daemon) creates:
// privileges dropped after the socket is made, a listener older than policerd, a user naming
// a cgroup after someone else's container, programs run from memory or from a deleted file,
// and a socket that scans thousands of endpoints. policer must say what it knows, flag what it
// cannot vouch for, and never invent an identity.
#include "harness.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

using namespace pltest;

TEST_CASE("a daemon that drops privileges after making its sockets is named as it is now") {
    Policerd d;
    TestContainer c(41);
    TcpServer tcp(c.net().host_ip4(), /*http=*/false);
    const uint16_t udp_port = 18041;
    // Root makes a UDP and a TCP socket, becomes nobody, then sends and connects.
    Child p(
        c.argv(0, 0,
               {Binaries::drop_priv(), c.net().host_ip4(), std::to_string(udp_port),
                std::to_string(tcp.port()), std::to_string(kNobody), std::to_string(kNogroup)}));
    REQUIRE(p.wait() == 0);
    for (const char *transport : {"udp", "tcp"}) {
        auto f = d.wait_for(flow_of("flow-start", p.pid(), transport));
        REQUIRE_MESSAGE(f, "no " << transport << " flow; stderr:\n" << d.stderr_text());
        CHECK(at(*f, "user.id") == std::to_string(kNobody));
        CHECK(at(*f, "group.id") == std::to_string(kNogroup));
        CHECK(at(*f, "process.executable") == real_path(Binaries::drop_priv()));
    }
}

TEST_CASE("a listener older than policerd: its connections carry the socket's owner, never root") {
    TestContainer c(42);
    const uint16_t port = 18042;
    // Listens but never accepts; started before policerd, so no probe saw it being made.
    Child listener(c.argv(kNobody, kNogroup,
                          {"/usr/bin/python3", "-c",
                           "import socket,sys,time\n"
                           "s=socket.socket(); s.bind((sys.argv[1], int(sys.argv[2])))\n"
                           "s.listen(8); print('ready', flush=True); time.sleep(60)",
                           c.net().ns_ip4(), std::to_string(port)}));
    REQUIRE(listener.read_line() == std::string("ready"));

    Policerd d({"--accept-wait", "200"});
    int fd = connect_retry(c.net().ns_ip4(), port); // the handshake completes in the backlog
    REQUIRE(fd >= 0);
    auto f = d.wait_for([&](const json &j) {
        return is_action(j, "flow-start") && at(j, "network.direction") == "ingress" &&
               at(j, "destination.port") == port;
    });
    close(fd);
    REQUIRE_MESSAGE(f, "no inbound flow; stderr:\n" << d.stderr_text());
    CHECK(at(*f, "policer.flow.identity") == "partial");
    CHECK(at(*f, "user.id") == std::to_string(kNobody)); // the socket's owner, not "0"
    CHECK(at(*f, "cgroup.path") == c.cgroup_path());
    CHECK(at(*f, "container.id") == c.id());
    CHECK(at(*f, "process").is_null()); // no process context: none is invented
}

TEST_CASE("a user's cgroup named like a container is reported as unverified, with its owner") {
    Policerd d;
    TestContainer c(43); // for its network namespace
    // A delegated subtree, as systemd gives every user session, owned by nobody...
    const std::string deleg_rel =
        "/policer-test.slice/delegated-" + std::to_string(getpid()) + ".slice";
    const std::string deleg = cgroup2_mount() + deleg_rel;
    REQUIRE(mkdir(deleg.c_str(), 0755) == 0);
    REQUIRE(chown(deleg.c_str(), kNobody, kNogroup) == 0);
    // ...in which nobody makes a directory named after a docker container.
    const std::string fake_id(64, 'f');
    const std::string fake = deleg + "/docker-" + fake_id + ".scope";
    REQUIRE(run({Binaries::run_in(), "--uid", std::to_string(kNobody), "--gid",
                 std::to_string(kNogroup), "--", "mkdir", fake})
                .status == 0);

    TcpServer server(c.net().host_ip4(), /*http=*/true);
    Child curl({Binaries::run_in(), "--cgroup", fake, "--netns", c.net().name(), "--uid",
                std::to_string(kNobody), "--gid", std::to_string(kNogroup), "--", "curl", "-s",
                "--max-time", "5",
                "http://" + c.net().host_ip4() + ":" + std::to_string(server.port()) + "/"});
    CHECK(curl.wait() == 0);
    auto f = d.wait_for(flow_of("flow-start", curl.pid(), "tcp"));
    std::ofstream(fake + "/cgroup.kill") << "1";
    rmdir(fake.c_str());
    rmdir(deleg.c_str());
    REQUIRE(f);
    CHECK(at(*f, "container.id") == fake_id);             // what the path says...
    CHECK(at(*f, "policer.container.verified") == false); // ...but no runtime made it
    CHECK(at(*f, "policer.container.cgroup_owner_uid") == kNobody);
}

TEST_CASE("programs run from a memfd or from a deleted file are named and flagged") {
    Policerd d;
    TestContainer c(44);
    TcpServer server(c.net().host_ip4(), /*http=*/false);
    const std::string port = std::to_string(server.port());

    Child mem(
        c.argv(kNobody, kNogroup,
               {Binaries::exec_from(), "memfd", Binaries::storm(), c.net().host_ip4(), port, "1"}));
    REQUIRE(mem.wait() == 0);
    auto m = d.wait_for(flow_of("flow-start", mem.pid(), "tcp"));
    REQUIRE_MESSAGE(m, "no flow from the memfd program; stderr:\n" << d.stderr_text());
    CHECK(at(*m, "process.executable") == "memfd:pl-payload");
    auto mflags = at(*m, "policer.process.exe_flags");
    CHECK(std::find(mflags.begin(), mflags.end(), "pseudo_file") != mflags.end());

    Child del(c.argv(
        kNobody, kNogroup,
        {Binaries::exec_from(), "deleted", Binaries::storm(), c.net().host_ip4(), port, "1"}));
    REQUIRE(del.wait() == 0);
    auto x = d.wait_for(flow_of("flow-start", del.pid(), "tcp"));
    REQUIRE(x);
    CHECK(at(*x, "process.executable") == "/tmp/pl-exec-from-" + std::to_string(del.pid()));
    auto xflags = at(*x, "policer.process.exe_flags");
    CHECK(std::find(xflags.begin(), xflags.end(), "deleted") != xflags.end());
}

TEST_CASE("a UDP scan from one socket: new flows are rate limited, the rest aggregated") {
    Policerd d({"--udp-new-flows-per-sec", "50"});
    TestContainer c(45);
    Child scan(
        c.argv(kNobody, kNogroup, {Binaries::udp(), "scan", c.net().host_ip4(), "20000", "300"}));
    REQUIRE(scan.wait() == 0);

    auto is_end = [&](const json &j) {
        return is_action(j, "flow-end") && at(j, "process.pid") == scan.pid();
    };
    auto ends = d.wait_for_count(is_end, 51, 10000ms);
    size_t single = 0, aggregate = 0;
    uint64_t aggregated_packets = 0;
    for (const auto &e : ends) {
        if (at(e, "policer.flow.aggregate") == true) {
            ++aggregate;
            aggregated_packets = at(e, "source.packets").get<uint64_t>();
            CHECK(at(e, "destination.port") == 0);
        } else {
            ++single;
        }
    }
    MESSAGE("300 datagrams to 300 ports: " << single << " flows, " << aggregate
                                           << " aggregate flow of " << aggregated_packets
                                           << " datagrams");
    CHECK(single == 50);
    CHECK(aggregate == 1);
    CHECK(aggregated_packets == 250);
}

TEST_CASE("with tables too small for the traffic, every UDP flow that starts also ends") {
    Policerd d(
        {"--max-flows", "64", "--udp-idle-timeout", "1", "--udp-new-flows-per-sec", "100000"});
    TestContainer c(46);
    // 300 endpoints from one socket that stays open: both the kernel's and the daemon's flow
    // tables overflow.
    Child scan(c.argv(kNobody, kNogroup,
                      {Binaries::udp(), "scan", c.net().host_ip4(), "21000", "300", "4"}));
    REQUIRE(scan.wait(20000ms) == 0);
    std::this_thread::sleep_for(2s); // past the idle timeout and a sweep

    std::multiset<int64_t> started, ended;
    std::map<std::string, size_t> reasons;
    for (const auto &e : d.events()) {
        if (at(e, "process.pid") != scan.pid()) continue;
        if (is_action(e, "flow-start")) started.insert(at(e, "destination.port").get<int64_t>());
        if (is_action(e, "flow-end")) {
            ended.insert(at(e, "destination.port").get<int64_t>());
            ++reasons[at(e, "policer.flow.end_reason").get<std::string>()];
        }
    }
    std::string summary;
    for (const auto &[r, n] : reasons)
        summary += r + "=" + std::to_string(n) + " ";
    MESSAGE(started.size() << " flows started, " << ended.size() << " ended: " << summary);
    CHECK(started.size() > 0);
    CHECK(started == ended); // none forgotten, none ended twice
}
