// event_decoder_test.cpp - decode_event: records of every type decode to their struct; records
// with a wrong size, type, length or enum value are rejected with a message.
#include "policer/event_decoder.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

namespace {

using policer::daemon::decode_event;
using policer::daemon::ProbeEvent;

// An event of type `type` whose header says it is sizeof(T) bytes.
template <typename T>
T event(uint32_t type) {
    T ev;
    std::memset(&ev, 0, sizeof(ev));
    ev.hdr.type = type;
    ev.hdr.size = sizeof(T);
    ev.hdr.ts_ns = 123456789;
    return ev;
}

pl_flow_event flow(uint32_t type) {
    auto ev = event<pl_flow_event>(type);
    ev.cookie = 4242;
    ev.tuple.family = 2;
    ev.tuple.proto = 6;
    ev.tuple.direction = PL_DIR_EGRESS;
    ev.tuple.sport = 40000;
    ev.tuple.dport = 443;
    ev.ident.tgid = 1234;
    ev.counters.bytes_sent = 99;
    return ev;
}

template <typename T>
policer::Result<ProbeEvent> decode(const T &ev) {
    return decode_event(&ev, sizeof(ev));
}

// The record is rejected, with a message for the log.
void check_rejected(const policer::Result<ProbeEvent> &r) {
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(r.error().message.empty());
}

} // namespace

TEST_CASE("an exec record decodes to pl_exec_event with its fields") {
    auto ev = event<pl_exec_event>(PL_EV_EXEC);
    ev.ident.tgid = 1234;
    ev.exe_len = 14;
    std::memcpy(ev.exe, "curl\0bin\0usr\0", 14);
    ev.args_len = PL_ARGS_LEN;

    auto r = decode(ev);
    REQUIRE(r.ok());
    REQUIRE(std::holds_alternative<pl_exec_event>(*r));
    const auto &e = std::get<pl_exec_event>(*r);
    CHECK(e.hdr.ts_ns == 123456789);
    CHECK(e.ident.tgid == 1234);
    CHECK(e.exe_len == 14);
    CHECK(std::memcmp(e.exe, "curl\0bin\0usr\0", 14) == 0);

    ev.exe_len = PL_EXE_LEN;
    CHECK(decode(ev).ok());
}

TEST_CASE("fork, exit and socket close records decode to their structs") {
    auto fork = event<pl_fork_event>(PL_EV_FORK);
    fork.ident.tgid = 77;
    auto rf = decode(fork);
    REQUIRE(rf.ok());
    REQUIRE(std::holds_alternative<pl_fork_event>(*rf));
    CHECK(std::get<pl_fork_event>(*rf).ident.tgid == 77);

    auto exit = event<pl_exit_event>(PL_EV_EXIT);
    exit.tgid = 78;
    exit.exit_code = -9;
    auto re = decode(exit);
    REQUIRE(re.ok());
    REQUIRE(std::holds_alternative<pl_exit_event>(*re));
    CHECK(std::get<pl_exit_event>(*re).tgid == 78);
    CHECK(std::get<pl_exit_event>(*re).exit_code == -9);

    auto close = event<pl_sock_close_event>(PL_EV_SOCK_CLOSE);
    close.cookie = 79;
    auto rc = decode(close);
    REQUIRE(rc.ok());
    REQUIRE(std::holds_alternative<pl_sock_close_event>(*rc));
    CHECK(std::get<pl_sock_close_event>(*rc).cookie == 79);
}

TEST_CASE("flow new, end and accept records decode to pl_flow_event") {
    for (uint32_t type : {PL_EV_FLOW_NEW, PL_EV_FLOW_END, PL_EV_FLOW_ACCEPT}) {
        CAPTURE(type);
        auto r = decode(flow(type));
        REQUIRE(r.ok());
        REQUIRE(std::holds_alternative<pl_flow_event>(*r));
        const auto &e = std::get<pl_flow_event>(*r);
        CHECK(e.hdr.type == type);
        CHECK(e.cookie == 4242);
        CHECK(e.tuple.dport == 443);
        CHECK(e.ident.tgid == 1234);
        CHECK(e.counters.bytes_sent == 99);
    }

    auto v6_udp_in = flow(PL_EV_FLOW_NEW);
    v6_udp_in.tuple.family = 10;
    v6_udp_in.tuple.proto = 17;
    v6_udp_in.tuple.direction = PL_DIR_INGRESS;
    CHECK(decode(v6_udp_in).ok());
}

