// value.h - rule values, typed by the field they are compared with, and how they match.
#pragma once

#include "rules/field_catalogue.h"
#include "rules/source.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace policer::rules {

// An address or a CIDR prefix. IPv4 uses the first 4 bytes of addr.
struct IpPrefix {
    uint8_t family = 0; // 2 or 10
    std::array<uint8_t, 16> addr{};
    uint8_t len = 0; // prefix length; 32 or 128 for a single address

    bool contains(uint8_t fam, const uint8_t *a) const;
    std::string str() const;
};

struct Value {
    std::string str;         // String, Enum, StringSet; the pattern for glob
    uint64_t lo = 0, hi = 0; // Number, Port: the range [lo, hi]
    IpPrefix ip;             // Address
    std::string text;        // as written
    SourceLoc loc;
};

// Parses `text` as a value of `field`'s type. On error returns nullopt and sets `error` (and
// `suggestion` for near-miss enum words).
std::optional<Value> parse_value(const FieldDef &field, bool glob, const std::string &text,
                                 const SourceLoc &loc, std::string &error, std::string &suggestion);

// Parses an address text ("10.0.0.1", "fd00::1", "::ffff:10.0.0.1" as IPv4).
std::optional<IpPrefix> parse_address(std::string_view text);

// Shell-style pattern: '*' matches any run of characters (including '/' and '.'), '?' one.
bool glob_match(std::string_view pattern, std::string_view text);

} // namespace policer::rules
