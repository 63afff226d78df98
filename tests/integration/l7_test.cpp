// l7_test.cpp - L7 dissection on real traffic: real servers (python's http.server, openssl
// s_server, dnsmasq, dropbear) in a test container, real clients on the host. Every flow must
// carry its protocol and the names inside it, live (policerd) and from a capture of the same
// traffic (policer dissect).
#include "harness.h"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <regex>

using namespace pltest;

namespace {

// The flow-end of the first flow of process `pid` (a client run for the test).
std::optional<json> flow_end_of_pid(Policerd &d, pid_t pid, const char *transport) {
    return d.wait_for(flow_of("flow-end", pid, transport));
}

// Flows of a capture, as `policer dissect --json` prints them.
std::vector<json> dissect(const std::string &pcap) {
    auto r = run({Binaries::policer(), "dissect", "--json", pcap});
    REQUIRE_MESSAGE(r.status == 0, "policer dissect failed: " << r.err);
    std::vector<json> flows;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << line);
        if (is_action(j, "flow-dissected")) flows.push_back(j);
    }
    return flows;
}

// The dissected flow to `port`.
std::optional<json> offline_flow(const std::vector<json> &flows, uint16_t port) {
    for (const auto &f : flows)
        if (at(f, "destination.port") == port) return f;
    return std::nullopt;
}

// Polls until something listens on ip:port in the container's namespace.
void wait_listening(TestContainer &c, const std::string &proto, uint16_t port) {
    const std::string needle = ":" + std::to_string(port) + " ";
    for (int i = 0; i < 300; ++i) {
        auto r = run(
            {"ip", "netns", "exec", c.net().name(), "ss", "-Hln", proto == "udp" ? "-u" : "-t"});
        if (r.out.find(needle) != std::string::npos) return;
        std::this_thread::sleep_for(20ms);
    }
    FAIL("nothing listens on port " << port << " in " << c.net().name());
}

uint64_t kernel_samples(Policerd &d) {
    // The newest agent-stats (printed every second).
    auto before = d.events().size();
    auto s = d.wait_for([&](const json &j) { return is_action(j, "agent-stats"); }, 3000ms);
    uint64_t v = 0;
    auto evs = d.events();
    for (size_t i = before; i < evs.size(); ++i)
        if (is_action(evs[i], "agent-stats"))
            v = at(evs[i], "policer.kernel.samples_written").get<uint64_t>();
    (void)s;
    return v;
}

} // namespace

TEST_CASE("HTTP: method, URL, user agent and status, live and from a capture") {
    Policerd d;
    TestContainer c(31);
    TempDir dir;
    std::ofstream(dir.file("index.html")) << "<html>policer</html>\n";
    const uint16_t port = 18031;
    Capture cap(c.net().host_iface(), dir.file("http.pcap"));
    Child server(c.argv(kNobody, kNogroup,
                        {"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind",
                         c.net().ns_ip4(), "--directory", dir.path()}),
                 false);
    wait_listening(c, "tcp", port);

    const std::string url =
        "http://" + c.net().ns_ip4() + ":" + std::to_string(port) + "/index.html";
    Child curl({"curl", "-s", "-A", "policer-test-agent/1.0", "--max-time", "5", url});
    REQUIRE(curl.read_line() == std::string("<html>policer</html>"));
    REQUIRE(curl.wait() == 0);

    auto classified = d.wait_for([&](const json &j) {
        return is_action(j, "flow-classified") && at(j, "process.pid") == curl.pid();
    });
    REQUIRE_MESSAGE(classified, "no flow-classified for curl; stderr:\n" << d.stderr_text());
    auto end = flow_end_of_pid(d, curl.pid(), "tcp");
    REQUIRE(end);
    for (const json *j : {&*classified, &*end}) {
        CHECK(at(*j, "network.protocol") == "http");
        CHECK(at(*j, "http.request.method") == "GET");
        CHECK(at(*j, "url.path") == "/index.html");
        CHECK(at(*j, "user_agent.original") == "policer-test-agent/1.0");
        CHECK(at(*j, "policer.l7.classified") == true);
        CHECK(at(*j, "policer.l7.category") == "Web");
    }
    CHECK(at(*end, "http.response.status_code") == 200);

    // The server's side of the same connection is dissected too, with its own identity.
    auto server_side = d.wait_for([&](const json &j) {
        return is_action(j, "flow-end") && at(j, "process.pid") == server.pid();
    });
    REQUIRE(server_side);
    CHECK(at(*server_side, "network.protocol") == "http");
    CHECK(at(*server_side, "container.id") == c.id());
    CHECK(at(*server_side, "user_agent.original") == "policer-test-agent/1.0");

    cap.stop();
    auto offline = offline_flow(dissect(dir.file("http.pcap")), port);
    REQUIRE(offline);
    CHECK(at(*offline, "network.protocol") == "http");
    CHECK(at(*offline, "url.path") == "/index.html");
    CHECK(at(*offline, "user_agent.original") == "policer-test-agent/1.0");
    CHECK(at(*offline, "http.response.status_code") == 200);
}

