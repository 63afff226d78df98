// attribution_test.cpp - policerd on the real kernel, real traffic between network
// namespaces: every flow must name its user, process, cgroup and container, and carry the
// right 5-tuple and byte counts.
#include "harness.h"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <set>

using namespace pltest;

namespace {

Policerd::Pred flow_end_of(const json &start) {
    json cookie = at(start, "policer.flow.cookie");
    json dport = at(start, "destination.port");
    json sport = at(start, "source.port");
    return [=](const json &j) {
        return is_action(j, "flow-end") && at(j, "policer.flow.cookie") == cookie &&
               at(j, "destination.port") == dport && at(j, "source.port") == sport;
    };
}

// The identity fields every flow of a process running in `c` as nobody must carry.
void check_container_identity(const json &j, const TestContainer &c, pid_t pid,
                              const std::string &exe) {
    CHECK(at(j, "process.pid") == pid);
    CHECK(at(j, "process.executable") == exe);
    CHECK(at(j, "user.id") == std::to_string(kNobody));
    CHECK(at(j, "user.name") == user_name(kNobody));
    CHECK(at(j, "group.id") == std::to_string(kNogroup));
    CHECK(at(j, "group.name") == group_name(kNogroup));
    CHECK(at(j, "cgroup.path") == c.cgroup_path());
    CHECK(at(j, "container.id") == c.id());
    CHECK(at(j, "container.runtime") == "docker");
    CHECK(at(j, "policer.container.verified") == true); // its cgroup was made by root
    CHECK(at(j, "policer.flow.identity") == "full");
}

} // namespace

TEST_CASE("outbound TCP from a container as a non-root user (curl): full identity, 5-tuple, "
          "bytes") {
    Policerd d;
    TestContainer c(11);
    TcpServer server(c.net().host_ip4(), /*http=*/true);
    const std::string url =
        "http://" + c.net().host_ip4() + ":" + std::to_string(server.port()) + "/policer-test";

    Child curl(c.argv(kNobody, kNogroup, {"curl", "-s", "--max-time", "5", url}));
    auto body = curl.read_line();
    REQUIRE(curl.wait() == 0);
    CHECK(body == std::string("policer-test"));

    auto start = d.wait_for(flow_of("flow-start", curl.pid(), "tcp"));
    REQUIRE_MESSAGE(start, "no flow-start for curl; stderr:\n" << d.stderr_text());
    check_container_identity(*start, c, curl.pid(), real_path("/usr/bin/curl"));
    CHECK(at(*start, "process.name") == "curl");
    CHECK(at(*start, "process.command_line") == "curl -s --max-time 5 " + url);
    CHECK(at(*start, "process.args").size() == 5);
    CHECK(at(*start, "process.parent.pid") == getpid());
    CHECK(at(*start, "network.type") == "ipv4");
    CHECK(at(*start, "network.direction") == "egress");
    CHECK(at(*start, "source.ip") == c.net().ns_ip4());
    CHECK(at(*start, "destination.ip") == c.net().host_ip4());
    CHECK(at(*start, "destination.port") == server.port());
    CHECK(at(*start, "policer.flow.netns") == c.net().inode());

    auto end = d.wait_for(flow_end_of(*start));
    REQUIRE(end);
    auto conns = server.connections();
    REQUIRE(conns.size() == 1);
    CHECK(at(*start, "source.port") == conns[0].peer_port);
    check_container_identity(*end, c, curl.pid(), real_path("/usr/bin/curl"));
    CHECK(at(*end, "policer.flow.established") == true);
    CHECK(at(*end, "source.bytes") == conns[0].bytes_in);       // the request curl sent
    CHECK(at(*end, "destination.bytes") == conns[0].bytes_out); // the response it read
    CHECK(at(*end, "network.bytes") == conns[0].bytes_in + conns[0].bytes_out);
    CHECK(at(*end, "source.packets").get<uint64_t>() >= 3); // SYN, request, ACK/FIN
}

