// batch_writer.h - stores flows and alerts off the event path. The daemon's thread only moves
// a row into a bounded queue; a writer thread of our own commits the queue in one transaction
// every flush_interval or batch_rows rows, whichever comes first, and applies the retention
// limits periodically. Nothing here blocks the caller of enqueue() on the disk.
//
// What a crash (kill -9) can lose: the rows accepted but not yet committed - those enqueued
// since the last commit began (about one flush_interval's worth) and never more than
// max_queued. Committed rows survive; the database stays consistent (docs/store.md).
#pragma once

#include "common/result.h"
#include "store/alert_store.h"
#include "store/database.h"
#include "store/flow_store.h"
#include "store/retention.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

namespace policer::store {

struct BatchWriterOptions {
    std::chrono::milliseconds flush_interval{1000};
    size_t batch_rows = 512;
    // Rows accepted and not yet committed (queued or being written); past it, rows are dropped.
    size_t max_queued = 65536;
    RetentionOptions retention;
    // How often retention runs on the writer thread (also once at start); 0: only on demand.
    std::chrono::milliseconds retention_interval{60000};
    OpenOptions open;
};

struct BatchWriterCounters {
    uint64_t written = 0;      // rows committed
    uint64_t dropped = 0;      // rows refused because the queue was full
    uint64_t write_errors = 0; // batches that failed to commit
    uint64_t failed_rows = 0;  // rows lost with those batches
    uint64_t batches = 0;      // batches committed
};

class BatchWriter {
public:
    // Opens its own connection to the store at `path` (errors are reported here, before any
    // row is accepted) and starts the writer thread.
    static Result<std::unique_ptr<BatchWriter>> open(const std::string &path,
                                                     const BatchWriterOptions &options = {});

    BatchWriter(const BatchWriter &) = delete;
    BatchWriter &operator=(const BatchWriter &) = delete;
    // Commits everything accepted, then stops the thread.
    ~BatchWriter();

    // From one thread (the daemon's event loop). False: the queue was full and the row was
    // dropped (counted).
    bool enqueue(FlowRow row);
    bool enqueue(AlertRow row);

    // Blocks until every row accepted before the call is committed or has failed.
    void flush();
    // Runs retention on the writer thread now and returns its report.
    Result<RetentionReport> retain_now();

    BatchWriterCounters counters() const;

private:
    using Row = std::variant<FlowRow, AlertRow>;

    BatchWriter(Database db, const BatchWriterOptions &options);
    bool push(Row row);
    void run();
    void write(std::deque<Row> &batch);
    void retain();

    const BatchWriterOptions options_;
    Database db_;
    FlowStore flows_{db_};
    AlertStore alerts_{db_};

    mutable std::mutex mutex_;
    std::condition_variable wake_;  // the writer: rows, a request, or stop
    std::condition_variable done_;  // flush() and retain_now() callers: progress
    std::deque<Row> queue_;         // guarded by mutex_
    size_t pending_ = 0;            // accepted, not yet committed or failed; guarded
    uint64_t accepted_ = 0;         // rows accepted so far; guarded
    uint64_t finished_ = 0;         // of those, committed or failed; guarded
    bool flush_requested_ = false;  // guarded
    uint64_t retain_requested_ = 0; // retain_now() calls so far; guarded
    uint64_t retain_done_ = 0;      // of those, completed; guarded
    Result<RetentionReport> last_retention_{RetentionReport{}}; // guarded
    bool stop_ = false;                                         // guarded

    std::atomic<uint64_t> written_{0}, dropped_{0}, write_errors_{0}, failed_rows_{0}, batches_{0};

    // The writer thread's rate limit on error lines.
    bool logged_errors_ = false;
    std::chrono::steady_clock::time_point last_error_log_;
    uint64_t errors_not_logged_ = 0;

    std::thread thread_; // last: started when everything above exists
};

} // namespace policer::store
