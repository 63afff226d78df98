// dissect_command.cpp - `policer dissect FILE.pcap`: classifies the flows of a capture through
// the same dissection code policerd runs on live traffic (policer/l7/dissector.h), and prints
// one line (or one JSON document) per flow.
#include "cli/dissect_command.h"

#include "cli/pcap_source.h"
#include "common/net.h"
#include "common/timestamp.h"
#include "enrich/lru_cache.h"
#include "policer/l7/dissector.h"
#include "policer/l7/l7_ecs.h"

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace policer::cli {
namespace {

using Json = nlohmann::ordered_json;
using l7::DissectKey;

constexpr const char *kHelp = R"(
Reads a capture file (pcap or pcapng: Ethernet, VLAN, Linux cooked, raw IP or loopback),
groups its TCP and UDP packets into flows and classifies each with nDPI, through the same
dissection code policerd runs on live traffic. DNS answers in the capture label later flows
to the answered addresses (destination.domain).

Output: one line per flow (or, with --json, one ECS JSON document per flow, then a summary
document with event.action "dissect-summary"). Malformed packets are counted, never fatal.

Examples:
  policer dissect capture.pcap
  policer dissect --json capture.pcap | jq -r 'select(.network.protocol=="tls")
                                               | .tls.client.server_name'
  tcpdump -i eth0 -w - port 53 | policer dissect --json -   (read from standard input)
)";

struct Direction {
    uint64_t packets = 0, bytes = 0;
};

// A flow as seen in the capture: its orientation and counters; the L7 result comes from the
// dissector when it is done.
struct OfflineFlow {
    uint64_t seq = 0; // order of first packet
    uint8_t family = 0, proto = 0;
    uint8_t src[16] = {}, dst[16] = {};
    uint16_t sport = 0, dport = 0;
    uint64_t first_ns = 0, last_ns = 0;
    Direction fwd, rev; // from the initiator, from the responder
    std::optional<std::string> dst_domain;
    std::optional<l7::L7Info> l7;
};

struct Options {
    std::string file;
    bool json = false;
    size_t max_flows = 65536;
    uint32_t max_packets = 32;
};

class Run {
public:
    Run(const Options &o, l7::DpiEngine &engine)
        : opts_(o), domains_(65536, 300ull * 1000000000ull),
          dissector_(engine, domains_, l7::DissectorConfig{o.max_flows, o.max_packets},
                     [this](const DissectKey &k, const pl_flow_key &, const l7::L7Info &info) {
                         // peek, not get: recency here must follow packets, not results
                         if (OfflineFlow *f = flows_.peek(k)) f->l7 = info;
                     }),
          flows_(o.max_flows) {}

    int run(PcapSource &src) {
        if (!opts_.json)
            std::printf("%-5s %-45s %-45s %-16s %-30s %8s %10s  %s\n", "PROTO", "SOURCE",
                        "DESTINATION", "L7", "HOST", "PACKETS", "BYTES", "RISKS");
        CapturedPacket pkt;
        while (src.next(pkt))
            feed(pkt);
        if (!src.error().empty()) {
            std::fprintf(stderr, "policer dissect: %s: %s\n", opts_.file.c_str(),
                         src.error().c_str());
        }
        dissector_.finish_all();
        // In order of first packet; sorting pointers, not the (large) flows themselves.
        std::vector<const OfflineFlow *> rest;
        rest.reserve(flows_.size());
        flows_.for_each([&](const DissectKey &, const OfflineFlow &f) { rest.push_back(&f); });
        std::sort(rest.begin(), rest.end(),
                  [](const OfflineFlow *a, const OfflineFlow *b) { return a->seq < b->seq; });
        for (const OfflineFlow *f : rest)
            print(*f);
        summary(src.stats());
        return src.error().empty() ? 0 : 1;
    }

private:
    void feed(const CapturedPacket &pkt) {
        l7::PacketView v;
        pl_flow_key ref{}; // offline: no socket, cookie 0
        if (l7::parse_packet(pkt.ip, pkt.caplen, v) != l7::PacketError::None) {
            dissector_.feed(ref, pkt.ip, pkt.caplen, pkt.ts_ns); // counts it by reason
            return;
        }
        DissectKey key = DissectKey::of(0, v);
        OfflineFlow *f = flows_.get(key);
        if (!f) {
            if (flows_.size() >= flows_.capacity()) {
                // Out of room: the least recent flow is complete as far as we will know.
                auto victim = flows_.pop_lru();
                if (auto info = dissector_.take(victim->first)) victim->second.l7 = *info;
                print(victim->second);
            }
            OfflineFlow nf;
            nf.seq = next_seq_++;
            // A SYN+ACK first means we missed the SYN: its receiver opened the flow.
            const bool synack = v.proto == 6 && (v.tcp_flags & 0x12) == 0x12;
            nf.family = v.family;
            nf.proto = v.proto;
            std::copy(synack ? v.dst : v.src, (synack ? v.dst : v.src) + 16, nf.src);
            std::copy(synack ? v.src : v.dst, (synack ? v.src : v.dst) + 16, nf.dst);
            nf.sport = synack ? v.dport : v.sport;
            nf.dport = synack ? v.sport : v.dport;
            nf.first_ns = pkt.ts_ns;
            nf.dst_domain = domains_.lookup(nf.family, nf.dst, pkt.ts_ns);
            f = &flows_.put(key, std::move(nf));
        }
        f->last_ns = pkt.ts_ns;
        const bool from_initiator = v.sport == f->sport && std::equal(v.src, v.src + 16, f->src);
        Direction &d = from_initiator ? f->fwd : f->rev;
        ++d.packets;
        d.bytes += v.ip_len > v.payload_off ? v.ip_len - v.payload_off : 0; // payload on the wire
        // Only now: the flow exists to receive a result that comes with this very packet
        // (nDPI identifies QUIC, for one, from the first).
        dissector_.feed(ref, pkt.ip, pkt.caplen, pkt.ts_ns);
    }

    void print(const OfflineFlow &f) {
        const std::string src = endpoint(f.family, f.src, f.sport);
        const std::string dst = endpoint(f.family, f.dst, f.dport);
        const char *transport = f.proto == 6 ? "tcp" : "udp";
        if (!opts_.json) {
            std::string risks;
            if (f.l7)
                for (const auto &r : f.l7->risks)
                    risks += (risks.empty() ? "" : "; ") + r;
            std::printf("%-5s %-45s %-45s %-16s %-30s %8llu %10llu  %s\n", transport, src.c_str(),
                        dst.c_str(), f.l7 ? f.l7->protocol.c_str() : "-",
                        f.l7 && !f.l7->host.empty() ? f.l7->host.c_str() : "-",
                        static_cast<unsigned long long>(f.fwd.packets + f.rev.packets),
                        static_cast<unsigned long long>(f.fwd.bytes + f.rev.bytes), risks.c_str());
            return;
        }
        Json doc;
        doc["@timestamp"] = format_timestamp(f.first_ns);
        doc["event"] = {{"kind", "event"},
                        {"category", {"network"}},
                        {"type", {"connection"}},
                        {"action", "flow-dissected"},
                        {"dataset", "policer.dissect"},
                        {"duration", f.last_ns - f.first_ns}};
        doc["network"] = {{"transport", transport},
                          {"iana_number", std::to_string(f.proto)},
                          {"type", f.family == 2 ? "ipv4" : "ipv6"},
                          {"bytes", f.fwd.bytes + f.rev.bytes},
                          {"packets", f.fwd.packets + f.rev.packets}};
        doc["source"] = {{"ip", format_ip(f.family, f.src)},
                         {"port", f.sport},
                         {"bytes", f.fwd.bytes},
                         {"packets", f.fwd.packets}};
        doc["destination"] = {{"ip", format_ip(f.family, f.dst)},
                              {"port", f.dport},
                              {"bytes", f.rev.bytes},
                              {"packets", f.rev.packets}};
        if (f.dst_domain) doc["destination"]["domain"] = *f.dst_domain;
        if (f.l7) l7::add_l7_fields(doc, *f.l7);
        std::puts(doc.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
    }

    void summary(const PcapStats &ps) {
        const l7::DissectorStats &s = dissector_.stats();
        if (opts_.json) {
            Json reasons = Json::object();
            for (size_t i = 1; i < s.malformed_by_reason.size(); ++i)
                if (s.malformed_by_reason[i])
                    reasons[l7::packet_error_name(static_cast<l7::PacketError>(i))] =
                        s.malformed_by_reason[i];
            Json doc;
            doc["event"] = {
                {"kind", "metric"}, {"action", "dissect-summary"}, {"dataset", "policer.dissect"}};
            doc["policer"]["dissect"] = {
                {"file", opts_.file},           {"frames", ps.frames},
                {"non_ip", ps.non_ip},          {"bad_link", ps.bad_link},
                {"packets", s.packets},         {"malformed", s.malformed},
                {"not_tcp_udp", s.not_tcp_udp}, {"malformed_by_reason", reasons},
                {"flows", next_seq_},           {"classified", s.classified},
                {"evicted", s.evicted},         {"dns_responses", s.dns_responses}};
            std::puts(doc.dump(-1, ' ', false, Json::error_handler_t::replace).c_str());
        }
        std::fprintf(stderr,
                     "policer dissect: %llu frames, %llu IP packets in %llu flows (%llu "
                     "classified); %llu malformed, %llu not TCP/UDP, %llu not IP, %llu with a cut "
                     "link header\n",
                     static_cast<unsigned long long>(ps.frames),
                     static_cast<unsigned long long>(s.packets),
                     static_cast<unsigned long long>(next_seq_),
                     static_cast<unsigned long long>(s.classified),
                     static_cast<unsigned long long>(s.malformed),
                     static_cast<unsigned long long>(s.not_tcp_udp),
                     static_cast<unsigned long long>(ps.non_ip),
                     static_cast<unsigned long long>(ps.bad_link));
    }

    static std::string endpoint(uint8_t family, const uint8_t *a, uint16_t port) {
        std::string ip = format_ip(family, a);
        return (family == 10 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
    }

    Options opts_;
    l7::DomainCache domains_;
    l7::Dissector dissector_;
    enrich::LruCache<DissectKey, OfflineFlow, l7::DissectKeyHash> flows_;
    uint64_t next_seq_ = 0;
};

} // namespace

int dissect_command(int argc, const char *const *argv) {
    cxxopts::Options spec("policer dissect", "Classify the flows of a capture file with nDPI");
    spec.custom_help("[OPTION...] FILE");
    spec.positional_help("FILE");
    // clang-format off
    spec.add_options()
        ("json", "One ECS JSON document per flow, then a summary document")
        ("max-flows", "Flows held at once; the least recent is printed early to make room",
         cxxopts::value<size_t>()->default_value("65536"))
        ("max-packets", "Packets inspected per flow before giving up on it",
         cxxopts::value<uint32_t>()->default_value("32"))
        ("file", "Capture file, or - for standard input", cxxopts::value<std::string>())
        ("h,help", "Print this help");
    // clang-format on
    spec.parse_positional({"file"});
    Options o;
    try {
        auto r = spec.parse(argc, argv);
        if (r.count("help")) {
            std::fputs((spec.help() + kHelp).c_str(), stdout);
            return 0;
        }
        if (!r.count("file")) {
            std::fputs("policer dissect: no capture file given (see policer dissect --help)\n",
                       stderr);
            return 2;
        }
        if (!r.unmatched().empty()) {
            std::fprintf(stderr, "policer dissect: unexpected argument '%s'\n",
                         r.unmatched().front().c_str());
            return 2;
        }
        o.file = r["file"].as<std::string>();
        o.json = r.count("json") > 0;
        o.max_flows = r["max-flows"].as<size_t>();
        o.max_packets = r["max-packets"].as<uint32_t>();
        if (o.max_flows == 0 || o.max_packets == 0) {
            std::fputs("policer dissect: --max-flows and --max-packets must be at least 1\n",
                       stderr);
            return 2;
        }
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer dissect: %s (see policer dissect --help)\n", e.what());
        return 2;
    }

    auto src = PcapSource::open(o.file);
    if (!src) {
        std::fprintf(stderr, "policer dissect: %s\n", src.error().message.c_str());
        return 1;
    }
    auto engine = l7::DpiEngine::create();
    if (!engine) {
        std::fprintf(stderr, "policer dissect: %s\n", engine.error().message.c_str());
        return 1;
    }
    Run run(o, **engine);
    return run.run(**src);
}

} // namespace policer::cli
