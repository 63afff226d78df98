// dns_message_test.cpp - the DNS message parser on responses built byte by byte: what it
// extracts, and that every malformed or cut-short message is rejected with a reason.
#include "policer/l7/dns_message.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using policer::l7::DnsMessage;
using policer::l7::parse_dns;
using policer::l7::parse_dns_tcp;

namespace {

constexpr uint16_t kA = 1, kCname = 5, kMx = 15, kTxt = 16, kAaaa = 28;
constexpr uint16_t kIn = 1, kCh = 3;
constexpr uint16_t kResponse = 0x8180; // QR, RD, RA
constexpr uint16_t kQuery = 0x0100;    // RD

// Writes a DNS message in wire format, one field at a time.
struct Wire {
    std::vector<uint8_t> b;

    size_t here() const { return b.size(); }
    Wire &u8(uint8_t v) {
        b.push_back(v);
        return *this;
    }
    Wire &u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
    Wire &u32(uint32_t v) {
        return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
    }
    Wire &bytes(const std::vector<uint8_t> &v) {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    void set16(size_t off, uint16_t v) {
        b[off] = static_cast<uint8_t>(v >> 8);
        b[off + 1] = static_cast<uint8_t>(v);
    }

    Wire &header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0,
                 uint16_t ar = 0) {
        return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
    }
    // The labels of a dotted name (no escapes), without a terminator.
    Wire &labels(const std::string &dotted) {
        size_t start = 0;
        while (start < dotted.size()) {
            size_t dot = dotted.find('.', start);
            if (dot == std::string::npos) dot = dotted.size();
            u8(static_cast<uint8_t>(dot - start));
            for (size_t i = start; i < dot; ++i)
                u8(static_cast<uint8_t>(dotted[i]));
            start = dot + 1;
        }
        return *this;
    }
    // A whole uncompressed name; returns its offset.
    size_t name(const std::string &dotted) {
        size_t at = here();
        labels(dotted).u8(0);
        return at;
    }
    // A compression pointer to `target`.
    Wire &ptr(size_t target) { return u16(static_cast<uint16_t>(0xc000 | target)); }
    Wire &question(const std::string &dotted, uint16_t type, uint16_t klass = kIn) {
        name(dotted);
        return u16(type).u16(klass);
    }
    // Type, class, TTL and rdlength of a record whose owner name was just written.
    Wire &rr(uint16_t type, uint32_t ttl, uint16_t rdlength, uint16_t klass = kIn) {
        return u16(type).u16(klass).u32(ttl).u16(rdlength);
    }
    Wire &a(uint32_t ttl, uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3) {
        return rr(kA, ttl, 4).u8(a0).u8(a1).u8(a2).u8(a3);
    }
    // A record whose rdata is written next; its rdlength is filled in by end_rdata().
    size_t begin_rdata(uint16_t type, uint32_t ttl, uint16_t klass = kIn) {
        rr(type, ttl, 0, klass);
        return here();
    }
    void end_rdata(size_t rdata) { set16(rdata - 2, static_cast<uint16_t>(here() - rdata)); }

