// value.cpp - see value.h.
#include "rules/value.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace policer::rules {
namespace {

bool parse_uint(std::string_view s, uint64_t max, uint64_t &out) {
    if (s.empty() || s.size() > 20) return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size() && out <= max;
}

} // namespace

std::optional<IpPrefix> parse_address(std::string_view text) {
    IpPrefix p;
    std::string s(text);
    if (inet_pton(AF_INET, s.c_str(), p.addr.data()) == 1) {
        p.family = 2;
        p.len = 32;
        return p;
    }
    if (inet_pton(AF_INET6, s.c_str(), p.addr.data()) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(p.addr.data(), mapped, 12) == 0) { // IPv4 on an IPv6 socket
            std::memmove(p.addr.data(), p.addr.data() + 12, 4);
            std::memset(p.addr.data() + 4, 0, 12);
            p.family = 2;
            p.len = 32;
            return p;
        }
        p.family = 10;
        p.len = 128;
        return p;
    }
    return std::nullopt;
}

bool IpPrefix::contains(uint8_t fam, const uint8_t *a) const {
    if (fam != family) return false;
    const unsigned full = len / 8, rest = len % 8;
    if (std::memcmp(addr.data(), a, full) != 0) return false;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (addr[full] & mask) == (a[full] & mask);
}

std::string IpPrefix::str() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(family == 2 ? AF_INET : AF_INET6, addr.data(), buf, sizeof(buf));
    const unsigned max = family == 2 ? 32 : 128;
    return len == max ? std::string(buf) : std::string(buf) + "/" + std::to_string(len);
}

std::optional<Value> parse_value(const FieldDef &field, bool glob, const std::string &text,
                                 const SourceLoc &loc, std::string &error,
                                 std::string &suggestion) {
    Value v;
    v.text = text;
    v.loc = loc;
    switch (field.type) {
    case FieldType::String:
    case FieldType::StringSet:
        if (text.empty()) {
            error = "an empty value never matches " + std::string(field.name);
            return std::nullopt;
        }
        v.str = text;
        return v;
    case FieldType::Enum:
        for (const char *w : field.values)
            if (text == w) {
                v.str = text;
                return v;
            }
        {
            std::vector<std::string> words(field.values.begin(), field.values.end());
            std::string all;
            for (const auto &w : words)
                all += (all.empty() ? "" : ", ") + w;
            error = "'" + text + "' is not a value of " + field.name + " (" + all + ")";
            suggestion = closest(text, words);
        }
        return std::nullopt;
    case FieldType::Number:
    case FieldType::Port: {
        const uint64_t max = field.type == FieldType::Port ? 65535 : 4294967295ull;
        const char *what = field.type == FieldType::Port ? "a port (0-65535)" : "a number";
        size_t dash = text.find('-', 1);
        uint64_t lo = 0, hi = 0;
        bool ok = dash == std::string::npos
                      ? parse_uint(text, max, lo) && (hi = lo, true)
                      : parse_uint(std::string_view(text).substr(0, dash), max, lo) &&
                            parse_uint(std::string_view(text).substr(dash + 1), max, hi);
        if (!ok) {
            error = "'" + text + "' is not " + what + " or a range of them (like 1000-1999) for " +
                    field.name;
            return std::nullopt;
        }
        if (lo > hi) {
            error = "range " + text + " is empty: its start is above its end";
            return std::nullopt;
        }
        v.lo = lo;
        v.hi = hi;
        return v;
    }
    case FieldType::Address: {
        if (glob) {
            error = "addresses are matched with CIDR prefixes (dst.ip in 10.0.0.0/8), not glob";
            return std::nullopt;
        }
        size_t slash = text.find('/');
        auto ip = parse_address(std::string_view(text).substr(0, slash));
        if (!ip) {
            error =
                "'" + text + "' is not an IPv4 or IPv6 address or CIDR prefix for " + field.name;
            return std::nullopt;
        }
        if (slash != std::string::npos) {
            const uint64_t max = ip->family == 2 ? 32 : 128;
            uint64_t len = 0;
            if (!parse_uint(std::string_view(text).substr(slash + 1), max, len)) {
                error = "prefix length in '" + text + "' must be 0 to " + std::to_string(max);
                return std::nullopt;
            }
            IpPrefix net = *ip;
            net.len = static_cast<uint8_t>(len);
            // Clear the host bits; if any were set, the author likely meant the network.
            IpPrefix masked = net;
            for (unsigned b = static_cast<unsigned>(len); b < 128; ++b)
                masked.addr[b / 8] &= static_cast<uint8_t>(~(0x80 >> (b % 8)));
            if (masked.addr != net.addr) {
                error = "'" + text + "' has host bits set";
                suggestion = masked.str();
                return std::nullopt;
            }
            ip = masked;
        }
        v.ip = *ip;
        return v;
    }
    }
    return std::nullopt;
}

bool glob_match(std::string_view p, std::string_view t) {
    // Iterative with one backtrack point (the last '*'): linear in practice, never recursive.
    size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
    while (ti < t.size()) {
        if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
            ++pi;
            ++ti;
        } else if (pi < p.size() && p[pi] == '*') {
            star = pi++;
            mark = ti;
        } else if (star != std::string_view::npos) {
            pi = star + 1;
            ti = ++mark;
        } else {
            return false;
        }
    }
    while (pi < p.size() && p[pi] == '*')
        ++pi;
    return pi == p.size();
}

} // namespace policer::rules
