// proc_reader_test.cpp - the /proc parsers on real-looking text, and ProcReader on a fixture
// tree and on this very process.
#include "enrich/proc_reader.h"

#include "temp_dir.h"

#include <doctest/doctest.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

using policer::enrich::parse_proc_cgroup_v2;
using policer::enrich::parse_proc_stat;
using policer::enrich::parse_proc_status_ids;
using policer::enrich::ProcReader;

// The fields after comm of a real /proc/PID/stat line (a shell, ppid 9606, starttime 405338).
const std::string kStatTail =
    " S 9606 9606 8539 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 405338 3133440 382 "
    "18446744073709551615 93910587670528 93910587690409 140730591264544 0 0 0 0 0 0 0 0 0 17 0 "
    "0 0 0 0 0 93910587706416 93910587708032 93910914277376 140730591267269 140730591267289 "
    "140730591267289 140730591268843 0\n";

const char kStatus[] = "Name:\tsshd\n"
                       "Umask:\t0022\n"
                       "State:\tS (sleeping)\n"
                       "Tgid:\t812\n"
                       "Ngid:\t0\n"
                       "Pid:\t812\n"
                       "PPid:\t1\n"
                       "TracerPid:\t0\n"
                       "Uid:\t1000\t0\t0\t0\n"
                       "Gid:\t1001\t27\t27\t27\n"
                       "FDSize:\t128\n"
                       "Groups:\t4 24 27 1001 \n"
                       "VmPeak:\t   15432 kB\n";

// All the bytes of a string literal but its terminating NUL: embedded NULs included.
template <size_t N>
std::string bytes(const char (&s)[N]) {
    return std::string(s, N - 1);
}

using unit_test::TempDir;

} // namespace

TEST_CASE("parse_proc_stat reads pid, comm, state, ppid and start time of a real stat line") {
    auto st = parse_proc_stat("9608 (bash)" + kStatTail);
    REQUIRE(st);
    CHECK(st->pid == 9608);
    CHECK(st->comm == "bash");
    CHECK(st->state == 'S');
    CHECK(st->ppid == 9606);
    CHECK(st->start_ticks == 405338);
}

TEST_CASE("parse_proc_stat keeps parentheses and spaces that are part of comm") {
    auto pam = parse_proc_stat("1301 (sd-pam)" + kStatTail);
    REQUIRE(pam);
    CHECK(pam->comm == "sd-pam");

    auto tricky = parse_proc_stat("42 (a) b (c)" + kStatTail);
    REQUIRE(tricky);
    CHECK(tricky->pid == 42);
    CHECK(tricky->comm == "a) b (c");
    CHECK(tricky->ppid == 9606);
    CHECK(tricky->start_ticks == 405338);

    auto fake_fields = parse_proc_stat("43 (x) S 1 1 1) S 7" + kStatTail);
    REQUIRE(fake_fields);
    CHECK(fake_fields->comm == "x) S 1 1 1");
    CHECK(fake_fields->ppid == 7);

    auto empty = parse_proc_stat("44 ()" + kStatTail);
    REQUIRE(empty);
    CHECK(empty->comm == "");
}

TEST_CASE("parse_proc_stat rejects short and garbled lines") {
    CHECK_FALSE(parse_proc_stat(""));
    CHECK_FALSE(parse_proc_stat("9608 (bash) S 9606 9606 8539 0 -1\n"));
    CHECK_FALSE(parse_proc_stat("9608 bash" + kStatTail));
    CHECK_FALSE(parse_proc_stat("abc (bash)" + kStatTail));
    CHECK_FALSE(parse_proc_stat("(bash)" + kStatTail));
    CHECK_FALSE(parse_proc_stat("9608 )bash(" + kStatTail));
    CHECK_FALSE(parse_proc_stat("9608 (bash) SS 9606" + kStatTail.substr(8)));
    CHECK_FALSE(parse_proc_stat("9608 (bash) S ppid" + kStatTail.substr(7)));
    // starttime (field 22) not a number
    std::string bad_start = "9608 (bash)" + kStatTail;
    bad_start.replace(bad_start.find("405338"), 6, "40x338");
    CHECK_FALSE(parse_proc_stat(bad_start));
}

TEST_CASE("parse_proc_status_ids reads real and effective ids from the Uid and Gid lines") {
    auto ids = parse_proc_status_ids(kStatus);
    REQUIRE(ids);
    CHECK(ids->uid == 1000);
    CHECK(ids->euid == 0);
    CHECK(ids->gid == 1001);
    CHECK(ids->egid == 27);

    auto nobody = parse_proc_status_ids("Uid:\t65534\t65534\t65534\t65534\n"
                                        "Gid:\t65534\t65534\t65534\t65534");
    REQUIRE(nobody);
    CHECK(nobody->uid == 65534);
    CHECK(nobody->egid == 65534);
}

TEST_CASE("parse_proc_status_ids gives nothing when a line is missing or unreadable") {
    CHECK_FALSE(parse_proc_status_ids(""));
    CHECK_FALSE(parse_proc_status_ids("Name:\tsshd\nUid:\t1000\t0\t0\t0\n"));
    CHECK_FALSE(parse_proc_status_ids("Name:\tsshd\nGid:\t1001\t27\t27\t27\n"));
    CHECK_FALSE(parse_proc_status_ids("Uid:\t1000\nGid:\t1001\t27\t27\t27\n"));
    CHECK_FALSE(parse_proc_status_ids("Uid:\tabc\t0\t0\t0\nGid:\t1001\t27\t27\t27\n"));
    CHECK_FALSE(parse_proc_status_ids("Uid:\t-1\t0\t0\t0\nGid:\t1001\t27\t27\t27\n"));
}

