// store_batch_writer_test.cpp - the writer thread: batches by size and by time, everything
// committed at destruction, a full queue drops and counts, a failed write is counted and the
// writer carries on, and a process killed with SIGKILL loses no more than docs/store.md says,
// with the database intact.
#include "store/batch_writer.h"
#include "store/flow_store.h"
#include "store/schema.h"

#include "store_test_support.h"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace policer::store;
using namespace std::chrono_literals;
using store_test::make_flow;
using store_test::TempDir;
using store_test::why;

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Only what a test triggers: no timer flush within a test, no periodic retention.
BatchWriterOptions quiet() {
    BatchWriterOptions o;
    o.flush_interval = std::chrono::hours(1);
    o.batch_rows = 1000000;
    o.retention_interval = std::chrono::milliseconds(0);
    return o;
}

int64_t count_rows(const std::string &path, const char *table) {
    auto db = open_store(path);
    REQUIRE_MESSAGE(db.ok(), why(db));
    return db->query_int(std::string("SELECT count(*) FROM ") + table).value();
}

// Polls `done` for up to `limit`.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 5000ms) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

AlertRow make_alert(int n) {
    return AlertRow{wall_ms(), "rule" + std::to_string(n),   "alert", std::nullopt,
                    "success", "alert " + std::to_string(n), "{}"};
}

} // namespace

TEST_CASE("store batch writer: everything accepted is committed when it is destroyed") {
    TempDir dir;
    const std::string path = dir.file("w.db");
    {
        auto writer = BatchWriter::open(path, quiet());
        REQUIRE_MESSAGE(writer.ok(), why(writer));
        for (int n = 0; n < 1000; ++n)
            CHECK((*writer)->enqueue(make_flow(n, wall_ms())));
        for (int n = 0; n < 10; ++n)
            CHECK((*writer)->enqueue(make_alert(n)));
        CHECK((*writer)->counters().written == 0); // nothing has triggered a flush yet
    }
    CHECK(count_rows(path, "flows") == 1000);
    CHECK(count_rows(path, "alerts") == 10);
}

TEST_CASE("store batch writer: a full batch is committed without waiting for the interval") {
    TempDir dir;
    BatchWriterOptions o = quiet();
    o.batch_rows = 100;
    auto writer = BatchWriter::open(dir.file("w.db"), o);
    REQUIRE(writer.ok());
    BatchWriter &w = **writer;
    for (int n = 0; n < 250; ++n)
        REQUIRE(w.enqueue(make_flow(n, wall_ms())));
    CHECK(eventually([&] { return w.counters().written >= 200; }));
    CHECK(w.counters().batches >= 1);
    w.flush();
    CHECK(w.counters().written == 250);
}

TEST_CASE("store batch writer: rows are committed every flush interval") {
    TempDir dir;
    const std::string path = dir.file("w.db");
    BatchWriterOptions o = quiet();
    o.flush_interval = 100ms;
    auto writer = BatchWriter::open(path, o);
    REQUIRE(writer.ok());
    BatchWriter &w = **writer;
    for (int n = 0; n < 10; ++n)
        REQUIRE(w.enqueue(make_flow(n, wall_ms())));
    CHECK(eventually([&] { return w.counters().written == 10; }, 3000ms));
    // Visible to another connection: committed, not just written.
    CHECK(count_rows(path, "flows") == 10);
    CHECK(w.counters().write_errors == 0);
}

TEST_CASE("store batch writer: a full queue drops rows and counts them") {
    TempDir dir;
    const std::string path = dir.file("w.db");
    BatchWriterOptions o = quiet();
    o.max_queued = 100;
    auto writer = BatchWriter::open(path, o);
    REQUIRE(writer.ok());
    BatchWriter &w = **writer;
    int accepted = 0;
    for (int n = 0; n < 150; ++n)
        accepted += w.enqueue(make_flow(n, wall_ms())) ? 1 : 0;
    CHECK(accepted == 100);
    CHECK(w.counters().dropped == 50);
    CHECK_FALSE(w.enqueue(make_alert(1)));
    CHECK(w.counters().dropped == 51);

    w.flush();
    CHECK(w.counters().written == 100);
    CHECK(w.enqueue(make_alert(2))); // room again
    w.flush();
    CHECK(count_rows(path, "flows") == 100);
    CHECK(count_rows(path, "alerts") == 1);
}

TEST_CASE("store batch writer: a failed write is counted, and the writer carries on") {
    TempDir dir;
    const std::string path = dir.file("w.db");
    BatchWriterOptions o = quiet();
    o.open.busy_timeout = 50ms;
    auto writer = BatchWriter::open(path, o);
    REQUIRE(writer.ok());
    BatchWriter &w = **writer;

    auto other = open_store(path);
    REQUIRE(other.ok());
    {
        // Another connection holds the write lock longer than the writer will wait.
        auto lock = Transaction::begin(*other, Transaction::Kind::Immediate);
        REQUIRE(lock.ok());
        for (int n = 0; n < 7; ++n)
            REQUIRE(w.enqueue(make_flow(n, wall_ms())));
        w.flush();
        CHECK(w.counters().write_errors == 1);
        CHECK(w.counters().failed_rows == 7);
        CHECK(w.counters().written == 0);
    }
    for (int n = 0; n < 5; ++n)
        REQUIRE(w.enqueue(make_flow(n, wall_ms())));
    w.flush();
    CHECK(w.counters().written == 5);
    CHECK(w.counters().batches == 1);
    CHECK(other->query_int("SELECT count(*) FROM flows").value() == 5);
}

