// store_retention_test.cpp - retention by age and by size deletes rows and makes the file
// smaller, oldest first, and never touches the policy history.
#include "store/alert_store.h"
#include "store/flow_store.h"
#include "store/policy_store.h"
#include "store/retention.h"
#include "store/schema.h"

#include "store_test_support.h"

#include <doctest/doctest.h>

namespace {

using namespace policer::store;
using store_test::file_size;
using store_test::make_flow;
using store_test::TempDir;
using store_test::why;

constexpr int64_t kNow = 1767225600000; // 2026-01-01T00:00:00Z
constexpr int64_t kDay = 24 * 3600 * 1000;

void insert_flows(Database &db, int64_t first, int64_t count, int64_t end_ms, size_t padding) {
    FlowStore flows(db);
    auto tx = Transaction::begin(db);
    REQUIRE(tx.ok());
    for (int64_t n = first; n < first + count; ++n)
        REQUIRE(flows.insert(make_flow(n, end_ms + n, padding)).ok());
    REQUIRE(tx->commit().ok());
}

// The file's size once the WAL has been copied into it, for a fair before/after.
int64_t settled_size(Database &db) {
    REQUIRE(db.exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    return file_size(db.path());
}

void commit_policy(Database &db) {
    PolicyStore policy(db);
    REQUIRE(policy
                .commit(0, {PolicyEntry{"r", "rule", "deny dst.port == 23", true}},
                        Actor{0, 0, 1, "root"}, "add", "")
                .ok());
}

} // namespace

TEST_CASE("store retention: flows and alerts past max_age go, newer ones and the history stay") {
    TempDir dir;
    auto db = open_store(dir.file("r.db"));
    REQUIRE(db.ok());
    insert_flows(*db, 0, 1000, kNow - 40 * kDay, 2000); // old
    insert_flows(*db, 1000, 100, kNow - kDay, 2000);    // recent
    AlertStore alerts(*db);
    for (int64_t t : {kNow - 31 * kDay, kNow - 29 * kDay, kNow - 1})
        REQUIRE(alerts.insert(AlertRow{t, "r", "alert", std::nullopt, "", "s", "{}"}).ok());
    commit_policy(*db);
    const int64_t size_before = settled_size(*db);

    RetentionOptions options; // 30 days, 1 GiB
    auto report = apply_retention(*db, options, kNow);
    REQUIRE_MESSAGE(report.ok(), why(report));
    CHECK(report->flows_expired == 1000);
    CHECK(report->alerts_expired == 1);
    CHECK(report->flows_evicted == 0);
    CHECK(report->checkpoint_complete);
    CHECK(report->bytes_after < report->bytes_before);

    FlowStore flows(*db);
    CHECK(flows.count().value() == 100);
    CHECK(db->query_int("SELECT min(pid) FROM flows").value() == 4000 + 1000);
    CHECK(alerts.count().value() == 2);
    CHECK(PolicyStore(*db).history(0).value().size() == 1);
    CHECK(db->query_int("PRAGMA freelist_count").value() == 0);
    const int64_t size_after = file_size(db->path());
    INFO("file size " << size_before << " -> " << size_after);
    CHECK(size_after < size_before / 4);

    // Nothing more to do: nothing deleted.
    auto again = apply_retention(*db, options, kNow);
    REQUIRE(again.ok());
    CHECK(again->deleted() == 0);
}

TEST_CASE("store retention: past max_bytes the oldest flows go until under 90 percent") {
    TempDir dir;
    auto db = open_store(dir.file("r.db"));
    REQUIRE(db.ok());
    insert_flows(*db, 0, 4000, kNow - kDay, 2000); // about 9 MB
    commit_policy(*db);
    const int64_t size_before = settled_size(*db);
    const int64_t bytes_before = database_bytes(*db).value();
    REQUIRE(bytes_before > 8 * 1000 * 1000);

    RetentionOptions options;
    options.max_bytes = 4 << 20;
    options.chunk_rows = 300; // several chunks
    auto report = apply_retention(*db, options, kNow);
    REQUIRE_MESSAGE(report.ok(), why(report));
    CHECK(report->flows_expired == 0);
    CHECK(report->flows_evicted > 2000);
    CHECK(report->bytes_before == bytes_before);
    CHECK(report->bytes_after <= options.max_bytes / 10 * 9);
    CHECK(report->bytes_after == database_bytes(*db).value());

    FlowStore flows(*db);
    const int64_t left = flows.count().value();
    CHECK(left == 4000 - report->flows_evicted);
    CHECK(left > 500);
    // The oldest went: what is left is the newest, without a gap.
    CHECK(db->query_int("SELECT max(pid) FROM flows").value() == 4000 + 3999);
    CHECK(db->query_int("SELECT min(pid) FROM flows").value() == 4000 + 4000 - left);
    CHECK(PolicyStore(*db).current().value().revision == 1);

    const int64_t size_after = file_size(db->path());
    INFO("file size " << size_before << " -> " << size_after);
    CHECK(size_after <= options.max_bytes / 10 * 9);
    CHECK(size_after < size_before / 2);

    auto check = db->prepare("PRAGMA integrity_check");
    REQUIRE(check.ok());
    REQUIRE(check->step().value());
    CHECK(check->column_text(0) == "ok");
}

TEST_CASE("store retention: zero limits keep everything") {
    TempDir dir;
    auto db = open_store(dir.file("r.db"));
    REQUIRE(db.ok());
    insert_flows(*db, 0, 50, kNow - 400 * kDay, 100);
    RetentionOptions off;
    off.max_age = std::chrono::milliseconds(0);
    off.max_bytes = 0;
    auto report = apply_retention(*db, off, kNow);
    REQUIRE(report.ok());
    CHECK(report->deleted() == 0);
    CHECK(FlowStore(*db).count().value() == 50);
}
