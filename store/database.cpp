// database.cpp - the SQLite connection: safe opening, configuration, migrations, statements.
#include "store/database.h"

#include "common/unique_fd.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <cstring>

namespace policer::store {
namespace {

// The first 16 bytes of every SQLite 3 database file.
constexpr char kSqliteMagic[] = "SQLite format 3";
constexpr size_t kSqliteMagicSize = sizeof(kSqliteMagic); // the terminating NUL is part of it
constexpr mode_t kFileMode = 0640;

std::string with_path(const std::string &path, std::string_view what) {
    return path + ": " + std::string(what);
}

// Looks at the file before SQLite does, so that whatever is refused is refused without SQLite
// having written a byte: SQLite itself would only notice a foreign file at the first read, and
// some pragmas (journal_mode) write the header. Creates a missing file with kFileMode so that
// SQLite, which creates its -wal and -shm files with the mode of the database, never makes a
// world-readable file.
Status prepare_file(const std::string &path, bool create) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT || !create) return Error::from_errno(with_path(path, "stat"));
        UniqueFd fd(
            ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode));
        if (!fd) {
            // Someone made it between lstat and open: examine what they made.
            if (errno == EEXIST) return prepare_file(path, create);
            return Error::from_errno(with_path(path, "create"));
        }
        // The umask may have removed bits we want (group read); never adds any.
        if (::fchmod(fd.get(), kFileMode) != 0) return Error::from_errno(with_path(path, "chmod"));
        return Ok{};
    }
    if (S_ISLNK(st.st_mode))
        return Error{with_path(path, "is a symbolic link; refusing to open it (give the real "
                                     "path)")};
    if (!S_ISREG(st.st_mode)) return Error{with_path(path, "is not a regular file")};
    if (st.st_size == 0) return Ok{}; // an empty file is an empty database to SQLite

    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Error::from_errno(with_path(path, "open"));
    char header[kSqliteMagicSize] = {};
    ssize_t n = ::pread(fd.get(), header, sizeof(header), 0);
    if (n < 0) return Error::from_errno(with_path(path, "read"));
    if (static_cast<size_t>(n) < sizeof(header) ||
        std::memcmp(header, kSqliteMagic, kSqliteMagicSize) != 0)
        return Error{with_path(path, "is not a SQLite database (no SQLite header); left "
                                     "untouched")};
    return Ok{};
}

} // namespace

// ---- Statement ----

Statement &Statement::operator=(Statement &&o) noexcept {
    if (this != &o) {
        sqlite3_finalize(stmt_);
        stmt_ = std::exchange(o.stmt_, nullptr);
    }
    return *this;
}

Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

Error Statement::error(std::string_view what) const {
    sqlite3 *db = sqlite3_db_handle(stmt_);
    const char *file = sqlite3_db_filename(db, "main");
    std::string message = file && *file ? file : "(database)";
    message += ": ";
    message += what;
    message += ": ";
    message += sqlite3_errmsg(db);
    const char *sql = sqlite3_sql(stmt_);
    if (sql) message += std::string(" (in: ") + sql + ")";
    return Error{message};
}

Status Statement::bind(int index, int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) return error("bind");
    return Ok{};
}

Status Statement::bind(int index, double value) {
    if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) return error("bind");
    return Ok{};
}

Status Statement::bind(int index, std::string_view value) {
    if (sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                            SQLITE_UTF8) != SQLITE_OK)
        return error("bind");
    return Ok{};
}

Status Statement::bind_null(int index) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) return error("bind");
    return Ok{};
}

Result<bool> Statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return error("step");
}

