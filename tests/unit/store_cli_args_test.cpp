// store_cli_args_test.cpp - the arguments of `policer flows`, `policer rule test` and
// `policer top`: times (--since 24h, ISO 8601 with and without a zone) and --where conditions
// (three arguments or one, checked against the flow columns with suggestions).
#include "cli/store_args.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace {

using policer::cli::local_time_text;
using policer::cli::parse_duration_ms;
using policer::cli::parse_time;
using policer::cli::take_where_args;
using policer::store::FilterOp;

constexpr int64_t kNow = 1795526401000; // 2026-11-24T13:20:01Z
constexpr int64_t kHour = 3600 * 1000;

// Sets TZ for the life of the object (local times in these tests are in a known zone).
struct TimeZone {
    explicit TimeZone(const char *tz) {
        const char *old = std::getenv("TZ");
        if (old) saved = old;
        setenv("TZ", tz, 1);
        tzset();
    }
    ~TimeZone() {
        if (saved)
            setenv("TZ", saved->c_str(), 1);
        else
            unsetenv("TZ");
        tzset();
    }
    std::optional<std::string> saved;
};

std::string error_of(const policer::Result<int64_t> &r) {
    return r.ok() ? std::string("(no error)") : r.error().message;
}

} // namespace

TEST_CASE("store CLI: --since durations count back from now") {
    CHECK(parse_time("1h", kNow).value() == kNow - kHour);
    CHECK(parse_time("24h", kNow).value() == kNow - 24 * kHour);
    CHECK(parse_time("7d", kNow).value() == kNow - 7 * 24 * kHour);
    CHECK(parse_time("2w", kNow).value() == kNow - 14 * 24 * kHour);
    CHECK(parse_time("90s", kNow).value() == kNow - 90 * 1000);
    CHECK(parse_time("15m", kNow).value() == kNow - 15 * 60 * 1000);
    CHECK(parse_time("1h30m", kNow).value() == kNow - kHour - 30 * 60 * 1000);
    CHECK(parse_time(" 500ms ", kNow).value() == kNow - 500);
    CHECK(parse_time("now", kNow).value() == kNow);
    CHECK(parse_duration_ms("2s").value() == 2000);
}

TEST_CASE("store CLI: a time that is not one is refused, with the forms that are") {
    for (const char *bad : {"", "1", "h", "1x", "-1h", "1.5h", "yesterday", "1h 30"}) {
        auto r = parse_time(bad, kNow);
        INFO(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("24h") != std::string::npos);
    }
    CHECK(error_of(parse_time("1", kNow)).find("needs a unit") != std::string::npos);
    CHECK(error_of(parse_time("3y", kNow)).find("unknown unit \"y\"") != std::string::npos);
    CHECK(error_of(parse_time("99999999999d", kNow)).find("too long ago") != std::string::npos);
}

TEST_CASE("store CLI: ISO 8601 times, with a zone and in local time") {
    CHECK(parse_time("2026-11-24T13:20:01Z", kNow).value() == kNow);
    CHECK(parse_time("2026-11-24t13:20:01z", kNow).value() == kNow);
    CHECK(parse_time("2026-11-24T13:20:01.250Z", kNow).value() == kNow + 250);
    CHECK(parse_time("2026-11-24T13:20:01.123456789Z", kNow).value() == kNow + 123);
    CHECK(parse_time("2026-11-24T15:20:01+02:00", kNow).value() == kNow);
    CHECK(parse_time("2026-11-24T08:20:01-0500", kNow).value() == kNow);
    CHECK(parse_time("2024-02-29T00:00:00Z", kNow).value() == 1709164800000);

    {
        TimeZone utc("UTC0");
        CHECK(parse_time("2026-11-24 13:20:01", kNow).value() == kNow);
        CHECK(parse_time("2026-11-24T13:20", kNow).value() == kNow - 1000);
        CHECK(parse_time("2026-11-24", kNow).value() == kNow - (13 * kHour + 20 * 60000 + 1000));
        CHECK(local_time_text(kNow) == "2026-11-24 13:20:01");
    }
    {
        TimeZone plus_two("XXX-2"); // POSIX: two hours east of UTC
        CHECK(parse_time("2026-11-24T15:20:01", kNow).value() == kNow);
        CHECK(local_time_text(kNow) == "2026-11-24 15:20:01");
    }
}

