// container_names.h - a container's human name ("web", not a 64-hex id), read from the state
// its runtime keeps on disk: docker's <root>/containers/<id>/config.v2.json and (rootful)
// podman's <root>/overlay-containers/containers.json. Containerd and CRI-O keep theirs in
// databases (bolt, or CRI-O's own) with no simple on-disk form, so those give nullopt; for
// Kubernetes the pod and container names come from the API server, not from here.
//
// These files are the runtime's, written as root. A name read from a file someone else could
// have written is a name an attacker picked, so every directory below the configured root, and
// the file itself, must be owned by root and not group or world writable, and none of them may
// be a symlink (the root itself may be one: /var/lib/docker on another disk is common). Files
// are size-bounded, container ids are checked before any path is built, and names must look
// like the names the runtimes allow.
#pragma once

#include "enrich/container.h"
#include "enrich/lru_cache.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace policer::enrich {

// True for what docker and podman accept as a container name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at
// most 255 characters.
bool is_valid_container_name(std::string_view name);

// The "Name" of a docker config.v2.json, without docker's leading '/'; nullopt when the text
// is not JSON, has no such string, or the name is not valid. Never throws.
std::optional<std::string> docker_name_from_config(std::string_view json_text);

// The first of the "names" of the entry whose "id" is `id` in podman's containers.json (an
// array of objects); nullopt as for docker_name_from_config, or when there is no such entry.
// Never throws.
std::optional<std::string> podman_name_from_containers(std::string_view json_text,
                                                       std::string_view id);

class ContainerNames {
public:
    // Where each runtime keeps its state (docker --data-root; podman's storage graphroot).
    struct Roots {
        std::string docker = "/var/lib/docker";
        std::string podman = "/var/lib/containers/storage";
    };

    // A found name is read again after this long: `docker rename` changes it.
    static constexpr uint64_t kFoundTtlNs = 60ull * 1000000000ull;
    // An unknown one is retried soon: the runtime writes its state around the time the cgroup
    // appears, so the first lookup can come just before the file does.
    static constexpr uint64_t kUnknownTtlNs = 2ull * 1000000000ull;
    // Bigger files are refused (with one warning): a config.v2.json is a few KiB, and
    // containers.json about half a KiB per container.
    static constexpr size_t kMaxFileBytes = 1u << 20;

    // capacity > 0 (std::invalid_argument otherwise).
    ContainerNames(Roots roots, size_t capacity, uint64_t found_ttl_ns = kFoundTtlNs,
                   uint64_t unknown_ttl_ns = kUnknownTtlNs);

    // The name of container `c`, or nullopt when it is unknown, its runtime keeps no name we
    // read (containerd, cri-o), its id is not 64 lowercase hex digits, or its runtime's files
    // are not trustworthy. now_ns: any monotonic clock (policer uses CLOCK_BOOTTIME ns), the
    // same one on every call. Answers, unknown ones included, are cached; never throws.
    std::optional<std::string> name(const ContainerRef &c, uint64_t now_ns);

    // Drops what is cached about container `id` (call it when the container's cgroup goes).
    void forget(const std::string &id);

    size_t size() const { return cache_.size(); }

private:
    struct Entry {
        std::string runtime;
        std::optional<std::string> name;
        uint64_t fetched_ns = 0;
    };

    std::optional<std::string> lookup(const ContainerRef &c);
    // The contents of root/dirs.../file, if every step is trusted (see the file comment).
    std::optional<std::string> read_trusted(const std::string &root,
                                            std::initializer_list<std::string_view> dirs,
                                            std::string_view file);

    Roots roots_;
    uint64_t found_ttl_ns_;
    uint64_t unknown_ttl_ns_;
    LruCache<std::string, Entry> cache_;
    // Each problem is logged as a warning the first time, at debug level after: a hostile or
    // broken state directory would otherwise log on every lookup.
    bool warned_untrusted_ = false;
    bool warned_too_big_ = false;
};

} // namespace policer::enrich
