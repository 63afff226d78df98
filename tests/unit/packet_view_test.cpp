// packet_view_test.cpp - parse_packet: every field of valid IPv4/IPv6 TCP/UDP packets, every
// rejection reason, captures cut short (truncated, payload limited to what was captured), and
// fit_ip_length; every prefix of a valid packet parses or fails cleanly, read from exact-size
// heap copies so that a sanitizer build catches any read past the capture.
#include "policer/l7/packet_view.h"

#include "packet_builder.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

namespace pkt = pltest::pkt;
using pkt::Bytes;
using pkt::kSyn;
using pkt::put16;
using pkt::text;
using pkt::udp;
using policer::l7::fit_ip_length;
using policer::l7::PacketError;
using policer::l7::PacketView;
using policer::l7::parse_packet;

// Every packet here goes between the same two addresses: the tests are about the header
// fields and lengths the parser reads, and check the addresses once for each family.
const pkt::Addr4 kSrc4 = {{10, 1, 2, 3}};
const pkt::Addr4 kDst4 = {{192, 0, 2, 80}};
const pkt::Addr6 kSrc6 = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
const pkt::Addr6 kDst6 = {{0xfd, 0x31, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}};

constexpr uint8_t kPshAck = pkt::kPsh | pkt::kAck;

// A TCP header with `options` bytes of NOP options (a multiple of 4), then the payload. The
// parser does not read sequence numbers: every segment has the same ones.
Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes &payload, size_t options = 0) {
    return pkt::tcp(sport, dport, 1000, 2000, flags, payload, options);
}

// An IPv4 packet kSrc4 -> kDst4 around `l4`, with `options` bytes of IP options.
Bytes ipv4(uint8_t proto, const Bytes &l4, size_t options = 0) {
    return pkt::ipv4(proto, kSrc4, kDst4, l4, options);
}

// An IPv6 packet kSrc6 -> kDst6 around `l4`.
Bytes ipv6(uint8_t next, const Bytes &l4) {
    return pkt::ipv6(next, kSrc6, kDst6, l4);
}

// An exact-size heap copy of the first `n` bytes (see pkt::ExactCopy), parsed.
struct Capture : pkt::ExactCopy {
    using ExactCopy::ExactCopy;
    PacketError parse(PacketView &v) const { return parse_packet(buf.get(), len, v); }
};

PacketError parse(const Bytes &b, PacketView &v, size_t n) {
    return Capture(b, n).parse(v);
}

PacketError parse(const Bytes &b, PacketView &v) {
    return parse(b, v, b.size());
}

PacketError parse(const Bytes &b) {
    PacketView v;
    return parse(b, v);
}

std::string payload_of(const uint8_t *ip, const PacketView &v) {
    return std::string(reinterpret_cast<const char *>(ip) + v.payload_off, v.payload_len);
}

void check_v4_addresses(const PacketView &v) {
    CHECK(v.family == 2);
    CHECK(std::memcmp(v.src, kSrc4.b, 4) == 0);
    CHECK(std::memcmp(v.dst, kDst4.b, 4) == 0);
    for (int i = 4; i < 16; ++i) {
        CHECK(v.src[i] == 0);
        CHECK(v.dst[i] == 0);
    }
}

void check_v6_addresses(const PacketView &v) {
    CHECK(v.family == 10);
    CHECK(std::memcmp(v.src, kSrc6.b, 16) == 0);
    CHECK(std::memcmp(v.dst, kDst6.b, 16) == 0);
}

const char *kHello = "GET / HTTP/1.1\r\n\r\n"; // 18 bytes

} // namespace

TEST_CASE("packet view: IPv4 TCP, every field") {
    const Bytes p = ipv4(6, tcp(40000, 80, kPshAck, text(kHello)));
    REQUIRE(p.size() == 58);
    PacketView v;
    Capture c(p, p.size());
    REQUIRE(c.parse(v) == PacketError::None);
    check_v4_addresses(v);
    CHECK(v.proto == 6);
    CHECK(v.sport == 40000);
    CHECK(v.dport == 80);
    CHECK(v.tcp_flags == kPshAck);
    CHECK(v.ip_len == 58);
    CHECK(v.payload_off == 40);
    CHECK(v.payload_len == 18);
    CHECK_FALSE(v.truncated);
    CHECK(payload_of(c.buf.get(), v) == kHello);
}