    DnsMessage parse() const {
        auto r = parse_dns(b.data(), b.size());
        if (!r) FAIL("unexpected parse error: " << r.error().message);
        return std::move(r).value();
    }
    std::string error() const {
        auto r = parse_dns(b.data(), b.size());
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    }
};

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

// www.example.com A -> CNAME cdn.example.net -> A 192.0.2.7, compressed as a server would:
// the first answer's owner points at the question, the second's at the CNAME target.
Wire cname_chain() {
    Wire w;
    w.header(0xbeef, kResponse, 1, 2);
    const size_t q = w.here();
    w.question("www.example.com", kA);
    w.ptr(q);
    size_t rd = w.begin_rdata(kCname, 300);
    const size_t target = w.name("cdn.example.net");
    w.end_rdata(rd);
    w.ptr(target).a(60, 192, 0, 2, 7);
    return w;
}

// A response to an A query for `name` with `n` addresses 10.0.x.y.
Wire many_answers(size_t n) {
    Wire w;
    w.header(7, kResponse, 1, static_cast<uint16_t>(n));
    w.question("many.example", kA);
    for (size_t i = 0; i < n; ++i)
        w.ptr(12).a(30, 10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    return w;
}

// Parses every proper prefix of `full`: each must be an error with a message, or a result whose
// answers are a prefix of the full message's (for cuts in the sections not read).
void check_all_prefixes(const std::vector<uint8_t> &full, bool tcp) {
    auto whole =
        tcp ? parse_dns_tcp(full.data(), full.size()) : parse_dns(full.data(), full.size());
    REQUIRE(whole.ok());
    for (size_t len = 0; len < full.size(); ++len) {
        // A copy of exactly `len` bytes, so that ASan catches any read past the cut.
        std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
        auto r = tcp ? parse_dns_tcp(cut.data(), cut.size()) : parse_dns(cut.data(), cut.size());
        CAPTURE(len);
        if (!r) {
            CHECK_FALSE(r.error().message.empty());
            continue;
        }
        CHECK(r->question == whole->question);
        REQUIRE(r->answers.size() <= whole->answers.size());
        for (size_t i = 0; i < r->answers.size(); ++i)
            CHECK(r->answers[i].data == whole->answers[i].data);
    }
}

} // namespace

TEST_CASE("dns: a plain A answer") {
    Wire w;
    w.header(0x1234, kResponse, 1, 1);
    w.question("example.com", kA);
    w.ptr(12).a(3600, 93, 184, 216, 34);
    DnsMessage m = w.parse();
    CHECK(m.id == 0x1234);
    CHECK(m.response);
    CHECK(m.rcode == 0);
    CHECK(m.question == "example.com");
    CHECK(m.question_type == kA);
    CHECK_FALSE(m.answers_truncated);
    REQUIRE(m.answers.size() == 1);
    const auto &r = m.answers[0];
    CHECK(r.name == "example.com");
    CHECK(r.type == kA);
    CHECK(r.ttl == 3600);
    CHECK(r.data == "93.184.216.34");
    CHECK(r.family == 2);
    CHECK(r.addr[0] == 93);
    CHECK(r.addr[3] == 34);
    CHECK(r.addr[4] == 0);
}

TEST_CASE("dns: an AAAA answer") {
    Wire w;
    w.header(1, kResponse, 1, 1);
    w.question("v6.example", kAaaa);
    w.ptr(12)
        .rr(kAaaa, 120, 16)
        .bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
    DnsMessage m = w.parse();
    CHECK(m.question_type == kAaaa);
    REQUIRE(m.answers.size() == 1);
    CHECK(m.answers[0].name == "v6.example");
    CHECK(m.answers[0].type == kAaaa);
    CHECK(m.answers[0].family == 10);
    CHECK(m.answers[0].data == "2001:db8::1");
    CHECK(m.answers[0].addr[0] == 0x20);
    CHECK(m.answers[0].addr[15] == 0x01);
}

TEST_CASE("dns: a CNAME chain with compression pointers") {
    DnsMessage m = cname_chain().parse();
    CHECK(m.id == 0xbeef);
    CHECK(m.question == "www.example.com");
    REQUIRE(m.answers.size() == 2);
    CHECK(m.answers[0].name == "www.example.com");
    CHECK(m.answers[0].type == kCname);
    CHECK(m.answers[0].ttl == 300);
    CHECK(m.answers[0].data == "cdn.example.net");
    CHECK(m.answers[0].family == 0);
    CHECK(m.answers[1].name == "cdn.example.net");
    CHECK(m.answers[1].type == kA);
    CHECK(m.answers[1].data == "192.0.2.7");
    CHECK(m.answers[1].family == 2);
}

TEST_CASE("dns: names made of labels and pointers to pointers") {
    // edge.cdn.example.net is "edge" + a pointer to a CNAME target that is "cdn" + a pointer to
    // the question's "example.net": three runs of labels, two jumps.
    Wire w;
    w.header(2, kResponse, 1, 3);
    w.question("example.net", kA);
    w.ptr(12);
    size_t rd = w.begin_rdata(kCname, 10);
    const size_t cdn = w.here();
    w.labels("cdn").ptr(12);
    w.end_rdata(rd);
    w.ptr(cdn);
    rd = w.begin_rdata(kCname, 10);
    const size_t edge = w.here();
    w.labels("edge").ptr(cdn);
    w.end_rdata(rd);
    w.ptr(edge).a(5, 198, 51, 100, 1);
    DnsMessage m = w.parse();
    REQUIRE(m.answers.size() == 3);
    CHECK(m.answers[0].data == "cdn.example.net");
    CHECK(m.answers[1].name == "cdn.example.net");
    CHECK(m.answers[1].data == "edge.cdn.example.net");
    CHECK(m.answers[2].name == "edge.cdn.example.net");
    CHECK(m.answers[2].data == "198.51.100.1");
}

TEST_CASE("dns: only the first of several questions is kept, the others are skipped") {
    Wire w;
    w.header(3, kResponse, 3, 1);
    w.question("first.example", kA);
    w.labels("second").ptr(12 + 6).u16(kAaaa).u16(kIn); // second.example, compressed
    w.question("third.example.org", kMx);
    w.ptr(12).a(1, 203, 0, 113, 9);
    DnsMessage m = w.parse();
    CHECK(m.question == "first.example");
    CHECK(m.question_type == kA);
    REQUIRE(m.answers.size() == 1);
    CHECK(m.answers[0].name == "first.example");
    CHECK(m.answers[0].data == "203.0.113.9");
}

TEST_CASE("dns: a message without a question") {
    Wire w;
    w.header(4, 0x8404, 0, 0); // NOTIMP answers may carry no question
    DnsMessage m = w.parse();
    CHECK(m.question.empty());
    CHECK(m.question_type == 0);
    CHECK(m.rcode == 4);
    CHECK(m.answers.empty());
}

TEST_CASE("dns: NXDOMAIN with no answers, as captured from a resolver") {
    // A real response to "Example.COM A" with an EDNS OPT record in the additional section.
    const std::vector<uint8_t> b = {0x12, 0x34, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                    0x00, 0x01, 0x07, 0x45, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
                                    0x03, 0x43, 0x4f, 0x4d, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
                                    0x00, 0x29, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    auto r = parse_dns(b.data(), b.size());
    REQUIRE(r.ok());
    CHECK(r->id == 0x1234);
    CHECK(r->response);
    CHECK(r->rcode == 3);
    CHECK(policer::l7::dns_rcode_name(r->rcode) == "NXDOMAIN");
    CHECK(r->question == "example.com");
    CHECK(r->question_type == kA);
    CHECK(r->answers.empty());
    CHECK_FALSE(r->answers_truncated);
    check_all_prefixes(b, false);
}

TEST_CASE("dns: a query") {
    Wire w;
    w.header(0xabcd, kQuery, 1, 0, 0, 0);
    w.question("query.example", kAaaa);
    DnsMessage m = w.parse();
    CHECK_FALSE(m.response);
    CHECK(m.id == 0xabcd);
    CHECK(m.question == "query.example");
    CHECK(m.question_type == kAaaa);
    CHECK(m.answers.empty());
}

TEST_CASE("dns: uppercase names are lowercased") {
    Wire w;
    w.header(5, kResponse, 1, 2);
    w.question("WWW.Example.COM", kA);
    w.ptr(12);
    size_t rd = w.begin_rdata(kCname, 1);
    const size_t t = w.name("CDN.Example.NET");
    w.end_rdata(rd);
    w.ptr(t).a(1, 192, 0, 2, 1);
    DnsMessage m = w.parse();
    CHECK(m.question == "www.example.com");
    REQUIRE(m.answers.size() == 2);
    CHECK(m.answers[0].name == "www.example.com");
    CHECK(m.answers[0].data == "cdn.example.net");
    CHECK(m.answers[1].name == "cdn.example.net");
}

TEST_CASE("dns: label bytes outside printable ASCII are escaped like dig does") {
    Wire w;
    w.header(6, kQuery, 1, 0);
    w.u8(9).bytes({0x00, ' ', '.', '\\', 0xff, 'A', 'z', '-', 0x7f});
    w.labels("example").u8(0).u16(kA).u16(kIn);
    DnsMessage m = w.parse();
    CHECK(m.question == "\\000\\032\\.\\\\\\255az-\\127.example");
}

TEST_CASE("dns: the root name is the empty string") {
    Wire w;
    w.header(7, kResponse, 1, 0);
    w.u8(0).u16(2).u16(kIn); // . NS
    DnsMessage m = w.parse();
    CHECK(m.question.empty());
    CHECK(m.question_type == 2);
}

TEST_CASE("dns: other record types and classes are skipped by their rdlength") {
    Wire w;
    w.header(8, kResponse, 1, 5);
    w.question("mix.example", kA);
    w.ptr(12);
    size_t rd = w.begin_rdata(kMx, 60);
    w.u16(10).labels("mail").ptr(12);
    w.end_rdata(rd);
    w.ptr(12).rr(kTxt, 60, 6).bytes({5, 'h', 'e', 'l', 'l', 'o'});
    w.ptr(12).rr(kA, 60, 3, kCh).bytes({1, 2, 3}); // not class IN: not an address
    w.ptr(12).rr(0xff00, 60, 0);                   // unknown type, empty rdata
    w.ptr(12).a(60, 192, 0, 2, 99);
    DnsMessage m = w.parse();
    REQUIRE(m.answers.size() == 1);
    CHECK(m.answers[0].data == "192.0.2.99");
}

TEST_CASE("dns: the mDNS cache-flush bit does not hide class IN") {
    Wire w;
    w.header(0, 0x8400, 0, 1);
    w.name("printer.local");
    w.rr(kA, 120, 4, 0x8001).bytes({192, 168, 1, 20});
    DnsMessage m = w.parse();
    REQUIRE(m.answers.size() == 1);
    CHECK(m.answers[0].name == "printer.local");
    CHECK(m.answers[0].data == "192.168.1.20");
}

TEST_CASE("dns: a TTL with the top bit set reads as 0") {
    Wire w;
    w.header(9, kResponse, 1, 1);
    w.question("ttl.example", kA);
    w.ptr(12).a(0x80000000u, 192, 0, 2, 1);
    DnsMessage m = w.parse();
    REQUIRE(m.answers.size() == 1);
    CHECK(m.answers[0].ttl == 0);
}

TEST_CASE("dns: at most 64 answers are kept") {
    DnsMessage m = many_answers(64).parse();
    CHECK(m.answers.size() == 64);
    CHECK_FALSE(m.answers_truncated);

    m = many_answers(70).parse();
    CHECK(m.answers.size() == 64);
    CHECK(m.answers_truncated);
    CHECK(m.answers[63].data == "10.0.0.63");

    // The answers past the cap are still checked.
    Wire w = many_answers(70);
    w.b[w.b.size() - 5] = 5; // the last record's rdlength low byte
    w.u8(0);
    CHECK(contains(w.error(), "answer 70: A record with rdlength 5"));
}

TEST_CASE("dns: every cut of a valid response is an error or a prefix, never a crash") {
    SUBCASE("CNAME chain") {
        check_all_prefixes(cname_chain().b, false);
    }
    SUBCASE("many answers") {
        check_all_prefixes(many_answers(70).b, false);
    }
    SUBCASE("CNAME chain cut inside the answers is always an error") {
        const Wire w = cname_chain();
        for (size_t len = 0; len < w.b.size(); ++len) {
            std::vector<uint8_t> cut(w.b.begin(), w.b.begin() + static_cast<std::ptrdiff_t>(len));
            CAPTURE(len);
            CHECK_FALSE(parse_dns(cut.data(), cut.size()).ok());
        }
    }
    SUBCASE("over TCP") {
        const Wire w = cname_chain();
        std::vector<uint8_t> tcp = {static_cast<uint8_t>(w.b.size() >> 8),
                                    static_cast<uint8_t>(w.b.size())};
        tcp.insert(tcp.end(), w.b.begin(), w.b.end());
        check_all_prefixes(tcp, true);
    }
}

TEST_CASE("dns: a short header is an error") {
    const uint8_t b[11] = {};
    auto r = parse_dns(b, sizeof(b));
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "header"));
    CHECK_FALSE(parse_dns(nullptr, 0).ok());
}