TEST_CASE("parse_proc_cgroup_v2 finds the unified hierarchy line") {
    const char hybrid[] = "12:memory:/user.slice/user-1000.slice\n"
                          "11:pids:/user.slice/user-1000.slice/session-2.scope\n"
                          "1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n"
                          "0::/user.slice/user-1000.slice/session-2.scope\n";
    CHECK(parse_proc_cgroup_v2(hybrid) == "/user.slice/user-1000.slice/session-2.scope");
    CHECK(parse_proc_cgroup_v2("0::/system.slice/nginx.service\n") ==
          "/system.slice/nginx.service");
    CHECK(parse_proc_cgroup_v2("0::/") == "/");
}

TEST_CASE("parse_proc_cgroup_v2 gives nothing without a cgroup v2 line") {
    CHECK_FALSE(parse_proc_cgroup_v2(""));
    CHECK_FALSE(parse_proc_cgroup_v2("12:memory:/user.slice\n1:name=systemd:/user.slice\n"));
}

TEST_CASE("ProcReader reads a process from a /proc tree") {
    TempDir root;
    root.write("4242/stat", "4242 (my (server))" + kStatTail);
    root.write("4242/status", kStatus);
    root.write("4242/cmdline", bytes("/usr/bin/python3\0-m\0http.server\0\0"
                                     "8000\0"));
    root.write("4242/cgroup", "0::/system.slice/web.service\n");
    std::filesystem::create_symlink("/usr/bin/python3.11", root.path + "/4242/exe");

    ProcReader reader(root.path);
    auto p = reader.read(4242, true);
    REQUIRE(p);
    CHECK(p->tgid == 4242);
    CHECK(p->ppid == 9606);
    CHECK(p->comm == "my (server)");
    CHECK(p->start_ns == 405338 * (1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK))));
    CHECK(p->start_ns == 405338 * reader.tick_ns());
    CHECK(p->ids.uid == 1000);
    CHECK(p->ids.euid == 0);
    CHECK(p->ids.gid == 1001);
    CHECK(p->ids.egid == 27);
    CHECK(p->exe == "/usr/bin/python3.11");
    CHECK(p->args == std::vector<std::string>{"/usr/bin/python3", "-m", "http.server", "", "8000"});
    CHECK(p->cgroup == "/system.slice/web.service");
}

TEST_CASE("ProcReader bounds the command line it reads") {
    TempDir root;
    root.write("7/stat", "7 (python3)" + kStatTail);
    root.write("7/status", kStatus);
    root.write("7/cmdline", bytes("python3\0-m\0http.server\0"));

    auto p = ProcReader(root.path, 10).read(7, true);
    REQUIRE(p);
    CHECK(p->args == std::vector<std::string>{"python3", "-m"});
}

TEST_CASE("ProcReader leaves out what it cannot read and fails without stat or status") {
    TempDir root;
    // A kernel thread: no exe link, empty cmdline, no cgroup file.
    root.write("2/stat", "2 (kthreadd)" + kStatTail);
    root.write("2/status", kStatus);
    root.write("2/cmdline", "");
    root.write("3/stat", "3 (no-status)" + kStatTail);
    root.write("4/status", kStatus);
    root.write("5/stat", "5 (garbled");
    root.write("5/status", kStatus);

    ProcReader reader(root.path);
    auto k = reader.read(2, true);
    REQUIRE(k);
    CHECK(k->comm == "kthreadd");
    CHECK(k->exe == "");
    CHECK(k->args.empty());
    CHECK(k->cgroup == "");

    CHECK_FALSE(reader.read(3, true));
    CHECK_FALSE(reader.read(4, true));
    CHECK_FALSE(reader.read(5, true));
    CHECK_FALSE(reader.read(6, true));
    CHECK_FALSE(ProcReader(root.path + "/missing").read(2, true));
}

TEST_CASE("ProcReader lists only the numeric entries of a /proc tree") {
    TempDir root;
    root.write("1/stat", "");
    root.write("315/stat", "");
    root.write("0/stat", "");
    root.write("self/stat", "");
    root.write("12ab/stat", "");
    root.write("sys/kernel", "");
    root.write("uptime", "");

    auto pids = ProcReader(root.path).list_pids();
    std::sort(pids.begin(), pids.end());
    CHECK(pids == std::vector<uint32_t>{1, 315});
    CHECK(ProcReader(root.path + "/missing").list_pids().empty());
}

TEST_CASE("ProcReader on the real /proc sees this test process as it is") {
    ProcReader reader("/proc");
    const uint32_t me = static_cast<uint32_t>(getpid());

    auto pids = reader.list_pids();
    CHECK(std::find(pids.begin(), pids.end(), me) != pids.end());

    auto p = reader.read(me, true);
    REQUIRE(p);
    CHECK(p->tgid == me);
    CHECK(p->ppid == static_cast<uint32_t>(getppid()));

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe));
    REQUIRE(n > 0);
    CHECK(p->exe == std::string(exe, static_cast<size_t>(n)));
    REQUIRE_FALSE(p->args.empty());
    CHECK(p->args[0] == program_invocation_name);
    CHECK(p->start_ns > 0);
    CHECK(p->ids.uid == getuid());
    CHECK(p->ids.euid == geteuid());
    CHECK(p->ids.gid == getgid());
    CHECK(p->ids.egid == getegid());
}
