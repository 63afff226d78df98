// config_file_test.cpp - policerd's --config file: the format, the errors a user sees (with
// file:line), the ownership and size checks on a real file, and how the command line
// overrides the file through parse_options.
#include "policer/config_file.h"
#include "policer/options.h"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

using namespace policer::daemon;

const std::vector<ConfigKey> kKeys = {{"rules", false, true},
                                      {"db", false, false},
                                      {"report-only", true, false},
                                      {"max-flows", false, false},
                                      {"log-level", false, false}};

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

// A config file of its own in a fresh directory, removed at the end of the test.
class TempConfig {
public:
    explicit TempConfig(const std::string &text, mode_t mode = 0644) {
        char tmpl[] = "/tmp/pl-config-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/policer.conf";
        std::ofstream(path_) << text;
        REQUIRE(chmod(path_.c_str(), mode) == 0);
    }
    ~TempConfig() {
        std::remove(path_.c_str());
        rmdir(dir_.c_str());
    }
    const std::string &path() const { return path_; }

private:
    std::string dir_, path_;
};

policer::Result<Command> parse(std::initializer_list<std::string> args) {
    std::vector<std::string> owned{"policerd"};
    owned.insert(owned.end(), args.begin(), args.end());
    std::vector<const char *> argv;
    for (const auto &a : owned)
        argv.push_back(a.c_str());
    return parse_options(static_cast<int>(argv.size()), argv.data());
}

} // namespace

TEST_CASE("config file: key = value lines, comments, blank lines and repeated rules") {
    auto s = parse_config("# policerd\n"
                          "\n"
                          "rules = /etc/policer/rules.d\n"
                          "  rules=/etc/policer/extra.rules   # a second rule path\n"
                          "db = /var/lib/policer/p#1.db\n"
                          "report-only = true\r\n"
                          "--max-flows = 1024\n",
                          "p.conf", kKeys);
    REQUIRE(s);
    REQUIRE(s->size() == 5);
    CHECK((*s)[0].key == "rules");
    CHECK((*s)[0].value == "/etc/policer/rules.d");
    CHECK((*s)[0].where() == "p.conf:3");
    CHECK((*s)[1].value == "/etc/policer/extra.rules");
    CHECK((*s)[2].value == "/var/lib/policer/p#1.db"); // '#' not after white space: kept
    CHECK((*s)[3].flag);
    CHECK((*s)[3].value == "true");
    CHECK((*s)[4].key == "max-flows");
    CHECK((*s)[4].where() == "p.conf:7");
}

TEST_CASE("config file: errors name the file and line") {
    struct Case {
        const char *text;
        const char *expected;
    } cases[] = {
        {"db /var/lib/x.db\n", "p.conf:1: expected 'key = value'"},
        {"\n\nmax-flow = 1\n", "p.conf:3: unknown key 'max-flow' (did you mean 'max-flows'?)"},
        {"zzzzzz = 1\n", "p.conf:1: unknown key 'zzzzzz'"},
        {"db =\n", "p.conf:1: db: no value"},
        {"report-only = yes\n", "p.conf:1: report-only: 'yes' is not true or false"},
        {"db = /a\ndb = /b\n", "p.conf:2: db is already set on line 1"},
        {"Max Flows = 1\n", "p.conf:1: 'Max Flows' is not an option name"},
        {"db = /a\x1b[2J\n", "p.conf:1: control character"},
    };
    for (const auto &c : cases) {
        auto s = parse_config(c.text, "p.conf", kKeys);
        REQUIRE_FALSE(s);
        INFO(s.error().message);
        CHECK(contains(s.error().message, c.expected));
    }
    // A NUL in the middle: given as a full std::string, not cut by a C string.
    auto nul = parse_config(std::string("db = /a\0b\n", 10), "p.conf", kKeys);
    REQUIRE_FALSE(nul);
    CHECK(contains(nul.error().message, "p.conf:1: control character"));
}

