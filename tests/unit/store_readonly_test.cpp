// store_readonly_test.cpp - the read-only store as the CLI uses it (`policer flows`,
// `policer rule test`): a member of the policer group may read the database but not write it
// nor create files beside it, also when policerd has stopped.
#include "store/flow_store.h"
#include "store/schema.h"

#include "store_test_support.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace {

using namespace policer::store;
using store_test::make_flow;
using store_test::TempDir;
using store_test::why;

constexpr uid_t kNobody = 65534;

// Opens `path` read-only and counts its flows: 0..N, or -1 (the reason on stderr).
int64_t count_read_only(const std::string &path) {
    OpenOptions options;
    options.read_only = true;
    auto db = open_store(path, options);
    if (!db) {
        std::fprintf(stderr, "read-only open: %s\n", db.error().message.c_str());
        return -1;
    }
    auto n = FlowStore(*db).count();
    if (!n) {
        std::fprintf(stderr, "read-only count: %s\n", n.error().message.c_str());
        return -1;
    }
    return *n;
}

// count_read_only() as a user who may read the files but write nothing there: nobody when
// the test runs as root (root may write anywhere), else this user with the directory made
// read-only.
int64_t count_as_reader(const TempDir &dir, const std::string &path) {
    namespace fs = std::filesystem;
    for (const auto &entry : fs::directory_iterator(dir.path))
        fs::permissions(entry.path(), fs::perms(0644));
    if (getuid() != 0) {
        fs::permissions(dir.path, fs::perms(0555));
        int64_t n = count_read_only(path);
        fs::permissions(dir.path, fs::perms(0755));
        return n;
    }
    fs::permissions(dir.path, fs::perms(0755));
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (setgid(kNobody) != 0 || setuid(kNobody) != 0) _exit(100);
        int64_t n = count_read_only(path);
        _exit(n < 0 ? 101 : static_cast<int>(std::min<int64_t>(n, 99)));
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    REQUIRE_MESSAGE(WEXITSTATUS(status) != 100, "cannot become nobody");
    return WEXITSTATUS(status) == 101 ? -1 : WEXITSTATUS(status);
}

} // namespace

TEST_CASE("store: a reader that may not write beside the database reads it after the writer "
          "closed") {
    TempDir dir;
    const std::string path = dir.file("policer.db");
    {
        auto writer = open_store(path);
        REQUIRE_MESSAGE(writer.ok(), why(writer));
        FlowStore flows(*writer);
        for (int64_t n = 0; n < 3; ++n)
            REQUIRE(flows.insert(make_flow(n, 1767225600000 + n)).ok());
    } // the last connection: as when policerd stops

    // SQLite opens a WAL database read-only only if its -wal and -shm files exist (or the
    // reader can create them): the writer leaves them.
    CHECK(std::filesystem::exists(path + "-wal"));
    CHECK(std::filesystem::exists(path + "-shm"));
    const std::string before = store_test::file_bytes(path);
    CHECK(count_as_reader(dir, path) == 3);
    CHECK(store_test::file_bytes(path) == before); // read, not written

    // The writer opens it again as before, and a reader sees what it adds.
    {
        auto writer = open_store(path);
        REQUIRE_MESSAGE(writer.ok(), why(writer));
        REQUIRE(FlowStore(*writer).insert(make_flow(3, 1767225600003)).ok());
        CHECK(count_as_reader(dir, path) == 4);
    }
    CHECK(count_as_reader(dir, path) == 4);
}
