// system_setup.cpp - see system_setup.h.
#include "policer/system_setup.h"

#include "common/text.h"

#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace policer::daemon {
namespace {

std::string unescape_mount_field(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        // "\ooo": three octal digits, as the kernel escapes space, tab, newline and '\\'.
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool has_cap(const __user_cap_data_struct data[2], int cap) {
    return data[cap / 32].effective & (1u << (cap % 32));
}

} // namespace

std::vector<MountEntry> parse_mounts(std::string_view text) {
    std::vector<MountEntry> out;
    for_each_line(text, [&](std::string_view line) {
        std::string_view f[3];
        size_t i = 0, n = 0;
        while (n < 3 && i < line.size()) {
            size_t j = line.find(' ', i);
            if (j == std::string_view::npos) j = line.size();
            f[n++] = line.substr(i, j - i);
            i = j + 1;
        }
        if (n == 3)
            out.push_back(MountEntry{unescape_mount_field(f[0]), unescape_mount_field(f[1]),
                                     std::string(f[2])});
        return false;
    });
    return out;
}

std::optional<std::string> find_mount(const std::vector<MountEntry> &mounts,
                                      std::string_view fstype) {
    for (const auto &m : mounts)
        if (m.fstype == fstype) return m.target;
    return std::nullopt;
}

Status check_privileges() {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (syscall(SYS_capget, &hdr, data) != 0) return Error::from_errno("capget");

    struct Need {
        int cap;
        const char *name;
        int alt; // a capability that also grants it on older kernels, or -1
    };
    const Need needs[] = {
        {CAP_BPF, "CAP_BPF", CAP_SYS_ADMIN},
        {CAP_PERFMON, "CAP_PERFMON", CAP_SYS_ADMIN},
        {CAP_NET_ADMIN, "CAP_NET_ADMIN", -1},
    };
    std::string missing;
    for (const auto &n : needs) {
        if (has_cap(data, n.cap) || (n.alt >= 0 && has_cap(data, n.alt))) continue;
        missing += missing.empty() ? "" : ", ";
        missing += n.name;
    }
    if (!missing.empty())
        return Error{"policerd must run as root, or with the capabilities CAP_BPF, CAP_PERFMON "
                     "and CAP_NET_ADMIN (missing: " +
                     missing + ")"};
    if (!has_cap(data, CAP_DAC_READ_SEARCH))
        spdlog::warn("without CAP_DAC_READ_SEARCH, cgroups made before policerd started are not "
                     "named");
    if (!has_cap(data, CAP_SYS_PTRACE))
        spdlog::warn("without CAP_SYS_PTRACE, executables of other users' processes that predate "
                     "policerd are not named");
    return Ok{};
}

Status check_btf(const std::string &path) {
    if (access(path.c_str(), R_OK) == 0) return Ok{};
    return Error::from_errno("kernel BTF not found at " + path +
                             " (policer's CO-RE probes need a kernel built with "
                             "CONFIG_DEBUG_INFO_BTF=y, or a BTF file for this kernel given with "
                             "--btf)");
}

Status ensure_mounted(const std::vector<MountEntry> &mounts, const std::string &fstype,
                      const std::string &target) {
    for (const auto &m : mounts)
        if (m.target == target && m.fstype == fstype) return Ok{};
    if (::mount(fstype.c_str(), target.c_str(), fstype.c_str(), MS_NOSUID | MS_NODEV | MS_NOEXEC,
                nullptr) != 0)
        return Error::from_errno("cannot mount " + fstype + " at " + target);
    spdlog::info("mounted {} at {}", fstype, target);
    return Ok{};
}

} // namespace policer::daemon