TEST_CASE("packet view: IPv4 with IP options and TCP with options") {
    const Bytes p = ipv4(6, tcp(1234, 443, kSyn, text("xy"), 12), 8);
    PacketView v;
    REQUIRE(parse(p, v) == PacketError::None);
    check_v4_addresses(v);
    CHECK(v.proto == 6);
    CHECK(v.sport == 1234);
    CHECK(v.dport == 443);
    CHECK(v.tcp_flags == kSyn);
    CHECK(v.ip_len == 28 + 32 + 2);
    CHECK(v.payload_off == 28 + 32);
    CHECK(v.payload_len == 2);
    CHECK_FALSE(v.truncated);
}

TEST_CASE("packet view: IPv4 UDP, every field") {
    const Bytes p = ipv4(17, udp(5353, 53, text("0123456789")));
    PacketView v;
    Capture c(p, p.size());
    REQUIRE(c.parse(v) == PacketError::None);
    check_v4_addresses(v);
    CHECK(v.proto == 17);
    CHECK(v.sport == 5353);
    CHECK(v.dport == 53);
    CHECK(v.tcp_flags == 0);
    CHECK(v.ip_len == 38);
    CHECK(v.payload_off == 28);
    CHECK(v.payload_len == 10);
    CHECK_FALSE(v.truncated);
    CHECK(payload_of(c.buf.get(), v) == "0123456789");
}

TEST_CASE("packet view: IPv6 TCP, every field") {
    const Bytes p = ipv6(6, tcp(50000, 8080, kPshAck, text(kHello)));
    PacketView v;
    Capture c(p, p.size());
    REQUIRE(c.parse(v) == PacketError::None);
    check_v6_addresses(v);
    CHECK(v.proto == 6);
    CHECK(v.sport == 50000);
    CHECK(v.dport == 8080);
    CHECK(v.tcp_flags == kPshAck);
    CHECK(v.ip_len == 40 + 20 + 18);
    CHECK(v.payload_off == 60);
    CHECK(v.payload_len == 18);
    CHECK_FALSE(v.truncated);
    CHECK(payload_of(c.buf.get(), v) == kHello);
}

TEST_CASE("packet view: IPv6 UDP, every field") {
    const Bytes p = ipv6(17, udp(443, 61000, text("quic?")));
    PacketView v;
    Capture c(p, p.size());
    REQUIRE(c.parse(v) == PacketError::None);
    check_v6_addresses(v);
    CHECK(v.proto == 17);
    CHECK(v.sport == 443);
    CHECK(v.dport == 61000);
    CHECK(v.tcp_flags == 0);
    CHECK(v.ip_len == 40 + 8 + 5);
    CHECK(v.payload_off == 48);
    CHECK(v.payload_len == 5);
    CHECK_FALSE(v.truncated);
    CHECK(payload_of(c.buf.get(), v) == "quic?");
}

TEST_CASE("packet view: bytes captured past the IP length (link padding) are not payload") {
    // A bare ACK (40 bytes) padded to Ethernet's 46-byte minimum.
    Bytes p = ipv4(6, tcp(40000, 80, 0x10, {}));
    p.resize(46, 0);
    PacketView v;
    REQUIRE(parse(p, v) == PacketError::None);
    CHECK(v.ip_len == 40);
    CHECK(v.payload_off == 40);
    CHECK(v.payload_len == 0);
    CHECK_FALSE(v.truncated);

    // The same for IPv6 UDP.
    Bytes q = ipv6(17, udp(1, 2, text("abc")));
    q.resize(q.size() + 7, 0xee);
    REQUIRE(parse(q, v) == PacketError::None);
    CHECK(v.ip_len == 51);
    CHECK(v.payload_len == 3);
    CHECK_FALSE(v.truncated);
}

TEST_CASE("packet view: a UDP payload ends where the UDP length says") {
    // The IP packet is 6 bytes longer than the datagram it carries.
    Bytes p = ipv4(17, udp(1000, 2000, text("abcd")));
    p.insert(p.end(), 6, 0xee);
    put16(p, 2, static_cast<uint16_t>(p.size()));
    PacketView v;
    REQUIRE(parse(p, v) == PacketError::None);
    CHECK(v.ip_len == 38);
    CHECK(v.payload_off == 28);
    CHECK(v.payload_len == 4);
    CHECK_FALSE(v.truncated);
}

