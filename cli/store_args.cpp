// store_args.cpp - see store_args.h.
#include "cli/store_args.h"

#include "rules/source.h"
#include "store/flow_store.h"

#include "common/text.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <utility>

namespace policer::cli {
namespace {

constexpr int64_t kSecondMs = 1000;
constexpr int64_t kMaxDurationMs = int64_t{100} * 366 * 24 * 3600 * kSecondMs; // a century

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Reads exactly `n` digits at `pos`.
bool fixed_digits(std::string_view s, size_t &pos, size_t n, int &out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!is_digit(s[pos + i])) return false;
        v = v * 10 + (s[pos + i] - '0');
    }
    pos += n;
    out = v;
    return true;
}

bool leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1];
}

const char *const kTimeForms = "a duration before now (90s, 15m, 1h, 24h, 7d, 2w, 1h30m), "
                               "\"now\", or an ISO 8601 time (2026-11-24, 2026-11-24T13:20, "
                               "2026-11-24T13:20:01Z, 2026-11-24T13:20:01+02:00)";

Result<int64_t> parse_iso(std::string_view s) {
    auto bad = [&](const std::string &why) -> Error {
        return Error{"\"" + std::string(s) + "\": " + why + " (expected " + kTimeForms + ")"};
    };
    size_t pos = 0;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!fixed_digits(s, pos, 4, year) || pos >= s.size() || s[pos++] != '-' ||
        !fixed_digits(s, pos, 2, month) || pos >= s.size() || s[pos++] != '-' ||
        !fixed_digits(s, pos, 2, day))
        return bad("not a date YYYY-MM-DD");
    if (month < 1 || month > 12) return bad("no month " + std::to_string(month));
    if (day < 1 || day > days_in_month(year, month))
        return bad("no day " + std::to_string(day) + " in that month");

    int64_t fraction_ms = 0;
    if (pos < s.size()) {
        char sep = s[pos++];
        if (sep != 'T' && sep != 't' && sep != ' ') return bad("expected T between date and time");
        if (!fixed_digits(s, pos, 2, hour) || pos >= s.size() || s[pos++] != ':' ||
            !fixed_digits(s, pos, 2, minute))
            return bad("not a time HH:MM[:SS]");
        if (pos < s.size() && s[pos] == ':') {
            ++pos;
            if (!fixed_digits(s, pos, 2, second)) return bad("not a time HH:MM:SS");
            if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
                ++pos;
                size_t digits = 0;
                int64_t scale = 100;
                while (pos < s.size() && is_digit(s[pos])) {
                    if (digits < 3) fraction_ms += (s[pos] - '0') * scale;
                    scale /= 10;
                    ++digits;
                    ++pos;
                }
                if (digits == 0 || digits > 9)
                    return bad("a fraction of a second needs 1 to 9 digits");
            }
        }
        if (hour > 23 || minute > 59 || second > 59) return bad("no such time of day");
    }

    tm t{};
    t.tm_year = year - 1900;
    t.tm_mon = month - 1;
    t.tm_mday = day;
    t.tm_hour = hour;
    t.tm_min = minute;
    t.tm_sec = second;
    if (pos == s.size()) { // local time
        t.tm_isdst = -1;
        time_t secs = mktime(&t);
        if (secs == static_cast<time_t>(-1)) return bad("not a representable local time");
        return static_cast<int64_t>(secs) * kSecondMs + fraction_ms;
    }

    int64_t offset_ms = 0;
    const char zone = s[pos++];
    if (zone == 'Z' || zone == 'z') {
        if (pos != s.size()) return bad("unexpected text after Z");
    } else if (zone == '+' || zone == '-') {
        int oh = 0, om = 0;
        if (!fixed_digits(s, pos, 2, oh)) return bad("a zone offset is +HH:MM");
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (!fixed_digits(s, pos, 2, om) || pos != s.size() || oh > 23 || om > 59)
            return bad("a zone offset is +HH:MM");
        offset_ms = (int64_t{oh} * 3600 + int64_t{om} * 60) * kSecondMs;
        if (zone == '-') offset_ms = -offset_ms;
    } else {
        return bad("unexpected text after the time");
    }
    time_t secs = timegm(&t);
    if (secs == static_cast<time_t>(-1)) return bad("not a representable time");
    return static_cast<int64_t>(secs) * kSecondMs + fraction_ms - offset_ms;
}

std::vector<std::string> column_names() {
    std::vector<std::string> names;
    for (const store::Column &c : store::flow_columns())
        names.emplace_back(c.name);
    return names;
}

std::string joined(const std::vector<std::string> &names) {
    std::string out;
    for (const auto &n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}

} // namespace

