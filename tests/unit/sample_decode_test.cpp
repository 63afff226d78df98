// sample_decode_test.cpp - decode_sample: a payload sample record from the pl_samples ring
// decodes with its data in place; records with a wrong type, inconsistent lengths, or an
// invalid protocol or direction are rejected with a message. Every record is an exact-size
// heap buffer, so that a sanitizer build catches a read past it.
#include "policer/event_decoder.h"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using policer::daemon::decode_sample;
using policer::daemon::SampleRecord;

static_assert(offsetof(pl_sample_event, data) == PL_SAMPLE_HEADER_SIZE,
              "PL_SAMPLE_HEADER_SIZE is the offset of the data");

// The fields of a sample record's header, written into the first PL_SAMPLE_HEADER_SIZE bytes.
struct Head {
    uint32_t type = PL_EV_SAMPLE;
    uint32_t size = 0; // 0: the record's length
    uint64_t ts_ns = 987654321;
    uint64_t cookie = 0xc00c1e;
    uint32_t pkt_len = 1500;
    uint16_t cap_len = 0;
    uint8_t egress = 1;
    uint8_t proto = 6;
};

// A record of `len` bytes (the header, then data bytes 0, 1, 2, ...).
std::vector<uint8_t> record(const Head &h, size_t len) {
    pl_sample_event ev;
    std::memset(&ev, 0, sizeof(ev));
    ev.hdr.type = h.type;
    ev.hdr.size = h.size ? h.size : static_cast<uint32_t>(len);
    ev.hdr.ts_ns = h.ts_ns;
    ev.cookie = h.cookie;
    ev.pkt_len = h.pkt_len;
    ev.cap_len = h.cap_len;
    ev.egress = h.egress;
    ev.proto = h.proto;
    std::vector<uint8_t> b(len);
    if (len) std::memcpy(b.data(), &ev, len < PL_SAMPLE_HEADER_SIZE ? len : PL_SAMPLE_HEADER_SIZE);
    for (size_t i = PL_SAMPLE_HEADER_SIZE; i < len; ++i)
        b[i] = static_cast<uint8_t>(i - PL_SAMPLE_HEADER_SIZE);
    return b;
}

// A consistent record carrying `cap` bytes.
std::vector<uint8_t> valid(size_t cap, Head h = Head{}) {
    h.cap_len = static_cast<uint16_t>(cap);
    return record(h, PL_SAMPLE_HEADER_SIZE + cap);
}

void check_rejected(const std::vector<uint8_t> &b) {
    auto r = decode_sample(b.data(), b.size());
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(r.error().message.empty());
}

} // namespace

TEST_CASE("sample decode: a valid record decodes with its data in place") {
    const auto b = valid(100);
    REQUIRE(b.size() == PL_SAMPLE_HEADER_SIZE + 100);
    auto r = decode_sample(b.data(), b.size());
    REQUIRE(r.ok());
    const SampleRecord &s = *r;
    CHECK(s.ts_ns == 987654321);
    CHECK(s.cookie == 0xc00c1e);
    CHECK(s.pkt_len == 1500);
    CHECK(s.egress);
    CHECK(s.proto == 6);
    CHECK(s.cap_len == 100);
    CHECK(s.data == b.data() + PL_SAMPLE_HEADER_SIZE);
    CHECK(s.data[0] == 0);
    CHECK(s.data[99] == 99);
}

TEST_CASE("sample decode: UDP, received, and the length limits that are still valid") {
    Head h;
    h.egress = 0;
    h.proto = 17;
    h.pkt_len = 60;
    auto b = valid(60, h); // the whole packet captured: cap_len == pkt_len
    auto r = decode_sample(b.data(), b.size());
    REQUIRE(r.ok());
    CHECK_FALSE(r->egress);
    CHECK(r->proto == 17);
    CHECK(r->cap_len == 60);
    CHECK(r->pkt_len == 60);

    // No data at all.
    b = valid(0);
    r = decode_sample(b.data(), b.size());
    REQUIRE(r.ok());
    CHECK(r->cap_len == 0);
    CHECK(r->data == b.data() + PL_SAMPLE_HEADER_SIZE);

    // The ceiling.
    h = Head{};
    h.pkt_len = 65535;
    b = valid(PL_SAMPLE_MAX, h);
    r = decode_sample(b.data(), b.size());
    REQUIRE(r.ok());
    CHECK(r->cap_len == PL_SAMPLE_MAX);
}

TEST_CASE("sample decode: shorter than its header") {
    for (size_t len : {0, 1, 8, 16, PL_SAMPLE_HEADER_SIZE - 1}) {
        CAPTURE(len);
        // The header fields that fit say it is a sample of this length.
        check_rejected(record(Head{}, len));
    }
}

TEST_CASE("sample decode: wrong record type") {
    for (uint32_t type :
         {0u, static_cast<uint32_t>(PL_EV_EXEC), static_cast<uint32_t>(PL_EV_FLOW_NEW),
          static_cast<uint32_t>(PL_EV_TYPE_MAX), 0xffffffffu}) {
        CAPTURE(type);
        Head h;
        h.type = type;
        check_rejected(valid(50, h));
    }
}

TEST_CASE("sample decode: header size differs from the record length") {
    for (uint32_t size : {PL_SAMPLE_HEADER_SIZE + 49u, PL_SAMPLE_HEADER_SIZE + 51u,
                          PL_SAMPLE_HEADER_SIZE + 0u, 0xffffffffu}) {
        CAPTURE(size);
        Head h;
        h.size = size;
        check_rejected(valid(50, h));
    }
}

TEST_CASE("sample decode: cap_len differs from the bytes after the header") {
    for (uint16_t cap : {0, 49, 51, 0xffff}) {
        CAPTURE(cap);
        Head h;
        h.cap_len = cap;
        check_rejected(record(h, PL_SAMPLE_HEADER_SIZE + 50));
    }
}

TEST_CASE("sample decode: cap_len above PL_SAMPLE_MAX") {
    // Consistent lengths otherwise: the record really is that long.
    Head h;
    h.pkt_len = 9000;
    check_rejected(valid(PL_SAMPLE_MAX + 1, h));
    check_rejected(valid(4000, h));
}

TEST_CASE("sample decode: cap_len above pkt_len") {
    Head h;
    h.pkt_len = 99;
    check_rejected(valid(100, h));
    h.pkt_len = 0;
    check_rejected(valid(1, h));
}

TEST_CASE("sample decode: protocol other than TCP or UDP") {
    for (uint8_t proto : {0, 1, 41, 58, 132, 255}) {
        CAPTURE(proto);
        Head h;
        h.proto = proto;
        check_rejected(valid(40, h));
    }
}

TEST_CASE("sample decode: direction other than 0 or 1") {
    for (uint8_t egress : {2, 3, 128, 255}) {
        CAPTURE(egress);
        Head h;
        h.egress = egress;
        check_rejected(valid(40, h));
    }
}
