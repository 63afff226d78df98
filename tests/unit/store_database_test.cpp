// store_database_test.cpp - opening the store: a new file is created and migrated, reopening
// keeps the data, and whatever is refused (newer schema, not SQLite, another application's
// database, a symbolic link) is left byte for byte as it was.
#include "store/database.h"
#include "store/schema.h"

#include "store_test_support.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace {

using namespace policer::store;
using store_test::file_bytes;
using store_test::TempDir;
using store_test::why;

std::string pragma_text(Database &db, const std::string &pragma) {
    auto stmt = db.prepare("PRAGMA " + pragma);
    REQUIRE(stmt.ok());
    auto row = stmt->step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return stmt->column_text(0);
}

} // namespace

TEST_CASE("store: a missing file is created, migrated, configured, and reopens") {
    TempDir dir;
    const std::string path = dir.file("policer.db");
    {
        // The mode is 0640 whatever the umask: a umask of 077 would otherwise give 0600.
        mode_t old_umask = ::umask(077);
        auto db = open_store(path);
        ::umask(old_umask);
        REQUIRE_MESSAGE(db.ok(), why(db));
        CHECK(db->query_int("PRAGMA user_version").value() == store_schema().latest_version());
        CHECK(db->query_int("PRAGMA application_id").value() == kApplicationId);
        CHECK(pragma_text(*db, "journal_mode") == "wal");
        CHECK(db->query_int("PRAGMA auto_vacuum").value() == 2); // incremental
        CHECK(db->query_int("PRAGMA foreign_keys").value() == 1);
        CHECK(db->query_int("PRAGMA synchronous").value() == 1); // NORMAL
        for (const char *table :
             {"policy_revisions", "policy_entries", "policy_changes", "flows", "alerts"}) {
            auto stmt = db->prepare("SELECT count(*) FROM sqlite_master WHERE name = ?");
            REQUIRE(stmt.ok());
            REQUIRE(stmt->bind(1, table).ok());
            REQUIRE(stmt->step().value());
            CHECK_MESSAGE(stmt->column_int(0) == 1, table);
        }
        REQUIRE(db->exec("INSERT INTO alerts (time_ms, rule, action, summary, event) "
                         "VALUES (1, 'r', 'alert', 's', '{}')")
                    .ok());
    }
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);

    auto again = open_store(path);
    REQUIRE_MESSAGE(again.ok(), why(again));
    CHECK(again->query_int("SELECT count(*) FROM alerts").value() == 1);
    CHECK(again->query_int("PRAGMA user_version").value() == store_schema().latest_version());
}

TEST_CASE("store: migrations run in order, each once, from any older version") {
    TempDir dir;
    const std::string path = dir.file("m.db");
    Schema v1{0x1234, {{1, "one", "CREATE TABLE a (x INTEGER)"}}};
    Schema v2 = v1;
    v2.migrations.push_back({2, "two", "CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (7)"});
    {
        auto db = Database::open(path, v1);
        REQUIRE_MESSAGE(db.ok(), why(db));
        CHECK(db->query_int("PRAGMA user_version").value() == 1);
    }
    {
        auto db = Database::open(path, v2);
        REQUIRE_MESSAGE(db.ok(), why(db));
        CHECK(db->query_int("PRAGMA user_version").value() == 2);
        CHECK(db->query_int("SELECT y FROM b").value() == 7);
    }
    auto db = Database::open(path, v2); // nothing left to apply: the insert is not repeated
    REQUIRE(db.ok());
    CHECK(db->query_int("SELECT count(*) FROM b").value() == 1);
}

TEST_CASE("store: a failed migration leaves the previous version in place") {
    TempDir dir;
    const std::string path = dir.file("m.db");
    Schema v1{0x1234, {{1, "one", "CREATE TABLE a (x INTEGER)"}}};
    REQUIRE(Database::open(path, v1).ok());
    Schema broken = v1;
    broken.migrations.push_back({2, "broken", "CREATE TABLE c (z INTEGER); SELECT nonsense("});
    auto db = Database::open(path, broken);
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().message.find("migration 2") != std::string::npos);

    auto back = Database::open(path, v1);
    REQUIRE_MESSAGE(back.ok(), why(back));
    CHECK(back->query_int("PRAGMA user_version").value() == 1);
    CHECK(back->query_int("SELECT count(*) FROM sqlite_master WHERE name = 'c'").value() == 0);
}

TEST_CASE("store: a database from a newer policer is refused and left untouched") {
    TempDir dir;
    const std::string path = dir.file("policer.db");
    {
        auto db = open_store(path);
        REQUIRE(db.ok());
        REQUIRE(db->exec("PRAGMA user_version = 99").ok());
    }
    const std::string before = file_bytes(path);
    REQUIRE(before.size() > 0);

    auto db = open_store(path);
    REQUIRE_FALSE(db.ok());
    INFO(db.error().message);
    CHECK(db.error().message.find("schema version 99 is newer") != std::string::npos);
    CHECK(db.error().message.find(path) != std::string::npos);
    CHECK(file_bytes(path) == before);
}

