// control_client.cpp - see control_client.h.
#include "cli/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace policer::cli {

Result<ControlClient> ControlClient::connect(const std::string &path) {
    sockaddr_un sa{};
    if (path.empty() || path.size() >= sizeof(sa.sun_path))
        return Error{"control socket path too long: " + path};
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket");
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) != 0) {
        int err = errno;
        if (err == ENOENT || err == ECONNREFUSED)
            return Error{"cannot reach policerd at " + path + " (" + std::strerror(err) +
                         "): is it running? (--socket PATH for another socket)"};
        if (err == EACCES)
            return Error{"permission denied on " + path +
                         ": policer is used by root and members of the 'policer' group"};
        return Error::from_errno("cannot connect to " + path, err);
    }
    return ControlClient(std::move(fd));
}

Result<std::optional<nlohmann::json>> ControlClient::next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    constexpr size_t kMaxLine = 64u << 20;
    for (;;) {
        size_t nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object())
                return Error{"policerd sent something that is not a JSON object"};
            return std::optional<nlohmann::json>(std::move(j));
        }
        if (buf_.size() > kMaxLine) return Error{"policerd sent a line too long to read"};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::optional<nlohmann::json>();
        pollfd p{fd_.get(), POLLIN, 0};
        int r = poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Error::from_errno("poll");
        if (r == 0) return std::optional<nlohmann::json>();
        char tmp[65536];
        ssize_t n = read(fd_.get(), tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("reading from policerd");
        if (n == 0) return Error{"policerd closed the connection"};
        buf_.append(tmp, static_cast<size_t>(n));
    }
}

Result<nlohmann::json> ControlClient::call(const nlohmann::json &request,
                                           std::chrono::milliseconds timeout) {
    std::string line = request.dump() + "\n";
    size_t off = 0;
    while (off < line.size()) {
        ssize_t n = ::send(fd_.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("sending to policerd");
        off += static_cast<size_t>(n);
    }
    auto answer = next(timeout);
    if (!answer) return answer.error();
    if (!*answer) return Error{"policerd did not answer in time"};
    return std::move(**answer);
}

} // namespace policer::cli
