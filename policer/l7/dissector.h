// dissector.h - per-flow L7 dissection state, keyed by socket cookie and 5-tuple. The same
// table serves policerd (packets sampled by the probes) and `policer dissect` (packets from a
// capture file, cookie 0). Bounded: at most max_flows flows; the least recently fed one is
// finished early when a new flow needs room. nDPI's per-flow state is freed as soon as a flow's
// dissection is over; only the small result is kept until the flow is taken.
#pragma once

#include "enrich/lru_cache.h"
#include "policer/l7/dns_message.h"
#include "policer/l7/domain_cache.h"
#include "policer/l7/dpi_engine.h"
#include "policer/l7/packet_view.h"
#include "probes/probe_abi.h"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace policer::l7 {

// A flow regardless of direction: endpoints in canonical order, IPv4-mapped IPv6 as IPv4.
struct DissectKey {
    uint64_t cookie = 0;
    uint8_t family = 0, proto = 0;
    uint16_t lo_port = 0, hi_port = 0;
    std::array<uint8_t, 16> lo{}, hi{};

    static DissectKey of(uint64_t cookie, uint8_t family, uint8_t proto, const uint8_t *a,
                         uint16_t pa, const uint8_t *b, uint16_t pb);
    static DissectKey of(uint64_t cookie, const PacketView &v);
    bool operator==(const DissectKey &o) const;
};

struct DissectKeyHash {
    size_t operator()(const DissectKey &k) const;
};

struct DissectorConfig {
    size_t max_flows = 16384;
    uint32_t max_packets = 32; // packets inspected per flow before giving up
};

struct DissectorStats {
    uint64_t packets = 0;     // fed
    uint64_t malformed = 0;   // rejected by parse_packet as broken (by reason below)
    uint64_t not_tcp_udp = 0; // well-formed, but not TCP or UDP (ICMP, ...): skipped
    std::array<uint64_t, 7> malformed_by_reason{}; // index: PacketError
    uint64_t after_done = 0;                       // fed after the flow's dissection was over
    uint64_t flows = 0;                            // created
    uint64_t evicted = 0;                          // finished early for room
    uint64_t classified = 0;    // finished with a protocol identified from payload
    uint64_t dns_responses = 0; // parsed and learned
    uint64_t dns_errors = 0;    // DNS payloads that did not parse
};

class Dissector {
public:
    // Called once per flow when its dissection is over (identified, gave up, or evicted), with
    // the `ref` given when the flow was first fed.
    using OnDone = std::function<void(const DissectKey &, const pl_flow_key &ref, const L7Info &)>;

    Dissector(DpiEngine &engine, DomainCache &domains, DissectorConfig cfg, OnDone on_done);

    // Feeds one packet captured from its IP header. `ref` is the caller's name for the flow.
    PacketError feed(const pl_flow_key &ref, const uint8_t *ip, size_t caplen, uint64_t ts_ns);

    // What is known of a flow so far (nullptr if unknown).
    const L7Info *peek(const DissectKey &key);
    // The final result of a flow (giving up if still in progress); the flow is removed.
    std::optional<L7Info> take(const DissectKey &key);
    // Finishes and removes flows not fed for `idle_ns`.
    void expire(uint64_t now_ns, uint64_t idle_ns);
    // Finishes and removes every flow (the end of a capture file).
    void finish_all();

    size_t size() const { return flows_.size(); }
    const DissectorStats &stats() const { return stats_; }

private:
    struct Entry {
        pl_flow_key ref{};
        DpiFlowPtr dpi;
        L7Info info;
        std::vector<DnsAnswer> dns_answers; // from our own parser: nDPI 4.2 keeps one address
        std::string dns_rcode;
        uint64_t last_ns = 0;
        uint32_t inspected = 0;
    };

    void finish(const DissectKey &key, Entry &e, bool give_up);
    void learn_dns(Entry &e, const PacketView &v, const uint8_t *ip, uint64_t ts_ns);
    void apply_dns(Entry &e);

    DpiEngine &engine_;
    DomainCache &domains_;
    DissectorConfig cfg_;
    OnDone on_done_;
    enrich::LruCache<DissectKey, Entry, DissectKeyHash> flows_;
    DissectorStats stats_;
    std::vector<uint8_t> scratch_; // a packet whose length fields are being fitted
};

} // namespace policer::l7
