// dissect_cli_test.cpp - `policer dissect` on capture files written here byte by byte
// (Ethernet, Linux cooked and raw IP): a valid HTTP exchange, and malformed frames among it. No
// frame may stop the run; each malformed one is counted exactly once, by reason, and the
// valid flows are still classified. Bad invocations and unreadable files fail with the
// documented exit codes. These tests need neither root nor policerd.
#include "harness.h"
#include "packet_builder.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace pltest;
using namespace pltest::pkt;

namespace {

// ---- packets ----

const Addr4 kClient = {{192, 0, 2, 10}};
const Addr4 kResolver = {{192, 0, 2, 53}};
const Addr4 kServer = {{198, 51, 100, 20}};
constexpr uint16_t kClientPort = 45678;
constexpr uint16_t kDnsClientPort = 53000;
// The name the DNS answer resolves to kServer, and the HTTP request asks kServer for.
const char *kHost = kHttpHost;

// www.policer.test A: the query, or the response answering kServer (TTL 300).
Bytes dns(bool response) {
    return dns_a(kHost, response, kServer, 300);
}

// ---- malformed packets ----

Bytes ihl3() {
    Bytes p = tcp4(kClient, kClientPort, kServer, 80, 1, 1, kAck);
    p[0] = 0x43;
    return p;
}

Bytes tcp_doff2() {
    Bytes p = tcp4(kClient, kClientPort, kServer, 80, 1, 1, kAck, text("xx"));
    p[20 + 12] = 0x20;
    return p;
}

Bytes udp_len_too_big() {
    Bytes p = udp4(kClient, 40000, kServer, 9999, text("0123456789"));
    put16(p, 24, 1000);
    return p;
}

Bytes later_fragment() {
    Bytes p = udp4(kClient, 40000, kServer, 9999, text("fragment"));
    p[6] = 0x00;
    p[7] = 0xb9; // offset 185 * 8
    return p;
}

Bytes icmp_echo() {
    return ipv4(1, kClient, kServer, {8, 0, 0xf7, 0xfe, 0, 1, 0, 1});
}

// IPv6 UDP behind a hop-by-hop options header.
Bytes ipv6_hop_by_hop() {
    const Addr6 src = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    const Addr6 dst = {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
    return ipv6(kHopByHop, src, dst, cat(hop_by_hop(kUdp), udp(40000, 9999, text("ping"))));
}

// 200 bytes from a fixed-seed generator, the version nibble set to 9: neither IPv4 nor IPv6.
Bytes garbage() {
    Bytes b(200);
    uint32_t x = 2463534242u;
    for (auto &c : b) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<uint8_t>(x);
    }
    b[0] = static_cast<uint8_t>(0x90 | (b[0] & 0x0f));
    return b;
}

Bytes arp() {
    // Request: who has 192.0.2.1? tell 192.0.2.10.
    return {0,   1, 8, 0,  6, 4, 0, 1, 2, 0, 0,   0, 0, 1,
            192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1};
}

// ---- link layers ----

constexpr uint16_t kIPv4 = 0x0800, kIPv6 = 0x86dd, kArp = 0x0806;

Bytes ether(uint16_t type, const Bytes &payload, const std::vector<uint16_t> &tags = {}) {
    Bytes f = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    // Outer tag first: each tag is its TPID then its TCI; the last TPID is followed by `type`.
    for (size_t i = 0; i < tags.size(); ++i)
        f = cat(f, {static_cast<uint8_t>(tags[i] >> 8), static_cast<uint8_t>(tags[i]), 0,
                    static_cast<uint8_t>(10 + i)});
    f = cat(f, {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)});
    return cat(f, payload);
}

// Linux cooked capture v1: packet type, ARPHRD_ETHER, address length and address, protocol.
Bytes sll(uint16_t protocol, const Bytes &payload, bool outgoing) {
    Bytes f = {0,
               static_cast<uint8_t>(outgoing ? 4 : 0),
               0,
               1,
               0,
               6,
               0x02,
               0,
               0,
               0,
               0,
               1,
               0,
               0,
               static_cast<uint8_t>(protocol >> 8),
               static_cast<uint8_t>(protocol)};
    return cat(f, payload);
}

// ---- pcap files ----

constexpr uint32_t kLinkEthernet = 1, kLinkRaw = 101, kLinkSll = 113, kLink80211 = 105;

