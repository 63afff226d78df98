// packet_view.h - parsing of one IP packet (from the IP header) as captured: by the probes'
// payload samples or from a pcap file. Every length is checked against the captured bytes;
// a packet that fails any check is rejected with a reason, never partially used.
#pragma once

#include <cstddef>
#include <cstdint>

namespace policer::l7 {

enum class PacketError {
    None,
    TooShort,    // fewer bytes than an IP header
    BadVersion,  // neither IPv4 nor IPv6
    BadHeader,   // IPv4 header length out of range, or inconsistent lengths
    Fragment,    // a non-first IPv4 fragment: no L4 header
    NotTcpUdp,   // another protocol (or IPv6 extension headers before TCP/UDP)
    TruncatedL4, // the TCP/UDP header is cut off
};

const char *packet_error_name(PacketError e);

struct PacketView {
    uint8_t family = 0;                 // 2 or 10
    uint8_t proto = 0;                  // 6 or 17
    uint8_t src[16] = {}, dst[16] = {}; // IPv4 in the first 4 bytes
    uint16_t sport = 0, dport = 0;
    uint8_t tcp_flags = 0;
    uint32_t ip_len = 0;      // the IP packet's length per its header
    uint32_t payload_off = 0; // L4 payload, within the captured bytes
    uint32_t payload_len = 0; // captured payload bytes (may be less than sent)
    bool truncated = false;   // fewer bytes captured than the header says
};

// Parses `len` captured bytes starting at the IP header.
PacketError parse_packet(const uint8_t *ip, size_t len, PacketView &out);

// Rewrites the IP length field of a truncated capture (in place, `buf` holding `caplen`
// bytes) so that a parser trusting the header - nDPI - sees only what was captured.
void fit_ip_length(uint8_t *buf, size_t caplen, const PacketView &v);

} // namespace policer::l7
