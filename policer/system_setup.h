// system_setup.h - what policerd checks and prepares before it loads a single program:
// privileges, kernel BTF, the cgroup v2 mount, bpffs and tracefs. Each failure says what is
// wrong and what to do about it.
#pragma once

#include "common/result.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policer::daemon {

struct MountEntry {
    std::string source, target, fstype;
};

// Parses /proc/mounts text (octal escapes such as \040 in paths are decoded).
std::vector<MountEntry> parse_mounts(std::string_view text);

// The first mount point of `fstype`, e.g. the cgroup v2 hierarchy ("cgroup2").
std::optional<std::string> find_mount(const std::vector<MountEntry> &mounts,
                                      std::string_view fstype);

// Root, or the capabilities the probes need: CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN.
Status check_privileges();

// The kernel's BTF (or a user-supplied BTF file) must be readable.
Status check_btf(const std::string &path);

// Mounts `fstype` at `target` unless something of that type already is mounted there.
Status ensure_mounted(const std::vector<MountEntry> &mounts, const std::string &fstype,
                      const std::string &target);

} // namespace policer::daemon