TEST_CASE("packet view: first fragments and DF are parsed, later fragments are rejected") {
    Bytes p = ipv4(17, udp(1, 2, text("frag")));
    p[6] = 0x20; // MF, offset 0: the first fragment carries the UDP header
    CHECK(parse(p) == PacketError::None);
    p[6] = 0x40; // DF
    CHECK(parse(p) == PacketError::None);
    p[6] = 0x00;
    p[7] = 0x01; // offset 8
    CHECK(parse(p) == PacketError::Fragment);
    p[6] = 0x20;
    p[7] = 0xb9; // MF, offset 185 * 8
    CHECK(parse(p) == PacketError::Fragment);
    p[6] = 0x1f;
    p[7] = 0x00; // only high offset bits
    CHECK(parse(p) == PacketError::Fragment);
}

TEST_CASE("packet view: TooShort") {
    const Bytes p4 = ipv4(6, tcp(1, 2, kPshAck, text(kHello)));
    for (size_t n : {0, 1, 10, 19})
        CHECK(parse(Bytes(p4.begin(), p4.begin() + static_cast<long>(n))) == PacketError::TooShort);
    // An IPv6 header is 40 bytes.
    const Bytes p6 = ipv6(17, udp(1, 2, text("x")));
    for (size_t n : {0, 19, 20, 39})
        CHECK(parse(Bytes(p6.begin(), p6.begin() + static_cast<long>(n))) == PacketError::TooShort);
}

TEST_CASE("packet view: BadVersion") {
    Bytes p = ipv4(6, tcp(1, 2, kPshAck, text(kHello)));
    for (uint8_t version : {0, 1, 5, 7, 15}) {
        p[0] = static_cast<uint8_t>(version << 4 | 5);
        CHECK(parse(p) == PacketError::BadVersion);
    }
    CHECK(parse(Bytes(20, 0)) == PacketError::BadVersion);
    CHECK(parse(Bytes(64, 0xff)) == PacketError::BadVersion);
}

TEST_CASE("packet view: BadHeader, IPv4 header length below 20") {
    Bytes p = ipv4(6, tcp(1, 2, kPshAck, text(kHello)));
    for (uint8_t ihl : {0, 1, 3, 4}) {
        p[0] = static_cast<uint8_t>(0x40 | ihl);
        CHECK(parse(p) == PacketError::BadHeader);
    }
}

TEST_CASE("packet view: BadHeader, IPv4 header longer than the capture") {
    // IHL 15 (60 bytes) in a 40-byte capture.
    Bytes p = ipv4(6, tcp(1, 2, kSyn, {}));
    REQUIRE(p.size() == 40);
    p[0] = 0x4f;
    CHECK(parse(p) == PacketError::BadHeader);
    // IHL 6 (24 bytes) in a 22-byte capture.
    Bytes q(p.begin(), p.begin() + 22);
    q[0] = 0x46;
    CHECK(parse(q) == PacketError::BadHeader);
}

TEST_CASE("packet view: BadHeader, IPv4 total length below the header length") {
    Bytes p = ipv4(6, tcp(1, 2, kPshAck, text(kHello)));
    for (uint16_t total : {0, 1, 19}) {
        put16(p, 2, total);
        CHECK(parse(p) == PacketError::BadHeader);
    }
    Bytes q = ipv4(17, udp(1, 2, text("x")), 8); // IHL 7
    put16(q, 2, 27);
    CHECK(parse(q) == PacketError::BadHeader);
}

TEST_CASE("packet view: BadHeader, TCP data offset below 5") {
    Bytes p = ipv4(6, tcp(1, 2, kPshAck, text(kHello)));
    for (uint8_t doff : {0, 2, 4}) {
        p[20 + 12] = static_cast<uint8_t>(doff << 4);
        CHECK(parse(p) == PacketError::BadHeader);
    }
    Bytes q = ipv6(6, tcp(1, 2, kPshAck, text(kHello)));
    q[40 + 12] = 0x20;
    CHECK(parse(q) == PacketError::BadHeader);
}

TEST_CASE("packet view: BadHeader, UDP length below 8 or beyond the IP packet") {
    Bytes p = ipv4(17, udp(1, 2, text("0123456789")));
    for (uint16_t ulen : {0, 1, 7}) {
        put16(p, 24, ulen);
        CHECK(parse(p) == PacketError::BadHeader);
    }
    put16(p, 24, 19); // one byte past the IP packet
    CHECK(parse(p) == PacketError::BadHeader);
    put16(p, 24, 0xffff);
    CHECK(parse(p) == PacketError::BadHeader);
    put16(p, 24, 18); // exactly the IP payload
    CHECK(parse(p) == PacketError::None);

    Bytes q = ipv6(17, udp(1, 2, text("abc")));
    put16(q, 44, 12);
    CHECK(parse(q) == PacketError::BadHeader);
    put16(q, 44, 4);
    CHECK(parse(q) == PacketError::BadHeader);
}

