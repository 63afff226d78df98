// process_table_test.cpp - ProcessTable: processes named by (tgid, start), seeded from /proc at
// clock-tick resolution, fed by exec/fork/exit, bounded.
#include "enrich/process_table.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using policer::enrich::ProcessInfo;
using policer::enrich::ProcessTable;

constexpr uint64_t kTick = 10'000'000; // 100 Hz, as /proc reports start times
constexpr uint64_t kSec = 1'000'000'000;

// A process as an exec event reports it: exact start.
ProcessInfo exec(uint32_t tgid, uint64_t start_ns, std::string exe,
                 std::vector<std::string> args = {}) {
    ProcessInfo p;
    p.tgid = tgid;
    p.ppid = 1;
    p.start_ns = start_ns;
    p.uid = 1000;
    p.gid = 1000;
    p.euid = 1000;
    p.comm = exe.substr(exe.rfind('/') + 1);
    p.exe = std::move(exe);
    p.args = std::move(args);
    return p;
}

// A process as read from /proc at startup: start in whole clock ticks.
ProcessInfo seeded(uint32_t tgid, uint64_t start_ticks, std::string exe) {
    ProcessInfo p = exec(tgid, start_ticks * kTick, std::move(exe));
    p.start_exact = false;
    return p;
}

} // namespace

TEST_CASE("a process is found by its tgid and exact start") {
    ProcessTable t(16, 16, kTick);
    t.upsert(exec(100, 5 * kSec + 123, "/usr/bin/curl", {"curl", "-s", "x"}));

    const ProcessInfo *p = t.find(100, 5 * kSec + 123);
    REQUIRE(p != nullptr);
    CHECK(p->tgid == 100);
    CHECK(p->exe == "/usr/bin/curl");
    CHECK(p->args == std::vector<std::string>{"curl", "-s", "x"});
    CHECK_FALSE(p->exited);

    CHECK(t.find(100, 5 * kSec + 124) == nullptr);
    CHECK(t.find(101, 5 * kSec + 123) == nullptr);
}

TEST_CASE("a process seeded from /proc matches kernel start times within its clock tick") {
    ProcessTable t(16, 16, kTick);
    t.upsert(seeded(200, 512, "/usr/sbin/sshd"));

    CHECK(t.find(200, 512 * kTick) != nullptr);
    CHECK(t.find(200, 512 * kTick + 1) != nullptr);
    const ProcessInfo *p = t.find(200, 512 * kTick + kTick - 1);
    REQUIRE(p != nullptr);
    CHECK(p->exe == "/usr/sbin/sshd");

    CHECK(t.find(200, 513 * kTick) == nullptr);
    CHECK(t.find(200, 512 * kTick - 1) == nullptr);
}

TEST_CASE("an exec replaces the image of the same process without retiring it") {
    ProcessTable t(16, 16, kTick);
    t.upsert(exec(300, 7 * kSec, "/usr/bin/bash", {"bash"}));
    t.upsert(exec(300, 7 * kSec, "/usr/bin/curl", {"curl", "example.com"}));

    const ProcessInfo *p = t.find(300, 7 * kSec);
    REQUIRE(p != nullptr);
    CHECK(p->exe == "/usr/bin/curl");
    CHECK(t.stats().live == 1);
    CHECK(t.stats().exited == 0);
}

TEST_CASE("an exec of a seeded process replaces it when the kernel start is in its tick") {
    ProcessTable t(16, 16, kTick);
    t.upsert(seeded(301, 700, "/usr/bin/bash"));
    t.upsert(exec(301, 700 * kTick + 4'567'890, "/usr/bin/python3"));

    CHECK(t.stats().live == 1);
    CHECK(t.stats().exited == 0);
    const ProcessInfo *p = t.find(301, 700 * kTick + 4'567'890);
    REQUIRE(p != nullptr);
    CHECK(p->exe == "/usr/bin/python3");
    CHECK(p->start_exact);
}

TEST_CASE("a reused pid retires the old process, which stays findable by its own start") {
    ProcessTable t(16, 16, kTick);
    t.upsert(exec(400, 1 * kSec, "/usr/bin/old"));
    // The exit of the first process was missed; the pid now belongs to another one.
    t.upsert(exec(400, 9 * kSec, "/usr/bin/new"));

    const ProcessInfo *now = t.find(400, 9 * kSec);
    REQUIRE(now != nullptr);
    CHECK(now->exe == "/usr/bin/new");
    CHECK_FALSE(now->exited);

    const ProcessInfo *before = t.find(400, 1 * kSec);
    REQUIRE(before != nullptr);
    CHECK(before->exe == "/usr/bin/old");
    CHECK(before->exited);

    const ProcessInfo *live = t.find_live(400);
    REQUIRE(live != nullptr);
    CHECK(live->exe == "/usr/bin/new");
    CHECK(t.stats().live == 1);
    CHECK(t.stats().exited == 1);
}

