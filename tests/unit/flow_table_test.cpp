// flow_table_test.cpp - FlowTable: flows by key, bounded with the evicted flow handed back, the
// UDP flows of each socket, and the accept-wait queue.
#include "policer/flow_table.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

using policer::daemon::FlowKey;
using policer::daemon::FlowRecord;
using policer::daemon::FlowTable;

FlowKey udp_key(uint64_t cookie, uint8_t last_octet, uint16_t rport) {
    pl_flow_key k{};
    k.cookie = cookie;
    k.family = 2;
    k.raddr[0] = 192;
    k.raddr[1] = 0;
    k.raddr[2] = 2;
    k.raddr[3] = last_octet;
    k.rport = rport;
    return FlowKey::udp(k);
}

FlowRecord flow(FlowKey key, uint64_t start_ns = 0) {
    FlowRecord r;
    r.key = key;
    r.start_ns = start_ns;
    r.tuple.family = 2;
    r.tuple.proto = key.is_udp() ? 17 : 6;
    r.tuple.direction = PL_DIR_EGRESS;
    return r;
}

// Order-insensitive comparison of key lists.
bool same_keys(std::vector<FlowKey> a, std::vector<FlowKey> b) {
    if (a.size() != b.size()) return false;
    for (const auto &k : a)
        if (std::find(b.begin(), b.end(), k) == b.end()) return false;
    return true;
}

} // namespace

TEST_CASE("TCP and UDP flow keys of the same socket are distinct") {
    FlowKey tcp = FlowKey::tcp(77);
    FlowKey udp = udp_key(77, 1, 53);
    CHECK_FALSE(tcp.is_udp());
    CHECK(udp.is_udp());
    CHECK_FALSE(tcp == udp);
    CHECK(tcp == FlowKey::tcp(77));
    CHECK_FALSE(tcp == FlowKey::tcp(78));
    CHECK(udp == udp_key(77, 1, 53));
    CHECK_FALSE(udp == udp_key(77, 2, 53));
    CHECK_FALSE(udp == udp_key(77, 1, 54));
    CHECK(policer::daemon::FlowKeyHash()(tcp) == policer::daemon::FlowKeyHash()(FlowKey::tcp(77)));
}

TEST_CASE("a flow can be added, found, and removed once") {
    FlowTable t(8);
    CHECK_FALSE(t.add(flow(FlowKey::tcp(1), 1000)));
    CHECK(t.size() == 1);

    FlowRecord *r = t.find(FlowKey::tcp(1));
    REQUIRE(r != nullptr);
    CHECK(r->start_ns == 1000);
    r->flags = PL_FLOW_ESTABLISHED;

    auto removed = t.remove(FlowKey::tcp(1));
    REQUIRE(removed);
    CHECK(removed->start_ns == 1000);
    CHECK(removed->flags == PL_FLOW_ESTABLISHED);
    CHECK(t.find(FlowKey::tcp(1)) == nullptr);
    CHECK_FALSE(t.remove(FlowKey::tcp(1)));
    CHECK(t.size() == 0);
}

TEST_CASE("a full table hands back the least recently touched flow") {
    FlowTable t(2);
    CHECK(t.capacity() == 2);
    CHECK_FALSE(t.add(flow(FlowKey::tcp(1), 100)));
    CHECK_FALSE(t.add(flow(FlowKey::tcp(2), 200)));
    REQUIRE(t.find(FlowKey::tcp(1)) != nullptr); // 2 is now the least recently touched

    auto victim = t.add(flow(FlowKey::tcp(3), 300));
    REQUIRE(victim);
    CHECK(victim->key == FlowKey::tcp(2));
    CHECK(victim->start_ns == 200);
    CHECK(t.evictions() == 1);
    CHECK(t.size() == 2);
    CHECK(t.find(FlowKey::tcp(2)) == nullptr);
    CHECK(t.find(FlowKey::tcp(1)) != nullptr);
    CHECK(t.find(FlowKey::tcp(3)) != nullptr);
}

TEST_CASE("adding a flow that is already there replaces it without evicting another") {
    FlowTable t(2);
    CHECK_FALSE(t.add(flow(FlowKey::tcp(1), 100)));
    CHECK_FALSE(t.add(flow(FlowKey::tcp(2), 200)));
    CHECK_FALSE(t.add(flow(FlowKey::tcp(1), 150)));
    CHECK(t.evictions() == 0);
    CHECK(t.size() == 2);
    CHECK(t.find(FlowKey::tcp(1))->start_ns == 150);
}

TEST_CASE("the UDP flows of a socket follow adds, removes and evictions") {
    FlowTable t(3);
    FlowKey a = udp_key(7, 1, 53), b = udp_key(7, 2, 53), other = udp_key(8, 1, 53);
    CHECK(t.udp_flows_of(7).empty());

    CHECK_FALSE(t.add(flow(a)));
    CHECK_FALSE(t.add(flow(FlowKey::tcp(7))));
    CHECK_FALSE(t.add(flow(b)));
    CHECK(same_keys(t.udp_flows_of(7), {a, b}));
    CHECK(t.udp_flows_of(8).empty());

    // Re-adding a flow does not list it twice.
    CHECK_FALSE(t.add(flow(b)));
    CHECK(same_keys(t.udp_flows_of(7), {a, b}));

    REQUIRE(t.remove(b));
    CHECK(same_keys(t.udp_flows_of(7), {a}));

    // a is the least recently touched: adding two more evicts it.
    CHECK_FALSE(t.add(flow(b)));
    auto victim = t.add(flow(other));
    REQUIRE(victim);
    CHECK(victim->key == a);
    CHECK(same_keys(t.udp_flows_of(7), {b}));
    CHECK(same_keys(t.udp_flows_of(8), {other}));

    REQUIRE(t.remove(b));
    REQUIRE(t.remove(other));
    CHECK(t.udp_flows_of(7).empty());
    CHECK(t.udp_flows_of(8).empty());
    CHECK(t.find(FlowKey::tcp(7)) != nullptr);
}

TEST_CASE("accept deadlines come due in order, each only once") {
    FlowTable t(8);
    t.wait_for_accept(FlowKey::tcp(1), 100);
    t.wait_for_accept(FlowKey::tcp(2), 200);
    t.wait_for_accept(FlowKey::tcp(3), 200);

    CHECK(t.accept_deadlines_due(99).empty());
    CHECK(t.accept_deadlines_due(100) == std::vector<FlowKey>{FlowKey::tcp(1)});
    CHECK(t.accept_deadlines_due(150).empty());
    CHECK(t.accept_deadlines_due(1000) == std::vector<FlowKey>{FlowKey::tcp(2), FlowKey::tcp(3)});
    CHECK(t.accept_deadlines_due(2000).empty());
}
