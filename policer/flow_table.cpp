// flow_table.cpp - see flow_table.h.
#include "policer/flow_table.h"

#include <algorithm>

namespace policer::daemon {

FlowKey FlowKey::tcp(uint64_t cookie) {
    FlowKey f;
    f.k.cookie = cookie;
    return f;
}

size_t FlowKeyHash::operator()(const FlowKey &f) const {
    // FNV-1a over the key bytes: the key is small and fully initialised (padding zeroed).
    const auto *p = reinterpret_cast<const unsigned char *>(&f.k);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(f.k); ++i)
        h = (h ^ p[i]) * 1099511628211ull;
    return static_cast<size_t>(h);
}

void FlowTable::unindex(const FlowRecord &rec) {
    if (!rec.key.is_udp()) return;
    auto it = udp_by_cookie_.find(rec.key.k.cookie);
    if (it == udp_by_cookie_.end()) return;
    it->second.erase(rec.key);
    if (it->second.empty()) udp_by_cookie_.erase(it);
}

std::optional<FlowRecord> FlowTable::add(FlowRecord rec) {
    std::optional<FlowRecord> evicted;
    if (!flows_.peek(rec.key) && flows_.size() >= flows_.capacity()) {
        auto victim = flows_.pop_lru();
        if (victim) {
            unindex(victim->second);
            evicted = std::move(victim->second);
            ++evictions_;
        }
    }
    if (rec.key.is_udp()) {
        udp_by_cookie_[rec.key.k.cookie].insert(rec.key);
    }
    FlowKey key = rec.key;
    flows_.put(key, std::move(rec));
    return evicted;
}

std::optional<FlowRecord> FlowTable::remove(const FlowKey &key) {
    FlowRecord rec;
    if (!flows_.erase(key, &rec)) return std::nullopt;
    unindex(rec);
    return rec;
}

std::vector<FlowKey> FlowTable::udp_flows_of(uint64_t cookie) const {
    auto it = udp_by_cookie_.find(cookie);
    if (it == udp_by_cookie_.end()) return {};
    return std::vector<FlowKey>(it->second.begin(), it->second.end());
}

std::vector<FlowKey> FlowTable::udp_flows() const {
    std::vector<FlowKey> out;
    for (const auto &[cookie, keys] : udp_by_cookie_)
        out.insert(out.end(), keys.begin(), keys.end());
    return out;
}

void FlowTable::wait_for_accept(const FlowKey &key, uint64_t deadline_ns) {
    if (accept_queue_.size() >= flows_.capacity()) accept_queue_.front().first = 0; // due now
    accept_queue_.emplace_back(deadline_ns, key);
}

std::vector<FlowKey> FlowTable::accept_deadlines_due(uint64_t now_ns) {
    std::vector<FlowKey> due;
    while (!accept_queue_.empty() &&
           (accept_queue_.front().first <= now_ns || accept_queue_.size() > flows_.capacity())) {
        due.push_back(accept_queue_.front().second);
        accept_queue_.pop_front();
    }
    // Entries for flows that are gone are dropped here too, so the queue stays bounded by
    // the flows that arrived within one accept-wait period.
    return due;
}

} // namespace policer::daemon