TEST_CASE("store batch writer: retention on demand runs on the writer's thread") {
    TempDir dir;
    const std::string path = dir.file("w.db");
    BatchWriterOptions o = quiet();
    o.retention.max_age = std::chrono::hours(24);
    auto writer = BatchWriter::open(path, o);
    REQUIRE(writer.ok());
    BatchWriter &w = **writer;
    const int64_t now = wall_ms();
    for (int n = 0; n < 30; ++n)
        REQUIRE(w.enqueue(make_flow(n, now - 48 * 3600 * 1000)));
    for (int n = 30; n < 40; ++n)
        REQUIRE(w.enqueue(make_flow(n, now)));
    w.flush();
    auto report = w.retain_now();
    REQUIRE_MESSAGE(report.ok(), why(report));
    CHECK(report->flows_expired == 30);
    CHECK(count_rows(path, "flows") == 10);
}

// The child writes rows through a BatchWriter as fast as a busy daemon would, and after each
// accepted row tells the parent (through a pipe) how many it has; the parent kills it with
// SIGKILL mid-stream. Committed rows must be a gap-free prefix of those accepted; the loss
// must be within max_queued and only rows accepted in the last flush interval (plus a
// generous allowance for a commit and for scheduling); the database must pass
// integrity_check.
TEST_CASE("store batch writer: kill -9 loses at most the rows of the last flush interval") {
    TempDir dir;
    const std::string path = dir.file("kill.db");
    constexpr auto kFlush = 200ms;
    constexpr auto kAllowance = 1000ms; // one commit plus scheduling delays on a busy machine
    constexpr size_t kMaxQueued = 65536;

    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr); // or the child's first log line would print our buffered output again
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(fds[0]);
        BatchWriterOptions o;
        o.flush_interval = kFlush;
        o.max_queued = kMaxQueued;
        o.retention_interval = std::chrono::milliseconds(0);
        auto writer = BatchWriter::open(path, o);
        if (!writer) ::_exit(2);
        const auto give_up = std::chrono::steady_clock::now() + 60s;
        uint64_t accepted = 0;
        for (int64_t n = 0; std::chrono::steady_clock::now() < give_up; ++n) {
            // Numbered by acceptance, so that committed rows can be checked for gaps.
            if ((*writer)->enqueue(make_flow(static_cast<int64_t>(accepted), wall_ms(), 300)))
                ++accepted;
            if (::write(fds[1], &accepted, sizeof(accepted)) != sizeof(accepted)) ::_exit(3);
            if (n % 20 == 19) std::this_thread::sleep_for(1ms); // about 10-20k rows/s
        }
        ::_exit(0);
    }
    ::close(fds[1]);

    // (when the parent saw it, rows accepted by then)
    std::vector<std::pair<std::chrono::steady_clock::time_point, uint64_t>> seen;
    const auto start = std::chrono::steady_clock::now();
    uint64_t value = 0;
    while (std::chrono::steady_clock::now() - start < 2500ms) {
        ssize_t n = ::read(fds[0], &value, sizeof(value));
        if (n != static_cast<ssize_t>(sizeof(value))) FAIL("the child stopped early: " << n);
        seen.emplace_back(std::chrono::steady_clock::now(), value);
    }
    const auto killed_at = std::chrono::steady_clock::now();
    REQUIRE(::kill(child, SIGKILL) == 0);
    // What the child wrote before it died is still in the pipe.
    for (;;) {
        ssize_t n = ::read(fds[0], &value, sizeof(value));
        if (n != static_cast<ssize_t>(sizeof(value))) break;
        seen.emplace_back(killed_at, value);
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);

    const uint64_t accepted = seen.back().second;
    // Rows accepted long enough before the kill that they must have been committed.
    uint64_t must_be_committed = 0;
    for (const auto &[when, count] : seen)
        if (when <= killed_at - kFlush - kAllowance) must_be_committed = count;

    auto db = open_store(path);
    REQUIRE_MESSAGE(db.ok(), why(db));
    auto check = db->prepare("PRAGMA integrity_check");
    REQUIRE(check.ok());
    auto row = check->step();
    REQUIRE_MESSAGE(row.ok(), why(row));
    REQUIRE(*row);
    CHECK(check->column_text(0) == "ok");

    auto counted = db->query_int("SELECT count(*) FROM flows");
    REQUIRE_MESSAGE(counted.ok(), why(counted));
    const int64_t committed = *counted;
    const int64_t lost = static_cast<int64_t>(accepted) - committed;
    INFO("accepted " << accepted << ", committed " << committed << ", must be committed "
                     << must_be_committed);
    REQUIRE(accepted > 5000);
    CHECK(committed > 0);
    // The row being enqueued when the kill came may be in without having been reported.
    CHECK(committed <= static_cast<int64_t>(accepted) + 1);
    CHECK(lost <= static_cast<int64_t>(kMaxQueued));
    CHECK(committed >= static_cast<int64_t>(must_be_committed));
    // A gap-free prefix: batches commit in order, whole or not at all.
    CHECK(db->query_int("SELECT min(pid) FROM flows").value() == 4000);
    CHECK(db->query_int("SELECT max(pid) FROM flows").value() == 4000 + committed - 1);
}
