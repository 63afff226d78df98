// dissector_test.cpp - the Dissector with the real nDPI engine, fed packets built here as they
// appear on the wire: HTTP classified with its request fields, DNS answers teaching the domain
// cache, malformed and non-TCP/UDP packets counted by reason without ever creating a flow,
// the bounds (max_flows, max_packets), expiry, take(), and DissectKey's canonical form.
#include "policer/l7/dissector.h"

#include "policer/l7/dpi_engine.h"
#include "policer/l7/domain_cache.h"

#include "packet_builder.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace pltest::pkt;
using policer::l7::DissectKey;
using policer::l7::DissectKeyHash;
using policer::l7::Dissector;
using policer::l7::DissectorConfig;
using policer::l7::DomainCache;
using policer::l7::DpiEngine;
using policer::l7::L7Info;
using policer::l7::PacketError;
using policer::l7::PacketView;

constexpr uint64_t kMs = 1000000ull;
constexpr uint64_t kSec = 1000000000ull;

const Addr4 kClient = {{10, 0, 0, 1}};
const Addr4 kServer = {{10, 0, 0, 2}};
const Addr4 kResolver = {{10, 0, 0, 53}};

// A DNS message for example.test A: a query, or a response with one answer (192.0.2.7, TTL
// 60).
Bytes dns_message(bool response) {
    return dns_a("example.test", response, Addr4{{192, 0, 2, 7}}, 60);
}

// Payload no nDPI dissector claims.
Bytes opaque(int n) {
    Bytes b = text("\x01\x02policer-opaque-" + std::to_string(n));
    b.resize(48, 0x5a);
    return b;
}

struct Done {
    DissectKey key;
    pl_flow_key ref;
    L7Info info;
};

DissectKey key_of(const Bytes &packet, uint64_t cookie = 0) {
    PacketView v;
    REQUIRE(policer::l7::parse_packet(packet.data(), packet.size(), v) == PacketError::None);
    return DissectKey::of(cookie, v);
}

pl_flow_key ref_of(uint64_t cookie, uint16_t rport) {
    pl_flow_key r{};
    r.cookie = cookie;
    r.family = 2;
    r.rport = rport;
    return r;
}

// One nDPI engine for the whole test run: its initialisation is the slow part.
DpiEngine &engine() {
    static std::unique_ptr<DpiEngine> e = [] {
        auto r = DpiEngine::create();
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return std::move(*r);
    }();
    return *e;
}

// A dissector with its domain cache, recording every on_done call.
struct Fixture {
    DomainCache domains{1024, 30 * kSec};
    std::vector<Done> done;
    Dissector d;

    explicit Fixture(DissectorConfig cfg = DissectorConfig{})
        : d(engine(), domains, cfg,
            [this](const DissectKey &k, const pl_flow_key &ref, const L7Info &info) {
                done.push_back(Done{k, ref, info});
            }) {}

    // Feeds an exact-size heap copy, so that a sanitizer build catches reads past the capture.
    PacketError feed(const Bytes &p, uint64_t ts_ns, pl_flow_key ref = pl_flow_key{},
                     size_t caplen = SIZE_MAX) {
        const ExactCopy copy(p, caplen < p.size() ? caplen : p.size());
        return d.feed(ref, copy.buf.get(), copy.len, ts_ns);
    }

    size_t done_for(const DissectKey &k) const {
        size_t n = 0;
        for (const auto &x : done)
            n += x.key == k;
        return n;
    }
};

} // namespace

