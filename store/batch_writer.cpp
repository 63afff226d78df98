// batch_writer.cpp - the bounded queue and the writer thread (see batch_writer.h).
#include "store/batch_writer.h"

#include "store/schema.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace policer::store {
namespace {

using Clock = std::chrono::steady_clock;

// At most one error line per interval; the lines in between are counted, not lost.
constexpr auto kErrorLogInterval = std::chrono::seconds(10);

int64_t wall_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

BatchWriterOptions normalized(BatchWriterOptions options) {
    options.batch_rows = std::max<size_t>(options.batch_rows, 1);
    options.max_queued = std::max<size_t>(options.max_queued, 1);
    if (options.flush_interval.count() <= 0) options.flush_interval = std::chrono::milliseconds(1);
    return options;
}

} // namespace

Result<std::unique_ptr<BatchWriter>> BatchWriter::open(const std::string &path,
                                                       const BatchWriterOptions &options) {
    auto db = open_store(path, options.open);
    if (!db) return db.error();
    return std::unique_ptr<BatchWriter>(new BatchWriter(std::move(*db), options));
}

BatchWriter::BatchWriter(Database db, const BatchWriterOptions &options)
    : options_(normalized(options)), db_(std::move(db)), thread_([this] { run(); }) {}

BatchWriter::~BatchWriter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

bool BatchWriter::enqueue(FlowRow row) {
    return push(Row(std::move(row)));
}

bool BatchWriter::enqueue(AlertRow row) {
    return push(Row(std::move(row)));
}

bool BatchWriter::push(Row row) {
    std::unique_lock<std::mutex> lock(mutex_);
    // Rows being written count too: what a crash can lose is bounded by max_queued.
    if (pending_ >= options_.max_queued) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    queue_.push_back(std::move(row));
    ++pending_;
    ++accepted_;
    // Wake the writer once, when the batch fills, not for every row.
    bool full_batch = queue_.size() == options_.batch_rows;
    lock.unlock();
    if (full_batch) wake_.notify_one();
    return true;
}

void BatchWriter::flush() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t target = accepted_;
    if (finished_ >= target) return;
    flush_requested_ = true;
    wake_.notify_one();
    done_.wait(lock, [&] { return finished_ >= target; });
}

Result<RetentionReport> BatchWriter::retain_now() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t ticket = ++retain_requested_;
    wake_.notify_one();
    done_.wait(lock, [&] { return retain_done_ >= ticket; });
    return last_retention_;
}

BatchWriterCounters BatchWriter::counters() const {
    BatchWriterCounters c;
    c.written = written_.load(std::memory_order_relaxed);
    c.dropped = dropped_.load(std::memory_order_relaxed);
    c.write_errors = write_errors_.load(std::memory_order_relaxed);
    c.failed_rows = failed_rows_.load(std::memory_order_relaxed);
    c.batches = batches_.load(std::memory_order_relaxed);
    return c;
}

void BatchWriter::run() {
    const bool periodic_retention = options_.retention_interval.count() > 0;
    Clock::time_point next_flush = Clock::now() + options_.flush_interval;
    // The first retention right away: the daemon may have been down longer than max_age.
    Clock::time_point next_retention = periodic_retention ? Clock::now() : Clock::time_point::max();

    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait_until(lock, std::min(next_flush, next_retention), [&] {
            return stop_ || flush_requested_ || queue_.size() >= options_.batch_rows ||
                   retain_requested_ != retain_done_;
        });
        const Clock::time_point now = Clock::now();

        bool flush_due =
            stop_ || flush_requested_ || queue_.size() >= options_.batch_rows || now >= next_flush;
        if (flush_due) {
            flush_requested_ = false;
            // Counted from the start of this commit, so that a row waits at most one
            // interval plus the commit in progress when it arrived.
            next_flush = now + options_.flush_interval;
            if (!queue_.empty()) {
                std::deque<Row> batch;
                batch.swap(queue_);
                lock.unlock();
                write(batch);
                lock.lock();
                pending_ -= batch.size();
                finished_ += batch.size();
                done_.notify_all();
            }
        }

        if (retain_requested_ != retain_done_ || now >= next_retention) {
            const uint64_t requested = retain_requested_;
            lock.unlock();
            auto report = apply_retention(db_, options_.retention, wall_ms());
            if (!report)
                spdlog::warn("store retention: {}", report.error().message);
            else if (report->deleted() > 0)
                spdlog::info("store retention: {} flows and {} alerts past max age, {} flows "
                             "for size; {} -> {} bytes",
                             report->flows_expired, report->alerts_expired, report->flows_evicted,
                             report->bytes_before, report->bytes_after);
            lock.lock();
            last_retention_ = std::move(report);
            retain_done_ = requested;
            done_.notify_all();
            if (periodic_retention) next_retention = Clock::now() + options_.retention_interval;
        }

        if (stop_ && queue_.empty()) return;
    }
}

void BatchWriter::write(std::deque<Row> &batch) {
    auto fail = [&](const Error &error) {
        write_errors_.fetch_add(1, std::memory_order_relaxed);
        failed_rows_.fetch_add(batch.size(), std::memory_order_relaxed);
        auto now = Clock::now();
        if (logged_errors_ && now - last_error_log_ < kErrorLogInterval) {
            ++errors_not_logged_;
            return;
        }
        std::string also;
        if (errors_not_logged_ > 0)
            also = " (" + std::to_string(errors_not_logged_) + " more failed batches not logged)";
        spdlog::error("store: {} rows lost: {}{}", batch.size(), error.message, also);
        logged_errors_ = true;
        last_error_log_ = now;
        errors_not_logged_ = 0;
    };

    auto tx = Transaction::begin(db_, Transaction::Kind::Immediate);
    if (!tx) return fail(tx.error());
    for (const Row &row : batch) {
        Status inserted = std::visit(
            [this](const auto &r) -> Status {
                if constexpr (std::is_same_v<std::decay_t<decltype(r)>, FlowRow>)
                    return flows_.insert(r);
                else
                    return alerts_.insert(r);
            },
            row);
        if (!inserted) return fail(inserted.error()); // the transaction rolls back
    }
    if (auto committed = tx->commit(); !committed) return fail(committed.error());
    written_.fetch_add(batch.size(), std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
}

} // namespace policer::store