TEST_CASE("store CLI: impossible dates and malformed times are refused") {
    for (const char *bad :
         {"2026-02-29", "2026-13-01", "2026-00-10", "2026-11-31", "2026-11-24T24:00",
          "2026-11-24T13:60", "2026-11-24T13:20:61Z", "2026-11-24T13", "2026-11-24X13:20",
          "2026-11-24T13:20:01+2", "2026-11-24T13:20:01Zjunk", "2026-11-24T13:20:01.Z", "2026-1-24",
          "20261124"}) {
        INFO(bad);
        CHECK_FALSE(parse_time(bad, kNow).ok());
    }
    CHECK(error_of(parse_time("2026-02-29", kNow)).find("no day 29") != std::string::npos);
}

TEST_CASE("store CLI: --where takes three arguments or one, and leaves the others") {
    std::vector<std::string> args = {"flows",
                                     "--where",
                                     "dst_port",
                                     "==",
                                     "22",
                                     "--json",
                                     "--where",
                                     "exe glob */ssh",
                                     "--limit",
                                     "5",
                                     "--where=user_name!=root",
                                     "--where",
                                     "src_ip",
                                     "glob",
                                     "10.* 2"};
    auto filters = take_where_args(args);
    REQUIRE_MESSAGE(filters.ok(), filters.error().message);
    CHECK(args == std::vector<std::string>{"flows", "--json", "--limit", "5"});
    REQUIRE(filters->size() == 4);
    CHECK((*filters)[0].column == "dst_port");
    CHECK((*filters)[0].op == FilterOp::Eq);
    CHECK((*filters)[0].value == "22");
    CHECK((*filters)[1].column == "exe");
    CHECK((*filters)[1].op == FilterOp::Glob);
    CHECK((*filters)[1].value == "*/ssh");
    CHECK((*filters)[2].column == "user_name");
    CHECK((*filters)[2].op == FilterOp::Ne);
    CHECK((*filters)[2].value == "root");
    CHECK((*filters)[3].column == "src_ip");
    CHECK((*filters)[3].value == "10.* 2"); // the value as given, spaces and all

    // The one-argument form, whatever follows it.
    std::vector<std::string> one = {"flows", "--where", "bytes_in>=1000", "--json"};
    auto f = take_where_args(one);
    REQUIRE(f.ok());
    REQUIRE(f->size() == 1);
    CHECK((*f)[0].op == FilterOp::Ge);
    CHECK((*f)[0].value == "1000");
    CHECK(one == std::vector<std::string>{"flows", "--json"});
}

TEST_CASE("store CLI: --where mistakes are explained, with the column meant") {
    auto error = [](std::vector<std::string> args) {
        auto r = take_where_args(args);
        return r.ok() ? std::string("(no error)") : r.error().message;
    };
    CHECK(error({"flows", "--where"}).find("--where FIELD OP VALUE") != std::string::npos);
    CHECK(error({"flows", "--where", "dst_port"}).find("expected COLUMN OP VALUE") !=
          std::string::npos);
    CHECK(error({"flows", "--where", "dst_prot", "==", "22"}).find("did you mean \"dst_port\"") !=
          std::string::npos);
    // Rule-language spellings point to the column.
    CHECK(
        error({"flows", "--where", "user.name", "==", "root"}).find("did you mean \"user_name\"") !=
        std::string::npos);
    const std::string unknown = error({"flows", "--where", "colour", "==", "red"});
    CHECK(unknown.find("unknown column \"colour\"") != std::string::npos);
    CHECK(unknown.find("bytes_out") != std::string::npos); // the columns are listed
    CHECK(error({"flows", "--where", "dst_port", "==", "ssh"}).find("not an integer") !=
          std::string::npos);
    CHECK(error({"flows", "--where", "dst_port", "glob", "2*"}).find("glob needs a text") !=
          std::string::npos);
    // "~=" is no operator: "exe" alone is taken as the condition, and is not one.
    CHECK(error({"flows", "--where", "exe", "~=", "x"}).find("expected COLUMN OP VALUE") !=
          std::string::npos);
}