TEST_CASE("inbound TCP accepted by a server process in a container (nc -l)") {
    Policerd d;
    TestContainer c(12);
    const uint16_t port = 18012;
    Child nc(c.argv(kNobody, kNogroup, {"nc", "-l", c.net().ns_ip4(), std::to_string(port)}));

    int fd = connect_retry(c.net().ns_ip4(), port);
    REQUIRE(fd >= 0);
    timeval tv{5, 0}; // a stuck server fails the test instead of hanging it
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const std::string msg = "hello-inbound\n";
    REQUIRE(write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
    shutdown(fd, SHUT_WR);
    char sink[64];
    while (read(fd, sink, sizeof(sink)) > 0) {
    }
    close(fd);

    auto start = d.wait_for([&](const json &j) {
        return is_action(j, "flow-start") && at(j, "network.direction") == "ingress" &&
               at(j, "destination.port") == port;
    });
    REQUIRE_MESSAGE(start, "no inbound flow-start; stderr:\n" << d.stderr_text());
    check_container_identity(*start, c, nc.pid(), real_path("/usr/bin/nc"));
    CHECK(at(*start, "source.ip") == c.net().host_ip4());
    CHECK(at(*start, "destination.ip") == c.net().ns_ip4());
    CHECK(at(*start, "network.transport") == "tcp");

    nc.signal(SIGTERM);
    nc.wait();
    auto end = d.wait_for(flow_end_of(*start));
    REQUIRE(end);
    CHECK(at(*end, "source.bytes") == msg.size()); // what the client sent to nc
    CHECK(at(*end, "network.direction") == "ingress");
    check_container_identity(*end, c, nc.pid(), real_path("/usr/bin/nc"));
}

TEST_CASE("inbound TCP is attributed to the process that accept()s, not the listener's owner") {
    Policerd d({"--accept-wait", "3000"}); // a loaded machine may take a while to accept
    TestContainer c(13);
    const uint16_t port = 18013;
    // Root listens, a child that dropped to nobody accepts - a pre-forked server.
    Child server(c.argv(0, 0,
                        {Binaries::prefork(), c.net().ns_ip4(), std::to_string(port),
                         std::to_string(kNobody), std::to_string(kNogroup)}));
    auto ready = server.read_line();
    REQUIRE(ready);
    REQUIRE(ready->rfind("ready ", 0) == 0);
    pid_t worker = std::atoi(ready->c_str() + 6);

    int fd = connect_retry(c.net().ns_ip4(), port);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "ping", 4) == 4);
    char buf[8];
    CHECK(read(fd, buf, sizeof(buf)) == 4);
    close(fd);
    REQUIRE(server.wait() == 0);

    auto start = d.wait_for([&](const json &j) {
        return is_action(j, "flow-start") && at(j, "network.direction") == "ingress" &&
               at(j, "destination.port") == port;
    });
    REQUIRE(start);
    check_container_identity(*start, c, worker, real_path(Binaries::prefork()));
    CHECK(at(*start, "process.parent.pid") == server.pid());
}