Status Statement::run() {
    for (;;) {
        auto row = step();
        if (!row) return row.error();
        if (!*row) return Ok{};
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const {
    return sqlite3_column_count(stmt_);
}

bool Statement::column_is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::column_int(int column) const {
    return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const {
    return sqlite3_column_double(stmt_, column);
}

std::string Statement::column_text(int column) const {
    const unsigned char *text = sqlite3_column_text(stmt_, column);
    if (!text) return {};
    return std::string(reinterpret_cast<const char *>(text),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<int64_t> Statement::column_optional_int(int column) const {
    if (column_is_null(column)) return std::nullopt;
    return column_int(column);
}

// ---- Database ----

void Database::Closer::operator()(sqlite3 *db) const {
    // v2: if a Statement outlives its Database, the connection closes when it is finalized.
    sqlite3_close_v2(db);
}

Error Database::error(std::string_view what) const {
    return Error{path_ + ": " + std::string(what) + ": " + sqlite3_errmsg(db_.get())};
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt *stmt = nullptr;
    int rc =
        sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return error("prepare \"" + std::string(sql) + "\"");
    }
    return Statement(stmt);
}

Status Database::exec(std::string_view sql) {
    std::string text(sql); // sqlite3_exec needs a NUL-terminated string
    char *message = nullptr;
    int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
        std::string detail = message ? message : sqlite3_errstr(rc);
        sqlite3_free(message);
        // The first line of the statements, enough to recognise them.
        size_t start = text.find_first_not_of(" \t\n");
        std::string head = start == std::string::npos
                               ? std::string()
                               : text.substr(start, text.find('\n', start) - start);
        return Error{path_ + ": \"" + head + "\": " + detail};
    }
    return Ok{};
}

Result<int64_t> Database::query_int(std::string_view sql) {
    auto stmt = prepare(sql);
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) return Error{path_ + ": \"" + std::string(sql) + "\" returned no row"};
    return stmt->column_int(0);
}

int64_t Database::changes() const {
    return sqlite3_changes64(db_.get());
}

int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_.get());
}

bool Database::in_transaction() const {
    return sqlite3_get_autocommit(db_.get()) == 0;
}

Result<Database> Database::open(const std::string &path, const Schema &schema,
                                const OpenOptions &options) {
    for (size_t i = 0; i < schema.migrations.size(); ++i)
        if (schema.migrations[i].version != static_cast<int>(i + 1))
            return Error{"schema migrations must be numbered 1, 2, 3, ... in order"};

    if (auto ready = prepare_file(path, !options.read_only); !ready) return ready.error();

    sqlite3 *raw = nullptr;
    // No SQLITE_OPEN_CREATE: prepare_file made the file; if it is gone now, fail.
    int flags = (options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    Database db(path, raw);
    if (rc != SQLITE_OK) {
        if (!raw) return Error{with_path(path, "open: out of memory")};
        return db.error("open");
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));

    if (auto ours = db.check_identity(schema, options.read_only); !ours) return ours.error();
    if (options.read_only) {
        auto version = db.query_int("PRAGMA user_version");
        if (!version) return version.error();
        if (*version < schema.latest_version())
            return Error{path + ": schema version " + std::to_string(*version) +
                         " is older than this build's (" + std::to_string(schema.latest_version()) +
                         "); policerd migrates it when it starts"};
        return db;
    }
    if (auto configured = db.configure(options); !configured) return configured.error();
    if (auto migrated = db.migrate(schema); !migrated) return migrated.error();
    return db;
}

// Reads only: a file we refuse must stay byte for byte as it was.
Status Database::check_identity(const Schema &schema, bool read_only) {
    auto version = query_int("PRAGMA user_version");
    if (!version) {
        int code = sqlite3_errcode(db_.get());
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            return Error{path_ + ": is not a SQLite database, or is damaged (" +
                         sqlite3_errmsg(db_.get()) + "); left untouched"};
        return version.error();
    }
    auto app = query_int("PRAGMA application_id");
    if (!app) return app.error();
    auto objects = query_int("SELECT count(*) FROM sqlite_master");
    if (!objects) return objects.error();

    bool empty = *version == 0 && *app == 0 && *objects == 0;
    if (!empty && *app != schema.application_id)
        return Error{path_ + ": is a SQLite database of another application (application_id " +
                     std::to_string(*app) + "); left untouched"};
    if (*version > schema.latest_version())
        return Error{path_ + ": schema version " + std::to_string(*version) +
                     " is newer than this build knows (" + std::to_string(schema.latest_version()) +
                     "); it was written by a newer policer. Refusing to open it; left untouched"};
    if (empty && !read_only) {
        // Only possible before the first table exists: the retention needs it to give freed
        // pages back to the file system (PRAGMA incremental_vacuum).
        if (auto set = exec("PRAGMA auto_vacuum = INCREMENTAL"); !set) return set.error();
    }
    return Ok{};
}

