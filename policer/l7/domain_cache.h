// domain_cache.h - which domain name an IP address was looked up as, learned from DNS answers,
// so that a later flow to that address can be labelled with the name the application asked
// for (as OpenSnitch does). Bounded: the least recently used address is forgotten first.
//
// Addresses are keyed as IPv6, IPv4 ones as IPv4-mapped (::ffff:a.b.c.d), so an IPv4 address
// seen on an IPv6 socket finds the name learned from an A record. An entry lives for the
// record's TTL plus a grace period (applications keep using addresses past their TTL); it is
// valid while now < learned + ttl + grace. Expired entries are dropped when looked up, or when
// the bound pushes them out.
#pragma once

#include "enrich/lru_cache.h"
#include "policer/l7/dns_message.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

namespace policer::l7 {

class DomainCache {
public:
    // capacity > 0 (std::invalid_argument otherwise); grace_ns is added to every TTL.
    DomainCache(size_t capacity, uint64_t grace_ns);

    // Records that `name` resolved to `addr` (family 2: 4 bytes, 10: 16 bytes; other families
    // and empty names are ignored) with a TTL of ttl_s seconds, at now_ns (CLOCK_BOOTTIME ns).
    // A later call for the same address replaces the name.
    void learn(uint8_t family, const uint8_t *addr, const std::string &name, uint32_t ttl_s,
               uint64_t now_ns);

    // Learns every A/AAAA answer of a response, labelling each address with the question name
    // (what the application asked for, even behind a CNAME chain); with no question, the
    // record's own name. Queries and responses with a non-zero rcode are ignored.
    void learn(const DnsMessage &response, uint64_t now_ns);

    // Called for every address learned (kernel enforcement of dst.domain rules follows it).
    using Listener = std::function<void(uint8_t family, const uint8_t *addr, const std::string &)>;
    void set_listener(Listener l) { listener_ = std::move(l); }

    // The name `addr` was learned as, unless unknown or expired (then dropped).
    std::optional<std::string> lookup(uint8_t family, const uint8_t *addr, uint64_t now_ns);

    // Every unexpired entry (family 2 or 10, the address, its name): to write the names into a
    // freshly installed rule table.
    template <typename F>
    void for_each(uint64_t now_ns, F &&f) const {
        entries_.for_each([&](const Key &k, const Entry &e) {
            if (now_ns >= e.expires_ns) return;
            static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (std::memcmp(k.data(), kMapped, 12) == 0)
                f(uint8_t{2}, k.data() + 12, e.name);
            else
                f(uint8_t{10}, k.data(), e.name);
        });
    }

    size_t size() const { return entries_.size(); }
    uint64_t evictions() const { return entries_.evictions(); }

private:
    Listener listener_;
    using Key = std::array<uint8_t, 16>;
    struct KeyHash {
        size_t operator()(const Key &k) const;
    };
    struct Entry {
        std::string name;
        uint64_t expires_ns = 0;
    };

    static bool make_key(uint8_t family, const uint8_t *addr, Key &key);

    uint64_t grace_ns_;
    enrich::LruCache<Key, Entry, KeyHash> entries_;
};

} // namespace policer::l7