TEST_CASE("unconnected UDP sendto/recvfrom, both ends attributed, datagrams and bytes counted") {
    Policerd d;
    TestContainer c(14);
    const uint16_t port = 18014;
    // The echo server runs on the host side, as root, outside any container.
    Child server({Binaries::udp(), "serve", c.net().host_ip4(), std::to_string(port), "3"});
    REQUIRE(server.read_line() == std::string("ready"));

    Child client(c.argv(kNobody, kNogroup,
                        {Binaries::udp(), "send", c.net().host_ip4(), std::to_string(port), "3",
                         "100", "--expect-replies"}));
    REQUIRE(client.wait() == 0);
    REQUIRE(server.wait() == 0);

    auto start = d.wait_for(flow_of("flow-start", client.pid(), "udp"));
    REQUIRE_MESSAGE(start, "no UDP flow-start; stderr:\n" << d.stderr_text());
    check_container_identity(*start, c, client.pid(), real_path(Binaries::udp()));
    CHECK(at(*start, "network.direction") == "egress");
    CHECK(at(*start, "source.ip") == c.net().ns_ip4());
    CHECK(at(*start, "destination.ip") == c.net().host_ip4());
    CHECK(at(*start, "destination.port") == port);

    // The socket is closed when the client exits: the flow ends with its counters.
    auto end = d.wait_for(flow_end_of(*start));
    REQUIRE(end);
    CHECK(at(*end, "policer.flow.end_reason") == "closed");
    CHECK(at(*end, "source.packets") == 3);
    CHECK(at(*end, "source.bytes") == 300);
    CHECK(at(*end, "destination.packets") == 3);
    CHECK(at(*end, "destination.bytes") == 300);

    // The server's side of the same exchange: an inbound flow of the root echo server.
    auto in = d.wait_for(flow_of("flow-start", server.pid(), "udp"));
    REQUIRE(in);
    CHECK(at(*in, "network.direction") == "ingress");
    CHECK(at(*in, "user.id") == "0");
    CHECK(at(*in, "process.executable") == real_path(Binaries::udp()));
    CHECK(at(*in, "source.ip") == c.net().ns_ip4());
    CHECK(at(*in, "destination.port") == port);
    CHECK(at(*in, "container").is_null());
    auto in_end = d.wait_for(flow_end_of(*in));
    REQUIRE(in_end);
    CHECK(at(*in_end, "source.bytes") == 300); // what the container sent
}

TEST_CASE("connected UDP (connect, send, recv) from a container") {
    Policerd d;
    TestContainer c(19);
    const uint16_t port = 18019;
    Child server({Binaries::udp(), "serve", c.net().host_ip4(), std::to_string(port), "2"});
    REQUIRE(server.read_line() == std::string("ready"));
    Child client(c.argv(kNobody, kNogroup,
                        {Binaries::udp(), "send-connected", c.net().host_ip4(),
                         std::to_string(port), "2", "50", "--expect-replies"}));
    REQUIRE(client.wait() == 0);
    REQUIRE(server.wait() == 0);

    auto start = d.wait_for(flow_of("flow-start", client.pid(), "udp"));
    REQUIRE(start);
    check_container_identity(*start, c, client.pid(), real_path(Binaries::udp()));
    CHECK(at(*start, "network.direction") == "egress");
    CHECK(at(*start, "destination.ip") == c.net().host_ip4());
    CHECK(at(*start, "destination.port") == port);
    auto end = d.wait_for(flow_end_of(*start));
    REQUIRE(end);
    CHECK(at(*end, "source.bytes") == 100);
    CHECK(at(*end, "source.packets") == 2);
    CHECK(at(*end, "destination.bytes") == 100);
    CHECK(at(*end, "destination.packets") == 2);
}

TEST_CASE("a UDP flow whose socket stays open ends after the idle timeout") {
    Policerd d({"--udp-idle-timeout", "1"});
    TestContainer c(20);
    const uint16_t port = 18020;
    // Nobody listens: the datagrams go out and the socket stays open, silent, for 6 s.
    Child client(c.argv(kNobody, kNogroup,
                        {Binaries::udp(), "send", c.net().host_ip4(), std::to_string(port), "2",
                         "30", "--hold", "6"}));
    auto start = d.wait_for(flow_of("flow-start", client.pid(), "udp"));
    REQUIRE(start);
    auto end = d.wait_for(flow_end_of(*start), 5000ms);
    REQUIRE_MESSAGE(end, "no idle flow-end; stderr:\n" << d.stderr_text());
    CHECK(at(*end, "policer.flow.end_reason") == "idle");
    CHECK(at(*end, "source.bytes") == 60);
    CHECK(at(*end, "source.packets") == 2);
    check_container_identity(*end, c, client.pid(), real_path(Binaries::udp()));
    // The process is still running: the flow ended because it went quiet, not because it closed.
    CHECK(access(("/proc/" + std::to_string(client.pid())).c_str(), F_OK) == 0);
}