TEST_CASE("cgroup mkdir and rmdir records decode to pl_cgroup_event") {
    for (uint32_t type : {PL_EV_CGROUP_MKDIR, PL_EV_CGROUP_RMDIR}) {
        CAPTURE(type);
        auto ev = event<pl_cgroup_event>(type);
        ev.cgroup_id = 9001;
        ev.path_len = 21;
        std::memcpy(ev.path, "/system.slice/x.scope", 21);
        auto r = decode(ev);
        REQUIRE(r.ok());
        REQUIRE(std::holds_alternative<pl_cgroup_event>(*r));
        CHECK(std::get<pl_cgroup_event>(*r).cgroup_id == 9001);
        CHECK(std::get<pl_cgroup_event>(*r).path_len == 21);
    }

    auto longest = event<pl_cgroup_event>(PL_EV_CGROUP_MKDIR);
    longest.path_len = PL_CGROUP_PATH_LEN - 1;
    CHECK(decode(longest).ok());
}

TEST_CASE("a record shorter than its header is rejected") {
    auto fork = event<pl_fork_event>(PL_EV_FORK);
    check_rejected(decode_event(&fork, 0));
    check_rejected(decode_event(&fork, sizeof(pl_event_header) - 1));
}

TEST_CASE("a record whose header size is not its length is rejected") {
    auto fork = event<pl_fork_event>(PL_EV_FORK);
    fork.hdr.size = sizeof(fork) + 8;
    check_rejected(decode(fork));
    fork.hdr.size = sizeof(fork) - 8;
    check_rejected(decode(fork));
    fork.hdr.size = sizeof(fork);
    check_rejected(decode_event(&fork, sizeof(fork) - 8));
}

TEST_CASE("a record of an unknown type is rejected") {
    for (uint32_t type : {0u, static_cast<uint32_t>(PL_EV_TYPE_MAX), 0xffffffffu}) {
        CAPTURE(type);
        check_rejected(decode(event<pl_fork_event>(type)));
    }
}

TEST_CASE("a record of a known type but the wrong size is rejected") {
    // A fork-sized record that says it is an exit, and a padded fork record.
    check_rejected(decode(event<pl_fork_event>(PL_EV_EXIT)));
    check_rejected(decode(event<pl_exit_event>(PL_EV_FLOW_NEW)));
    check_rejected(decode(event<pl_sock_close_event>(PL_EV_CGROUP_MKDIR)));
    check_rejected(decode(event<pl_fork_event>(PL_EV_EXEC)));

    std::vector<unsigned char> padded(sizeof(pl_fork_event) + 8, 0);
    auto fork = event<pl_fork_event>(PL_EV_FORK);
    fork.hdr.size = static_cast<uint32_t>(padded.size());
    std::memcpy(padded.data(), &fork, sizeof(fork));
    check_rejected(decode_event(padded.data(), padded.size()));
}

TEST_CASE("an exec record with lengths beyond its buffers is rejected") {
    auto ev = event<pl_exec_event>(PL_EV_EXEC);
    ev.exe_len = PL_EXE_LEN + 1;
    check_rejected(decode(ev));
    ev.exe_len = 0xffff;
    check_rejected(decode(ev));
    ev.exe_len = 0;
    ev.args_len = PL_ARGS_LEN + 1;
    check_rejected(decode(ev));
}

TEST_CASE("a cgroup record with a path length that leaves no room for the NUL is rejected") {
    auto ev = event<pl_cgroup_event>(PL_EV_CGROUP_RMDIR);
    ev.path_len = PL_CGROUP_PATH_LEN;
    check_rejected(decode(ev));
    ev.path_len = 0xffff;
    check_rejected(decode(ev));
}

TEST_CASE("a flow record with an invalid family, protocol or direction is rejected") {
    for (uint32_t type : {PL_EV_FLOW_NEW, PL_EV_FLOW_END}) {
        CAPTURE(type);
        auto bad_family = flow(type);
        bad_family.tuple.family = 1;
        check_rejected(decode(bad_family));

        auto bad_proto = flow(type);
        bad_proto.tuple.proto = 1;
        check_rejected(decode(bad_proto));

        auto unknown_direction = flow(type);
        unknown_direction.tuple.direction = PL_DIR_UNKNOWN;
        check_rejected(decode(unknown_direction));

        auto bad_direction = flow(type);
        bad_direction.tuple.direction = 3;
        check_rejected(decode(bad_direction));
    }
}