TEST_CASE("TLS: SNI, version and JA3, live and from a capture") {
    Policerd d;
    TestContainer c(32);
    TempDir dir;
    must_run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
              "/CN=tls.policer.test", "-keyout", dir.file("key.pem"), "-out",
              dir.file("cert.pem")});
    run({"chmod", "644", dir.file("key.pem")});
    const uint16_t port = 18032;
    Capture cap(c.net().host_iface(), dir.file("tls.pcap"));
    Child server(
        c.argv(kNobody, kNogroup,
               {"openssl", "s_server", "-accept", c.net().ns_ip4() + ":" + std::to_string(port),
                "-cert", dir.file("cert.pem"), "-key", dir.file("key.pem"), "-www", "-quiet"}),
        false);
    wait_listening(c, "tcp", port);

    Child client({"openssl", "s_client", "-connect", c.net().ns_ip4() + ":" + std::to_string(port),
                  "-servername", "tls.policer.test"},
                 false);
    REQUIRE(client.wait() == 0); // stdin is /dev/null: handshake, then EOF and exit

    auto end = flow_end_of_pid(d, client.pid(), "tcp");
    REQUIRE_MESSAGE(end, "no flow-end for s_client; stderr:\n" << d.stderr_text());
    CHECK(at(*end, "network.protocol") == "tls");
    CHECK(at(*end, "tls.client.server_name") == "tls.policer.test");
    CHECK(at(*end, "tls.version") == "TLSv1.3");
    CHECK(at(*end, "tls.version_protocol") == "tls");
    const json &ja3 = at(*end, "tls.client.ja3");
    REQUIRE(ja3.is_string());
    CHECK(std::regex_match(ja3.get<std::string>(), std::regex("[0-9a-f]{32}")));
    CHECK(at(*end, "policer.l7.host") == "tls.policer.test");

    cap.stop();
    auto offline = offline_flow(dissect(dir.file("tls.pcap")), port);
    REQUIRE(offline);
    CHECK(at(*offline, "network.protocol") == "tls");
    CHECK(at(*offline, "tls.client.server_name") == "tls.policer.test");
    CHECK(at(*offline, "tls.client.ja3") == ja3);
}

TEST_CASE("DNS: question and answers, and later flows to an answered address carry its name") {
    Policerd d;
    TestContainer c(33);
    TempDir dir;
    TcpServer web(c.net().host_ip4(), /*http=*/true);
    Capture cap(c.net().host_iface(), dir.file("dns.pcap"));
    // svc.policer.test resolves to the host side of the veth, where `web` listens.
    Child dns(
        c.argv(0, 0,
               {"dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
                "--listen-address=" + c.net().ns_ip4(), "--port=53", "--local-ttl=60",
                "--pid-file=", "--user=root", "--address=/svc.policer.test/" + c.net().host_ip4()}),
        false);
    wait_listening(c, "udp", 53);

    Child dig(
        {"dig", "+short", "+time=2", "+tries=1", "@" + c.net().ns_ip4(), "svc.policer.test", "A"});
    REQUIRE(dig.read_line() == c.net().host_ip4());
    REQUIRE(dig.wait() == 0);

    auto q = flow_end_of_pid(d, dig.pid(), "udp");
    REQUIRE_MESSAGE(q, "no DNS flow-end for dig; stderr:\n" << d.stderr_text());
    CHECK(at(*q, "network.protocol") == "dns");
    CHECK(at(*q, "dns.question.name") == "svc.policer.test");
    CHECK(at(*q, "dns.question.type") == "A");
    CHECK(at(*q, "dns.response_code") == "NOERROR");
    REQUIRE(at(*q, "dns.answers").size() == 1);
    CHECK(at(*q, "dns.answers")[0]["data"] == c.net().host_ip4());
    CHECK(at(*q, "dns.answers")[0]["ttl"] == 60);
    CHECK(at(*q, "dns.resolved_ip")[0] == c.net().host_ip4());

    // A connection to the answered address, made after the answer, is labelled with the name.
    Child curl({"curl", "-s", "--max-time", "5",
                "http://" + c.net().host_ip4() + ":" + std::to_string(web.port()) + "/"});
    REQUIRE(curl.wait() == 0);
    auto start = d.wait_for([&](const json &j) {
        return is_action(j, "flow-start") && at(j, "process.pid") == curl.pid();
    });
    REQUIRE(start);
    CHECK(at(*start, "destination.domain") == "svc.policer.test");

    cap.stop();
    auto flows = dissect(dir.file("dns.pcap"));
    auto offline = offline_flow(flows, 53);
    REQUIRE(offline);
    CHECK(at(*offline, "dns.question.name") == "svc.policer.test");
    CHECK(at(*offline, "dns.answers")[0]["data"] == c.net().host_ip4());
}

