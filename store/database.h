// database.h - one SQLite connection and its prepared statements, owned RAII, every failure a
// Result that names the database file and carries SQLite's own message. Opening applies the
// durability settings policer relies on (WAL, synchronous=NORMAL, busy timeout, foreign keys)
// and brings the schema up to date with an ordered list of migrations (docs/store.md).
//
// A Database and its Statements are used by one thread at a time: the connection is opened
// without SQLite's per-connection mutex. Threads that need the store concurrently each open
// their own connection; WAL lets readers run beside the one writer.
#pragma once

#include "common/result.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace policer::store {

// One step of the schema: applied in its own transaction, after which PRAGMA user_version is
// `version`. Versions are 1, 2, 3, ... in order; a shipped migration is never edited, only
// followed by a new one.
struct Migration {
    int version;
    std::string_view description;
    std::string_view sql; // one or more statements
};

// What makes a file "ours": its application_id (PRAGMA application_id, written by the first
// migration) and the migrations that build its schema.
struct Schema {
    int32_t application_id;
    std::vector<Migration> migrations;

    int latest_version() const { return migrations.empty() ? 0 : migrations.back().version; }
};

struct OpenOptions {
    // How long a statement waits for another connection's write lock before failing.
    std::chrono::milliseconds busy_timeout{5000};
    // The WAL file is truncated to this size after a checkpoint that found it larger.
    int64_t journal_size_limit = 64 << 20;
    // For readers such as the CLI (a member of the policer group may only read the file):
    // nothing is created, configured or migrated; the schema must already be the latest.
    bool read_only = false;
};

// A text, integer, real or NULL value to bind. Empty optionals bind NULL.
class Statement {
public:
    Statement() = default;
    Statement(Statement &&o) noexcept : stmt_(std::exchange(o.stmt_, nullptr)) {}
    Statement &operator=(Statement &&o) noexcept;
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;
    ~Statement();

    // Parameters are numbered from 1, as in SQLite.
    Status bind(int index, int64_t value);
    Status bind(int index, double value);
    Status bind(int index, std::string_view value); // copied: the view may die before step()
    Status bind_null(int index);
    Status bind(int index, const std::string &value) {
        return bind(index, std::string_view(value));
    }
    Status bind(int index, const char *value) { return bind(index, std::string_view(value)); }
    Status bind(int index, bool value) { return bind(index, int64_t{value ? 1 : 0}); }
    template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
    Status bind(int index, T value) {
        return bind(index, static_cast<int64_t>(value));
    }
    template <typename T>
    Status bind(int index, const std::optional<T> &value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    // Binds parameters 1..N in order.
    template <typename... Ts>
    Status bind_all(const Ts &...values) {
        Status status = Ok{};
        int index = 1;
        ((status = status ? bind(index++, values) : status), ...);
        return status;
    }

    // One step: true when a row is available, false when the statement is done.
    Result<bool> step();
    // Steps to the end, for statements that return no rows (or whose rows do not matter).
    Status run();
    // Steps through the rows, calling visit(*this) on each until it returns false.
    template <typename F>
    Status each_row(F &&visit) {
        for (;;) {
            auto row = step();
            if (!row) return row.error();
            if (!*row || !visit(*this)) return Ok{};
        }
    }
    // Ready to run again: rewinds and clears the bindings.
    void reset();

    int column_count() const;
    bool column_is_null(int column) const; // columns are numbered from 0
    int64_t column_int(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const; // NULL reads as ""
    std::optional<int64_t> column_optional_int(int column) const;

    explicit operator bool() const { return stmt_ != nullptr; }

private:
    friend class Database;
    explicit Statement(sqlite3_stmt *stmt) : stmt_(stmt) {}
    Error error(std::string_view what) const;

    sqlite3_stmt *stmt_ = nullptr;
};

class Database {
public:
    // Opens (creating with mode 0640 if missing) the database at `path` and migrates it to
    // `schema`'s latest version (read-only: see OpenOptions::read_only). Refused, with the file
    // left as it was: a symbolic link or anything but a regular file, a file that is not SQLite, a
    // SQLite file of another application, a schema newer than `schema` knows.
    static Result<Database> open(const std::string &path, const Schema &schema,
                                 const OpenOptions &options = {});

    Database(Database &&) noexcept = default;
    Database &operator=(Database &&) noexcept = default;
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;
    ~Database() = default;

    Result<Statement> prepare(std::string_view sql);
    // Runs statements that return nothing (may be several, separated by ';'). Never give it
    // text from outside: values go through prepare() and bind().
    Status exec(std::string_view sql);
    // The first column of the first row of a single-value query (PRAGMA page_count, count(*)).
    Result<int64_t> query_int(std::string_view sql);

    int64_t changes() const;
    int64_t last_insert_rowid() const;
    bool in_transaction() const;

    const std::string &path() const { return path_; }
    // "path: what: SQLite's message".
    Error error(std::string_view what) const;

private:
    struct Closer {
        void operator()(sqlite3 *db) const;
    };
    Database(std::string path, sqlite3 *db) : path_(std::move(path)), db_(db) {}

    Status configure(const OpenOptions &options);
    Status check_identity(const Schema &schema, bool read_only);
    Status migrate(const Schema &schema);

    std::string path_;
    std::unique_ptr<sqlite3, Closer> db_;
};

// BEGIN ... COMMIT, rolled back if commit() is not reached (an error return, an exception).
class Transaction {
public:
    enum class Kind {
        Deferred, // takes the write lock at the first write
        Immediate // takes the write lock now: a read-check-write sequence cannot be overtaken
    };
    static Result<Transaction> begin(Database &db, Kind kind = Kind::Immediate);

    Transaction(Transaction &&o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
    Transaction &operator=(Transaction &&) = delete;
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    ~Transaction();

    Status commit();

private:
    explicit Transaction(Database *db) : db_(db) {}
    Database *db_ = nullptr; // null once committed or rolled back
};

} // namespace policer::store