TEST_CASE("dissector: an HTTP exchange is classified with its request fields, done once") {
    Fixture f;
    const auto packets = http_exchange(kClient, 40000, kServer);
    const DissectKey key = key_of(packets[0], 7);
    uint64_t ts = 1 * kSec;
    for (size_t i = 0; i < 5; ++i) {
        // The ref of the first packet names the flow; later ones must not replace it.
        REQUIRE(f.feed(packets[i], ts += kMs, ref_of(7, static_cast<uint16_t>(80 + i))) ==
                PacketError::None);
    }
    REQUIRE(f.done.size() == 1);
    const Done &d = f.done[0];
    CHECK(d.key == key);
    CHECK(d.ref.cookie == 7);
    CHECK(d.ref.rport == 80);
    CHECK(d.info.done);
    CHECK(d.info.classified);
    CHECK_FALSE(d.info.guessed);
    CHECK(d.info.protocol == "HTTP");
    CHECK(d.info.network_protocol() == "http");
    CHECK(d.info.host == "www.policer.test");
    REQUIRE(d.info.http);
    CHECK(d.info.http->method == "GET");
    CHECK(d.info.http->url == "www.policer.test/index.html");
    CHECK(d.info.http->user_agent == "policer-test-agent/1.0");
    CHECK(d.info.http->status_code == 200);
    CHECK(d.info.packets == 5);

    // The rest of the connection: counted after done, no second on_done.
    f.feed(packets[5], ts += kMs, ref_of(7, 1));
    f.feed(packets[6], ts += kMs, ref_of(7, 2));
    CHECK(f.done.size() == 1);
    const auto &s = f.d.stats();
    CHECK(s.packets == 7);
    CHECK(s.after_done == 2);
    CHECK(s.flows == 1);
    CHECK(s.classified == 1);
    CHECK(s.malformed == 0);
    CHECK(s.evicted == 0);

    // The finished flow stays until taken; taking it does not report it again.
    REQUIRE(f.d.size() == 1);
    const L7Info *peeked = f.d.peek(key);
    REQUIRE(peeked);
    CHECK(peeked->protocol == "HTTP");
    auto taken = f.d.take(key);
    REQUIRE(taken);
    CHECK(taken->http->user_agent == "policer-test-agent/1.0");
    CHECK(f.done.size() == 1);
    CHECK(f.d.size() == 0);
    CHECK_FALSE(f.d.take(key));
    CHECK(f.d.peek(key) == nullptr);
}

TEST_CASE("dissector: the same exchange with another cookie is another flow") {
    Fixture f;
    const auto packets = http_exchange(kClient, 40001, kServer);
    for (size_t i = 0; i < 5; ++i) {
        f.feed(packets[i], kSec + i * kMs, ref_of(1, 80));
        f.feed(packets[i], kSec + i * kMs, ref_of(2, 80));
    }
    CHECK(f.d.stats().flows == 2);
    REQUIRE(f.done.size() == 2);
    CHECK(f.done[0].ref.cookie != f.done[1].ref.cookie);
    CHECK(f.done[0].info.protocol == "HTTP");
    CHECK(f.done[1].info.protocol == "HTTP");
}

TEST_CASE("dissector: a DNS response fills the answers and teaches the domain cache") {
    Fixture f;
    const Bytes query = udp4(kClient, 5555, kResolver, 53, dns_message(false));
    const Bytes response = udp4(kResolver, 53, kClient, 5555, dns_message(true));
    const uint8_t answered[4] = {192, 0, 2, 7};
    REQUIRE_FALSE(f.domains.lookup(2, answered, 10 * kSec));

    REQUIRE(f.feed(query, 10 * kSec) == PacketError::None);
    REQUIRE(f.feed(response, 10 * kSec + kMs) == PacketError::None);
    CHECK(f.d.stats().dns_responses == 1);
    CHECK(f.d.stats().dns_errors == 0);
    CHECK(f.domains.lookup(2, answered, 11 * kSec) == std::string("example.test"));
    // IPv4 found through its IPv4-mapped form too.
    const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
    CHECK(f.domains.lookup(10, mapped, 11 * kSec) == std::string("example.test"));

    const DissectKey key = key_of(query);
    auto info = f.d.take(key);
    REQUIRE(info);
    CHECK(info->done);
    CHECK(info->protocol == "DNS");
    REQUIRE(info->dns);
    CHECK(info->dns->query == "example.test");
    CHECK(info->dns->query_type == "A");
    CHECK(info->dns->response_code == "NOERROR");
    REQUIRE(info->dns->answers.size() == 1);
    CHECK(info->dns->answers[0].name == "example.test");
    CHECK(info->dns->answers[0].type == "A");
    CHECK(info->dns->answers[0].ttl == 60);
    CHECK(info->dns->answers[0].data == "192.0.2.7");
    REQUIRE(f.done.size() == 1);
    REQUIRE(f.done[0].info.dns);
    CHECK(f.done[0].info.dns->answers.size() == 1);
}