TEST_CASE("dns: compression pointer loops are rejected") {
    SUBCASE("a name pointing back into itself") {
        Wire w;
        w.header(1, kResponse, 1, 0);
        w.labels("loop").ptr(12).u16(kA).u16(kIn);
        CHECK(contains(w.error(), "question 1: name pointer loop"));
    }
    SUBCASE("a name pointing at itself") {
        Wire w;
        w.header(1, kResponse, 1, 0);
        w.ptr(12).u16(kA).u16(kIn);
        CHECK(contains(w.error(), "question 1: forward name pointer"));
    }
    SUBCASE("a pointer back into the run of labels it jumped to") {
        // answer 3's owner jumps to a name that is "x" + a pointer to that same "x".
        Wire w;
        w.header(1, kResponse, 1, 3);
        w.question("ok.example", kA);
        w.ptr(12).a(1, 192, 0, 2, 1);
        w.ptr(12);
        const size_t rd = w.begin_rdata(kTxt, 1);
        const size_t x = w.here();
        w.labels("x").ptr(x);
        w.end_rdata(rd);
        w.ptr(x).a(1, 192, 0, 2, 3);
        CHECK(contains(w.error(), "answer 3: name pointer loop"));
    }
}

TEST_CASE("dns: forward and out-of-range pointers are rejected") {
    Wire w;
    w.header(1, kResponse, 1, 1);
    w.question("fwd.example", kA);
    SUBCASE("past the end") {
        w.ptr(0x3fff).a(1, 192, 0, 2, 1);
        CHECK(contains(w.error(), "answer 1: forward name pointer"));
    }
    SUBCASE("forward within the message") {
        const size_t at = w.here();
        w.ptr(at + 2).a(1, 192, 0, 2, 1);
        CHECK(contains(w.error(), "answer 1: forward name pointer"));
    }
    SUBCASE("into the header") {
        w.ptr(2).a(1, 192, 0, 2, 1);
        CHECK(contains(w.error(), "answer 1: name pointer into the header"));
    }
    SUBCASE("cut short") {
        w.u8(0xc0);
        CHECK(contains(w.error(), "answer 1: name pointer cut short"));
    }
}

