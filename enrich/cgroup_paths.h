// cgroup_paths.h - cgroup v2 id -> path. The probes report every cgroup made or removed with
// its path (a container that lived for a second is still named); any other id is resolved on
// demand with open_by_handle_at(), since a cgroup v2 id is the kernfs file handle of its
// directory. Bounded LRU; removed cgroups are remembered for flows that are read late.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "enrich/lru_cache.h"

#include <cstdint>
#include <optional>
#include <string>

namespace policer::enrich {

class CgroupPaths {
public:
    // mount: the cgroup v2 mount point (found in /proc/mounts).
    static Result<CgroupPaths> open(const std::string &mount, size_t capacity);

    void on_mkdir(uint64_t id, std::string path);
    // Paths of removed cgroups are kept (LRU-bounded): their last flows are often read after.
    void on_rmdir(uint64_t id, std::string path);

    // The path relative to the cgroup v2 root ("/system.slice/x.service"), or nullopt.
    std::optional<std::string> resolve(uint64_t id);

    // The uid owning the cgroup directory at `path` (relative to the root), or nullopt.
    std::optional<uint32_t> owner(const std::string &path);

    const std::string &mount() const { return mount_; }

private:
    CgroupPaths(std::string mount, UniqueFd mount_fd, size_t capacity);
    std::optional<std::string> resolve_by_handle(uint64_t id) const;

    std::string mount_;
    UniqueFd mount_fd_;
    LruCache<uint64_t, std::string> cache_;
    LruCache<std::string, uint32_t> owners_;
};

} // namespace policer::enrich