TEST_CASE("a forked child runs its parent's image until it execs") {
    ProcessTable t(16, 16, kTick);
    t.upsert(exec(500, 2 * kSec, "/usr/sbin/nginx", {"nginx", "-g", "daemon off;"}));
    t.on_fork(501, 500, 3 * kSec, 33, 33, 33, "nginx");

    const ProcessInfo *child = t.find(501, 3 * kSec);
    REQUIRE(child != nullptr);
    CHECK(child->tgid == 501);
    CHECK(child->ppid == 500);
    CHECK(child->uid == 33);
    CHECK(child->gid == 33);
    CHECK(child->euid == 33);
    CHECK(child->comm == "nginx");
    CHECK(child->exe == "/usr/sbin/nginx");
    CHECK(child->args == std::vector<std::string>{"nginx", "-g", "daemon off;"});

    t.upsert(exec(501, 3 * kSec, "/usr/bin/logrotate", {"logrotate"}));
    CHECK(t.find(501, 3 * kSec)->exe == "/usr/bin/logrotate");
    CHECK(t.find_live(500)->exe == "/usr/sbin/nginx");
}

TEST_CASE("a child of an unknown parent has no image until it execs") {
    ProcessTable t(16, 16, kTick);
    t.on_fork(601, 600, 3 * kSec, 0, 0, 0, "cron");

    const ProcessInfo *child = t.find(601, 3 * kSec);
    REQUIRE(child != nullptr);
    CHECK(child->comm == "cron");
    CHECK(child->exe == "");
    CHECK(child->args.empty());
}

TEST_CASE("an exited process is no longer live but is still found by (tgid, start)") {
    ProcessTable t(16, 16, kTick);
    t.upsert(exec(700, 4 * kSec, "/usr/bin/curl"));
    t.on_exit(700, 4 * kSec);

    CHECK(t.find_live(700) == nullptr);
    const ProcessInfo *p = t.find(700, 4 * kSec);
    REQUIRE(p != nullptr);
    CHECK(p->exe == "/usr/bin/curl");
    CHECK(p->exited);
    CHECK(t.stats().live == 0);
    CHECK(t.stats().exited == 1);
}

TEST_CASE("the exit of a seeded process is matched by its kernel start time") {
    ProcessTable t(16, 16, kTick);
    t.upsert(seeded(710, 90, "/usr/sbin/cron"));
    t.on_exit(710, 90 * kTick + 3'000'000);

    CHECK(t.find_live(710) == nullptr);
    const ProcessInfo *p = t.find(710, 90 * kTick + 3'000'000);
    REQUIRE(p != nullptr);
    CHECK(p->exe == "/usr/sbin/cron");
    CHECK(p->exited);
}

TEST_CASE("an exit for another process with the same tgid leaves the live one alone") {
    ProcessTable t(16, 16, kTick);
    t.upsert(exec(800, 6 * kSec, "/usr/bin/new"));
    t.on_exit(800, 5 * kSec);
    t.on_exit(801, 6 * kSec);

    const ProcessInfo *p = t.find_live(800);
    REQUIRE(p != nullptr);
    CHECK(p->exe == "/usr/bin/new");
    CHECK(t.stats().live == 1);
    CHECK(t.stats().exited == 0);
}

TEST_CASE("find_live finds a live process whatever its start") {
    ProcessTable t(16, 16, kTick);
    CHECK(t.find_live(900) == nullptr);
    t.upsert(exec(900, 8 * kSec, "/usr/bin/bash"));
    const ProcessInfo *p = t.find_live(900);
    REQUIRE(p != nullptr);
    CHECK(p->start_ns == 8 * kSec);
}

TEST_CASE("live processes are bounded and the least recently used one is evicted") {
    ProcessTable t(2, 16, kTick);
    t.upsert(exec(1, 1 * kSec, "/a"));
    t.upsert(exec(2, 2 * kSec, "/b"));
    REQUIRE(t.find(1, 1 * kSec) != nullptr); // 1 is now more recent than 2
    t.upsert(exec(3, 3 * kSec, "/c"));

    auto s = t.stats();
    CHECK(s.live == 2);
    CHECK(s.live_evictions == 1);
    CHECK(t.find(2, 2 * kSec) == nullptr);
    CHECK(t.find(1, 1 * kSec) != nullptr);
    CHECK(t.find(3, 3 * kSec) != nullptr);
}

TEST_CASE("exited processes are bounded and the oldest is forgotten first") {
    ProcessTable t(16, 2, kTick);
    for (uint32_t pid = 1; pid <= 3; ++pid) {
        t.upsert(exec(pid, pid * kSec, "/bin/true"));
        t.on_exit(pid, pid * kSec);
    }

    auto s = t.stats();
    CHECK(s.live == 0);
    CHECK(s.exited == 2);
    CHECK(s.exited_evictions == 1);
    CHECK(s.live_evictions == 0);
    CHECK(t.find(1, 1 * kSec) == nullptr);
    CHECK(t.find(2, 2 * kSec) != nullptr);
    CHECK(t.find(3, 3 * kSec) != nullptr);
}
