// container_names.cpp - see container_names.h.
//
// Both runtimes replace their state files by writing a temporary file and renaming it over the
// old one, so a read sees a whole file, old or new, never half of one; no lock is taken.
#include "enrich/container_names.h"

#include "common/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

namespace policer::enrich {
namespace {

constexpr size_t kIdLength = 64;
constexpr size_t kMaxNameLength = 255;

// Checked again here, not trusted from parse_cgroup_path: a ContainerRef is only a struct, and
// the id becomes a path component. Exactly 64 lowercase hex digits leaves no room for '/',
// "..", or anything else that could lead the path out of the runtime's directory.
bool is_container_id(std::string_view s) {
    if (s.size() != kIdLength) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Owned by root and writable by nobody else: only the runtime (or root) could have put the
// contents there.
bool trusted(const struct stat &st) {
    return st.st_uid == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// Why `st` is not trusted, for the log.
std::string distrust_reason(const struct stat &st) {
    if (st.st_uid != 0) return "owned by uid " + std::to_string(st.st_uid) + ", not root";
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string("group or world writable (mode ") + mode + ")";
}

// Parses JSON keeping only what the name lookups read: structures nested fewer than `levels`
// deep (the top-level value is level 0), and in objects whose members sit at `key_depth` only
// the members named in `keys`. Everything else is skipped as it is parsed, so a large or deeply
// nested file costs no more memory than the values kept. Malformed text gives a discarded
// value rather than an exception.
nlohmann::json parse_pruned(std::string_view text, int levels, int key_depth,
                            std::initializer_list<std::string_view> keys) {
    using Event = nlohmann::json::parse_event_t;
    auto keep = [&](int depth, Event event, nlohmann::json &parsed) {
        if (event == Event::object_start || event == Event::array_start) return depth < levels;
        if (event == Event::key && depth == key_depth && parsed.is_string()) {
            const auto &key = parsed.get_ref<const std::string &>();
            for (std::string_view k : keys) {
                if (key == k) return true;
            }
            return false;
        }
        return true;
    };
    return nlohmann::json::parse(text.data(), text.data() + text.size(), keep,
                                 /*allow_exceptions=*/false);
}

// Logs `message` as a warning the first time `warned` is false, at debug level after.
void warn_once(bool &warned, const std::string &message) {
    if (!warned) {
        warned = true;
        spdlog::warn("container names: {} (further occurrences are logged at debug level)",
                     message);
    } else {
        spdlog::debug("container names: {}", message);
    }
}

} // namespace

bool is_valid_container_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength || !is_alnum(name[0])) return false;
    for (char c : name.substr(1)) {
        if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

std::optional<std::string> docker_name_from_config(std::string_view json_text) {
    try {
        // {"ID": ..., "Name": "/web", "Config": {...}, ...}: only the top-level "Name" is kept.
        nlohmann::json config = parse_pruned(json_text, 1, 1, {"Name"});
        if (!config.is_object()) return std::nullopt; // also what malformed text gives
        auto it = config.find("Name");
        if (it == config.end() || !it->is_string()) return std::nullopt;
        std::string_view name = it->get_ref<const std::string &>();
        // Docker stores names as paths from the days of container links ("/web").
        if (!name.empty() && name.front() == '/') name.remove_prefix(1);
        if (!is_valid_container_name(name)) return std::nullopt;
        return std::string(name);
    } catch (const nlohmann::json::exception &e) {
        spdlog::debug("container names: docker config.v2.json: {}", e.what());
        return std::nullopt;
    }
}

std::optional<std::string> podman_name_from_containers(std::string_view json_text,
                                                       std::string_view id) {
    try {
        // [{"id": ..., "names": ["web"], "image": ..., "metadata": ...}, ...]: the array, its
        // objects and their "names" arrays are levels 0-2; only "id" and "names" are kept.
        nlohmann::json containers = parse_pruned(json_text, 3, 2, {"id", "names"});
        if (!containers.is_array()) return std::nullopt;
        for (const nlohmann::json &entry : containers) {
            if (!entry.is_object()) continue;
            auto entry_id = entry.find("id");
            if (entry_id == entry.end() || !entry_id->is_string() ||
                entry_id->get_ref<const std::string &>() != id)
                continue;
            auto names = entry.find("names");
            if (names == entry.end() || !names->is_array() || names->empty()) return std::nullopt;
            const nlohmann::json &first = names->front();
            if (!first.is_string()) return std::nullopt;
            const auto &name = first.get_ref<const std::string &>();
            if (!is_valid_container_name(name)) return std::nullopt;
            return name;
        }
        return std::nullopt;
    } catch (const nlohmann::json::exception &e) {
        spdlog::debug("container names: podman containers.json: {}", e.what());
        return std::nullopt;
    }
}

ContainerNames::ContainerNames(Roots roots, size_t capacity, uint64_t found_ttl_ns,
                               uint64_t unknown_ttl_ns)
    : roots_(std::move(roots)), found_ttl_ns_(found_ttl_ns), unknown_ttl_ns_(unknown_ttl_ns),
      cache_(capacity) {}

std::optional<std::string> ContainerNames::name(const ContainerRef &c, uint64_t now_ns) {
    // Neither check touches the filesystem, and neither result is cached: nothing later can
    // change it, and caching it would let junk ids push real entries out.
    if (c.runtime != "docker" && c.runtime != "podman") return std::nullopt;
    if (!is_container_id(c.id)) return std::nullopt;

    if (const Entry *e = cache_.get(c.id); e && e->runtime == c.runtime) {
        uint64_t ttl = e->name ? found_ttl_ns_ : unknown_ttl_ns_;
        // A clock that went backwards (now < fetched) makes the entry stale: read again.
        if (now_ns >= e->fetched_ns && now_ns - e->fetched_ns < ttl) return e->name;
    }
    std::optional<std::string> name = lookup(c);
    cache_.put(c.id, Entry{c.runtime, name, now_ns});
    return name;
}

void ContainerNames::forget(const std::string &id) {
    cache_.erase(id);
}

std::optional<std::string> ContainerNames::lookup(const ContainerRef &c) {
    if (c.runtime == "docker") {
        auto text = read_trusted(roots_.docker, {"containers", c.id}, "config.v2.json");
        return text ? docker_name_from_config(*text) : std::nullopt;
    }
    // Rootful podman with the default overlay driver; other drivers keep the same file under
    // "<driver>-containers", and rootless podman keeps its storage in the user's home, where
    // root does not own it (so it would be refused anyway).
    auto text = read_trusted(roots_.podman, {"overlay-containers"}, "containers.json");
    return text ? podman_name_from_containers(*text, c.id) : std::nullopt;
}

// Walks down from `root` one component at a time with openat(O_NOFOLLOW), checking each
// directory as it is opened, then the file through its own descriptor (fstat, not stat of a
// path): what is checked is what is read, with no window for a rename or symlink swap in
// between. A missing directory or file is ordinary (no such runtime, a container not written
// yet) and is silent; anything untrusted is refused with a warning.
std::optional<std::string>
ContainerNames::read_trusted(const std::string &root, std::initializer_list<std::string_view> dirs,
                             std::string_view file) {
    std::string path = root;
    auto refuse = [&](const std::string &why) -> std::optional<std::string> {
        warn_once(warned_untrusted_, "refusing " + path + ": " + why);
        return std::nullopt;
    };
    auto too_big = [&]() -> std::optional<std::string> {
        warn_once(warned_too_big_,
                  path + " is larger than " + std::to_string(kMaxFileBytes) + " bytes; not read");
        return std::nullopt;
    };
    // The root is configuration and may be a symlink; it must still be root's.
    UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return std::nullopt;
    struct stat st {};
    if (::fstat(dir.get(), &st) != 0) return std::nullopt;
    if (!trusted(st)) return refuse(distrust_reason(st));

    for (std::string_view d : dirs) {
        path += '/';
        path += d;
        UniqueFd next(::openat(dir.get(), std::string(d).c_str(),
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) {
            int err = errno;
            if (err == ELOOP || err == ENOTDIR) return refuse("a symlink or not a directory");
            return std::nullopt;
        }
        if (::fstat(next.get(), &st) != 0) return std::nullopt;
        if (!trusted(st)) return refuse(distrust_reason(st));
        dir = std::move(next);
    }

    path += '/';
    path += file;
    // O_NONBLOCK: were the file a FIFO, open would otherwise wait for a writer; S_ISREG below
    // refuses it.
    UniqueFd fd(::openat(dir.get(), std::string(file).c_str(),
                         O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        int err = errno;
        if (err == ELOOP) return refuse("a symlink");
        return std::nullopt;
    }
    if (::fstat(fd.get(), &st) != 0) return std::nullopt;
    if (!S_ISREG(st.st_mode)) return refuse("not a regular file");
    if (!trusted(st)) return refuse(distrust_reason(st));
    if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
        return too_big();
    }

    // Read up to one byte past the bound, whatever fstat said: the file may have grown since.
    std::string text;
    text.reserve(static_cast<size_t>(st.st_size) + 1);
    char chunk[16384];
    size_t used = 0;
    while (used <= kMaxFileBytes) {
        size_t want = std::min(sizeof(chunk), kMaxFileBytes + 1 - used);
        ssize_t n = ::read(fd.get(), chunk, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) break;
        text.append(chunk, static_cast<size_t>(n));
        used += static_cast<size_t>(n);
    }
    if (used > kMaxFileBytes) {
        return too_big();
    }
    return text;
}

} // namespace policer::enrich