TEST_CASE("config file: a real file is read, and unsafe ownership, mode and size are refused") {
    TempConfig good("db = /tmp/x.db\n");
    auto s = read_config(good.path(), kKeys);
    REQUIRE(s);
    CHECK(s->at(0).where() == good.path() + ":1");

    TempConfig writable("db = /tmp/x.db\n", 0666);
    auto w = read_config(writable.path(), kKeys);
    REQUIRE_FALSE(w);
    CHECK(contains(w.error().message, "writable by its group or by others"));

    TempConfig big(std::string(kMaxConfigBytes + 1, '#'));
    auto b = read_config(big.path(), kKeys);
    REQUIRE_FALSE(b);
    CHECK(contains(b.error().message, "larger than"));

    auto missing = read_config("/nonexistent/policer.conf", kKeys);
    REQUIRE_FALSE(missing);
    CHECK(contains(missing.error().message, "cannot open the config file /nonexistent"));

    auto dir = read_config("/tmp", kKeys);
    REQUIRE_FALSE(dir);
    CHECK(contains(dir.error().message, "not a regular file"));
}

TEST_CASE("--config: the file sets options, the command line overrides it") {
    TempConfig conf("# comment\n"
                    "rules = /etc/policer/rules.d\n"
                    "rules = /srv/more.rules\n"
                    "db = none\n"
                    "max-flows = 4K\n"
                    "report-only = true\n"
                    "no-veth-tc = false\n"
                    "log-level = warn\n");
    auto from_file = parse({"--config", conf.path()});
    REQUIRE(from_file);
    const Options &o = from_file->options;
    CHECK(from_file->config_file == conf.path());
    CHECK(o.rules == std::vector<std::string>{"/etc/policer/rules.d", "/srv/more.rules"});
    CHECK(o.db_path.empty());
    CHECK(o.max_flows == 4096);
    CHECK(o.report_only);
    CHECK(o.veth_tc); // false: as if absent
    CHECK(o.log_level == "warn");

    // The command line's --rules replaces the file's, it does not add to them.
    auto overridden = parse({"--log-level", "debug", "--config=" + conf.path(), "--rules", "/x"});
    REQUIRE(overridden);
    CHECK(overridden->options.rules == std::vector<std::string>{"/x"});
    CHECK(overridden->options.log_level == "debug");
    CHECK(overridden->options.max_flows == 4096);

    // No file unless one is named: the defaults.
    auto none = parse({});
    REQUIRE(none);
    CHECK(none->config_file.empty());
    CHECK(none->options.rules.empty());
    CHECK_FALSE(none->check_config);
    CHECK(parse({"--check-config"})->check_config);
}

TEST_CASE("--config: a bad value names the file and line, for any option of the table") {
    TempConfig conf("db = /var/lib/policer/policer.db\n"
                    "\n"
                    "udp-idle-timeout = soon\n");
    auto typed = parse({"--config", conf.path()});
    REQUIRE_FALSE(typed);
    INFO(typed.error().message);
    CHECK(contains(typed.error().message, conf.path() + ":3: udp-idle-timeout:"));

    TempConfig checked("retention-days = 0\n");
    auto range = parse({"--config", checked.path()});
    REQUIRE_FALSE(range);
    CHECK(range.error().message == checked.path() + ":1: --retention-days must be at least 1");

    // Given on the command line too: the command line's value is the one judged.
    CHECK(parse({"--config", checked.path(), "--retention-days", "7"}));

    // Options that ask for an action are not settings.
    TempConfig action("remove-enforcement = true\n");
    auto a = parse({"--config", action.path()});
    REQUIRE_FALSE(a);
    CHECK(contains(a.error().message, ":1: unknown key 'remove-enforcement'"));

    // --help answers even when the file is broken.
    auto help = parse({"--config", "/nonexistent.conf", "--help"});
    REQUIRE(help);
    CHECK(contains(help->print_and_exit, "--config"));
    CHECK(contains(help->print_and_exit, "--check-config"));
}
