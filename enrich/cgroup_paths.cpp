// cgroup_paths.cpp - see cgroup_paths.h.
#include "enrich/cgroup_paths.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace policer::enrich {
namespace {

// include/linux/exportfs.h: kernfs file handles (what cgroup v2 ids are).
constexpr int kFileIdKernfs = 0xfe;

} // namespace

CgroupPaths::CgroupPaths(std::string mount, UniqueFd mount_fd, size_t capacity)
    : mount_(std::move(mount)), mount_fd_(std::move(mount_fd)), cache_(capacity),
      owners_(capacity) {}

Result<CgroupPaths> CgroupPaths::open(const std::string &mount, size_t capacity) {
    UniqueFd fd(::open(mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Error::from_errno("cannot open cgroup v2 mount " + mount);
    if (capacity == 0) return Error{"cgroup cache capacity must be > 0"};
    return CgroupPaths(mount, std::move(fd), capacity);
}

void CgroupPaths::on_mkdir(uint64_t id, std::string path) {
    cache_.put(id, std::move(path));
}

void CgroupPaths::on_rmdir(uint64_t id, std::string path) {
    owners_.erase(path); // a directory made again under this name may have another owner
    cache_.put(id, std::move(path));
}

std::optional<std::string> CgroupPaths::resolve(uint64_t id) {
    if (id == 0) return std::nullopt;
    if (const std::string *p = cache_.get(id)) return *p;
    auto path = resolve_by_handle(id);
    if (path) cache_.put(id, *path);
    return path;
}

std::optional<uint32_t> CgroupPaths::owner(const std::string &path) {
    if (const uint32_t *uid = owners_.get(path)) return *uid;
    // Relative to the mount: "/a/b" -> "a/b"; the root itself is ".".
    std::string rel = path;
    while (!rel.empty() && rel.front() == '/')
        rel.erase(0, 1);
    if (rel.empty()) rel = ".";
    struct stat st {};
    if (fstatat(mount_fd_.get(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
    owners_.put(path, st.st_uid);
    return st.st_uid;
}

std::optional<std::string> CgroupPaths::resolve_by_handle(uint64_t id) const {
    alignas(file_handle) unsigned char storage[sizeof(file_handle) + sizeof(uint64_t)];
    auto *fh = reinterpret_cast<file_handle *>(storage);
    fh->handle_bytes = sizeof(uint64_t);
    fh->handle_type = kFileIdKernfs;
    std::memcpy(fh->f_handle, &id, sizeof(id));

    UniqueFd fd(::open_by_handle_at(mount_fd_.get(), fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return std::nullopt;

    char link[64];
    std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd.get());
    char buf[4096];
    ssize_t n = ::readlink(link, buf, sizeof(buf) - 1);
    if (n <= 0) return std::nullopt;
    std::string abs(buf, static_cast<size_t>(n));

    // The link is absolute in our mount namespace: strip the cgroup v2 mount point.
    if (abs.compare(0, mount_.size(), mount_) != 0) return std::nullopt;
    std::string rel = abs.substr(mount_.size());
    return rel.empty() ? std::string("/") : rel;
}

} // namespace policer::enrich
