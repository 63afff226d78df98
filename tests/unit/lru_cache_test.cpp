// lru_cache_test.cpp - LruCache: bounded size, least recently used entry forgotten first.
#include "enrich/lru_cache.h"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using Cache = policer::enrich::LruCache<int, std::string>;

// Keys from most to least recently used.
std::vector<int> order(const Cache &c) {
    std::vector<int> keys;
    c.for_each([&](int k, const std::string &) { keys.push_back(k); });
    return keys;
}

} // namespace

TEST_CASE("an LruCache never holds more than its capacity") {
    Cache c(3);
    CHECK(c.capacity() == 3);
    for (int i = 0; i < 10; ++i)
        c.put(i, "v" + std::to_string(i));
    CHECK(c.size() == 3);
    CHECK(c.evictions() == 7);
    CHECK(order(c) == std::vector<int>{9, 8, 7});
    CHECK(c.get(6) == nullptr);
    REQUIRE(c.get(9) != nullptr);
    CHECK(*c.get(9) == "v9");
}

TEST_CASE("get marks an entry as recently used so it outlives older ones") {
    Cache c(2);
    c.put(1, "one");
    c.put(2, "two");
    REQUIRE(c.get(1) != nullptr);
    c.put(3, "three");
    CHECK(c.get(2) == nullptr);
    CHECK(c.get(1) != nullptr);
    CHECK(c.get(3) != nullptr);
    CHECK(c.evictions() == 1);
}

TEST_CASE("put of a present key replaces its value, refreshes it and evicts nothing") {
    Cache c(2);
    c.put(1, "one");
    c.put(2, "two");
    CHECK(c.put(1, "uno") == "uno");
    CHECK(c.size() == 2);
    CHECK(c.evictions() == 0);
    CHECK(order(c) == std::vector<int>{1, 2});
    c.put(3, "three");
    CHECK(c.peek(2) == nullptr);
    REQUIRE(c.peek(1) != nullptr);
    CHECK(*c.peek(1) == "uno");
}

TEST_CASE("a value returned by get can be changed in place") {
    Cache c(2);
    c.put(1, "one");
    *c.get(1) += "!";
    CHECK(*c.peek(1) == "one!");
}

TEST_CASE("peek does not change which entry is evicted next") {
    Cache c(2);
    c.put(1, "one");
    c.put(2, "two");
    REQUIRE(c.peek(1) != nullptr);
    CHECK(*c.peek(1) == "one");
    CHECK(c.peek(42) == nullptr);
    c.put(3, "three");
    CHECK(c.peek(1) == nullptr);
    CHECK(c.peek(2) != nullptr);
}

TEST_CASE("erase removes an entry and hands back its value") {
    Cache c(3);
    c.put(1, "one");
    c.put(2, "two");
    std::string out;
    CHECK(c.erase(1, &out));
    CHECK(out == "one");
    CHECK(c.get(1) == nullptr);
    CHECK(c.size() == 1);

    out = "untouched";
    CHECK_FALSE(c.erase(1, &out));
    CHECK(out == "untouched");
    CHECK(c.erase(2));
    CHECK(c.size() == 0);
    CHECK(c.evictions() == 0);
}

TEST_CASE("pop_lru removes the least recently used entry without counting an eviction") {
    Cache c(3);
    CHECK_FALSE(c.pop_lru());
    c.put(1, "one");
    c.put(2, "two");
    c.put(3, "three");
    c.get(1);

    auto first = c.pop_lru();
    REQUIRE(first);
    CHECK(first->first == 2);
    CHECK(first->second == "two");
    auto second = c.pop_lru();
    REQUIRE(second);
    CHECK(second->first == 3);
    CHECK(c.size() == 1);
    CHECK(c.get(2) == nullptr);
    CHECK(c.evictions() == 0);
    // The freed slots are usable again.
    c.put(4, "four");
    c.put(5, "five");
    CHECK(c.size() == 3);
    CHECK(c.evictions() == 0);
}

TEST_CASE("an LruCache of capacity 0 cannot be made") {
    CHECK_THROWS_AS(Cache(0), std::invalid_argument);
}