class Pcap {
public:
    explicit Pcap(uint32_t linktype) {
        le32(0xa1b2c3d4); // microsecond timestamps, written little endian
        le16(2);
        le16(4);
        le32(0); // thiszone
        le32(0); // sigfigs
        le32(65535);
        le32(linktype);
    }

    // A record of `frame`, of which only the first `caplen` bytes are captured.
    void add(const Bytes &frame, size_t caplen = SIZE_MAX) {
        const size_t cap = caplen < frame.size() ? caplen : frame.size();
        ++frames_;
        le32(1700000000u + frames_ / 10);
        le32((frames_ % 10) * 1000u);
        le32(static_cast<uint32_t>(cap));
        le32(static_cast<uint32_t>(frame.size()));
        data_.insert(data_.end(), frame.begin(), frame.begin() + static_cast<long>(cap));
    }

    // Appends raw bytes (a broken record).
    void raw(const Bytes &b) { data_.insert(data_.end(), b.begin(), b.end()); }

    void write(const std::string &path) const {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char *>(data_.data()),
                  static_cast<std::streamsize>(data_.size()));
        REQUIRE(out.good());
    }

    uint32_t frames() const { return frames_; }

private:
    void le16(uint16_t v) {
        data_.push_back(static_cast<uint8_t>(v));
        data_.push_back(static_cast<uint8_t>(v >> 8));
    }
    void le32(uint32_t v) {
        le16(static_cast<uint16_t>(v));
        le16(static_cast<uint16_t>(v >> 16));
    }

    Bytes data_;
    uint32_t frames_ = 0;
};

// The Ethernet capture: DNS over VLAN (one tag, then two), the HTTP exchange with every kind
// of malformed frame between its request and its response.
//   bad_link 1, non_ip 1; malformed: bad_header 3, too_short 1, truncated_l4 1, fragment 1,
//   bad_version 1; not_tcp_udp 2; 20 frames, 18 of them IP.
Pcap ethernet_capture() {
    Pcap p(kLinkEthernet);
    p.add(ether(kIPv4, udp4(kClient, kDnsClientPort, kResolver, 53, dns(false)), {0x8100}));
    p.add(ether(kIPv4, udp4(kResolver, 53, kClient, kDnsClientPort, dns(true)), {0x88a8, 0x8100}));
    const auto http = http_exchange(kClient, kClientPort, kServer);
    for (size_t i = 0; i < 4; ++i)
        p.add(ether(kIPv4, http[i]));
    p.add(ether(kIPv4, http[4]), 10);           // cut inside the Ethernet header
    p.add(ether(kArp, arp()));                  // not IP
    p.add(ether(kIPv4, ihl3()));                // IHL 3
    p.add(ether(kIPv4, tcp_doff2()));           // TCP data offset 2
    p.add(ether(kIPv4, udp_len_too_big()));     // UDP length past the packet
    p.add(ether(kIPv4, http[4]), 14 + 12);      // cut inside the IP header
    p.add(ether(kIPv4, http[4]), 14 + 20 + 10); // cut inside the TCP header
    p.add(ether(kIPv4, later_fragment()));      // not the first fragment
    p.add(ether(kIPv6, ipv6_hop_by_hop()));     // extension header: not TCP/UDP
    p.add(ether(kIPv4, icmp_echo()));           // not TCP/UDP
    p.add(ether(kIPv4, garbage()));             // random bytes
    for (size_t i = 4; i < http.size(); ++i)
        p.add(ether(kIPv4, http[i]));
    return p;
}

// The same exchange in Linux cooked framing, with a cut SLL header, a non-IP protocol, an
// IHL 3 packet, garbage and an IPv6 hop-by-hop packet among it.
//   bad_link 1, non_ip 1; malformed: bad_header 1, bad_version 1; not_tcp_udp 1; 12 frames.
Pcap sll_capture() {
    Pcap p(kLinkSll);
    const auto http = http_exchange(kClient, kClientPort, kServer);
    for (size_t i = 0; i < 4; ++i)
        p.add(sll(kIPv4, http[i], i != 1));
    p.add(sll(kIPv4, http[4], false), 10); // cut inside the cooked header
    p.add(sll(kArp, arp(), true));
    p.add(sll(kIPv4, ihl3(), true));
    p.add(sll(kIPv4, garbage(), false));
    p.add(sll(kIPv6, ipv6_hop_by_hop(), true));
    for (size_t i = 4; i < http.size(); ++i)
        p.add(sll(kIPv4, http[i], i != 4));
    return p;
}