TEST_CASE("IPv6: TCP and UDP from a container carry IPv6 addresses") {
    Policerd d;
    TestContainer c(15);
    TcpServer server(c.net().host_ip6(), /*http=*/true);
    const std::string url =
        "http://[" + c.net().host_ip6() + "]:" + std::to_string(server.port()) + "/v6";
    Child curl(c.argv(kNobody, kNogroup, {"curl", "-s", "-g", "--max-time", "5", url}));
    REQUIRE(curl.wait() == 0);

    auto tcp = d.wait_for(flow_of("flow-start", curl.pid(), "tcp"));
    REQUIRE(tcp);
    check_container_identity(*tcp, c, curl.pid(), real_path("/usr/bin/curl"));
    CHECK(at(*tcp, "network.type") == "ipv6");
    CHECK(at(*tcp, "source.ip") == c.net().ns_ip6());
    CHECK(at(*tcp, "destination.ip") == c.net().host_ip6());
    CHECK(at(*tcp, "destination.port") == server.port());

    const uint16_t port = 18015;
    Child echo({Binaries::udp(), "serve", c.net().host_ip6(), std::to_string(port), "1"});
    REQUIRE(echo.read_line() == std::string("ready"));
    Child udp(c.argv(kNobody, kNogroup,
                     {Binaries::udp(), "send", c.net().host_ip6(), std::to_string(port), "1", "40",
                      "--expect-replies"}));
    REQUIRE(udp.wait() == 0);
    auto u = d.wait_for(flow_of("flow-start", udp.pid(), "udp"));
    REQUIRE(u);
    CHECK(at(*u, "network.type") == "ipv6");
    CHECK(at(*u, "source.ip") == c.net().ns_ip6());
    CHECK(at(*u, "destination.ip") == c.net().host_ip6());
    auto u_end = d.wait_for(flow_end_of(*u));
    REQUIRE(u_end);
    CHECK(at(*u_end, "source.bytes") == 40);
    CHECK(at(*u_end, "destination.bytes") == 40);
}

TEST_CASE("IPv4 on a dual-stack IPv6 socket is reported as IPv4") {
    Policerd d({"--accept-wait", "3000"});
    TestContainer c(16);
    TcpServer server("::", /*http=*/true); // AF_INET6 socket, accepts IPv4 as ::ffff:a.b.c.d
    const std::string url =
        "http://" + c.net().host_ip4() + ":" + std::to_string(server.port()) + "/mapped";
    Child curl(c.argv(kNobody, kNogroup, {"curl", "-s", "--max-time", "5", url}));
    REQUIRE(curl.wait() == 0);
    auto in = d.wait_for([&](const json &j) {
        return is_action(j, "flow-start") && at(j, "network.direction") == "ingress" &&
               at(j, "destination.port") == server.port();
    });
    REQUIRE(in);
    CHECK(at(*in, "network.type") == "ipv4");
    CHECK(at(*in, "source.ip") == c.net().ns_ip4());
    CHECK(at(*in, "destination.ip") == c.net().host_ip4());
    CHECK(at(*in, "process.pid") == getpid()); // the test process accepted it
}