TEST_CASE("dissector: a lone DNS response packet is enough") {
    Fixture f;
    const Bytes response = udp4(kResolver, 53, kClient, 6666, dns_message(true));
    REQUIRE(f.feed(response, 10 * kSec) == PacketError::None);
    CHECK(f.d.stats().dns_responses == 1);
    const uint8_t answered[4] = {192, 0, 2, 7};
    CHECK(f.domains.lookup(2, answered, 10 * kSec) == std::string("example.test"));
    auto info = f.d.take(key_of(response));
    REQUIRE(info);
    REQUIRE(info->dns);
    REQUIRE(info->dns->answers.size() == 1);
    CHECK(info->dns->answers[0].data == "192.0.2.7");
    CHECK(info->dns->response_code == "NOERROR");
}

TEST_CASE("dissector: a broken DNS payload is counted and teaches nothing") {
    Fixture f;
    Bytes msg = dns_message(true);
    msg.resize(msg.size() - 3); // the answer's address cut short
    const Bytes response = udp4(kResolver, 53, kClient, 7777, msg);
    REQUIRE(f.feed(response, 10 * kSec) == PacketError::None);
    CHECK(f.d.stats().dns_errors == 1);
    CHECK(f.d.stats().dns_responses == 0);
    CHECK(f.domains.size() == 0);
}

TEST_CASE("dissector: malformed and non-TCP/UDP packets are counted by reason, never flows") {
    Fixture f;
    const Bytes good = tcp4(kClient, 40000, kServer, 80, 1, 0, kSyn);
    uint64_t ts = kSec;

    // Garbage: 200 bytes of 0xff (version 15), and all zeros (version 0).
    CHECK(f.feed(Bytes(200, 0xff), ts++) == PacketError::BadVersion);
    CHECK(f.feed(Bytes(64, 0), ts++) == PacketError::BadVersion);
    // Too short to be IP at all.
    CHECK(f.feed(Bytes(), ts++) == PacketError::TooShort);
    CHECK(f.feed(good, ts++, {}, 12) == PacketError::TooShort);
    // Truncated inside the TCP header.
    CHECK(f.feed(good, ts++, {}, 30) == PacketError::TruncatedL4);
    CHECK(f.feed(good, ts++, {}, 20) == PacketError::TruncatedL4);
    // IHL 3; TCP data offset 2; UDP length beyond the packet.
    Bytes ihl = good;
    ihl[0] = 0x43;
    CHECK(f.feed(ihl, ts++) == PacketError::BadHeader);
    Bytes doff = good;
    doff[32] = 0x20;
    CHECK(f.feed(doff, ts++) == PacketError::BadHeader);
    Bytes ulen = udp4(kClient, 1000, kServer, 2000, text("abc"));
    put16(ulen, 24, 200);
    CHECK(f.feed(ulen, ts++) == PacketError::BadHeader);
    // A later fragment.
    Bytes frag = udp4(kClient, 1000, kServer, 2000, text("abc"));
    frag[6] = 0x00;
    frag[7] = 0x10;
    CHECK(f.feed(frag, ts++) == PacketError::Fragment);
    // Well-formed, not TCP or UDP: ICMP echo, and IPv6 with a hop-by-hop header.
    CHECK(f.feed(ipv4(1, kClient, kServer, Bytes{8, 0, 0xf7, 0xff, 0, 0, 0, 0}), ts++) ==
          PacketError::NotTcpUdp);
    const Addr6 v6_src = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    const Addr6 v6_dst = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
    const Bytes v6 =
        ipv6(kHopByHop, v6_src, v6_dst, cat(hop_by_hop(kUdp), udp(1000, 2000, Bytes(3, 0))));
    CHECK(f.feed(v6, ts++) == PacketError::NotTcpUdp);

    const auto &s = f.d.stats();
    CHECK(s.packets == 12);
    CHECK(s.malformed == 10);
    CHECK(s.not_tcp_udp == 2);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::None)] == 0);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::TooShort)] == 2);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::BadVersion)] == 2);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::BadHeader)] == 3);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::Fragment)] == 1);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::NotTcpUdp)] == 0);
    CHECK(s.malformed_by_reason[static_cast<size_t>(PacketError::TruncatedL4)] == 2);
    CHECK(s.flows == 0);
    CHECK(s.after_done == 0);
    CHECK(f.d.size() == 0);
    CHECK(f.done.empty());
    f.d.finish_all();
    CHECK(f.done.empty());

    // The same tuple, well-formed, is a flow.
    CHECK(f.feed(good, ts++) == PacketError::None);
    CHECK(f.d.stats().flows == 1);
    CHECK(f.d.size() == 1);
}