TEST_CASE("dns: at most 16 pointers per name") {
    // The rdata of a skipped record holds a chain of pointers, each to the one before, the
    // first to the question; an answer's owner points at the last.
    auto build = [](int chain) {
        Wire w;
        w.header(1, kResponse, 1, 2);
        w.question("deep.example", kA);
        w.ptr(12);
        const size_t rd = w.begin_rdata(kTxt, 1);
        size_t prev = 12;
        for (int i = 0; i < chain; ++i) {
            const size_t at = w.here();
            w.ptr(prev);
            prev = at;
        }
        w.end_rdata(rd);
        w.ptr(prev).a(1, 192, 0, 2, 1);
        return w;
    };
    DnsMessage m = build(15).parse(); // the owner's pointer + 15 = 16
    REQUIRE(m.answers.size() == 1);
    CHECK(m.answers[0].name == "deep.example");
    CHECK(contains(build(16).error(), "answer 2: more than 16 name pointers"));
}

TEST_CASE("dns: labels longer than 63 bytes are rejected") {
    Wire ok;
    ok.header(1, kQuery, 1, 0);
    ok.question(std::string(63, 'a') + ".example", kA);
    CHECK(ok.parse().question == std::string(63, 'a') + ".example");

    Wire w;
    w.header(1, kQuery, 1, 0);
    w.u8(64).bytes(std::vector<uint8_t>(64, 'a')).u8(0).u16(kA).u16(kIn);
    CHECK(contains(w.error(), "question 1: label length byte 64"));

    Wire ext;
    ext.header(1, kQuery, 1, 0);
    ext.u8(0x80).u8(0).u16(kA).u16(kIn);
    CHECK(contains(ext.error(), "question 1: label length byte 128"));
}