TEST_CASE("packet view: NotTcpUdp") {
    Bytes icmp(8, 0);
    icmp[0] = 8; // echo request
    PacketView v;
    CHECK(parse(ipv4(1, icmp), v) == PacketError::NotTcpUdp);
    CHECK(parse(ipv4(47, Bytes(24, 0))) == PacketError::NotTcpUdp); // GRE
    CHECK(parse(ipv6(58, icmp)) == PacketError::NotTcpUdp);         // ICMPv6

    // IPv6 extension headers before UDP are not walked.
    const Bytes hbh = pkt::cat(pkt::hop_by_hop(pkt::kUdp), udp(1, 2, text("x")));
    CHECK(parse(ipv6(pkt::kHopByHop, hbh)) == PacketError::NotTcpUdp);
}

TEST_CASE("packet view: TruncatedL4, the TCP or UDP header is cut off") {
    const Bytes t4 = ipv4(6, tcp(1, 2, kPshAck, text(kHello)));
    PacketView v;
    for (size_t n : {20, 21, 30, 39})
        CHECK(parse(t4, v, n) == PacketError::TruncatedL4);
    CHECK(parse(t4, v, 40) == PacketError::None);

    // TCP options announced (doff 8) but not captured.
    const Bytes opt = ipv4(6, tcp(1, 2, kPshAck, text(kHello), 12));
    for (size_t n : {40, 45, 51})
        CHECK(parse(opt, v, n) == PacketError::TruncatedL4);
    CHECK(parse(opt, v, 52) == PacketError::None);

    const Bytes u4 = ipv4(17, udp(1, 2, text("abc")));
    for (size_t n : {20, 27})
        CHECK(parse(u4, v, n) == PacketError::TruncatedL4);
    const Bytes u6 = ipv6(17, udp(1, 2, text("abc")));
    for (size_t n : {40, 47})
        CHECK(parse(u6, v, n) == PacketError::TruncatedL4);
    const Bytes t6 = ipv6(6, tcp(1, 2, kPshAck, text("abc")));
    for (size_t n : {40, 59})
        CHECK(parse(t6, v, n) == PacketError::TruncatedL4);

    // The header says the packet ends inside the TCP header, whatever was captured.
    Bytes shortlen = t4;
    put16(shortlen, 2, 30);
    CHECK(parse(shortlen, v) == PacketError::TruncatedL4);
}

TEST_CASE("packet view: error names") {
    using policer::l7::packet_error_name;
    CHECK(std::string(packet_error_name(PacketError::None)) == "none");
    CHECK(std::string(packet_error_name(PacketError::TooShort)) == "too_short");
    CHECK(std::string(packet_error_name(PacketError::BadVersion)) == "bad_version");
    CHECK(std::string(packet_error_name(PacketError::BadHeader)) == "bad_header");
    CHECK(std::string(packet_error_name(PacketError::Fragment)) == "fragment");
    CHECK(std::string(packet_error_name(PacketError::NotTcpUdp)) == "not_tcp_udp");
    CHECK(std::string(packet_error_name(PacketError::TruncatedL4)) == "truncated_l4");
}

TEST_CASE("packet view: a capture cut in the payload is truncated, with the captured payload") {
    const Bytes body(100, 'a');
    PacketView v;

    const Bytes t4 = ipv4(6, tcp(40000, 80, kPshAck, body));
    REQUIRE(parse(t4, v, 60) == PacketError::None);
    CHECK(v.truncated);
    CHECK(v.ip_len == 140);
    CHECK(v.payload_off == 40);
    CHECK(v.payload_len == 20);
    CHECK(v.sport == 40000);
    CHECK(v.tcp_flags == kPshAck);
    // Cut right after the TCP header: no payload captured, still truncated.
    REQUIRE(parse(t4, v, 40) == PacketError::None);
    CHECK(v.truncated);
    CHECK(v.payload_len == 0);

    const Bytes u4 = ipv4(17, udp(5000, 53, body));
    REQUIRE(parse(u4, v, 50) == PacketError::None);
    CHECK(v.truncated);
    CHECK(v.ip_len == 128);
    CHECK(v.payload_off == 28);
    CHECK(v.payload_len == 22);

    const Bytes t6 = ipv6(6, tcp(1, 2, kPshAck, body));
    REQUIRE(parse(t6, v, 70) == PacketError::None);
    CHECK(v.truncated);
    CHECK(v.ip_len == 160);
    CHECK(v.payload_off == 60);
    CHECK(v.payload_len == 10);

    const Bytes u6 = ipv6(17, udp(1, 2, body));
    REQUIRE(parse(u6, v, 49) == PacketError::None);
    CHECK(v.truncated);
    CHECK(v.ip_len == 148);
    CHECK(v.payload_off == 48);
    CHECK(v.payload_len == 1);
}