// Raw IP: the exchange with an IHL 3 packet, garbage, a 10-byte and an empty record, and ICMP.
//   malformed: bad_header 1, bad_version 1, too_short 2; not_tcp_udp 1; 12 frames.
Pcap raw_capture() {
    Pcap p(kLinkRaw);
    const auto http = http_exchange(kClient, kClientPort, kServer);
    for (size_t i = 0; i < 4; ++i)
        p.add(http[i]);
    p.add(ihl3());
    p.add(garbage());
    p.add(http[4], 10);
    p.add(Bytes());
    p.add(icmp_echo());
    for (size_t i = 4; i < http.size(); ++i)
        p.add(http[i]);
    return p;
}

// ---- output ----

struct Dissected {
    std::vector<json> flows;
    json summary;
};

Dissected parse_output(const std::string &out) {
    Dissected d;
    std::istringstream in(out);
    std::string line;
    int summaries = 0;
    while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << line);
        if (is_action(j, "flow-dissected")) {
            CHECK(summaries == 0); // the summary comes last
            d.flows.push_back(j);
        } else if (is_action(j, "dissect-summary")) {
            ++summaries;
            d.summary = j;
        } else {
            FAIL("unexpected document: " << line);
        }
    }
    CHECK(summaries == 1);
    return d;
}

Dissected dissect_json(const std::string &file) {
    auto r = run({Binaries::policer(), "dissect", "--json", file});
    INFO("stderr: " << r.err);
    REQUIRE(r.status == 0);
    return parse_output(r.out);
}

const json *flow_to(const Dissected &d, uint16_t port) {
    for (const auto &f : d.flows)
        if (at(f, "destination.port") == port) return &f;
    return nullptr;
}

void check_http_flow(const Dissected &d, bool with_domain) {
    const json *f = flow_to(d, 80);
    REQUIRE_MESSAGE(f, "no flow to port 80");
    const json &h = *f;
    CHECK(at(h, "network.transport") == "tcp");
    CHECK(at(h, "network.type") == "ipv4");
    CHECK(at(h, "source.ip") == kClient.str());
    CHECK(at(h, "source.port") == kClientPort);
    CHECK(at(h, "destination.ip") == kServer.str());
    CHECK(at(h, "network.packets") == 7);
    CHECK(at(h, "source.packets") == 5);
    CHECK(at(h, "destination.packets") == 2);
    CHECK(at(h, "source.bytes") == kHttpRequest.size());
    CHECK(at(h, "destination.bytes") == kHttpResponse.size());
    CHECK(at(h, "network.protocol") == "http");
    CHECK(at(h, "policer.l7.protocol") == "HTTP");
    CHECK(at(h, "policer.l7.classified") == true);
    CHECK(at(h, "policer.l7.host") == kHost);
    CHECK(at(h, "http.request.method") == "GET");
    CHECK(at(h, "http.response.status_code") == 200);
    CHECK(at(h, "url.original") == std::string(kHost) + "/index.html");
    CHECK(at(h, "url.path") == "/index.html");
    CHECK(at(h, "url.domain") == kHost);
    CHECK(at(h, "user_agent.original") == "policer-test-agent/1.0");
    if (with_domain)
        CHECK(at(h, "destination.domain") == kHost);
    else
        CHECK(at(h, "destination.domain").is_null());
}

// The counters of the summary document, compared whole: a reason counted that the capture
// does not have fails as much as one missing.
void check_summary(const Dissected &d, const std::string &file, uint64_t frames, uint64_t non_ip,
                   uint64_t bad_link, const json &by_reason, uint64_t not_tcp_udp, uint64_t flows,
                   uint64_t classified) {
    REQUIRE(at(d.summary, "policer.dissect").is_object());
    auto s = [&d](const char *key) { return at(d.summary, std::string("policer.dissect.") + key); };
    CHECK(at(d.summary, "event.kind") == "metric");
    CHECK(s("file") == file);
    CHECK(s("frames") == frames);
    CHECK(s("non_ip") == non_ip);
    CHECK(s("bad_link") == bad_link);
    CHECK(s("packets") == frames - non_ip - bad_link);
    uint64_t malformed = 0;
    for (const auto &kv : by_reason.items())
        malformed += kv.value().get<uint64_t>();
    CHECK(s("malformed") == malformed);
    CHECK(s("malformed_by_reason") == by_reason);
    CHECK(s("not_tcp_udp") == not_tcp_udp);
    CHECK(s("flows") == flows);
    CHECK(s("classified") == classified);
    CHECK(s("evicted") == 0);
    CHECK(d.flows.size() == flows);
}

