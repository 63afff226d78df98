// daemon_test.cpp - how policerd behaves as a program: clear errors when it cannot work,
// a clean shutdown that leaves nothing attached.
#include "harness.h"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <memory>
#include <sstream>

using namespace pltest;

namespace {

// Names of the BPF programs loaded in the kernel right now.
std::string loaded_programs() {
    return must_run({"bpftool", "prog", "show"});
}

const json &last_stats(const std::vector<json> &events) {
    static const json none;
    const json *found = &none;
    for (const auto &j : events)
        if (is_action(j, "agent-stats")) found = &j;
    return *found;
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
    auto count = [] {
        std::string out = loaded_programs();
        size_t n = 0;
        for (size_t p = out.find("pl_tcp_sockops"); p != std::string::npos;
             p = out.find("pl_tcp_sockops", p + 1))
            ++n;
        return n;
    };
    const size_t before = count();
    auto r = run({Binaries::policerd(), "--cgroup-root", "/tmp"});
    CHECK(r.status == 1);
    CHECK(r.err.find("cannot attach pl_sock_create (cgroup/sock_create) to /tmp") !=
          std::string::npos);
    CHECK(count() == before); // its programs went with it
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

TEST_CASE("policerd mounts tracefs and bpffs where they are missing") {
    // A fresh host may have neither. The test gives policerd a mount namespace of its own
    // without them, so the host's bpffs (and anything pinned there) is never touched.
    Policerd d({}, {"unshare", "--mount", "--propagation", "private", "sh", "-c",
                    "while umount /sys/kernel/tracing 2>/dev/null; do :; done; "
                    "while umount /sys/fs/bpf 2>/dev/null; do :; done; exec \"$0\" \"$@\""});
    std::ifstream f("/proc/" + std::to_string(d.pid()) + "/mounts");
    std::string src, dir, type, rest;
    bool tracefs = false, bpffs = false;
    while (f >> src >> dir >> type && std::getline(f, rest)) {
        tracefs = tracefs || (dir == "/sys/kernel/tracing" && type == "tracefs");
        bpffs = bpffs || (dir == "/sys/fs/bpf" && type == "bpf");
    }
    CHECK(tracefs);
    CHECK(bpffs);
    CHECK(d.stderr_text().find("mounted tracefs at /sys/kernel/tracing") != std::string::npos);
    CHECK(d.stderr_text().find("mounted bpf at /sys/fs/bpf") != std::string::npos);
    bool accept_probe = false;
    const auto events = d.events();
    for (const auto &h : at(events.front(), "policer.hooks"))
        accept_probe = accept_probe || h["hook"] == "tracepoint/syscalls/sys_exit_accept4";
    CHECK(accept_probe);
}

TEST_CASE("a full ring buffer loses events visibly: counted by type, logged, accounted for") {
    constexpr int kConns = 300;
    // One page of ring buffer, and a daemon that reads nothing while the burst happens.
    Policerd d({"--ringbuf-size", "4096"});
    TcpServer server("127.0.0.1", /*http=*/false, /*backlog=*/1024);
    d.pause();
    Child storm(
        {Binaries::storm(), "127.0.0.1", std::to_string(server.port()), std::to_string(kConns)},
        false);
    REQUIRE(storm.wait(60000ms) == 0);
    d.resume();
    REQUIRE(d.stop() == 0);

    const auto events = d.events();
    const json &stats = last_stats(events);
    REQUIRE(at(stats, "policer.ringbuf.dropped").is_number());
    const uint64_t dropped_new = at(stats, "policer.ringbuf.dropped_by_event.flow_new");
    CHECK(at(stats, "policer.ringbuf.dropped").get<uint64_t>() > 0);
    CHECK(dropped_new > 0);
    CHECK(d.stderr_text().find("ring buffer full") != std::string::npos);

    // Every connection is either reported or counted as lost.
    size_t reported = 0;
    for (const auto &j : events)
        if (is_action(j, "flow-start") && at(j, "process.pid") == storm.pid()) ++reported;
    MESSAGE("4 KiB ring buffer, " << kConns << " connections: " << reported
                                  << " flow-start reported, " << dropped_new
                                  << " flow_new events counted as dropped");
    CHECK(reported < kConns);
    CHECK(reported + dropped_new >= kConns);
}

TEST_CASE("SIGINT (Ctrl-C) stops policerd cleanly too") {
    Policerd d;
    CHECK(d.stop(SIGINT) == 0);
    CHECK(is_action(d.events().back(), "agent-stop"));
    CHECK(d.stderr_text().find("received Interrupt") != std::string::npos);
}

TEST_CASE("SIGTERM stops policerd cleanly: final stats, agent-stop, probes detached") {
    Policerd d;
    // The kernel ids of this daemon's programs (another policerd may run beside it).
    std::vector<std::string> ids;
    const auto started = d.events();
    for (const auto &h : at(started.front(), "policer.hooks"))
        ids.push_back(std::to_string(h["id"].get<uint32_t>()));
    REQUIRE(ids.size() == 19); // 18 attached programs and the live TCP counters iterator
    for (const auto &id : ids)
        CHECK(run({"bpftool", "prog", "show", "id", id}).status == 0);
    CHECK(d.stop() == 0);
    auto evs = d.events();
    REQUIRE(evs.size() >= 3);
    CHECK(is_action(evs.front(), "agent-start"));
    CHECK(is_action(evs[evs.size() - 2], "agent-stats"));
    CHECK(is_action(evs.back(), "agent-stop"));
    // Every one of its programs is gone from the kernel.
    for (const auto &id : ids)
        CHECK(run({"bpftool", "prog", "show", "id", id}).status != 0);
}
