// daemon_test.cpp - how policerd behaves as a program: clear errors when it cannot work,
// a clean shutdown that leaves nothing attached.
#include "harness.h"

#include <doctest/doctest.h>

using namespace pltest;

namespace {

// Names of the BPF programs loaded in the kernel right now.
std::string loaded_programs() {
    return must_run({"bpftool", "prog", "show"});
}

} // namespace

TEST_CASE("policerd refuses to start without privileges, and says which") {
    auto r = run({Binaries::run_in(), "--uid", std::to_string(kNobody), "--gid",
                  std::to_string(kNogroup), "--", Binaries::policerd(), "--events-stdout"});
    CHECK(r.status == 1);
    CHECK(r.err.find("must run as root") != std::string::npos);
    CHECK(r.err.find("CAP_BPF") != std::string::npos);
    CHECK(r.out.empty());
}

TEST_CASE("policerd says when kernel BTF is missing") {
    auto r = run({Binaries::policerd(), "--btf", "/nonexistent/vmlinux"});
    CHECK(r.status == 1);
    CHECK(r.err.find("kernel BTF not found at /nonexistent/vmlinux") != std::string::npos);
    CHECK(r.err.find("CONFIG_DEBUG_INFO_BTF") != std::string::npos);
}

TEST_CASE("policerd names the hook it cannot attach, and leaves nothing attached") {
    // /tmp is not a cgroup: the first cgroup hook cannot attach there.
    auto r = run({Binaries::policerd(), "--cgroup-root", "/tmp"});
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot attach pl_sock_create (cgroup/sock_create) to /tmp") !=
          std::string::npos);
    CHECK(loaded_programs().find("pl_tcp_sockops") == std::string::npos);
}

TEST_CASE("bad command lines get a precise error and exit code 2") {
    auto size = run({Binaries::policerd(), "--ringbuf-size", "3M"});
    CHECK(size.status == 2);
    CHECK(size.err.find("--ringbuf-size") != std::string::npos);
    CHECK(size.err.find("power of two") != std::string::npos);

    auto unknown = run({Binaries::policerd(), "--no-such-option"});
    CHECK(unknown.status == 2);
    CHECK(unknown.err.find("no-such-option") != std::string::npos);

    auto help = run({Binaries::policerd(), "--help"});
    CHECK(help.status == 0);
    CHECK(help.out.find("--events-stdout") != std::string::npos);
    CHECK(help.out.find("Examples:") != std::string::npos);
}

TEST_CASE("SIGTERM stops policerd cleanly: final stats, agent-stop, probes detached") {
    Policerd d;
    CHECK(loaded_programs().find("pl_tcp_sockops") != std::string::npos);
    CHECK(d.stop() == 0);
    auto evs = d.events();
    REQUIRE(evs.size() >= 3);
    CHECK(is_action(evs.front(), "agent-start"));
    CHECK(at(evs.front(), "policer.hooks").size() == 18);
    CHECK(is_action(evs[evs.size() - 2], "agent-stats"));
    CHECK(is_action(evs.back(), "agent-stop"));
    CHECK(loaded_programs().find("pl_tcp_sockops") == std::string::npos);
}