std::string write(const TempDir &dir, const std::string &name, const Pcap &p) {
    const std::string path = dir.file(name);
    p.write(path);
    return path;
}

std::string write_bytes(const TempDir &dir, const std::string &name, const std::string &bytes) {
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

} // namespace

TEST_CASE("dissect CLI: Ethernet capture with malformed frames, counted by reason") {
    TempDir dir;
    const Pcap cap = ethernet_capture();
    REQUIRE(cap.frames() == 20);
    const std::string file = write(dir, "ethernet.pcap", cap);
    const Dissected d = dissect_json(file);

    check_summary(d, file, 20, 1, 1,
                  {{"too_short", 1},
                   {"bad_version", 1},
                   {"bad_header", 3},
                   {"fragment", 1},
                   {"truncated_l4", 1}},
                  2, 2, 2);
    CHECK(at(d.summary, "policer.dissect.dns_responses") == 1);
    check_http_flow(d, /*with_domain=*/true);

    // The DNS flow, carried in VLAN tags.
    const json *dns = flow_to(d, 53);
    REQUIRE(dns);
    CHECK(at(*dns, "network.transport") == "udp");
    CHECK(at(*dns, "source.ip") == kClient.str());
    CHECK(at(*dns, "source.port") == kDnsClientPort);
    CHECK(at(*dns, "destination.ip") == kResolver.str());
    CHECK(at(*dns, "network.packets") == 2);
    CHECK(at(*dns, "network.protocol") == "dns");
    CHECK(at(*dns, "dns.question.name") == kHost);
    CHECK(at(*dns, "dns.question.type") == "A");
    CHECK(at(*dns, "dns.response_code") == "NOERROR");
    REQUIRE(at(*dns, "dns.answers").size() == 1);
    CHECK(at(*dns, "dns.answers")[0]["data"] == kServer.str());
    CHECK(at(*dns, "dns.answers")[0]["ttl"] == 300);
    CHECK(at(*dns, "dns.resolved_ip") == json::array({kServer.str()}));
    // Flows are printed in the order they started.
    CHECK(at(d.flows[0], "destination.port") == 53);
}

TEST_CASE("dissect CLI: table output of the Ethernet capture, with the counts on stderr") {
    TempDir dir;
    const std::string file = write(dir, "ethernet.pcap", ethernet_capture());
    auto r = run({Binaries::policer(), "dissect", file});
    INFO("stderr: " << r.err);
    REQUIRE(r.status == 0);

    std::istringstream in(r.out);
    std::string header, line;
    REQUIRE(std::getline(in, header));
    CHECK(header.rfind("PROTO", 0) == 0);
    std::vector<std::string> rows;
    while (std::getline(in, line))
        rows.push_back(line);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].rfind("udp", 0) == 0);
    CHECK(rows[0].find(kClient.str() + ":" + std::to_string(kDnsClientPort)) != std::string::npos);
    CHECK(rows[0].find(kResolver.str() + ":53") != std::string::npos);
    CHECK(rows[0].find("DNS") != std::string::npos);
    CHECK(rows[1].rfind("tcp", 0) == 0);
    CHECK(rows[1].find(kClient.str() + ":" + std::to_string(kClientPort)) != std::string::npos);
    CHECK(rows[1].find(kServer.str() + ":80") != std::string::npos);
    CHECK(rows[1].find("HTTP") != std::string::npos);
    CHECK(rows[1].find(kHost) != std::string::npos);

    CHECK(r.err.find("20 frames, 18 IP packets in 2 flows (2 classified)") != std::string::npos);
    CHECK(r.err.find("7 malformed, 2 not TCP/UDP, 1 not IP, 1 with a cut link header") !=
          std::string::npos);
}

TEST_CASE("dissect CLI: Linux cooked capture with malformed frames") {
    TempDir dir;
    const Pcap cap = sll_capture();
    REQUIRE(cap.frames() == 12);
    const std::string file = write(dir, "cooked.pcap", cap);
    const Dissected d = dissect_json(file);
    check_summary(d, file, 12, 1, 1, {{"bad_header", 1}, {"bad_version", 1}}, 1, 1, 1);
    check_http_flow(d, /*with_domain=*/false);

    auto r = run({Binaries::policer(), "dissect", file});
    CHECK(r.status == 0);
    CHECK(r.err.find("2 malformed, 1 not TCP/UDP, 1 not IP, 1 with a cut link header") !=
          std::string::npos);
}

