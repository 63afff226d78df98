// domain_cache_test.cpp - DomainCache: addresses labelled with the names they were looked up
// as, for TTL + grace, IPv4 found through IPv4-mapped IPv6, bounded with LRU eviction.
#include "policer/l7/domain_cache.h"

#include "policer/l7/dns_message.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using policer::l7::DnsMessage;
using policer::l7::DnsRecord;
using policer::l7::DomainCache;

namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr uint64_t kGrace = 30 * kSec;
constexpr uint64_t kT0 = 1000 * kSec;

const uint8_t kV4[4] = {192, 0, 2, 7};
const uint8_t kV4Other[4] = {198, 51, 100, 1};
const uint8_t kV4Mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
const uint8_t kV6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};

DnsRecord a_record(const std::string &name, const uint8_t *v4, uint32_t ttl) {
    DnsRecord r;
    r.name = name;
    r.type = 1;
    r.ttl = ttl;
    r.family = 2;
    std::memcpy(r.addr, v4, 4);
    return r;
}

DnsRecord aaaa_record(const std::string &name, const uint8_t *v6, uint32_t ttl) {
    DnsRecord r;
    r.name = name;
    r.type = 28;
    r.ttl = ttl;
    r.family = 10;
    std::memcpy(r.addr, v6, 16);
    return r;
}

// The IPv4 address 10.0.x.y.
std::vector<uint8_t> v4(uint16_t n) {
    return {10, 0, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
}

} // namespace

TEST_CASE("domains: capacity must be positive") {
    CHECK_THROWS_AS(DomainCache(0, kGrace), std::invalid_argument);
}

TEST_CASE("domains: learn and look up IPv4 and IPv6") {
    DomainCache c(16, kGrace);
    c.learn(2, kV4, "example.com", 60, kT0);
    c.learn(10, kV6, "v6.example", 60, kT0);
    CHECK(c.size() == 2);
    CHECK(c.lookup(2, kV4, kT0 + kSec) == std::optional<std::string>("example.com"));
    CHECK(c.lookup(10, kV6, kT0 + kSec) == std::optional<std::string>("v6.example"));
    CHECK_FALSE(c.lookup(2, kV4Other, kT0 + kSec).has_value());
    // The first 4 bytes of the IPv6 address are not an IPv4 address.
    CHECK_FALSE(c.lookup(2, kV6, kT0 + kSec).has_value());
    // Unknown families and empty names are ignored.
    c.learn(7, kV4Other, "x", 60, kT0);
    c.learn(2, kV4Other, "", 60, kT0);
    CHECK(c.size() == 2);
    CHECK_FALSE(c.lookup(7, kV4, kT0).has_value());
}

TEST_CASE("domains: an IPv4-mapped IPv6 address finds the IPv4 entry") {
    DomainCache c(16, kGrace);
    c.learn(2, kV4, "mapped.example", 60, kT0);
    CHECK(c.lookup(10, kV4Mapped, kT0) == std::optional<std::string>("mapped.example"));
    // And the other way round.
    DomainCache d(16, kGrace);
    d.learn(10, kV4Mapped, "mapped.example", 60, kT0);
    CHECK(d.lookup(2, kV4, kT0) == std::optional<std::string>("mapped.example"));
}

TEST_CASE("domains: entries expire after TTL + grace") {
    DomainCache c(16, kGrace);
    c.learn(2, kV4, "ttl.example", 60, kT0);
    const uint64_t end = kT0 + 60 * kSec + kGrace;
    CHECK(c.lookup(2, kV4, end - 1) == std::optional<std::string>("ttl.example"));
    CHECK(c.size() == 1);
    CHECK_FALSE(c.lookup(2, kV4, end + 1).has_value());
    CHECK(c.size() == 0); // dropped
    CHECK_FALSE(c.lookup(2, kV4, end - 1).has_value());

    // TTL 0: the grace period alone.
    c.learn(10, kV6, "zero.example", 0, kT0);
    CHECK(c.lookup(10, kV6, kT0 + kGrace - 1).has_value());
    CHECK_FALSE(c.lookup(10, kV6, kT0 + kGrace + 1).has_value());

    // The largest TTL and clock do not wrap around into the past.
    c.learn(2, kV4, "forever.example", 0xffffffffu, ~0ull - 5);
    CHECK(c.lookup(2, kV4, ~0ull - 1).has_value());
}

TEST_CASE("domains: a later answer replaces the name and renews the TTL") {
    DomainCache c(16, kGrace);
    c.learn(2, kV4, "first.example", 10, kT0);
    c.learn(2, kV4, "second.example", 100, kT0 + 5 * kSec);
    CHECK(c.size() == 1);
    CHECK(c.lookup(2, kV4, kT0 + 50 * kSec) == std::optional<std::string>("second.example"));
}

