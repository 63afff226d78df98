// lru_cache.h - a map with a hard capacity that forgets the least recently used entry first.
// Every cache in policer is one of these: memory stays bounded however many processes,
// users or cgroups a host churns through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace policer::enrich {

template <typename K, typename V, typename Hash = std::hash<K>>
class LruCache {
public:
    explicit LruCache(size_t capacity) : capacity_(capacity) {
        if (capacity_ == 0) throw std::invalid_argument("LruCache capacity must be > 0");
    }

    // The value for `key`, marked most recently used; nullptr when absent.
    V *get(const K &key) {
        auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        items_.splice(items_.begin(), items_, it->second);
        return &it->second->second;
    }

    // The value for `key` without changing its recency.
    const V *peek(const K &key) const {
        auto it = index_.find(key);
        return it == index_.end() ? nullptr : &it->second->second;
    }
    V *peek(const K &key) {
        auto it = index_.find(key);
        return it == index_.end() ? nullptr : &it->second->second;
    }

    // Inserts or replaces; evicts the least recently used entry when full.
    V &put(const K &key, V value) {
        if (V *v = get(key)) {
            *v = std::move(value);
            return *v;
        }
        if (items_.size() >= capacity_) {
            index_.erase(items_.back().first);
            items_.pop_back();
            ++evictions_;
        }
        items_.emplace_front(key, std::move(value));
        index_.emplace(key, items_.begin());
        return items_.front().second;
    }

    // Removes `key`; returns its value if it was present.
    bool erase(const K &key, V *out = nullptr) {
        auto it = index_.find(key);
        if (it == index_.end()) return false;
        if (out) *out = std::move(it->second->second);
        items_.erase(it->second);
        index_.erase(it);
        return true;
    }

    // The least recently used entry, without touching it; nullptr when empty.
    const std::pair<K, V> *lru() const { return items_.empty() ? nullptr : &items_.back(); }

    // Removes and returns the least recently used entry (for callers that must close it out).
    std::optional<std::pair<K, V>> pop_lru() {
        if (items_.empty()) return std::nullopt;
        std::pair<K, V> kv = std::move(items_.back());
        index_.erase(kv.first);
        items_.pop_back();
        return kv;
    }

    size_t size() const { return items_.size(); }
    size_t capacity() const { return capacity_; }
    uint64_t evictions() const { return evictions_; }

    // Visits entries from most to least recently used.
    template <typename F>
    void for_each(F &&f) const {
        for (const auto &kv : items_)
            f(kv.first, kv.second);
    }

private:
    size_t capacity_;
    uint64_t evictions_ = 0;
    std::list<std::pair<K, V>> items_;
    std::unordered_map<K, typename std::list<std::pair<K, V>>::iterator, Hash> index_;
};

} // namespace policer::enrich