TEST_CASE("dns: names longer than 255 bytes are rejected") {
    const std::string l63(63, 'a');
    // 3 x (1 + 63) + (1 + 61) + root = 255: the longest name there is.
    const std::string longest = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
    Wire ok;
    ok.header(1, kQuery, 1, 0);
    ok.question(longest, kA);
    CHECK(ok.parse().question == longest);

    Wire w;
    w.header(1, kQuery, 1, 0);
    w.question(longest + "c", kA); // 256
    CHECK(contains(w.error(), "question 1: name longer than 255 bytes"));

    // Too long only once a pointer adds the suffix.
    Wire p;
    p.header(1, kResponse, 1, 1);
    p.question(l63 + "." + l63 + "." + l63, kA); // 193
    p.labels(std::string(62, 'x')).ptr(12).a(1, 192, 0, 2, 1);
    CHECK(contains(p.error(), "answer 1: name longer than 255 bytes"));
}

TEST_CASE("dns: address records with the wrong rdlength are rejected") {
    Wire w;
    w.header(1, kResponse, 1, 1);
    w.question("bad.example", kA);
    w.ptr(12);
    SUBCASE("A with 5 bytes") {
        w.rr(kA, 1, 5).bytes({1, 2, 3, 4, 5});
        CHECK(contains(w.error(), "answer 1: A record with rdlength 5 (must be 4)"));
    }
    SUBCASE("AAAA with 4 bytes") {
        w.rr(kAaaa, 1, 4).bytes({1, 2, 3, 4});
        CHECK(contains(w.error(), "answer 1: AAAA record with rdlength 4 (must be 16)"));
    }
    SUBCASE("CNAME whose name does not fill its rdata") {
        w.rr(kCname, 1, 5).bytes({1, 'x', 0, 0, 0});
        CHECK(contains(w.error(), "answer 1: CNAME rdlength 5 does not match its name (3 bytes)"));
    }
    SUBCASE("CNAME whose name runs past its rdata") {
        w.rr(kCname, 1, 2).labels("abc").u8(0);
        CHECK(contains(w.error(), "answer 1: CNAME rdlength 2"));
    }
    SUBCASE("rdata past the end of the message") {
        w.rr(kTxt, 1, 100).bytes({1, 'x'});
        CHECK(contains(w.error(), "answer 1: rdata of 100 bytes runs past the end"));
    }
}