TEST_CASE("domains: the cache is bounded and forgets the least recently used address") {
    DomainCache c(3, kGrace);
    for (uint16_t i = 0; i < 3; ++i)
        c.learn(2, v4(i).data(), "n" + std::to_string(i), 60, kT0);
    CHECK(c.evictions() == 0);
    CHECK(c.lookup(2, v4(0).data(), kT0).has_value()); // 0 is now the most recently used
    c.learn(2, v4(3).data(), "n3", 60, kT0);           // evicts 1
    CHECK(c.size() == 3);
    CHECK(c.evictions() == 1);
    CHECK_FALSE(c.lookup(2, v4(1).data(), kT0).has_value());
    CHECK(c.lookup(2, v4(0).data(), kT0) == std::optional<std::string>("n0"));
    CHECK(c.lookup(2, v4(2).data(), kT0) == std::optional<std::string>("n2"));
    CHECK(c.lookup(2, v4(3).data(), kT0) == std::optional<std::string>("n3"));

    for (uint16_t i = 100; i < 200; ++i)
        c.learn(2, v4(i).data(), "bulk", 60, kT0);
    CHECK(c.size() == 3);
    CHECK(c.evictions() == 101);
}

TEST_CASE("domains: a parsed CNAME chain labels the address with the question name") {
    // www.example.com A -> CNAME cdn.example.net (ttl 300) -> A 192.0.2.7 (ttl 60), with
    // compression pointers, as a resolver sends it.
    const std::vector<uint8_t> wire = {
        0x42, 0x42, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03,
        0x77, 0x77, 0x77, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63,
        0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01,
        0x00, 0x00, 0x01, 0x2c, 0x00, 0x11, 0x03, 0x63, 0x64, 0x6e, 0x07, 0x65, 0x78,
        0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6e, 0x65, 0x74, 0x00, 0xc0, 0x2d, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x07};
    auto msg = policer::l7::parse_dns(wire.data(), wire.size());
    REQUIRE(msg.ok());
    REQUIRE(msg->answers.size() == 2);
    CHECK(msg->answers[1].name == "cdn.example.net");

    DomainCache c(16, kGrace);
    c.learn(*msg, kT0);
    CHECK(c.size() == 1); // the CNAME itself is no address
    CHECK(c.lookup(2, kV4, kT0) == std::optional<std::string>("www.example.com"));
    // The A record's TTL applies, not the CNAME's.
    CHECK(c.lookup(2, kV4, kT0 + 60 * kSec + kGrace - 1).has_value());
    CHECK_FALSE(c.lookup(2, kV4, kT0 + 60 * kSec + kGrace + 1).has_value());
}

TEST_CASE("domains: every A and AAAA answer of a response is learned") {
    DnsMessage m;
    m.response = true;
    m.question = "multi.example";
    m.answers.push_back(a_record("multi.example", kV4, 60));
    m.answers.push_back(a_record("multi.example", kV4Other, 60));
    m.answers.push_back(aaaa_record("multi.example", kV6, 60));
    DomainCache c(16, kGrace);
    c.learn(m, kT0);
    CHECK(c.size() == 3);
    CHECK(c.lookup(2, kV4Other, kT0) == std::optional<std::string>("multi.example"));
    CHECK(c.lookup(10, kV6, kT0) == std::optional<std::string>("multi.example"));

    // Without a question (mDNS announcements), the record's own name.
    DnsMessage announce;
    announce.response = true;
    announce.answers.push_back(a_record("printer.local", kV4, 120));
    c.learn(announce, kT0);
    CHECK(c.lookup(2, kV4, kT0) == std::optional<std::string>("printer.local"));
}

TEST_CASE("domains: queries and failed responses are not learned") {
    DnsMessage m;
    m.question = "ignored.example";
    m.answers.push_back(a_record("ignored.example", kV4, 60));
    DomainCache c(16, kGrace);

    m.response = false; // a query
    c.learn(m, kT0);
    CHECK(c.size() == 0);

    m.response = true;
    m.rcode = 2; // SERVFAIL
    c.learn(m, kT0);
    m.rcode = 3; // NXDOMAIN
    c.learn(m, kT0);
    CHECK(c.size() == 0);
    CHECK_FALSE(c.lookup(2, kV4, kT0).has_value());

    m.rcode = 0;
    c.learn(m, kT0);
    CHECK(c.lookup(2, kV4, kT0) == std::optional<std::string>("ignored.example"));
}

TEST_CASE("domains: only addresses on the question's CNAME chain get its name") {
    // A resolver (or an attacker who controls one) adds an unrelated A record: it must not be
    // labelled with the name the application asked for.
    DnsMessage m;
    m.response = true;
    m.question = "bank.example";
    DnsRecord cname;
    cname.name = "bank.example";
    cname.type = 5;
    cname.ttl = 60;
    cname.data = "edge.cdn.example";
    m.answers.push_back(cname);
    m.answers.push_back(a_record("edge.cdn.example", kV4, 60));  // on the chain
    m.answers.push_back(a_record("evil.example", kV4Other, 60)); // not on it
    DomainCache c(16, kGrace);
    c.learn(m, kT0);
    CHECK(c.lookup(2, kV4, kT0) == std::optional<std::string>("bank.example"));
    CHECK_FALSE(c.lookup(2, kV4Other, kT0).has_value());
    CHECK(c.size() == 1);
}
