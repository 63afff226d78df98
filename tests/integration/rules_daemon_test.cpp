// rules_daemon_test.cpp - policerd with a rule set: every flow event carries the verdict the
// rules give it (with --report-only: computed and reported, not enforced), from the real
// kernel's attribution and nDPI's real dissection; a broken rule file keeps policerd from
// starting at all.
#include "harness.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>

using namespace pltest;

TEST_CASE(
    "policerd reports each flow's verdict: pending on an L7 rule, then decided after dissection") {
    TestContainer c(51);
    TcpServer server(c.net().host_ip4(), /*http=*/true);
    const std::string port = std::to_string(server.port());
    TempDir dir;
    const std::string file = dir.file("test.rules");
    std::ofstream(file) << "rule nobody-http-only {\n"
                           "    priority 10\n"
                           "    when user.id == 65534 and dst.port == "
                        << port
                        << " and l7.protocol != http\n"
                           "    action reject\n"
                           "}\n"
                           "rule curl-to-test-server {\n"
                           "    when process.name == curl and dst.port == "
                        << port
                        << "\n    action deny\n"
                           "    description \"curl may not reach the test server\"\n"
                           "}\n";
    // Report-only: the verdicts in the events are what this test is about (enforce_test.cpp
    // tests them in the kernel).
    Policerd d({"--rules", file, "--report-only"});
    auto agent = d.wait_for([](const json &j) { return is_action(j, "agent-start"); });
    REQUIRE(agent);
    CHECK(at(*agent, "policer.rules.rules") == 2);
    CHECK(at(*agent, "policer.rules.enforced") == false);

    Child curl(c.argv(kNobody, kNogroup,
                      {"curl", "-s", "--max-time", "5",
                       "http://" + c.net().host_ip4() + ":" + port + "/policer-test"}));
    REQUIRE(curl.read_line() == std::string("policer-test")); // report-only: nothing blocked
    REQUIRE(curl.wait() == 0);

    auto start = d.wait_for(flow_of("flow-start", curl.pid(), "tcp"));
    REQUIRE_MESSAGE(start, "no flow-start; stderr:\n" << d.stderr_text());
    if (at(*start, "network.protocol").is_null()) {
        // Not dissected yet: the L7 rule comes first and cannot be decided, so nothing below
        // it may decide either.
        CHECK(at(*start, "policer.verdict.by") == "pending");
        CHECK(at(*start, "policer.verdict.action") == "pending");
        CHECK(at(*start, "rule.name") == "nobody-http-only");
    }
    CHECK(at(*start, "policer.verdict.enforced") == false);

    auto end = d.wait_for(flow_of("flow-end", curl.pid(), "tcp"));
    REQUIRE(end);
    REQUIRE_MESSAGE(at(*end, "network.protocol") == "http", end->dump());
    // HTTP: the L7 rule is false; curl's rule decides.
    CHECK(at(*end, "policer.verdict.by") == "rule");
    CHECK(at(*end, "policer.verdict.action") == "deny");
    CHECK(at(*end, "policer.verdict.audit") == false);
    CHECK(at(*end, "rule.name") == "curl-to-test-server");
    CHECK(at(*end, "rule.reference") == file + ":6:1");
    CHECK(at(*end, "rule.description") == "curl may not reach the test server");
}

TEST_CASE("policerd with the shipped default policy: audit mode, flows without a matching rule get "
          "the default") {
    TestContainer c(52);
    TcpServer server(c.net().host_ip4(), /*http=*/false);
    Policerd d({"--rules", std::string(PL_SOURCE_DIR) + "/packaging/rules.d"});
    auto agent = d.wait_for([](const json &j) { return is_action(j, "agent-start"); });
    REQUIRE(agent);
    CHECK(at(*agent, "policer.rules.mode") == "audit");
    int fd = connect_retry(c.net().host_ip4(), server.port());
    REQUIRE(fd >= 0);
    close(fd);
    auto end = d.wait_for([&](const json &j) {
        return is_action(j, "flow-end") && at(j, "destination.port") == server.port() &&
               at(j, "network.direction") == "egress";
    });
    REQUIRE_MESSAGE(end, d.stderr_text());
    CHECK(at(*end, "policer.verdict.by") == "default");
    CHECK(at(*end, "policer.verdict.action") == "allow");
    CHECK(at(*end, "policer.verdict.audit") == true);
    CHECK(at(*end, "rule.name").is_null());
}

TEST_CASE("policerd refuses a rule set with any error, with every error, before loading anything") {
    TempDir dir;
    std::ofstream(dir.file("a.rules")) << "rule ok { when dst.port == 22 action deny }\n";
    std::ofstream(dir.file("b.rules")) << "rule bad {\n  when dst.prot == 22\n  action deny\n}\n";
    auto r = run({Binaries::policerd(), "--events-stdout", "--rules", dir.path()});
    CHECK(r.status == 1);
    CHECK(r.out.empty()); // no agent-start: it never ran
    CHECK(r.err.find("nothing was loaded") != std::string::npos);
    CHECK(r.err.find(dir.file("b.rules") + ":2:8: error: unknown field 'dst.prot' (did you mean "
                                           "'dst.port'?)") != std::string::npos);
    auto missing = run({Binaries::policerd(), "--rules", dir.file("none.rules")});
    CHECK(missing.status == 1);
    CHECK(missing.err.find("cannot read") != std::string::npos);
}
