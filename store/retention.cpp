// retention.cpp - age and size limits, in short transactions.
#include "store/retention.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace policer::store {
namespace {

// Pages freed per incremental_vacuum step. Each step is a transaction whose moved pages go to
// the WAL: small steps keep the WAL small.
constexpr int64_t kVacuumStepPages = 2048;

// Deletes the rows of `table` older than `cutoff`, `chunk` rows per transaction.
Result<int64_t> expire(Database &db, std::string_view table, std::string_view time_column,
                       int64_t cutoff, int64_t chunk) {
    // Table and column names are ours (not input).
    std::string sql = "DELETE FROM " + std::string(table) + " WHERE id IN (SELECT id FROM " +
                      std::string(table) + " WHERE " + std::string(time_column) +
                      " < ?1 ORDER BY " + std::string(time_column) + " LIMIT ?2)";
    auto stmt = db.prepare(sql);
    if (!stmt) return stmt.error();
    // reset() clears the bindings: bind before each run.
    int64_t total = 0;
    for (;;) {
        if (auto bound = stmt->bind_all(cutoff, chunk); !bound) return bound.error();
        if (auto done = stmt->run(); !done) return done.error();
        int64_t n = db.changes();
        total += n;
        stmt->reset();
        if (n < chunk) return total;
    }
}

// Bytes in pages that hold data (free pages excluded).
Result<int64_t> used_bytes(Database &db) {
    auto pages = db.query_int("PRAGMA page_count");
    if (!pages) return pages.error();
    auto free_pages = db.query_int("PRAGMA freelist_count");
    if (!free_pages) return free_pages.error();
    auto page_size = db.query_int("PRAGMA page_size");
    if (!page_size) return page_size.error();
    return (*pages - *free_pages) * *page_size;
}

// Deletes the oldest flows until the used bytes are at most `target`.
Result<int64_t> evict_oldest_flows(Database &db, int64_t target, int64_t chunk) {
    auto flows = db.query_int("SELECT count(*) FROM flows");
    if (!flows) return flows.error();
    auto stmt = db.prepare("DELETE FROM flows WHERE id IN "
                           "(SELECT id FROM flows ORDER BY end_ms, id LIMIT ?)");
    if (!stmt) return stmt.error();
    int64_t evicted = 0;
    int64_t remaining = *flows;
    for (;;) {
        auto used = used_bytes(db);
        if (!used) return used.error();
        if (*used <= target) return evicted;
        if (remaining == 0) {
            spdlog::warn("{}: {} bytes in use after deleting every flow; the size limit is "
                         "{} bytes (alerts and the policy history are what remains)",
                         db.path(), *used, target);
            return evicted;
        }
        // Flows are the bulk of the database: the share of rows to delete is about the share
        // of bytes over the target. Indexes shrink less than tables, hence the loop.
        int64_t n = remaining * (*used - target) / *used + 1;
        n = std::clamp<int64_t>(n, 1, chunk);
        if (auto bound = stmt->bind(1, n); !bound) return bound.error();
        if (auto done = stmt->run(); !done) return done.error();
        stmt->reset();
        int64_t deleted = db.changes();
        evicted += deleted;
        remaining = deleted < n ? 0 : remaining - deleted;
    }
}

// Returns the free pages to the file system and empties the WAL, so that the file shrinks.
Result<bool> shrink(Database &db) {
    for (;;) {
        auto free_pages = db.query_int("PRAGMA freelist_count");
        if (!free_pages) return free_pages.error();
        if (*free_pages == 0) break;
        if (auto done =
                db.exec("PRAGMA incremental_vacuum(" + std::to_string(kVacuumStepPages) + ")");
            !done)
            return done.error();
    }
    auto stmt = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    // The row: busy (1 if a reader or writer kept it from completing), WAL frames, moved.
    return *row && stmt->column_int(0) == 0;
}

} // namespace

Result<int64_t> database_bytes(Database &db) {
    auto pages = db.query_int("PRAGMA page_count");
    if (!pages) return pages.error();
    auto page_size = db.query_int("PRAGMA page_size");
    if (!page_size) return page_size.error();
    return *pages * *page_size;
}

Result<RetentionReport> apply_retention(Database &db, const RetentionOptions &options,
                                        int64_t now_ms) {
    RetentionReport report;
    const int64_t chunk = std::max<int64_t>(options.chunk_rows, 1);
    auto before = database_bytes(db);
    if (!before) return before.error();
    report.bytes_before = *before;

    if (options.max_age.count() > 0) {
        int64_t cutoff = now_ms - options.max_age.count();
        auto flows = expire(db, "flows", "end_ms", cutoff, chunk);
        if (!flows) return flows.error();
        report.flows_expired = *flows;
        auto alerts = expire(db, "alerts", "time_ms", cutoff, chunk);
        if (!alerts) return alerts.error();
        report.alerts_expired = *alerts;
    }

    if (options.max_bytes > 0 && report.bytes_before > options.max_bytes) {
        auto evicted = evict_oldest_flows(db, options.max_bytes / 10 * 9, chunk);
        if (!evicted) return evicted.error();
        report.flows_evicted = *evicted;
    }

    if (report.deleted() > 0) {
        auto complete = shrink(db);
        if (!complete) return complete.error();
        report.checkpoint_complete = *complete;
    }
    auto after = database_bytes(db);
    if (!after) return after.error();
    report.bytes_after = *after;
    return report;
}

} // namespace policer::store
