// retention.h - keeps the database within its limits: flows and alerts older than max_age go,
// and past max_bytes the oldest flows go until it is under 90 % of it; the freed pages are then
// given back to the file system. The policy history is never deleted.
#pragma once

#include "common/result.h"
#include "store/database.h"

#include <chrono>
#include <cstdint>

namespace policer::store {

struct RetentionOptions {
    std::chrono::milliseconds max_age = std::chrono::hours(24 * 30); // 0: keep any age
    int64_t max_bytes = int64_t{1} << 30;                            // 0: no size limit
    int64_t chunk_rows = 5000; // rows deleted per transaction: others may write in between
};

struct RetentionReport {
    int64_t flows_expired = 0;  // older than max_age
    int64_t alerts_expired = 0; // older than max_age
    int64_t flows_evicted = 0;  // oldest flows, for max_bytes
    int64_t bytes_before = 0;   // page_count * page_size
    int64_t bytes_after = 0;
    bool checkpoint_complete = true; // false: a reader kept the WAL from being emptied

    int64_t deleted() const { return flows_expired + alerts_expired + flows_evicted; }
};

// The database's size as SQLite counts it: page_count * page_size (free pages included).
Result<int64_t> database_bytes(Database &db);

// Applies `options` as of `now_ms` (wall clock, unix ms).
Result<RetentionReport> apply_retention(Database &db, const RetentionOptions &options,
                                        int64_t now_ms);

} // namespace policer::store
