// dissector.cpp - see dissector.h.
#include "policer/l7/dissector.h"

#include "common/net.h"

#include <algorithm>
#include <cstring>

namespace policer::l7 {
namespace {

constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kMdnsPort = 5353;

// Copies an address into 16 bytes, unmapping ::ffff:a.b.c.d; returns the family used.
uint8_t normalize(uint8_t family, const uint8_t *in, std::array<uint8_t, 16> &out) {
    out.fill(0);
    if (family == 10 && is_v4_mapped(in)) {
        std::memcpy(out.data(), in + 12, 4);
        return 2;
    }
    std::memcpy(out.data(), in, family == 2 ? 4 : 16);
    return family;
}

} // namespace

DissectKey DissectKey::of(uint64_t cookie, uint8_t family, uint8_t proto, const uint8_t *a,
                          uint16_t pa, const uint8_t *b, uint16_t pb) {
    DissectKey k;
    k.cookie = cookie;
    k.proto = proto;
    std::array<uint8_t, 16> x, y;
    uint8_t fx = normalize(family, a, x);
    normalize(family, b, y);
    k.family = fx;
    const bool a_first = std::make_pair(x, pa) <= std::make_pair(y, pb);
    k.lo = a_first ? x : y;
    k.hi = a_first ? y : x;
    k.lo_port = a_first ? pa : pb;
    k.hi_port = a_first ? pb : pa;
    return k;
}

DissectKey DissectKey::of(uint64_t cookie, const PacketView &v) {
    return of(cookie, v.family, v.proto, v.src, v.sport, v.dst, v.dport);
}

bool DissectKey::operator==(const DissectKey &o) const {
    return cookie == o.cookie && family == o.family && proto == o.proto && lo_port == o.lo_port &&
           hi_port == o.hi_port && lo == o.lo && hi == o.hi;
}

size_t DissectKeyHash::operator()(const DissectKey &k) const {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&h](const void *p, size_t n) {
        const auto *b = static_cast<const uint8_t *>(p);
        for (size_t i = 0; i < n; ++i)
            h = (h ^ b[i]) * 1099511628211ull;
    };
    mix(&k.cookie, sizeof(k.cookie));
    mix(&k.family, 1);
    mix(&k.proto, 1);
    mix(&k.lo_port, 2);
    mix(&k.hi_port, 2);
    mix(k.lo.data(), k.lo.size());
    mix(k.hi.data(), k.hi.size());
    return static_cast<size_t>(h);
}

Dissector::Dissector(DpiEngine &engine, DomainCache &domains, DissectorConfig cfg, OnDone on_done)
    : engine_(engine), domains_(domains), cfg_(cfg), on_done_(std::move(on_done)),
      flows_(cfg.max_flows ? cfg.max_flows : 1), scratch_(65535) {}

void Dissector::apply_dns(Entry &e) {
    if (e.dns_answers.empty() && e.dns_rcode.empty()) return;
    if (!e.info.dns) e.info.dns = DnsInfo{};
    if (!e.dns_answers.empty()) e.info.dns->answers = e.dns_answers;
    if (!e.dns_rcode.empty()) e.info.dns->response_code = e.dns_rcode;
}

void Dissector::learn_dns(Entry &e, const PacketView &v, const uint8_t *ip, uint64_t ts_ns) {
    const bool dns_port =
        v.sport == kDnsPort || v.dport == kDnsPort || v.sport == kMdnsPort || v.dport == kMdnsPort;
    if (!dns_port || v.payload_len == 0) return;
    const uint8_t *payload = ip + v.payload_off;
    auto msg =
        v.proto == 17 ? parse_dns(payload, v.payload_len) : parse_dns_tcp(payload, v.payload_len);
    if (!msg) {
        ++stats_.dns_errors;
        return;
    }
    if (!msg->response) return;
    ++stats_.dns_responses;
    domains_.learn(*msg, ts_ns);
    e.dns_rcode = dns_rcode_name(msg->rcode);
    e.dns_answers.clear();
    for (const auto &r : msg->answers)
        e.dns_answers.push_back(DnsAnswer{r.name, dns_type_name(r.type), r.ttl, r.data});
}