namespace {

// Parses the first `caplen` bytes of `p` (a truncated capture), fits the lengths, and checks
// that the fitted packet parses as complete, with the same header fields and payload.
void check_fit(const Bytes &p, size_t caplen) {
    CAPTURE(caplen);
    Capture cut(p, caplen);
    PacketView v;
    REQUIRE(cut.parse(v) == PacketError::None);
    REQUIRE(v.truncated);
    const std::string payload = payload_of(cut.buf.get(), v);

    fit_ip_length(cut.buf.get(), cut.len, v);
    PacketView f;
    REQUIRE(cut.parse(f) == PacketError::None);
    CHECK_FALSE(f.truncated);
    CHECK(f.ip_len == caplen);
    CHECK(f.family == v.family);
    CHECK(f.proto == v.proto);
    CHECK(std::memcmp(f.src, v.src, 16) == 0);
    CHECK(std::memcmp(f.dst, v.dst, 16) == 0);
    CHECK(f.sport == v.sport);
    CHECK(f.dport == v.dport);
    CHECK(f.tcp_flags == v.tcp_flags);
    CHECK(f.payload_off == v.payload_off);
    CHECK(f.payload_len == v.payload_len);
    CHECK(payload_of(cut.buf.get(), f) == payload);
    // Only length fields changed: the rest of the capture is as it was.
    const uint8_t *b = cut.buf.get();
    if (v.family == 2) {
        CHECK((b[2] << 8 | b[3]) == static_cast<int>(caplen));
        CHECK(std::memcmp(b + 4, p.data() + 4, v.payload_off - 4 - (v.proto == 17 ? 4 : 0)) == 0);
    } else {
        CHECK((b[4] << 8 | b[5]) == static_cast<int>(caplen - 40));
        CHECK(std::memcmp(b + 6, p.data() + 6, 34) == 0);
    }
    if (v.proto == 17)
        CHECK((b[v.payload_off - 4] << 8 | b[v.payload_off - 3]) ==
              static_cast<int>(caplen - v.payload_off + 8));
    CHECK(std::memcmp(b + v.payload_off, p.data() + v.payload_off, v.payload_len) == 0);
}

} // namespace

TEST_CASE("packet view: fit_ip_length makes a truncated capture a complete packet") {
    const Bytes body(300, 'z');
    const Bytes t4 = ipv4(6, tcp(40000, 80, kPshAck, body, 12), 4);
    const Bytes u4 = ipv4(17, udp(5000, 53, body));
    const Bytes t6 = ipv6(6, tcp(1, 2, kPshAck, body));
    const Bytes u6 = ipv6(17, udp(3, 4, body));
    for (size_t caplen : {56, 57, 100, 200, 355})
        check_fit(t4, caplen);
    for (size_t caplen : {28, 29, 100, 327})
        check_fit(u4, caplen);
    for (size_t caplen : {60, 61, 200, 359})
        check_fit(t6, caplen);
    for (size_t caplen : {48, 49, 200, 347})
        check_fit(u6, caplen);
}

TEST_CASE("packet view: fit_ip_length leaves a complete packet alone") {
    for (const Bytes &p :
         {ipv4(6, tcp(1, 2, kPshAck, text(kHello))), ipv4(17, udp(1, 2, text("abc"))),
          ipv6(6, tcp(1, 2, kSyn, {})), ipv6(17, udp(1, 2, text("abcdef")))}) {
        Bytes copy = p;
        PacketView v;
        REQUIRE(parse(copy, v) == PacketError::None);
        REQUIRE_FALSE(v.truncated);
        fit_ip_length(copy.data(), copy.size(), v);
        CHECK(copy == p);
    }
}