TEST_CASE("store: a file that is not a SQLite database is refused and left untouched") {
    TempDir dir;
    const std::string path = dir.file("notes.db");
    std::string content;
    for (int i = 0; i < 200; ++i)
        content += "this is not a database, line " + std::to_string(i) + "\n";
    std::ofstream(path, std::ios::binary) << content;

    auto db = open_store(path);
    REQUIRE_FALSE(db.ok());
    INFO(db.error().message);
    CHECK(db.error().message.find("not a SQLite database") != std::string::npos);
    CHECK(file_bytes(path) == content);
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));

    // A SQLite header followed by garbage: SQLite itself notices.
    std::string fake = std::string("SQLite format 3", 16) + std::string(4096, '\x7f');
    std::ofstream(path, std::ios::binary | std::ios::trunc) << fake;
    auto damaged = open_store(path);
    REQUIRE_FALSE(damaged.ok());
    INFO(damaged.error().message);
    CHECK(damaged.error().message.find("not a SQLite database") != std::string::npos);
    CHECK(file_bytes(path) == fake);
}

TEST_CASE("store: another application's SQLite database is refused and left untouched") {
    TempDir dir;
    const std::string path = dir.file("other.db");
    {
        auto db = Database::open(path, Schema{0x0bad, {{1, "theirs", "CREATE TABLE t (x)"}}});
        REQUIRE(db.ok());
    }
    const std::string before = file_bytes(path);
    auto db = open_store(path);
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().message.find("another application") != std::string::npos);
    CHECK(file_bytes(path) == before);
}

TEST_CASE("store: a symbolic link is refused, and so is a directory") {
    TempDir dir;
    const std::string real = dir.file("real.db");
    REQUIRE(open_store(real).ok());
    const std::string before = file_bytes(real);
    const std::string link = dir.file("link.db");
    REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);

    auto db = open_store(link);
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().message.find("symbolic link") != std::string::npos);
    CHECK(file_bytes(real) == before);

    // A dangling link is not followed to create its target either.
    const std::string dangling = dir.file("dangling.db");
    REQUIRE(::symlink(dir.file("nowhere.db").c_str(), dangling.c_str()) == 0);
    CHECK_FALSE(open_store(dangling).ok());
    CHECK_FALSE(std::filesystem::exists(dir.file("nowhere.db")));

    auto directory = open_store(dir.path);
    REQUIRE_FALSE(directory.ok());
    CHECK(directory.error().message.find("not a regular file") != std::string::npos);
}

TEST_CASE("store: SQL errors name the file and carry SQLite's message") {
    TempDir dir;
    const std::string path = dir.file("policer.db");
    auto db = open_store(path);
    REQUIRE(db.ok());
    auto bad = db->prepare("SELECT * FROM no_such_table");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find(path) == 0);
    CHECK(bad.error().message.find("no such table: no_such_table") != std::string::npos);

    // A constraint failure at step().
    auto insert = db->prepare("INSERT INTO alerts (time_ms, rule, action, summary, event) "
                              "VALUES (?, ?, ?, ?, NULL)");
    REQUIRE(insert.ok());
    REQUIRE(insert->bind_all(1, "r", "alert", "s").ok());
    auto run = insert->run();
    REQUIRE_FALSE(run.ok());
    CHECK(run.error().message.find("NOT NULL constraint failed: alerts.event") !=
          std::string::npos);
}

TEST_CASE("store: a transaction not committed is rolled back") {
    TempDir dir;
    auto db = open_store(dir.file("policer.db"));
    REQUIRE(db.ok());
    {
        auto tx = Transaction::begin(*db);
        REQUIRE(tx.ok());
        REQUIRE(db->exec("INSERT INTO alerts (time_ms, rule, action, summary, event) "
                         "VALUES (1, 'r', 'alert', 's', '{}')")
                    .ok());
    }
    CHECK_FALSE(db->in_transaction());
    CHECK(db->query_int("SELECT count(*) FROM alerts").value() == 0);
    {
        auto tx = Transaction::begin(*db);
        REQUIRE(tx.ok());
        REQUIRE(db->exec("INSERT INTO alerts (time_ms, rule, action, summary, event) "
                         "VALUES (1, 'r', 'alert', 's', '{}')")
                    .ok());
        REQUIRE(tx->commit().ok());
    }
    CHECK(db->query_int("SELECT count(*) FROM alerts").value() == 1);
}

TEST_CASE("store: a read-only connection reads, never writes, and creates nothing") {
    TempDir dir;
    const std::string path = dir.file("policer.db");
    OpenOptions read_only;
    read_only.read_only = true;
    auto missing = open_store(path, read_only);
    REQUIRE_FALSE(missing.ok());
    CHECK_FALSE(std::filesystem::exists(path));

    auto writer = open_store(path);
    REQUIRE(writer.ok());
    REQUIRE(writer
                ->exec("INSERT INTO alerts (time_ms, rule, action, summary, event) "
                       "VALUES (1, 'r', 'alert', 's', '{}')")
                .ok());
    auto reader = open_store(path, read_only);
    REQUIRE_MESSAGE(reader.ok(), why(reader));
    CHECK(reader->query_int("SELECT count(*) FROM alerts").value() == 1);
    auto write = reader->exec("DELETE FROM alerts");
    REQUIRE_FALSE(write.ok());
    CHECK(write.error().message.find("readonly") != std::string::npos);
    CHECK(writer->query_int("SELECT count(*) FROM alerts").value() == 1);

    // A schema older than this build's: the daemon migrates, a reader does not.
    const std::string old_path = dir.file("old.db");
    REQUIRE(Database::open(old_path, Schema{kApplicationId, {}}).ok());
    auto old = open_store(old_path, read_only);
    REQUIRE_FALSE(old.ok());
    CHECK(old.error().message.find("older") != std::string::npos);
}
