// user_names.h - uid/gid -> name through NSS (getpwuid_r/getgrgid_r), cached with a bound and
// a time to live, so that users added later are found and a burst of flows costs one lookup.
#pragma once

#include "enrich/lru_cache.h"

#include <chrono>
#include <cstdint>
#include <string>

namespace policer::enrich {

class UserNames {
public:
    using Clock = std::chrono::steady_clock;

    UserNames(size_t capacity, std::chrono::seconds ttl);

    // The name, or "" when the id has none (negative answers are cached too).
    const std::string &user(uint32_t uid);
    const std::string &group(uint32_t gid);

private:
    struct Entry {
        std::string name;
        Clock::time_point fetched;
    };
    template <typename Lookup>
    const std::string &cached(LruCache<uint32_t, Entry> &cache, uint32_t id, Lookup lookup);

    std::chrono::seconds ttl_;
    LruCache<uint32_t, Entry> users_;
    LruCache<uint32_t, Entry> groups_;
};

} // namespace policer::enrich
