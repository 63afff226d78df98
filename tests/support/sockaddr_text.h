// sockaddr_text.h - a socket address from "ADDR" text (IPv4 or IPv6) and a port, for the test
// helpers and the integration tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

// The address's length, or 0 when `ip` is neither an IPv4 nor an IPv6 address.
inline socklen_t sockaddr_from_text(const char *ip, int port, sockaddr_storage &ss) {
    std::memset(&ss, 0, sizeof(ss));
    auto *v4 = reinterpret_cast<sockaddr_in *>(&ss);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(port));
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(port));
        return sizeof(*v6);
    }
    return 0;
}
