// flow_table.h - the flows policerd is following, with the identity resolved when each began,
// so that the end of a flow is reported with the same identity as its start even if the
// process, the user or the container is gone by then. Bounded: when full, the least recently
// touched flow is handed back to the caller to be closed out, never silently dropped.
#pragma once

#include "enrich/identity.h"
#include "enrich/lru_cache.h"
#include "policer/l7/l7_info.h"
#include "probes/probe_abi.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace policer::daemon {

// TCP flows are their socket (cookie); UDP flows are (socket, remote endpoint).
struct FlowKey {
    pl_flow_key k{};

    static FlowKey tcp(uint64_t cookie);
    static FlowKey udp(const pl_flow_key &key) { return FlowKey{key}; }
    bool is_udp() const { return k.family != 0; }
    bool operator==(const FlowKey &o) const { return std::memcmp(&k, &o.k, sizeof(k)) == 0; }
};

struct FlowKeyHash {
    size_t operator()(const FlowKey &f) const;
};

enum class EndReason {
    Closed,   // the socket closed (or TCP reached CLOSE)
    Idle,     // UDP: no datagram for the idle timeout
    Evicted,  // the daemon's flow table was full
    Lost,     // UDP: the kernel's flow table dropped it (full): final counters unknown
    Replaced, // UDP: the kernel started a flow with the same key again
};

struct FlowRecord {
    FlowKey key;
    pl_tuple tuple{};
    enrich::Identity who;
    uint64_t start_ns = 0; // CLOCK_BOOTTIME
    uint64_t end_ns = 0;
    pl_flow_counters counters{};
    uint32_t flags = 0; // PL_FLOW_*
    EndReason end_reason = EndReason::Closed;
    bool start_reported = false;
    std::optional<std::string> remote_domain; // from DNS answers seen before the flow began
    std::optional<l7::L7Info> l7;             // once dissection has a result
    uint64_t l7_ns = 0;                       // when that result came
    bool l7_reported = false;                 // flow-classified published
    bool kernel_verdict = false;              // a refusal or limit was pushed to the kernel
};

class FlowTable {
public:
    explicit FlowTable(size_t capacity) : flows_(capacity) {}

    // Adds a flow. If the table was full, the least recently touched flow is removed and
    // returned so that it can be reported as ended.
    std::optional<FlowRecord> add(FlowRecord rec);
    FlowRecord *find(const FlowKey &key) { return flows_.get(key); }
    std::optional<FlowRecord> remove(const FlowKey &key);

    // UDP flows of one socket (for its close).
    std::vector<FlowKey> udp_flows_of(uint64_t cookie) const;

    // Every UDP flow the table holds (for the idle sweep).
    std::vector<FlowKey> udp_flows() const;

    // Inbound TCP flows wait for their acceptor until a deadline. Bounded by the table's
    // capacity: beyond it the oldest waiter's deadline is brought forward (returned as due).
    void wait_for_accept(const FlowKey &key, uint64_t deadline_ns);
    // Keys whose deadline has passed (they may have been accepted or removed since).
    std::vector<FlowKey> accept_deadlines_due(uint64_t now_ns);

    // Visits every flow, most recently touched first.
    template <typename F>
    void for_each(F &&f) const {
        flows_.for_each([&](const FlowKey &, const FlowRecord &rec) { f(rec); });
    }

    size_t size() const { return flows_.size(); }
    size_t capacity() const { return flows_.capacity(); }
    uint64_t evictions() const { return evictions_; }

private:
    void unindex(const FlowRecord &rec);

    enrich::LruCache<FlowKey, FlowRecord, FlowKeyHash> flows_;
    // A socket's UDP flows, for its close: constant time per flow however many it has.
    std::unordered_map<uint64_t, std::unordered_set<FlowKey, FlowKeyHash>> udp_by_cookie_;
    std::deque<std::pair<uint64_t, FlowKey>> accept_queue_; // deadlines are monotonic
    uint64_t evictions_ = 0;
};

} // namespace policer::daemon
