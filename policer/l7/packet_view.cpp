// packet_view.cpp - see packet_view.h.
#include "policer/l7/packet_view.h"

#include <cstring>

namespace policer::l7 {
namespace {

uint16_t be16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

void put_be16(uint8_t *p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

} // namespace

const char *packet_error_name(PacketError e) {
    switch (e) {
    case PacketError::None: return "none";
    case PacketError::TooShort: return "too_short";
    case PacketError::BadVersion: return "bad_version";
    case PacketError::BadHeader: return "bad_header";
    case PacketError::Fragment: return "fragment";
    case PacketError::NotTcpUdp: return "not_tcp_udp";
    case PacketError::TruncatedL4: return "truncated_l4";
    }
    return "unknown";
}

PacketError parse_packet(const uint8_t *ip, size_t len, PacketView &v) {
    v = PacketView{};
    if (len < 20) return PacketError::TooShort;
    const uint8_t version = ip[0] >> 4;
    size_t l4;
    if (version == 4) {
        const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
        const uint16_t total = be16(ip + 2);
        if (ihl < 20 || ihl > len || total < ihl) return PacketError::BadHeader;
        if (((ip[6] & 0x1f) | ip[7]) != 0) return PacketError::Fragment;
        v.family = 2;
        v.proto = ip[9];
        std::memcpy(v.src, ip + 12, 4);
        std::memcpy(v.dst, ip + 16, 4);
        v.ip_len = total;
        l4 = ihl;
    } else if (version == 6) {
        if (len < 40) return PacketError::TooShort;
        v.family = 10;
        v.proto = ip[6];
        std::memcpy(v.src, ip + 8, 16);
        std::memcpy(v.dst, ip + 24, 16);
        v.ip_len = 40u + be16(ip + 4);
        l4 = 40;
    } else {
        return PacketError::BadVersion;
    }
    if (v.proto != 6 && v.proto != 17) return PacketError::NotTcpUdp;

    // What was captured of the packet: never more than the header claims.
    const size_t avail = len < v.ip_len ? len : v.ip_len;
    v.truncated = len < v.ip_len;
    const size_t l4_min = v.proto == 6 ? 20 : 8;
    if (avail < l4 + l4_min) return PacketError::TruncatedL4;
    const uint8_t *h = ip + l4;
    v.sport = be16(h);
    v.dport = be16(h + 2);
    size_t hdr;
    if (v.proto == 6) {
        hdr = static_cast<size_t>(h[12] >> 4) * 4;
        if (hdr < 20) return PacketError::BadHeader;
        if (avail < l4 + hdr) return PacketError::TruncatedL4;
        v.tcp_flags = h[13];
    } else {
        hdr = 8;
        const uint16_t ulen = be16(h + 4);
        if (ulen < 8 || l4 + ulen > v.ip_len) return PacketError::BadHeader;
    }
    v.payload_off = static_cast<uint32_t>(l4 + hdr);
    v.payload_len = static_cast<uint32_t>(avail - l4 - hdr);
    if (v.proto == 17) {
        // A UDP datagram's payload ends where its length says, even if the IP packet is longer.
        const uint32_t ulen_payload = be16(h + 4) - 8u;
        if (v.payload_len > ulen_payload) v.payload_len = ulen_payload;
    }
    return PacketError::None;
}

void fit_ip_length(uint8_t *buf, size_t caplen, const PacketView &v) {
    if (!v.truncated || caplen > 0xffff) return;
    if (v.family == 2) {
        put_be16(buf + 2, static_cast<uint16_t>(caplen));
    } else if (caplen >= 40) {
        put_be16(buf + 4, static_cast<uint16_t>(caplen - 40));
    }
    if (v.proto == 17 && caplen >= v.payload_off) {
        // Keep the UDP length within the shortened packet; never lengthen it (a datagram may
        // be shorter than its IP packet).
        uint8_t *ulen = buf + v.payload_off - 4;
        const size_t fit = caplen - (v.payload_off - 8);
        if (be16(ulen) > fit) put_be16(ulen, static_cast<uint16_t>(fit));
    }
}

} // namespace policer::l7
