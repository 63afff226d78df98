// check_config_test.cpp - `policerd --check-config`, as an administrator runs it before a
// restart: a good configuration says OK; a rule error (file:line:col) or CURVE files policerd
// would refuse at start make it say no (exit 1); and nothing is loaded into the kernel.
#include "harness.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

using namespace pltest;

namespace {

bool contains(const std::string &text, const std::string &what) {
    return text.find(what) != std::string::npos;
}

void write(const std::string &path, const std::string &text, mode_t mode = 0644) {
    std::ofstream(path) << text;
    REQUIRE(chmod(path.c_str(), mode) == 0);
}

} // namespace

TEST_CASE(
    "policerd --check-config: OK for a good config, exit 1 with file:line:col for a rule error or "
    "CURVE files policerd would refuse, and nothing loaded") {
    TempDir dir;
    const std::string rules = dir.file("rules.d");
    REQUIRE(mkdir(rules.c_str(), 0755) == 0);
    write(rules + "/10-ssh.rules", "rule ssh-root-only {\n"
                                   "    when dst.port == 22 and not user.name == \"root\"\n"
                                   "    action reject\n"
                                   "}\n");
    const std::string pin_dir = "/sys/fs/bpf/pl-checkcfg-" + std::to_string(getpid());
    const std::string conf = dir.file("policer.conf");
    const std::string base = "rules = " + rules + "\ndb = none\npin-dir = " + pin_dir + "\n";
    write(conf, base);

    auto ok = run({Binaries::policerd(), "--check-config", "--config", conf});
    INFO(ok.out << ok.err);
    CHECK(ok.status == 0);
    CHECK(contains(ok.out, "OK: config " + conf));
    CHECK(contains(ok.out, "1 rule(s)"));

    // A rule error: exit 1, the file, line and column.
    write(rules + "/20-bad.rules", "rule broken {\n    when dst.prot == 22\n    action deny\n}\n");
    auto bad = run({Binaries::policerd(), "--check-config", "--config", conf});
    INFO(bad.out << bad.err);
    CHECK(bad.status == 1);
    CHECK(contains(bad.err, "20-bad.rules:2:10"));
    CHECK_FALSE(contains(bad.out, "OK"));
    REQUIRE(unlink((rules + "/20-bad.rules").c_str()) == 0);

    // The event stream's CURVE files: an empty allow-list fails closed, as at start.
    const std::string clients = dir.file("clients");
    REQUIRE(mkdir(clients.c_str(), 0755) == 0);
    auto keygen = run({Binaries::policer(), "keygen", "--dir", dir.path(), "policerd"});
    INFO(keygen.err);
    REQUIRE(keygen.status == 0);
    write(conf, base + "zmq-endpoint = ipc://" + dir.file("events.sock") + "\nzmq-curve-secret = " +
                    dir.file("policerd.cert_secret") + "\nzmq-curve-clients = " + clients + "\n");
    auto empty = run({Binaries::policerd(), "--check-config", "--config", conf});
    INFO(empty.out << empty.err);
    CHECK(empty.status == 1);
    CHECK(contains(empty.err, "zmq-curve-clients"));
    // With a subscriber's certificate in the allow-list, OK.
    REQUIRE(run({Binaries::policer(), "keygen", "--dir", clients, "siem"}).status == 0);
    auto curve_ok = run({Binaries::policerd(), "--check-config", "--config", conf});
    INFO(curve_ok.out << curve_ok.err);
    CHECK(curve_ok.status == 0);
    // A secret certificate others may read is refused.
    REQUIRE(chmod(dir.file("policerd.cert_secret").c_str(), 0644) == 0);
    auto exposed = run({Binaries::policerd(), "--check-config", "--config", conf});
    CHECK(exposed.status == 1);
    CHECK(contains(exposed.err, "zmq-curve-secret"));

    // Nothing was pinned or bound: --check-config never touches the kernel or the endpoint.
    struct stat st {};
    CHECK(stat(pin_dir.c_str(), &st) != 0);
    CHECK(stat(dir.file("events.sock").c_str(), &st) != 0);
}
