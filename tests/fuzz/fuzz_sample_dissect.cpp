// fuzz_sample_dissect.cpp - libFuzzer target for everything policerd parses from a payload
// sample: the ring-buffer record (decode_sample), the IP/TCP/UDP headers (parse_packet), DNS
// answers, and nDPI through the dissector, including flow-table eviction and give-up paths.
//
// Input: a sequence of records, each a 2-byte little-endian length and that many bytes. The
// first byte of the input chooses how records are read:
//   even: each record is a whole pl_samples ring record (header included), as the kernel would
//         write it - or not;
//   odd:  each record is an IP packet, wrapped in a well-formed sample header (so mutations
//         reach the packet parsers and nDPI instead of stopping at the header checks).
#include "policer/event_decoder.h"
#include "policer/l7/dissector.h"
#include "policer/l7/dns_message.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

using namespace policer;

namespace {

l7::DpiEngine &engine() {
    static std::unique_ptr<l7::DpiEngine> e = [] {
        auto r = l7::DpiEngine::create();
        if (!r) __builtin_trap(); // nDPI cannot start: nothing to fuzz
        return std::move(r.value());
    }();
    return *e;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const bool wrap = data[0] & 1;
    ++data;
    --size;

    l7::DomainCache domains(64, 1000000000ull);
    size_t done = 0;
    l7::Dissector dissector(engine(), domains, l7::DissectorConfig{4, 6},
                            [&](const l7::DissectKey &, const pl_flow_key &, const l7::L7Info &i) {
                                done += i.protocol.size(); // touch the result
                            });
    std::vector<uint8_t> rec;
    uint64_t ts = 1;
    while (size >= 2) {
        size_t len = data[0] | size_t(data[1]) << 8;
        data += 2;
        size -= 2;
        if (len > size) len = size;
        if (wrap) {
            rec.assign(PL_SAMPLE_HEADER_SIZE + len, 0);
            pl_sample_event head{};
            head.hdr.type = PL_EV_SAMPLE;
            head.hdr.size = static_cast<uint32_t>(rec.size());
            head.hdr.ts_ns = ts;
            head.cookie = len % 3; // a few sockets
            head.pkt_len = static_cast<uint32_t>(len + (len % 7));
            head.cap_len = static_cast<uint16_t>(len);
            head.egress = len & 1;
            head.proto = (len & 2) ? 6 : 17;
            std::memcpy(rec.data(), &head, PL_SAMPLE_HEADER_SIZE);
            std::memcpy(rec.data() + PL_SAMPLE_HEADER_SIZE, data, len);
        } else {
            rec.assign(data, data + len);
        }
        data += len;
        size -= len;
        ts += 1000000;

        auto s = daemon::decode_sample(rec.data(), rec.size());
        if (!s) continue;
        pl_flow_key ref{};
        ref.cookie = s->cookie;
        dissector.feed(ref, s->data, s->cap_len, s->ts_ns);
        (void)l7::parse_dns(s->data, s->cap_len);
        (void)l7::parse_dns_tcp(s->data, s->cap_len);
        if ((ts / 1000000) % 5 == 0) dissector.expire(ts, 2000000);
    }
    dissector.finish_all();
    return done == SIZE_MAX; // never
}
