// sock_destroy_test.cpp - SockDestroyer (policer/sock_destroy.h) on the real kernel: real TCP
// and UDP sockets on loopback, in this process. A destroyed socket's owner must see
// ECONNABORTED and a TCP peer a RST; a request with the right tuple but another cookie must
// find nothing and leave the socket working.
#include "policer/sock_destroy.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace {

using policer::DestroyOutcome;
using policer::SockDestroyer;
using policer::SocketId;
using policer::UniqueFd;

// An address of `family` ("127.0.0.1", "::1", "::ffff:127.0.0.1") with a port, as sockaddr.
struct Addr {
    sockaddr_storage ss{};
    socklen_t len = 0;
};

Addr make_addr(int family, const char *text, uint16_t port) {
    Addr a;
    if (family == AF_INET) {
        auto *s = reinterpret_cast<sockaddr_in *>(&a.ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        REQUIRE(inet_pton(AF_INET, text, &s->sin_addr) == 1);
        a.len = sizeof(*s);
    } else {
        auto *s = reinterpret_cast<sockaddr_in6 *>(&a.ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        REQUIRE(inet_pton(AF_INET6, text, &s->sin6_addr) == 1);
        a.len = sizeof(*s);
    }
    return a;
}

// Address bytes and port of a sockaddr (IPv4 in the first 4 bytes).
void read_addr(const sockaddr_storage &ss, std::array<uint8_t, 16> &addr, uint16_t &port) {
    addr.fill(0);
    if (ss.ss_family == AF_INET) {
        const auto *s = reinterpret_cast<const sockaddr_in *>(&ss);
        std::memcpy(addr.data(), &s->sin_addr, 4);
        port = ntohs(s->sin_port);
    } else {
        const auto *s = reinterpret_cast<const sockaddr_in6 *>(&ss);
        std::memcpy(addr.data(), &s->sin6_addr, 16);
        port = ntohs(s->sin6_port);
    }
}

uint64_t cookie_of(int fd) {
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    REQUIRE(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0);
    REQUIRE(cookie != 0);
    return cookie;
}

// The kernel's identity of the connected (or bound) socket `fd`.
SocketId id_of(int fd) {
    SocketId id;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0);
    id.family = static_cast<uint8_t>(ss.ss_family);
    read_addr(ss, id.local_addr, id.local_port);
    len = sizeof(ss);
    if (getpeername(fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0)
        read_addr(ss, id.remote_addr, id.remote_port);
    id.cookie = cookie_of(fd);
    return id;
}

// A socket with a 2 s receive and send timeout, so that no assertion can hang the test.
UniqueFd make_socket(int family, int type) {
    UniqueFd fd(socket(family, type | SOCK_CLOEXEC, 0));
    REQUIRE(fd);
    timeval tv{2, 0};
    REQUIRE(setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
    REQUIRE(setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
    return fd;
}

uint16_t bound_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) == 0);
    std::array<uint8_t, 16> a{};
    uint16_t port = 0;
    read_addr(ss, a, port);
    return port;
}

struct TcpPair {
    UniqueFd listener, client, server;
};

// A listener on `server_addr` and a client of `family` connected to it through `connect_to`.
TcpPair tcp_pair(int family, const char *server_addr, const char *connect_to) {
    TcpPair p;
    p.listener = make_socket(family, SOCK_STREAM);
    Addr a = make_addr(family, server_addr, 0);
    REQUIRE(bind(p.listener.get(), reinterpret_cast<sockaddr *>(&a.ss), a.len) == 0);
    REQUIRE(listen(p.listener.get(), 4) == 0);
    const uint16_t port = bound_port(p.listener.get());
    p.client = make_socket(family, SOCK_STREAM);
    Addr to = make_addr(family, connect_to, port);
    REQUIRE(connect(p.client.get(), reinterpret_cast<sockaddr *>(&to.ss), to.len) == 0);
    p.server = UniqueFd(accept4(p.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(p.server);
    return p;
}

// One byte each way: the connection works.
void check_working(int client, int server) {
    char c = 'x';
    REQUIRE(send(client, &c, 1, MSG_NOSIGNAL) == 1);
    c = 0;
    REQUIRE(recv(server, &c, 1, 0) == 1);
    CHECK(c == 'x');
    c = 'y';
    REQUIRE(send(server, &c, 1, MSG_NOSIGNAL) == 1);
    c = 0;
    REQUIRE(recv(client, &c, 1, 0) == 1);
    CHECK(c == 'y');
}

// errno of a recv that must fail (0 when it did not fail).
int recv_errno(int fd, int flags = 0) {
    char c;
    errno = 0;
    ssize_t n = recv(fd, &c, 1, flags);
    INFO("recv returned " << n);
    return n < 0 ? errno : 0;
}

void tcp_destroy_case(int family, const char *server_addr, const char *connect_to) {
    auto d = SockDestroyer::open();
    REQUIRE_MESSAGE(d.ok(), d.error().message);
    TcpPair p = tcp_pair(family, server_addr, connect_to);
    SocketId id = id_of(p.client.get());
    INFO("client cookie " << id.cookie << ", local port " << id.local_port << ", remote port "
                          << id.remote_port);

    // The right tuple with another socket's cookie: nothing is found, nothing is touched.
    SocketId wrong = id;
    wrong.cookie = id.cookie ^ (uint64_t(1) << 40);
    auto r = d->destroy_tcp(wrong);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r == DestroyOutcome::NotFound);
    check_working(p.client.get(), p.server.get());

    // The right cookie: the client is aborted, and the server is reset.
    r = d->destroy_tcp(id);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r == DestroyOutcome::Destroyed);
    CHECK(recv_errno(p.client.get()) == ECONNABORTED);
    pollfd pfd{p.server.get(), POLLIN, 0};
    REQUIRE(poll(&pfd, 1, 2000) == 1);
    CHECK(recv_errno(p.server.get()) == ECONNRESET);

    // Gone: a second request finds nothing.
    r = d->destroy_tcp(id);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r == DestroyOutcome::NotFound);
}

} // namespace

