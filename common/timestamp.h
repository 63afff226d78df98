// timestamp.h - the one timestamp format of policer's output: RFC 3339 UTC with microseconds.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace policer {

// "2026-11-24T13:20:01.123456Z" for nanoseconds since the Unix epoch.
inline std::string format_timestamp(uint64_t unix_ns) {
    time_t secs = static_cast<time_t>(unix_ns / 1000000000ull);
    unsigned micros = static_cast<unsigned>((unix_ns % 1000000000ull) / 1000);
    tm utc{};
    gmtime_r(&secs, &utc);
    char buf[48];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(buf + n, sizeof(buf) - n, ".%06uZ", micros);
    return buf;
}

} // namespace policer