Status Database::configure(const OpenOptions &options) {
    // Keep the -wal and -shm files when the last connection closes: SQLite opens a WAL database
    // read-only only if they exist or the reader may create them, and a reader such as the CLI
    // run by a member of the policer group may not create files beside the database.
    int persist_wal = 1;
    if (sqlite3_file_control(db_.get(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist_wal) !=
        SQLITE_OK)
        return error("keep the WAL files");
    // WAL: readers never block the writer nor the writer them, and a commit is one append.
    auto mode = prepare("PRAGMA journal_mode = WAL");
    if (!mode) return mode.error();
    auto row = mode->step();
    if (!row) return row.error();
    if (!*row || mode->column_text(0) != "wal")
        return Error{path_ + ": cannot switch to WAL journal mode (got \"" +
                     (*row ? mode->column_text(0) : std::string()) + "\")"};
    // NORMAL in WAL mode: a commit survives a crash of the process (kill -9) - the WAL is
    // written before COMMIT returns; only a power loss or kernel crash may lose the last
    // commits, never consistency. FULL would add an fsync to every commit.
    return exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
                "PRAGMA journal_size_limit = " +
                std::to_string(options.journal_size_limit));
}

Status Database::migrate(const Schema &schema) {
    for (const Migration &m : schema.migrations) {
        auto version = query_int("PRAGMA user_version");
        if (!version) return version.error();
        if (*version >= m.version) continue;

        auto tx = Transaction::begin(*this, Transaction::Kind::Immediate);
        if (!tx) return tx.error();
        // Another process may have applied it while we waited for the lock.
        version = query_int("PRAGMA user_version");
        if (!version) return version.error();
        if (*version >= m.version) continue;
        if (*version != m.version - 1)
            return Error{path_ + ": schema version " + std::to_string(*version) +
                         " cannot be migrated to " + std::to_string(m.version)};
        if (auto applied = exec(m.sql); !applied)
            return Error{"migration " + std::to_string(m.version) + " (" +
                         std::string(m.description) + "): " + applied.error().message};
        // Pragmas take no parameters; both numbers are ours, not input.
        if (auto stamped = exec("PRAGMA application_id = " + std::to_string(schema.application_id) +
                                "; PRAGMA user_version = " + std::to_string(m.version));
            !stamped)
            return stamped.error();
        if (auto done = tx->commit(); !done) return done.error();
        spdlog::info("{}: schema migrated to version {} ({})", path_, m.version, m.description);
    }
    return Ok{};
}

// ---- Transaction ----

Result<Transaction> Transaction::begin(Database &db, Kind kind) {
    auto begun = db.exec(kind == Kind::Immediate ? "BEGIN IMMEDIATE" : "BEGIN");
    if (!begun) return begun.error();
    return Transaction(&db);
}

Status Transaction::commit() {
    Database *db = std::exchange(db_, nullptr);
    if (!db) return Error{"commit of a finished transaction"};
    auto committed = db->exec("COMMIT");
    if (!committed) {
        // A failed COMMIT (SQLITE_BUSY) leaves the transaction open: end it.
        if (db->in_transaction()) (void)db->exec("ROLLBACK");
        return committed.error();
    }
    return Ok{};
}

Transaction::~Transaction() {
    // SQLite may already have rolled back on its own (disk full, I/O error).
    if (db_ && db_->in_transaction()) {
        if (auto rolled = db_->exec("ROLLBACK"); !rolled)
            spdlog::warn("rollback failed: {}", rolled.error().message);
    }
}

} // namespace policer::store