TEST_CASE("sock destroy: a TCP connection on 127.0.0.1, by tuple and cookie") {
    tcp_destroy_case(AF_INET, "127.0.0.1", "127.0.0.1");
}

TEST_CASE("sock destroy: a TCP connection on ::1, by tuple and cookie") {
    tcp_destroy_case(AF_INET6, "::1", "::1");
}

TEST_CASE("sock destroy: an IPv4 connection of a dual-stack IPv6 socket (::ffff:127.0.0.1)") {
    tcp_destroy_case(AF_INET6, "::", "::ffff:127.0.0.1");
}

TEST_CASE("sock destroy: a connected UDP socket on 127.0.0.1 and on ::1") {
    auto d = SockDestroyer::open();
    REQUIRE_MESSAGE(d.ok(), d.error().message);
    for (int family : {AF_INET, AF_INET6}) {
        const char *lo = family == AF_INET ? "127.0.0.1" : "::1";
        CAPTURE(lo);
        UniqueFd server = make_socket(family, SOCK_DGRAM);
        Addr a = make_addr(family, lo, 0);
        REQUIRE(bind(server.get(), reinterpret_cast<sockaddr *>(&a.ss), a.len) == 0);
        UniqueFd client = make_socket(family, SOCK_DGRAM);
        Addr to = make_addr(family, lo, bound_port(server.get()));
        REQUIRE(connect(client.get(), reinterpret_cast<sockaddr *>(&to.ss), to.len) == 0);
        SocketId id = id_of(client.get());

        SocketId wrong = id;
        wrong.cookie = id.cookie ^ (uint64_t(1) << 40);
        auto r = d->destroy_udp(wrong);
        REQUIRE_MESSAGE(r.ok(), r.error().message);
        CHECK(*r == DestroyOutcome::NotFound);
        // Still working: a datagram gets through.
        char c = 'u';
        REQUIRE(send(client.get(), &c, 1, 0) == 1);
        REQUIRE(recv(server.get(), &c, 1, 0) == 1);

        r = d->destroy_udp(id);
        REQUIRE_MESSAGE(r.ok(), r.error().message);
        CHECK(*r == DestroyOutcome::Destroyed);
        CHECK(recv_errno(client.get(), MSG_DONTWAIT) == ECONNABORTED);
    }
}

TEST_CASE("sock destroy: an unconnected UDP socket is found by its local address and cookie") {
    auto d = SockDestroyer::open();
    REQUIRE_MESSAGE(d.ok(), d.error().message);
    UniqueFd s = make_socket(AF_INET, SOCK_DGRAM);
    Addr a = make_addr(AF_INET, "127.0.0.1", 0);
    REQUIRE(bind(s.get(), reinterpret_cast<sockaddr *>(&a.ss), a.len) == 0);
    SocketId id = id_of(s.get()); // remote: all zeros
    auto r = d->destroy_udp(id);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r == DestroyOutcome::Destroyed);
    CHECK(recv_errno(s.get(), MSG_DONTWAIT) == ECONNABORTED);
}

TEST_CASE("sock destroy: requests without a usable cookie or family are refused, not sent") {
    auto d = SockDestroyer::open();
    REQUIRE_MESSAGE(d.ok(), d.error().message);
    SocketId id;
    id.family = AF_INET;
    id.cookie = 0;
    CHECK_FALSE(d->destroy_tcp(id).ok());
    id.cookie = ~uint64_t(0); // the kernel's wildcard: would hit whatever holds the tuple
    CHECK_FALSE(d->destroy_tcp(id).ok());
    id.cookie = 1;
    id.family = AF_UNIX;
    CHECK_FALSE(d->destroy_udp(id).ok());
    // A tuple nobody holds.
    id.family = AF_INET;
    id.local_addr = {127, 0, 0, 1};
    id.remote_addr = {127, 0, 0, 1};
    id.local_port = 1;
    id.remote_port = 1;
    auto r = d->destroy_tcp(id);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(*r == DestroyOutcome::NotFound);
}
