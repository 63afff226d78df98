// packet_builder.h - packets for the tests, written byte by byte as they appear on the wire:
// IPv4 and IPv6 around TCP and UDP, with lengths and checksums right, a DNS A query and
// answer, and one HTTP exchange. Tests that want a malformed packet build a good one here and
// then break the one field they are about, so that nothing else about it is wrong.
//
// Header-only and dependent on nothing of policer, so that the unit tests (which feed these to
// the parsers directly) and the integration tests (which write them into capture files for
// `policer dissect`) build the very same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace pltest::pkt {

using Bytes = std::vector<uint8_t>;

// ---- bytes ----

// Network byte order, into bytes that are already there (the headers below are zero-filled
// first, then written field by field at their offsets, as the RFC diagrams lay them out).
inline void put16(Bytes &b, size_t off, uint16_t v) {
    b[off] = static_cast<uint8_t>(v >> 8);
    b[off + 1] = static_cast<uint8_t>(v);
}

inline void put32(Bytes &b, size_t off, uint32_t v) {
    put16(b, off, static_cast<uint16_t>(v >> 16));
    put16(b, off + 2, static_cast<uint16_t>(v));
}

inline Bytes text(const std::string &s) {
    return Bytes(s.begin(), s.end());
}

inline Bytes cat(Bytes a, const Bytes &b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The Internet checksum (RFC 1071) of b[off, off + len), added to `sum` (a pseudo-header's).
inline uint16_t checksum(const Bytes &b, size_t off, size_t len, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += static_cast<uint32_t>(b[off + i] << 8 | b[off + i + 1]);
    if (len % 2) sum += static_cast<uint32_t>(b[off + len - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// The first `n` bytes of a packet in a heap buffer of exactly that size. Parsers are given
// this rather than a vector's data(): a vector may have spare capacity after its last byte,
// where a read past the capture goes unnoticed; past this buffer it is a heap overflow that
// AddressSanitizer reports.
struct ExactCopy {
    std::unique_ptr<uint8_t[]> buf;
    size_t len;

    ExactCopy(const Bytes &b, size_t n) : buf(new uint8_t[n]), len(n) {
        if (n) std::memcpy(buf.get(), b.data(), n);
    }
};

// ---- addresses ----

struct Addr4 {
    uint8_t b[4];

    // Dotted quad, as policer prints it.
    std::string str() const {
        return std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) +
               "." + std::to_string(b[3]);
    }
};

struct Addr6 {
    uint8_t b[16];
};

// ---- TCP and UDP ----

constexpr uint8_t kTcp = 6, kUdp = 17;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kPsh = 0x08, kAck = 0x10;

// A TCP header with `options` bytes of NOP options (a multiple of 4), then the payload. The
// checksum is left 0: it covers the IP addresses, so ipv4() and ipv6() fill it in.
inline Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                 const Bytes &payload = {}, size_t options = 0) {
    Bytes t(20 + options, 1); // 1: NOP
    std::memset(t.data(), 0, 20);
    put16(t, 0, sport);
    put16(t, 2, dport);
    put32(t, 4, seq);
    put32(t, 8, ack);
    t[12] = static_cast<uint8_t>((20 + options) / 4 << 4);
    t[13] = flags;
    put16(t, 14, 64240); // window
    return cat(t, payload);
}

// A UDP header and payload; the checksum is left to ipv4() and ipv6(), as for tcp().
inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload) {
    Bytes u(8, 0);
    put16(u, 0, sport);
    put16(u, 2, dport);
    put16(u, 4, static_cast<uint16_t>(8 + payload.size()));
    return cat(u, payload);
}

namespace detail {

// Fills in the checksum of the TCP or UDP segment that starts at `l4` in packet `b`. Its sum
// starts with the pseudo-header (RFC 768 and 793 for IPv4, RFC 8200 for IPv6): the source and
// destination address (`addr_len` bytes each, from `addrs`), the protocol and the segment's
// length. Other protocols, and segments too short to hold the field, are left as they are.
inline void fill_l4_checksum(Bytes &b, size_t addrs, size_t addr_len, uint8_t proto, size_t l4) {
    if (proto != kTcp && proto != kUdp) return;
    const size_t at = l4 + (proto == kTcp ? 16 : 6);
    if (b.size() < at + 2) return;
    const size_t len = b.size() - l4;
    uint32_t pseudo = proto + static_cast<uint32_t>(len);
    for (size_t i = addrs; i < addrs + 2 * addr_len; i += 2)
        pseudo += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
    put16(b, at, 0); // the field itself is summed as 0
    put16(b, at, checksum(b, l4, len, pseudo));
}

} // namespace detail

// ---- IP ----

// An IPv4 packet from `src` to `dst` carrying `l4` (a TCP or UDP segment, or any payload of
// protocol `proto`), with `options` bytes of NOP options (a multiple of 4). DF set, TTL 64;
// lengths and checksums correct, the transport's included.
inline Bytes ipv4(uint8_t proto, const Addr4 &src, const Addr4 &dst, const Bytes &l4,
                  size_t options = 0) {
    const size_t hdr = 20 + options;
    Bytes b(hdr, 1); // 1: NOP
    std::memset(b.data(), 0, 20);
    b[0] = static_cast<uint8_t>(0x40 | hdr / 4);
    put16(b, 2, static_cast<uint16_t>(hdr + l4.size()));
    put16(b, 4, 0x4242); // identification
    b[6] = 0x40;         // DF
    b[8] = 64;
    b[9] = proto;
    std::memcpy(&b[12], src.b, 4);
    std::memcpy(&b[16], dst.b, 4);
    put16(b, 10, checksum(b, 0, hdr));
    b = cat(b, l4);
    detail::fill_l4_checksum(b, 12, 4, proto, hdr);
    return b;
}

// An IPv6 packet from `src` to `dst` with next header `next`, then `l4` (which may begin with
// extension headers: then it is sent as it is, with no transport checksum). Hop limit 64.
inline Bytes ipv6(uint8_t next, const Addr6 &src, const Addr6 &dst, const Bytes &l4) {
    Bytes b(40, 0);
    b[0] = 0x60;
    put16(b, 4, static_cast<uint16_t>(l4.size()));
    b[6] = next;
    b[7] = 64;
    std::memcpy(&b[8], src.b, 16);
    std::memcpy(&b[24], dst.b, 16);
    b = cat(b, l4);
    detail::fill_l4_checksum(b, 8, 16, next, 40);
    return b;
}

// An IPv6 hop-by-hop options header, 8 bytes (a PadN option filling it), followed by header
// `next`: what a packet whose transport is behind an extension header starts its payload with.
constexpr uint8_t kHopByHop = 0;
inline Bytes hop_by_hop(uint8_t next) {
    return {next, 0, 1, 4, 0, 0, 0, 0};
}

inline Bytes tcp4(const Addr4 &src, uint16_t sport, const Addr4 &dst, uint16_t dport, uint32_t seq,
                  uint32_t ack, uint8_t flags, const Bytes &payload = {}) {
    return ipv4(kTcp, src, dst, tcp(sport, dport, seq, ack, flags, payload));
}

inline Bytes udp4(const Addr4 &src, uint16_t sport, const Addr4 &dst, uint16_t dport,
                  const Bytes &payload) {
    return ipv4(kUdp, src, dst, udp(sport, dport, payload));
}

// ---- application payloads ----

// A DNS message about the A record of `name`: the query, or (`response`) the answer `addr`
// with `ttl`, its owner name a pointer to the question's as servers write it. Transaction id
// 0x1234; recursion desired, and available in the response.
inline Bytes dns_a(const std::string &name, bool response, const Addr4 &addr = {},
                   uint32_t ttl = 0) {
    Bytes m(12, 0);
    put16(m, 0, 0x1234);
    put16(m, 2, response ? 0x8180 : 0x0100);
    put16(m, 4, 1);                // one question
    put16(m, 6, response ? 1 : 0); // answers
    for (size_t start = 0; start < name.size();) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        m.push_back(static_cast<uint8_t>(dot - start));
        m.insert(m.end(), name.begin() + static_cast<long>(start),
                 name.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    m = cat(m, {0, 0, 1, 0, 1}); // root label; type A, class IN
    if (!response) return m;
    Bytes answer = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4};
    put32(answer, 6, ttl);
    answer.insert(answer.end(), addr.b, addr.b + 4);
    return cat(m, answer);
}

// The HTTP request and response of http_exchange(); the tests check the fields nDPI reads
// from them (host, URL, user agent, status) and their sizes (the flow's byte counts).
constexpr char kHttpHost[] = "www.policer.test";
inline const std::string kHttpRequest = std::string("GET /index.html HTTP/1.1\r\n") +
                                        "Host: " + kHttpHost +
                                        "\r\n"
                                        "User-Agent: policer-test-agent/1.0\r\n"
                                        "Accept: */*\r\n"
                                        "\r\n";
inline const std::string kHttpResponse = "HTTP/1.1 200 OK\r\n"
                                         "Server: test\r\n"
                                         "Content-Type: text/html\r\n"
                                         "Content-Length: 21\r\n"
                                         "\r\n"
                                         "<html>policer</html>\n";

// The initial sequence numbers of http_exchange(), for a test that builds one of its segments
// again (nDPI follows the sequence numbers of a TCP stream).
constexpr uint32_t kHttpClientIsn = 1000, kHttpServerIsn = 5000;

// One whole HTTP exchange between client:cport and server:80, handshake to FIN: 7 packets, 5
// of them from the client; the request is packet 3, the response packet 4.
inline std::vector<Bytes> http_exchange(const Addr4 &client, uint16_t cport, const Addr4 &server) {
    const uint32_t c = kHttpClientIsn, s = kHttpServerIsn;
    const auto req = static_cast<uint32_t>(kHttpRequest.size());
    const auto resp = static_cast<uint32_t>(kHttpResponse.size());
    return {
        tcp4(client, cport, server, 80, c, 0, kSyn),
        tcp4(server, 80, client, cport, s, c + 1, kSyn | kAck),
        tcp4(client, cport, server, 80, c + 1, s + 1, kAck),
        tcp4(client, cport, server, 80, c + 1, s + 1, kPsh | kAck, text(kHttpRequest)),
        tcp4(server, 80, client, cport, s + 1, c + 1 + req, kPsh | kAck, text(kHttpResponse)),
        tcp4(client, cport, server, 80, c + 1 + req, s + 1 + resp, kAck),
        tcp4(client, cport, server, 80, c + 1 + req, s + 1 + resp, kFin | kAck),
    };
}

} // namespace pltest::pkt
