// user_names.cpp - see user_names.h.
#include "enrich/user_names.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace policer::enrich {
namespace {

size_t nss_buffer_size(int name) {
    long n = sysconf(name);
    return n > 0 ? static_cast<size_t>(n) : 16384;
}

std::string lookup_user(uint32_t uid) {
    std::vector<char> buf(nss_buffer_size(_SC_GETPW_R_SIZE_MAX));
    passwd pw{};
    passwd *res = nullptr;
    while (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    return res ? std::string(res->pw_name) : std::string();
}

std::string lookup_group(uint32_t gid) {
    std::vector<char> buf(nss_buffer_size(_SC_GETGR_R_SIZE_MAX));
    group gr{};
    group *res = nullptr;
    while (getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    return res ? std::string(res->gr_name) : std::string();
}

} // namespace

UserNames::UserNames(size_t capacity, std::chrono::seconds ttl)
    : ttl_(ttl), users_(capacity), groups_(capacity) {}

template <typename Lookup>
const std::string &UserNames::cached(LruCache<uint32_t, Entry> &cache, uint32_t id, Lookup lookup) {
    auto now = Clock::now();
    if (Entry *e = cache.get(id); e && now - e->fetched < ttl_) return e->name;
    return cache.put(id, Entry{lookup(id), now}).name;
}

const std::string &UserNames::user(uint32_t uid) {
    return cached(users_, uid, lookup_user);
}

const std::string &UserNames::group(uint32_t gid) {
    return cached(groups_, gid, lookup_group);
}

} // namespace policer::enrich