TEST_CASE("a process that exits right after sending is attributed from what the kernel "
          "captured") {
    Policerd d;
    TestContainer c(17);
    const uint16_t udp_port = 18017;
    TcpServer tcp_server(c.net().host_ip4(), /*http=*/false);

    // policerd reads nothing while these processes run and exit: when it reads their flows,
    // /proc no longer has them.
    d.pause();
    Child udp(
        c.argv(kNobody, kNogroup,
               {Binaries::udp(), "send", c.net().host_ip4(), std::to_string(udp_port), "1", "64"}));
    Child tcp(
        c.argv(kNobody, kNogroup,
               {Binaries::storm(), c.net().host_ip4(), std::to_string(tcp_server.port()), "1"}));
    REQUIRE(udp.wait() == 0);
    REQUIRE(tcp.wait() == 0);
    CHECK(access(("/proc/" + std::to_string(udp.pid())).c_str(), F_OK) != 0);
    CHECK(access(("/proc/" + std::to_string(tcp.pid())).c_str(), F_OK) != 0);
    d.resume();

    auto u = d.wait_for(flow_of("flow-start", udp.pid(), "udp"));
    REQUIRE_MESSAGE(u, "no flow for the exited UDP sender; stderr:\n" << d.stderr_text());
    check_container_identity(*u, c, udp.pid(), real_path(Binaries::udp()));
    CHECK(at(*u, "process.command_line") == std::string(Binaries::udp()) + " send " +
                                                c.net().host_ip4() + " " +
                                                std::to_string(udp_port) + " 1 64");

    auto t = d.wait_for(flow_of("flow-start", tcp.pid(), "tcp"));
    REQUIRE(t);
    check_container_identity(*t, c, tcp.pid(), real_path(Binaries::storm()));
    CHECK(at(*t, "process.args").size() == 4);
}

TEST_CASE("storm: 2,000 short connections from 50 processes, all attributed, none lost") {
    constexpr int kProcs = 50, kPerProc = 40, kTotal = kProcs * kPerProc;
    Policerd d;
    TestContainer c(18);
    TcpServer server(c.net().host_ip4(), /*http=*/false, /*backlog=*/4096);
    const std::string storm = real_path(Binaries::storm());

    std::vector<std::unique_ptr<Child>> clients;
    std::set<int64_t> pids;
    for (int i = 0; i < kProcs; ++i) {
        clients.push_back(std::make_unique<Child>(
            c.argv(kNobody, kNogroup,
                   {Binaries::storm(), c.net().host_ip4(), std::to_string(server.port()),
                    std::to_string(kPerProc)}),
            false));
        pids.insert(clients.back()->pid());
    }
    for (auto &cl : clients)
        REQUIRE(cl->wait(60000ms) == 0);

    auto is_storm_start = [&](const json &j) {
        return is_action(j, "flow-start") && at(j, "network.direction") == "egress" &&
               at(j, "destination.port") == server.port();
    };
    auto starts = d.wait_for_count(is_storm_start, kTotal, 60000ms);
    auto ends = d.wait_for_count(
        [&](const json &j) {
            return is_action(j, "flow-end") && at(j, "network.direction") == "egress" &&
                   at(j, "destination.port") == server.port();
        },
        kTotal, 60000ms);
    REQUIRE(d.stop() == 0);

    size_t full = 0;
    for (const auto &j : starts) {
        const json &pid = at(j, "process.pid");
        if (pid.is_number() && pids.count(pid.get<int64_t>()) &&
            at(j, "process.executable") == storm && at(j, "user.id") == "65534" &&
            at(j, "cgroup.path") == c.cgroup_path() && at(j, "container.id") == c.id() &&
            at(j, "policer.flow.identity") == "full")
            ++full;
    }
    // The final agent-stats, printed on shutdown, has the kernel's ring-buffer loss count.
    json stats;
    for (const auto &j : d.events())
        if (is_action(j, "agent-stats")) stats = j;
    REQUIRE(at(stats, "policer.ringbuf.dropped").is_number());
    const uint64_t dropped = at(stats, "policer.ringbuf.dropped").get<uint64_t>();

    MESSAGE("storm: " << kTotal << " connections from " << kProcs << " processes; " << starts.size()
                      << " flow-start, " << ends.size() << " flow-end; " << full
                      << " with full identity (" << (100.0 * static_cast<double>(full) / kTotal)
                      << "%); ring-buffer drops " << dropped << " of "
                      << at(stats, "policer.events.received") << " events");
    CHECK(server.connection_count() == kTotal);
    CHECK(starts.size() == kTotal);
    CHECK(ends.size() == kTotal);
    CHECK(full == kTotal);
    CHECK(dropped == 0);
}
