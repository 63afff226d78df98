// sd_notify.cpp - see sd_notify.h.
#include "policer/sd_notify.h"

#include "common/unique_fd.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace policer::daemon {

Status sd_notify_to(const std::string &address, std::string_view state) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    // systemd also speaks vsock for virtual machines; policerd runs on the host it guards.
    if (address.size() < 2 || (address[0] != '/' && address[0] != '@'))
        return Error{"NOTIFY_SOCKET '" + address +
                     "' is neither an absolute path nor an abstract socket ('@name')"};
    if (address.size() > sizeof(sa.sun_path))
        return Error{"NOTIFY_SOCKET is longer than a Unix socket address can be"};
    // Stricter than a C string: a NUL inside the state would end it early.
    if (state.empty() || state.find('\0') != std::string_view::npos)
        return Error{"a notification must be non-empty text"};
    std::memcpy(sa.sun_path, address.data(), address.size());
    // An abstract name is exactly the bytes after its leading '\0', with no terminator; a path
    // gets its NUL when there is room for one (Linux accepts a full-length path without).
    size_t used = address.size();
    if (address[0] == '@')
        sa.sun_path[0] = '\0';
    else if (used < sizeof(sa.sun_path))
        ++used;
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + used);

    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket(AF_UNIX, SOCK_DGRAM)");
    ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr *>(&sa), len);
    if (n < 0) return Error::from_errno("cannot notify the service manager at " + address);
    if (static_cast<size_t>(n) != state.size())
        return Error{"the notification to " + address + " was cut short"};
    return Ok{};
}

Status sd_notify(std::string_view state) {
    const char *address = std::getenv("NOTIFY_SOCKET");
    if (!address || !*address) return Ok{};
    return sd_notify_to(address, state);
}

} // namespace policer::daemon