TEST_CASE("dissector: a capture cut inside the payload is dissected, not malformed") {
    Fixture f;
    auto packets = http_exchange(kClient, 40002, kServer);
    uint64_t ts = kSec;
    for (size_t i = 0; i < 3; ++i)
        f.feed(packets[i], ts += kMs);
    // The request with a 200-byte padding header, captured up to the end of its User-Agent.
    const std::string cut_at = "policer-test-agent/1.0\r\n";
    std::string req = kHttpRequest;
    req.insert(req.size() - 2, "X-Padding: " + std::string(200, 'p') + "\r\n");
    const Bytes full = tcp4(kClient, 40002, kServer, 80, kHttpClientIsn + 1, kHttpServerIsn + 1,
                            kPsh | kAck, text(req));
    const size_t caplen = 40 + req.find(cut_at) + cut_at.size();
    REQUIRE(caplen < full.size());
    CHECK(f.feed(full, ts += kMs, {}, caplen) == PacketError::None);
    CHECK(f.d.stats().malformed == 0);
    auto info = f.d.take(key_of(packets[0]));
    REQUIRE(info);
    CHECK(info->protocol == "HTTP");
    REQUIRE(info->http);
    CHECK(info->http->method == "GET");
    CHECK(info->http->user_agent == "policer-test-agent/1.0");
}

TEST_CASE("dissector: every prefix of every packet of an exchange is handled") {
    // Each prefix goes to a fresh flow (its own cookie), so that nDPI sees a cut packet first.
    Fixture f(DissectorConfig{64, 32});
    uint64_t cookie = 1, accepted = 0, rejected = 0;
    for (const Bytes &p : http_exchange(kClient, 40003, kServer)) {
        for (size_t n = 0; n <= p.size(); ++n) {
            pl_flow_key ref = ref_of(cookie++, 80);
            if (f.feed(p, kSec + cookie, ref, n) == PacketError::None)
                ++accepted;
            else
                ++rejected;
        }
    }
    const auto &s = f.d.stats();
    CHECK(s.packets == accepted + rejected);
    CHECK(s.malformed + s.not_tcp_udp == rejected);
    CHECK(s.not_tcp_udp == 0);
    // Prefixes of 40 bytes and more (the headers) are accepted; shorter ones are not.
    CHECK(rejected == 7 * 40);
    CHECK(s.flows == accepted);
    CHECK(f.d.size() <= 64);
}

TEST_CASE("dissector: max_flows bounds the table, the least recent flow is given up") {
    Fixture f(DissectorConfig{4, 32});
    std::vector<DissectKey> keys;
    for (int i = 0; i < 6; ++i) {
        const Bytes p = udp4(kClient, static_cast<uint16_t>(41000 + i), kServer, 42000, opaque(i));
        keys.push_back(key_of(p, 100 + static_cast<uint64_t>(i)));
        REQUIRE(f.feed(p, kSec + static_cast<uint64_t>(i) * kMs,
                       ref_of(100 + static_cast<uint64_t>(i), 42000)) == PacketError::None);
        CHECK(f.d.size() == (i < 4 ? static_cast<size_t>(i) + 1 : 4u));
    }
    const auto &s = f.d.stats();
    CHECK(s.flows == 6);
    CHECK(s.evicted == 2);
    REQUIRE(f.done.size() == 2);
    for (int i = 0; i < 2; ++i) {
        const Done &d = f.done[static_cast<size_t>(i)];
        CHECK(d.key == keys[static_cast<size_t>(i)]);
        CHECK(d.ref.cookie == 100 + static_cast<uint64_t>(i));
        CHECK(d.info.done);
        CHECK_FALSE(d.info.classified);
        CHECK(d.info.packets == 1);
        CHECK(f.d.peek(keys[static_cast<size_t>(i)]) == nullptr);
    }
    for (int i = 2; i < 6; ++i)
        CHECK(f.d.peek(keys[static_cast<size_t>(i)]) != nullptr);

    // Feeding a flow makes it the most recent: the next one evicts flow 3, not flow 2.
    f.feed(udp4(kClient, 41002, kServer, 42000, opaque(2)), 2 * kSec, ref_of(102, 42000));
    f.feed(udp4(kClient, 41006, kServer, 42000, opaque(6)), 2 * kSec + kMs, ref_of(106, 42000));
    REQUIRE(f.done.size() == 3);
    CHECK(f.done[2].key == keys[3]);
    CHECK(f.d.stats().evicted == 3);
}