TEST_CASE("dns: DNS over TCP") {
    const Wire w = cname_chain();
    std::vector<uint8_t> tcp = {static_cast<uint8_t>(w.b.size() >> 8),
                                static_cast<uint8_t>(w.b.size())};
    tcp.insert(tcp.end(), w.b.begin(), w.b.end());

    auto r = parse_dns_tcp(tcp.data(), tcp.size());
    REQUIRE(r.ok());
    CHECK(r->question == "www.example.com");
    REQUIRE(r->answers.size() == 2);
    CHECK(r->answers[1].data == "192.0.2.7");

    // A pipelined second message after the first is ignored.
    std::vector<uint8_t> two = tcp;
    two.insert(two.end(), tcp.begin(), tcp.end());
    CHECK(parse_dns_tcp(two.data(), two.size()).ok());

    auto cut = parse_dns_tcp(tcp.data(), tcp.size() - 1);
    REQUIRE_FALSE(cut.ok());
    CHECK(contains(cut.error().message, "cut short"));

    const uint8_t one[1] = {0};
    CHECK_FALSE(parse_dns_tcp(one, 1).ok());
    const uint8_t zero[2] = {0, 0};
    CHECK_FALSE(parse_dns_tcp(zero, 2).ok());
    // Through the length prefix, the message itself is bounded: here one byte short of its
    // last record although the payload goes on.
    std::vector<uint8_t> shorter = tcp;
    shorter[1] = static_cast<uint8_t>(shorter[1] - 1);
    CHECK_FALSE(parse_dns_tcp(shorter.data(), shorter.size()).ok());
}

TEST_CASE("dns: type and rcode names") {
    using policer::l7::dns_rcode_name;
    using policer::l7::dns_type_name;
    CHECK(dns_type_name(1) == "A");
    CHECK(dns_type_name(28) == "AAAA");
    CHECK(dns_type_name(5) == "CNAME");
    CHECK(dns_type_name(15) == "MX");
    CHECK(dns_type_name(16) == "TXT");
    CHECK(dns_type_name(2) == "NS");
    CHECK(dns_type_name(12) == "PTR");
    CHECK(dns_type_name(33) == "SRV");
    CHECK(dns_type_name(6) == "SOA");
    CHECK(dns_type_name(65) == "HTTPS");
    CHECK(dns_type_name(64) == "SVCB");
    CHECK(dns_type_name(255) == "ANY");
    CHECK(dns_type_name(99) == "TYPE99");
    CHECK(dns_rcode_name(0) == "NOERROR");
    CHECK(dns_rcode_name(1) == "FORMERR");
    CHECK(dns_rcode_name(2) == "SERVFAIL");
    CHECK(dns_rcode_name(3) == "NXDOMAIN");
    CHECK(dns_rcode_name(4) == "NOTIMP");
    CHECK(dns_rcode_name(5) == "REFUSED");
    CHECK(dns_rcode_name(9) == "RCODE9");
}