TEST_CASE("SSH: protocol and client software, live and from a capture") {
    Policerd d;
    TestContainer c(34);
    TempDir dir;
    must_run({"dropbearkey", "-t", "ed25519", "-f", dir.file("host_key")});
    const uint16_t port = 18034;
    Capture cap(c.net().host_iface(), dir.file("ssh.pcap"));
    Child server(c.argv(0, 0,
                        {"dropbear", "-F", "-E", "-s", "-r", dir.file("host_key"), "-p",
                         c.net().ns_ip4() + ":" + std::to_string(port)}),
                 false);
    wait_listening(c, "tcp", port);

    // No key is accepted (-s, and BatchMode): the banners and key exchange still happen.
    Child ssh({"ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-p", std::to_string(port),
               "nobody@" + c.net().ns_ip4(), "true"},
              false);
    CHECK(ssh.wait() != 0);

    auto end = flow_end_of_pid(d, ssh.pid(), "tcp");
    REQUIRE_MESSAGE(end, "no flow-end for ssh; stderr:\n" << d.stderr_text());
    CHECK(at(*end, "network.protocol") == "ssh");
    CHECK(at(*end, "policer.l7.category") == "RemoteAccess");
    const json &sw = at(*end, "policer.ssh.client_software");
    REQUIRE(sw.is_string());
    CHECK(sw.get<std::string>().rfind("SSH-2.0-OpenSSH", 0) == 0);

    cap.stop();
    auto offline = offline_flow(dissect(dir.file("ssh.pcap")), port);
    REQUIRE(offline);
    CHECK(at(*offline, "network.protocol") == "ssh");
    CHECK(at(*offline, "policer.ssh.client_software") == sw);
}

TEST_CASE("sampling stops once a flow is classified: a long download costs a few samples") {
    Policerd d;
    TestContainer c(35);
    TempDir dir;
    // 4 MiB: thousands of packets.
    must_run({"dd", "if=/dev/zero", "of=" + dir.file("big.bin"), "bs=1M", "count=4"});
    const uint16_t port = 18035;
    Child server(c.argv(kNobody, kNogroup,
                        {"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind",
                         c.net().ns_ip4(), "--directory", dir.path()}),
                 false);
    wait_listening(c, "tcp", port);

    const uint64_t before = kernel_samples(d);
    Child curl({"curl", "-s", "-o", "/dev/null", "--max-time", "20",
                "http://" + c.net().ns_ip4() + ":" + std::to_string(port) + "/big.bin"});
    REQUIRE(curl.wait(30000ms) == 0);
    auto end = flow_end_of_pid(d, curl.pid(), "tcp");
    REQUIRE(end);
    const uint64_t after = kernel_samples(d);

    CHECK(at(*end, "network.protocol") == "http");
    CHECK(at(*end, "destination.bytes").get<uint64_t>() >= 4u << 20);
    const uint64_t packets = at(*end, "network.packets").get<uint64_t>();
    const uint64_t inspected = at(*end, "policer.l7.packets_inspected").get<uint64_t>();
    MESSAGE("download of " << packets << " packets: " << inspected << " inspected by nDPI, "
                           << (after - before) << " samples written by the kernel for both ends");
    CHECK(packets > 100);
    CHECK(inspected <= 4);
    // Client and server sockets: each is sampled until classified (a handful of packets).
    CHECK(after - before <= 16);
}