TEST_CASE("dissector: max_flows 1 keeps working") {
    Fixture f(DissectorConfig{1, 32});
    for (int i = 0; i < 3; ++i)
        f.feed(udp4(kClient, static_cast<uint16_t>(43000 + i), kServer, 42000, opaque(i)),
               kSec + static_cast<uint64_t>(i));
    CHECK(f.d.size() == 1);
    CHECK(f.d.stats().evicted == 2);
    CHECK(f.done.size() == 2);
}

TEST_CASE("dissector: an unclassifiable flow gives up after exactly max_packets packets") {
    Fixture f(DissectorConfig{16, 3});
    const Bytes a = udp4(kClient, 44000, kServer, 44001, opaque(1));
    const Bytes b = udp4(kServer, 44001, kClient, 44000, opaque(2));
    const DissectKey key = key_of(a);
    uint64_t ts = kSec;
    f.feed(a, ts += kMs, ref_of(0, 44001));
    f.feed(b, ts += kMs);
    CHECK(f.done.empty());
    const L7Info *so_far = f.d.peek(key);
    REQUIRE(so_far);
    CHECK_FALSE(so_far->done);
    CHECK(so_far->packets == 2);

    f.feed(a, ts += kMs);
    REQUIRE(f.done.size() == 1);
    const L7Info &info = f.done[0].info;
    CHECK(info.done);
    CHECK(info.packets == 3);
    CHECK((info.guessed || !info.classified));
    CHECK_FALSE(info.classified);
    CHECK(f.done[0].ref.rport == 44001);

    // Later packets are counted, not inspected.
    f.feed(b, ts += kMs);
    f.feed(a, ts += kMs);
    CHECK(f.done.size() == 1);
    CHECK(f.d.stats().after_done == 2);
    CHECK(f.d.stats().packets == 5);
    CHECK(f.d.peek(key)->packets == 3);
    CHECK(f.d.stats().classified == 0);
}

TEST_CASE("dissector: expire finishes idle flows only") {
    Fixture f;
    const Bytes a = udp4(kClient, 45000, kServer, 45001, opaque(1));
    const Bytes b = udp4(kClient, 45002, kServer, 45001, opaque(2));
    const Bytes c = udp4(kClient, 45004, kServer, 45001, opaque(3));
    f.feed(a, 1 * kSec);
    f.feed(b, 10 * kSec);
    f.feed(c, 12 * kSec);

    f.d.expire(5 * kSec, 5 * kSec); // nothing idle for 5 s yet
    CHECK(f.done.empty());
    CHECK(f.d.size() == 3);

    f.d.expire(12 * kSec, 5 * kSec); // a: idle 11 s
    REQUIRE(f.done.size() == 1);
    CHECK(f.done[0].key == key_of(a));
    CHECK(f.done[0].info.done);
    CHECK(f.d.size() == 2);
    CHECK(f.d.peek(key_of(a)) == nullptr);

    f.d.expire(15 * kSec, 5 * kSec); // b: idle exactly 5 s
    REQUIRE(f.done.size() == 2);
    CHECK(f.done[1].key == key_of(b));
    REQUIRE(f.d.size() == 1);
    CHECK(f.d.peek(key_of(c)) != nullptr);

    // Feeding refreshes: c fed at 16 s is not idle at 20 s.
    f.feed(c, 16 * kSec);
    f.d.expire(20 * kSec, 5 * kSec);
    CHECK(f.done.size() == 2);
    f.d.expire(21 * kSec, 5 * kSec);
    CHECK(f.done.size() == 3);
    CHECK(f.d.size() == 0);
    CHECK(f.d.stats().evicted == 0);
}

TEST_CASE("dissector: expiring a flow that is already done does not report it again") {
    Fixture f;
    const auto packets = http_exchange(kClient, 40004, kServer);
    for (size_t i = 0; i < 5; ++i)
        f.feed(packets[i], kSec + i);
    REQUIRE(f.done.size() == 1);
    f.d.expire(100 * kSec, kSec);
    CHECK(f.d.size() == 0);
    CHECK(f.done.size() == 1);
}

