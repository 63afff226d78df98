// net.h - IP address helpers shared by every component that prints or compares addresses.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace policer {

// ::ffff:a.b.c.d - an IPv4 address on an IPv6 socket.
inline bool is_v4_mapped(const uint8_t a[16]) {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a, prefix, sizeof(prefix)) == 0;
}

// "10.0.0.1", "fd00::1"; family 2 reads 4 bytes, 10 reads 16; IPv4-mapped shows as IPv4.
inline std::string format_ip(uint8_t family, const uint8_t *addr) {
    char buf[INET6_ADDRSTRLEN];
    if (family == 2) return inet_ntop(AF_INET, addr, buf, sizeof(buf)) ? buf : "";
    if (family != 10) return "";
    if (is_v4_mapped(addr)) return inet_ntop(AF_INET, addr + 12, buf, sizeof(buf)) ? buf : "";
    return inet_ntop(AF_INET6, addr, buf, sizeof(buf)) ? buf : "";
}

} // namespace policer