Result<int64_t> parse_duration_ms(std::string_view text) {
    std::string_view s = trim(text);
    if (s.empty()) return Error{"empty duration"};
    int64_t total = 0;
    size_t pos = 0;
    while (pos < s.size()) {
        if (!is_digit(s[pos]))
            return Error{"\"" + std::string(s) + "\" is not a duration (e.g. 90s, 15m, 24h, 7d)"};
        int64_t n = 0;
        while (pos < s.size() && is_digit(s[pos])) {
            n = n * 10 + (s[pos++] - '0');
            if (n > kMaxDurationMs) return Error{"\"" + std::string(s) + "\" is too long ago"};
        }
        size_t unit_start = pos;
        while (pos < s.size() && std::isalpha(static_cast<unsigned char>(s[pos])))
            ++pos;
        std::string_view unit = s.substr(unit_start, pos - unit_start);
        static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
            {"ms", 1},
            {"s", kSecondMs},
            {"m", 60 * kSecondMs},
            {"h", 3600 * kSecondMs},
            {"d", 24 * 3600 * kSecondMs},
            {"w", 7 * 24 * 3600 * kSecondMs},
        };
        int64_t scale = 0;
        for (const auto &[name, ms] : kUnits)
            if (unit == name) scale = ms;
        if (scale == 0)
            return Error{"\"" + std::string(s) + "\": " +
                         (unit.empty() ? std::string("a number needs a unit")
                                       : "unknown unit \"" + std::string(unit) + "\"") +
                         " (s, m, h, d or w: 90s, 15m, 24h, 7d)"};
        if (n > kMaxDurationMs / scale || total + n * scale > kMaxDurationMs)
            return Error{"\"" + std::string(s) + "\" is too long ago"};
        total += n * scale;
    }
    return total;
}

Result<int64_t> parse_time(std::string_view text, int64_t now_ms) {
    std::string_view s = trim(text);
    if (s.empty()) return Error{std::string("empty time (expected ") + kTimeForms + ")"};
    if (s == "now") return now_ms;
    // An ISO date starts with a four-digit year and a dash; a duration never has a dash.
    if (s.size() >= 5 && is_digit(s[0]) && s[4] == '-') return parse_iso(s);
    auto d = parse_duration_ms(s);
    if (!d) return Error{d.error().message + "; a time is " + kTimeForms};
    return now_ms - *d;
}

Result<std::vector<store::Filter>> take_where_args(std::vector<std::string> &args) {
    std::vector<store::Filter> filters;
    for (size_t i = 0; i < args.size();) {
        const std::string &a = args[i];
        if (a.rfind("--where=", 0) == 0) {
            auto f = store::parse_filter(std::string_view(a).substr(8));
            if (!f) return Error{"--where: " + f.error().message};
            filters.push_back(std::move(*f));
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        if (a != "--where") {
            ++i;
            continue;
        }
        if (i + 1 >= args.size())
            return Error{"--where needs a condition: --where FIELD OP VALUE (e.g. --where "
                         "dst_port == 22)"};
        size_t used = 2;
        if (i + 3 < args.size() && store::parse_op(args[i + 2]).ok()) {
            filters.push_back(
                store::Filter{args[i + 1], store::parse_op(args[i + 2]).value(), args[i + 3]});
            used = 4;
        } else {
            auto f = store::parse_filter(args[i + 1]);
            if (!f) return Error{"--where: " + f.error().message};
            filters.push_back(std::move(*f));
        }
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                   args.begin() + static_cast<std::ptrdiff_t>(i + used));
    }
    if (auto checked = check_flow_filters(filters); !checked) return checked.error();
    return filters;
}

Status check_flow_filters(const std::vector<store::Filter> &filters) {
    const auto &columns = store::flow_columns();
    for (const store::Filter &f : filters) {
        bool known = std::any_of(columns.begin(), columns.end(),
                                 [&](const store::Column &c) { return c.name == f.column; });
        if (known) continue;
        const auto names = column_names();
        std::string near = rules::closest(f.column, names);
        if (near.empty()) {
            // Rule-language spellings (dst.port, user.name) name the same things.
            std::string underscored = f.column;
            std::replace(underscored.begin(), underscored.end(), '.', '_');
            if (std::find(names.begin(), names.end(), underscored) != names.end())
                near = underscored;
        }
        return Error{"--where: unknown column \"" + f.column + "\"" +
                     (near.empty() ? "" : " (did you mean \"" + near + "\"?)") +
                     "; the columns are " + joined(names)};
    }
    auto where = store::build_where(filters, columns, "end_ms", std::nullopt, std::nullopt);
    if (!where) return Error{"--where: " + where.error().message};
    return Ok{};
}

std::string local_time_text(int64_t unix_ms) {
    time_t secs = static_cast<time_t>(unix_ms / kSecondMs);
    tm local{};
    localtime_r(&secs, &local);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &local);
    return buf;
}

} // namespace policer::cli
