// domain_cache.cpp - see domain_cache.h.
#include "policer/l7/domain_cache.h"

#include <vector>

#include <cstring>
#include <limits>
#include <stdexcept>

namespace policer::l7 {

namespace {

constexpr uint64_t kNsPerSec = 1000000000ull;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t sat_add(uint64_t a, uint64_t b) {
    return a > kMax - b ? kMax : a + b;
}

} // namespace

size_t DomainCache::KeyHash::operator()(const Key &k) const {
    // FNV-1a over the 16 bytes.
    uint64_t h = 1469598103934665603ull;
    for (uint8_t b : k) {
        h ^= b;
        h *= 1099511628211ull;
    }
    return static_cast<size_t>(h ^ (h >> 32));
}

DomainCache::DomainCache(size_t capacity, uint64_t grace_ns)
    : grace_ns_(grace_ns),
      entries_(capacity ? capacity
                        : throw std::invalid_argument("DomainCache capacity must be > 0")) {}

bool DomainCache::make_key(uint8_t family, const uint8_t *addr, Key &key) {
    if (family == 2) {
        key = Key{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        std::memcpy(key.data() + 12, addr, 4);
        return true;
    }
    if (family == 10) {
        std::memcpy(key.data(), addr, 16);
        return true;
    }
    return false;
}

void DomainCache::learn(uint8_t family, const uint8_t *addr, const std::string &name,
                        uint32_t ttl_s, uint64_t now_ns) {
    Key key;
    if (name.empty() || !make_key(family, addr, key)) return;
    const uint64_t expires = sat_add(sat_add(now_ns, uint64_t{ttl_s} * kNsPerSec), grace_ns_);
    entries_.put(key, Entry{name, expires});
    if (listener_) listener_(family, addr, name);
}

void DomainCache::learn(const DnsMessage &response, uint64_t now_ns) {
    if (!response.response || response.rcode != 0) return;
    if (response.question.empty()) {
        // No question (mDNS announcements): each address is labelled with its own name.
        for (const DnsRecord &r : response.answers)
            if (r.family == 2 || r.family == 10) learn(r.family, r.addr, r.name, r.ttl, now_ns);
        return;
    }
    // Only addresses the question actually resolves to - through its CNAME chain - are
    // labelled with it: an answer section may carry unrelated records, and a resolver must
    // not be able to attach a trusted name to any address it likes.
    std::vector<const std::string *> chain = {&response.question};
    bool grew = true;
    while (grew && chain.size() <= response.answers.size()) {
        grew = false;
        for (const DnsRecord &r : response.answers) {
            if (r.type != 5) continue; // CNAME
            bool from = false, known = false;
            for (const std::string *n : chain) {
                from = from || *n == r.name;
                known = known || *n == r.data;
            }
            if (from && !known) {
                chain.push_back(&r.data);
                grew = true;
            }
        }
    }
    for (const DnsRecord &r : response.answers) {
        if (r.family != 2 && r.family != 10) continue;
        for (const std::string *n : chain) {
            if (*n == r.name) {
                learn(r.family, r.addr, response.question, r.ttl, now_ns);
                break;
            }
        }
    }
}

std::optional<std::string> DomainCache::lookup(uint8_t family, const uint8_t *addr,
                                               uint64_t now_ns) {
    Key key;
    if (!make_key(family, addr, key)) return std::nullopt;
    Entry *e = entries_.get(key);
    if (!e) return std::nullopt;
    if (now_ns >= e->expires_ns) {
        entries_.erase(key);
        return std::nullopt;
    }
    return e->name;
}

} // namespace policer::l7
