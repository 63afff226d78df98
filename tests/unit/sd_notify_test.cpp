// sd_notify_test.cpp - the service-manager notification, received on a real AF_UNIX datagram
// socket bound to a path and to an abstract name, as systemd listens for it.
#include "policer/sd_notify.h"

#include "common/unique_fd.h"

#include <doctest/doctest.h>

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

namespace {

using policer::UniqueFd;
using policer::daemon::sd_notify;
using policer::daemon::sd_notify_to;

// A datagram listener at `address` ("/path" or "@abstract"), as the service manager has.
UniqueFd listen_at(const std::string &address) {
    UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, address.data(), address.size());
    socklen_t len = offsetof(sockaddr_un, sun_path) + address.size();
    if (address[0] == '@')
        sa.sun_path[0] = '\0';
    else
        ++len;
    REQUIRE(bind(fd.get(), reinterpret_cast<sockaddr *>(&sa), len) == 0);
    return fd;
}

// The next datagram, or nothing within a second.
std::optional<std::string> receive(const UniqueFd &fd) {
    pollfd p{fd.get(), POLLIN, 0};
    if (poll(&p, 1, 1000) != 1) return std::nullopt;
    char buf[4096];
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
}

// Sets NOTIFY_SOCKET for one test, restoring what was there.
class NotifySocketEnv {
public:
    explicit NotifySocketEnv(const char *value) {
        if (const char *old = getenv("NOTIFY_SOCKET")) old_ = old;
        if (value)
            setenv("NOTIFY_SOCKET", value, 1);
        else
            unsetenv("NOTIFY_SOCKET");
    }
    ~NotifySocketEnv() {
        if (old_)
            setenv("NOTIFY_SOCKET", old_->c_str(), 1);
        else
            unsetenv("NOTIFY_SOCKET");
    }

private:
    std::optional<std::string> old_;
};

} // namespace

TEST_CASE("sd_notify sends one datagram to a socket file named by NOTIFY_SOCKET") {
    char dir[] = "/tmp/pl-notify-XXXXXX";
    REQUIRE(mkdtemp(dir));
    const std::string path = std::string(dir) + "/notify";
    {
        UniqueFd listener = listen_at(path);
        NotifySocketEnv env(path.c_str());
        REQUIRE(sd_notify("READY=1\nSTATUS=attached, serving"));
        CHECK(receive(listener) == "READY=1\nSTATUS=attached, serving");
        REQUIRE(sd_notify("STOPPING=1"));
        CHECK(receive(listener) == "STOPPING=1");
    }
    unlink(path.c_str());
    rmdir(dir);
}

TEST_CASE("sd_notify reaches an abstract socket ('@' name)") {
    const std::string name = "@pl-notify-test-" + std::to_string(getpid());
    UniqueFd listener = listen_at(name);
    NotifySocketEnv env(name.c_str());
    REQUIRE(sd_notify("READY=1"));
    CHECK(receive(listener) == "READY=1");
}

TEST_CASE("sd_notify without NOTIFY_SOCKET sends nothing and succeeds") {
    NotifySocketEnv unset(nullptr);
    CHECK(sd_notify("READY=1"));
    NotifySocketEnv empty("");
    CHECK(sd_notify("READY=1"));
}

TEST_CASE("sd_notify refuses addresses and states it cannot send, and says why") {
    auto relative = sd_notify_to("run/notify", "READY=1");
    REQUIRE_FALSE(relative);
    CHECK(relative.error().message.find("neither an absolute path") != std::string::npos);
    CHECK_FALSE(sd_notify_to("vsock:2:1234", "READY=1"));
    CHECK_FALSE(sd_notify_to("/" + std::string(200, 'a'), "READY=1"));
    CHECK_FALSE(sd_notify_to("@x", std::string("READY=1\0X", 9)));
    CHECK_FALSE(sd_notify_to("@x", ""));
    // Nobody listens there: the send fails with the reason.
    auto nobody = sd_notify_to("/nonexistent/notify", "READY=1");
    REQUIRE_FALSE(nobody);
    CHECK(nobody.error().message.find("cannot notify the service manager") != std::string::npos);
}