TEST_CASE("dissect CLI: raw IP capture with malformed packets") {
    TempDir dir;
    const Pcap cap = raw_capture();
    REQUIRE(cap.frames() == 12);
    const std::string file = write(dir, "raw.pcap", cap);
    const Dissected d = dissect_json(file);
    check_summary(d, file, 12, 0, 0, {{"too_short", 2}, {"bad_header", 1}, {"bad_version", 1}}, 1,
                  1, 1);
    check_http_flow(d, /*with_domain=*/false);

    auto r = run({Binaries::policer(), "dissect", file});
    CHECK(r.status == 0);
    CHECK(r.err.find("4 malformed, 1 not TCP/UDP, 0 not IP, 0 with a cut link header") !=
          std::string::npos);
}

TEST_CASE("dissect CLI: a VLAN tag cut short is a cut link header, not another ethertype") {
    TempDir dir;
    Pcap p(kLinkEthernet);
    const Bytes tagged = ether(kIPv4, http_exchange(kClient, kClientPort, kServer)[0], {0x8100});
    p.add(tagged, 16); // the tag's TPID and TCI, not the ethertype after them
    p.add(tagged, 14); // only the TPID
    const std::string file = write(dir, "vlan-cut.pcap", p);
    const Dissected d = dissect_json(file);
    CHECK(at(d.summary, "policer.dissect.frames") == 2);
    CHECK(at(d.summary, "policer.dissect.bad_link") == 2);
    CHECK(at(d.summary, "policer.dissect.non_ip") == 0);
    CHECK(at(d.summary, "policer.dissect.packets") == 0);
}

TEST_CASE("dissect CLI: --max-flows 1 still prints every flow") {
    TempDir dir;
    const std::string file = write(dir, "ethernet.pcap", ethernet_capture());
    auto r = run({Binaries::policer(), "dissect", "--json", "--max-flows", "1", file});
    INFO("stderr: " << r.err);
    REQUIRE(r.status == 0);
    const Dissected d = parse_output(r.out);
    REQUIRE(d.flows.size() == 2);
    CHECK(at(d.flows[0], "network.protocol") == "dns");
    CHECK(at(d.flows[1], "network.protocol") == "http");
    CHECK(at(d.summary, "policer.dissect.flows") == 2);
}

TEST_CASE("dissect CLI: a flow printed early for room keeps what was learned of it") {
    // --max-flows 2: the HTTP flow (request seen, response not yet) is the least recent when
    // the second UDP flow arrives, so it is printed then, with its request. Its response
    // arrives later, as a new flow.
    TempDir dir;
    Pcap p(kLinkRaw);
    const auto http = http_exchange(kClient, kClientPort, kServer);
    for (size_t i = 0; i < 4; ++i)
        p.add(http[i]);
    p.add(udp4(kClient, 41000, kServer, 9000, text("\x01\x02opaque one")));
    p.add(udp4(kClient, 41001, kServer, 9001, text("\x01\x02opaque two")));
    for (size_t i = 4; i < http.size(); ++i)
        p.add(http[i]);
    const std::string file = write(dir, "evict.pcap", p);
    auto r = run({Binaries::policer(), "dissect", "--json", "--max-flows", "2", file});
    INFO("stderr: " << r.err);
    REQUIRE(r.status == 0);
    const Dissected d = parse_output(r.out);
    std::vector<json> web;
    for (const auto &f : d.flows)
        if (at(f, "destination.port") == 80 || at(f, "source.port") == 80) web.push_back(f);
    REQUIRE_FALSE(web.empty());
    // The request went out on the first: its document names it.
    CHECK(at(web[0], "user_agent.original") == "policer-test-agent/1.0");
    CHECK(at(web[0], "http.request.method") == "GET");
    // Every packet of the exchange is counted once, across its documents.
    uint64_t packets = 0;
    for (const auto &f : web)
        packets += at(f, "network.packets").get<uint64_t>();
    CHECK(packets == http.size());
    // Each UDP flow is printed once.
    int udp = 0;
    for (const auto &f : d.flows)
        udp += at(f, "network.transport") == "udp";
    CHECK(udp == 2);
}