TEST_CASE("packet view: fit_ip_length keeps a UDP datagram shorter than its IP packet intact") {
    // The IP packet (112 bytes) carries a 20-byte datagram, then 72 bytes that are not UDP
    // payload. Captured: 60 bytes, the whole datagram. The fitted packet must still carry the
    // 12-byte payload parse_packet reported, not 32 bytes of which 20 were never UDP payload.
    Bytes p = ipv4(17, udp(1000, 2000, text("0123456789ab")));
    p.insert(p.end(), 72, 0xee);
    put16(p, 2, static_cast<uint16_t>(p.size()));
    Capture cut(p, 60);
    PacketView v;
    REQUIRE(cut.parse(v) == PacketError::None);
    REQUIRE(v.truncated);
    REQUIRE(v.payload_len == 12);
    fit_ip_length(cut.buf.get(), cut.len, v);
    PacketView f;
    REQUIRE(cut.parse(f) == PacketError::None);
    CHECK_FALSE(f.truncated);
    CHECK(f.payload_len == 12);
    CHECK((cut.buf[24] << 8 | cut.buf[25]) == 20); // the UDP length as it was
}

namespace {

// The reason a prefix of `caplen` bytes of a valid packet must be rejected with, given the
// packet's IP header size and transport header size (None: it must parse).
PacketError expected_for_prefix(size_t caplen, bool v6, size_t ip_hdr, size_t l4_hdr) {
    if (caplen < (v6 ? 40 : 20)) return PacketError::TooShort;
    if (!v6 && caplen < ip_hdr) return PacketError::BadHeader;
    if (caplen < ip_hdr + l4_hdr) return PacketError::TruncatedL4;
    return PacketError::None;
}

void check_every_prefix(const Bytes &p, bool v6, size_t ip_hdr, size_t l4_hdr) {
    for (size_t caplen = 0; caplen <= p.size(); ++caplen) {
        CAPTURE(caplen);
        Capture c(p, caplen);
        PacketView v;
        const PacketError err = c.parse(v);
        REQUIRE(err == expected_for_prefix(caplen, v6, ip_hdr, l4_hdr));
        if (err != PacketError::None) continue;
        CHECK(v.ip_len == p.size());
        CHECK(v.truncated == (caplen < p.size()));
        CHECK(v.payload_off == ip_hdr + l4_hdr);
        CHECK(v.payload_off + v.payload_len == caplen);
        if (!v.truncated) continue;
        // The fitted copy parses as complete, with the same payload.
        fit_ip_length(c.buf.get(), c.len, v);
        PacketView f;
        REQUIRE(c.parse(f) == PacketError::None);
        CHECK_FALSE(f.truncated);
        CHECK(f.payload_len == v.payload_len);
    }
}

} // namespace

TEST_CASE("packet view: every prefix of a valid packet parses or fails cleanly") {
    const Bytes body = text("GET /index.html HTTP/1.1\r\nHost: example.test\r\n\r\n");
    check_every_prefix(ipv4(6, tcp(40000, 80, kPshAck, body)), false, 20, 20);
    check_every_prefix(ipv4(6, tcp(40000, 80, kPshAck, body, 12), 8), false, 28, 32);
    check_every_prefix(ipv4(17, udp(5353, 53, body)), false, 20, 8);
    check_every_prefix(ipv4(17, udp(5353, 53, body), 40), false, 60, 8);
    check_every_prefix(ipv6(6, tcp(40000, 80, kPshAck, body, 20)), true, 40, 40);
    check_every_prefix(ipv6(17, udp(5353, 53, body)), true, 40, 8);
}

TEST_CASE("packet view: random bytes never read past the capture") {
    // A fixed-seed generator: the same inputs on every run.
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&state]() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    size_t accepted = 0;
    for (int i = 0; i < 20000; ++i) {
        const size_t len = next() % 120;
        Bytes b(len);
        for (auto &x : b)
            x = static_cast<uint8_t>(next());
        // Half of them get a plausible version and transport, to get past the first checks.
        if (len > 0 && i % 2) b[0] = static_cast<uint8_t>((i % 4 == 1 ? 0x40 : 0x60) | (b[0] & 15));
        if (len > 9 && i % 4 == 1) b[9] = (i & 8) ? 6 : 17;
        if (len > 6 && i % 4 == 3) b[6] = (i & 8) ? 6 : 17;
        Capture c(b, len);
        PacketView v;
        if (c.parse(v) != PacketError::None) continue;
        ++accepted;
        REQUIRE(v.payload_off + v.payload_len <= len);
        REQUIRE(v.payload_off + v.payload_len <= v.ip_len);
        REQUIRE((v.family == 2 || v.family == 10));
        REQUIRE((v.proto == 6 || v.proto == 17));
        if (v.truncated) fit_ip_length(c.buf.get(), c.len, v);
    }
    CHECK(accepted > 0);
}