TEST_CASE("dissector: take returns the final result of a flow in progress and removes it") {
    Fixture f;
    const auto packets = http_exchange(kClient, 40005, kServer);
    for (size_t i = 0; i < 4; ++i) // up to the request, no response
        f.feed(packets[i], kSec + i, ref_of(9, 80));
    const DissectKey key = key_of(packets[0], 9);
    const L7Info *so_far = f.d.peek(key);
    REQUIRE(so_far);
    CHECK_FALSE(so_far->done);

    auto info = f.d.take(key);
    REQUIRE(info);
    CHECK(info->done);
    CHECK(info->protocol == "HTTP");
    REQUIRE(info->http);
    CHECK(info->http->method == "GET");
    CHECK(info->http->user_agent == "policer-test-agent/1.0");
    CHECK(info->http->status_code == 0);
    CHECK(f.d.size() == 0);
    REQUIRE(f.done.size() == 1);
    CHECK(f.done[0].ref.cookie == 9);
    CHECK_FALSE(f.d.take(key));

    // The same tuple again is a new flow.
    f.feed(packets[0], 2 * kSec, ref_of(9, 80));
    CHECK(f.d.stats().flows == 2);
    CHECK_FALSE(f.d.take(key_of(packets[0], 10))); // other cookie: unknown
}

TEST_CASE("dissector: finish_all reports every flow once") {
    Fixture f;
    for (int i = 0; i < 5; ++i)
        f.feed(udp4(kClient, static_cast<uint16_t>(46000 + i), kServer, 46100, opaque(i)),
               kSec + static_cast<uint64_t>(i));
    f.d.finish_all();
    CHECK(f.done.size() == 5);
    CHECK(f.d.size() == 0);
    f.d.finish_all();
    CHECK(f.done.size() == 5);
}

TEST_CASE("dissector: DissectKey is the same both ways and unmaps IPv4-mapped IPv6") {
    const uint8_t a4[16] = {10, 0, 0, 1}, b4[16] = {10, 0, 0, 2};
    const DissectKey ab = DissectKey::of(5, 2, 6, a4, 40000, b4, 80);
    const DissectKey ba = DissectKey::of(5, 2, 6, b4, 80, a4, 40000);
    DissectKeyHash h;
    CHECK(ab == ba);
    CHECK(h(ab) == h(ba));
    CHECK(ab.family == 2);
    CHECK(ab.proto == 6);
    CHECK(ab.cookie == 5);

    // Same addresses, ports swapped between them: another flow.
    CHECK_FALSE(ab == DissectKey::of(5, 2, 6, a4, 80, b4, 40000));
    CHECK_FALSE(ab == DissectKey::of(6, 2, 6, a4, 40000, b4, 80));
    CHECK_FALSE(ab == DissectKey::of(5, 2, 17, a4, 40000, b4, 80));
    CHECK_FALSE(ab == DissectKey::of(5, 2, 6, a4, 40001, b4, 80));
    // Same address both ends (loopback): ordered by port.
    const DissectKey self1 = DissectKey::of(0, 2, 6, a4, 1, a4, 2);
    const DissectKey self2 = DissectKey::of(0, 2, 6, a4, 2, a4, 1);
    CHECK(self1 == self2);
    CHECK(h(self1) == h(self2));

    const uint8_t am[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1};
    const uint8_t bm[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2};
    const DissectKey mapped = DissectKey::of(5, 10, 6, am, 40000, bm, 80);
    const DissectKey mapped_back = DissectKey::of(5, 10, 6, bm, 80, am, 40000);
    CHECK(mapped.family == 2);
    CHECK(mapped == ab);
    CHECK(h(mapped) == h(ab));
    CHECK(mapped_back == ab);
    CHECK(h(mapped_back) == h(ab));

    // A real IPv6 pair stays IPv6, and differs from the IPv4 one.
    const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t b6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    const DissectKey v6 = DissectKey::of(5, 10, 6, a6, 40000, b6, 80);
    const DissectKey v6_back = DissectKey::of(5, 10, 6, b6, 80, a6, 40000);
    CHECK(v6.family == 10);
    CHECK(v6 == v6_back);
    CHECK(h(v6) == h(v6_back));
    CHECK_FALSE(v6 == ab);

    // From packets: the request and the response of one exchange have one key.
    const auto packets = http_exchange(kClient, 40006, kServer);
    CHECK(key_of(packets[0], 3) == key_of(packets[1], 3));
    CHECK(h(key_of(packets[3], 3)) == h(key_of(packets[4], 3)));
}