TEST_CASE("dissect CLI: a capture cut inside a record fails after what it could read") {
    TempDir dir;
    Pcap p(kLinkRaw);
    for (const auto &pkt : http_exchange(kClient, kClientPort, kServer))
        p.add(pkt);
    // A record header announcing 100 bytes, then 20 of them.
    p.raw({0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0});
    p.raw(Bytes(20, 0x45));
    const std::string file = write(dir, "cut.pcap", p);
    auto r = run({Binaries::policer(), "dissect", "--json", file});
    CHECK(r.status == 1);
    CHECK(r.err.find(file) != std::string::npos);
    const Dissected d = parse_output(r.out);
    CHECK(d.flows.size() == 1);
    CHECK(at(d.summary, "policer.dissect.frames") == 7);
}

TEST_CASE("dissect CLI: unreadable input and bad arguments") {
    TempDir dir;
    const std::string good = write(dir, "ok.pcap", raw_capture());

    SUBCASE("a file that is not a capture") {
        const std::string f = write_bytes(dir, "notes.txt", std::string(100, 'x') + "\n");
        auto r = run({Binaries::policer(), "dissect", f});
        CHECK(r.status == 1);
        CHECK(r.err.find("cannot read") != std::string::npos);
        CHECK(r.err.find(f) != std::string::npos);
        CHECK(r.out.empty());
    }
    SUBCASE("an empty file") {
        const std::string f = write_bytes(dir, "empty.pcap", "");
        auto r = run({Binaries::policer(), "dissect", "--json", f});
        CHECK(r.status == 1);
        CHECK(r.err.find("cannot read") != std::string::npos);
    }
    SUBCASE("a missing file") {
        auto r = run({Binaries::policer(), "dissect", dir.file("missing.pcap")});
        CHECK(r.status == 1);
        CHECK(r.err.find("cannot read") != std::string::npos);
        CHECK(r.err.find("missing.pcap") != std::string::npos);
    }
    SUBCASE("no file argument") {
        auto r = run({Binaries::policer(), "dissect"});
        CHECK(r.status == 2);
        CHECK_FALSE(r.err.empty());
        r = run({Binaries::policer(), "dissect", "--json"});
        CHECK(r.status == 2);
    }
    SUBCASE("--max-flows 0 and --max-packets 0") {
        auto r = run({Binaries::policer(), "dissect", "--max-flows", "0", good});
        CHECK(r.status == 2);
        CHECK(r.err.find("--max-flows") != std::string::npos);
        r = run({Binaries::policer(), "dissect", "--max-packets", "0", good});
        CHECK(r.status == 2);
        r = run({Binaries::policer(), "dissect", "--max-flows", "many", good});
        CHECK(r.status == 2);
    }
    SUBCASE("an extra argument") {
        auto r = run({Binaries::policer(), "dissect", good, good});
        CHECK(r.status == 2);
    }
    SUBCASE("an unsupported link type") {
        Pcap p(kLink80211);
        p.add(Bytes(40, 0));
        const std::string f = write(dir, "wifi.pcap", p);
        auto r = run({Binaries::policer(), "dissect", f});
        CHECK(r.status == 1);
        CHECK(r.err.find("link type") != std::string::npos);
        CHECK(r.err.find("105") != std::string::npos);
        CHECK(r.err.find("IEEE802_11") != std::string::npos);
        CHECK(r.out.empty());
    }
}

TEST_CASE("dissect CLI: every classified flow carries its result, also those identified on "
          "their first packet (QUIC)") {
    TempDir dir;
    const std::string pcap = dir.file("mix.pcap");
    REQUIRE(run({PL_GEN_PCAP, "--flows", "300", "--seed", "7", "--out", pcap}).status == 0);
    auto r = run({Binaries::policer(), "dissect", "--json", pcap});
    REQUIRE(r.status == 0);
    size_t with_result = 0, quic = 0;
    json summary;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
        json j = json::parse(line);
        if (is_action(j, "dissect-summary")) summary = j;
        if (!is_action(j, "flow-dissected")) continue;
        if (at(j, "policer.l7.classified") == true) {
            ++with_result;
            CHECK(at(j, "network.protocol").is_string());
        }
        if (at(j, "network.protocol") == "quic") ++quic;
    }
    CHECK(quic > 0);
    // The summary's count and the flows printed with a result agree: none was dropped.
    CHECK(at(summary, "policer.dissect.classified") == with_result);
}