PacketError Dissector::feed(const pl_flow_key &ref, const uint8_t *ip, size_t caplen,
                            uint64_t ts_ns) {
    ++stats_.packets;
    PacketView v;
    PacketError err = parse_packet(ip, caplen, v);
    if (err == PacketError::NotTcpUdp) {
        ++stats_.not_tcp_udp;
        return err;
    }
    if (err != PacketError::None) {
        ++stats_.malformed;
        ++stats_.malformed_by_reason[static_cast<size_t>(err)];
        return err;
    }
    const DissectKey key = DissectKey::of(ref.cookie, v);

    Entry *e = flows_.get(key);
    if (!e) {
        if (flows_.size() >= flows_.capacity()) {
            // Make room: the least recently fed flow is finished with what it has.
            if (auto victim = flows_.pop_lru()) {
                if (!victim->second.info.done) ++stats_.evicted; // finished early for room
                finish(victim->first, victim->second, true);
            }
        }
        Entry fresh;
        fresh.ref = ref;
        fresh.dpi = engine_.new_flow();
        if (!fresh.dpi) return PacketError::None; // out of memory: skip, do not crash
        e = &flows_.put(key, std::move(fresh));
        ++stats_.flows;
    }
    e->last_ns = ts_ns;
    // Before the done check: one socket may carry several answers (getaddrinfo() asks A and
    // AAAA on one socket), and each must be learned, not only the one that classified it.
    learn_dns(*e, v, ip, ts_ns);
    if (e->info.done) {
        ++stats_.after_done;
        return PacketError::None;
    }

    // nDPI trusts the IP length fields: give it a copy that matches what was captured.
    const size_t len = std::min<size_t>(caplen, std::min<size_t>(v.ip_len, scratch_.size()));
    std::memcpy(scratch_.data(), ip, len);
    PacketView fitted = v;
    fitted.truncated = len < v.ip_len; // also an IPv6 jumbogram cut to nDPI's 64 KiB
    fit_ip_length(scratch_.data(), len, fitted);
    DpiProgress p =
        engine_.process(*e->dpi, scratch_.data(), static_cast<uint16_t>(len), ts_ns / 1000000);
    ++e->inspected;
    if (p == DpiProgress::Done)
        finish(key, *e, false);
    else if (e->inspected >= cfg_.max_packets)
        finish(key, *e, true);
    return PacketError::None;
}

void Dissector::finish(const DissectKey &key, Entry &e, bool give_up) {
    if (e.info.done) return;
    if (e.dpi) e.info = engine_.describe(*e.dpi, give_up);
    e.info.done = true;
    apply_dns(e);
    e.dpi.reset(); // nDPI's per-flow memory goes now; the result stays
    if (e.info.classified) ++stats_.classified;
    if (on_done_) on_done_(key, e.ref, e.info);
}

const L7Info *Dissector::peek(const DissectKey &key) {
    Entry *e = flows_.get(key);
    if (!e) return nullptr;
    if (!e->info.done && e->dpi) {
        e->info = engine_.describe(*e->dpi, false);
        apply_dns(*e);
    }
    return &e->info;
}

std::optional<L7Info> Dissector::take(const DissectKey &key) {
    Entry e;
    if (!flows_.erase(key, &e)) return std::nullopt;
    finish(key, e, true);
    return std::move(e.info);
}

void Dissector::expire(uint64_t now_ns, uint64_t idle_ns) {
    while (const auto *oldest = flows_.lru()) {
        if (oldest->second.last_ns + idle_ns > now_ns) break;
        auto victim = flows_.pop_lru();
        finish(victim->first, victim->second, true);
    }
}

void Dissector::finish_all() {
    while (auto victim = flows_.pop_lru())
        finish(victim->first, victim->second, true);
}

} // namespace policer::l7
