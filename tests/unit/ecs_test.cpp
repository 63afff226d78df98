// ecs_test.cpp - flows as ECS documents: addresses, the source/destination orientation of the
// counters, identity fields present only when known, and JSON that survives any input.
#include "policer/ecs.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

namespace {

using policer::format_ip;
using policer::daemon::EcsContext;
using policer::daemon::EndReason;
using policer::daemon::flow_event;
using policer::daemon::FlowKey;
using policer::daemon::FlowPhase;
using policer::daemon::FlowRecord;
using policer::daemon::Json;
using policer::daemon::network_type;
using policer::daemon::to_line;
using policer::enrich::ContainerRef;
using policer::enrich::IdentityQuality;

constexpr uint64_t kSec = 1'000'000'000;

void set_v4(uint8_t addr[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    std::memset(addr, 0, 16);
    addr[0] = a;
    addr[1] = b;
    addr[2] = c;
    addr[3] = d;
}

void set_v4_mapped(uint8_t addr[16], uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    std::memset(addr, 0, 16);
    addr[10] = 0xff;
    addr[11] = 0xff;
    addr[12] = a;
    addr[13] = b;
    addr[14] = c;
    addr[15] = d;
}

// fd00::<last>
void set_v6(uint8_t addr[16], uint8_t last) {
    std::memset(addr, 0, 16);
    addr[0] = 0xfd;
    addr[15] = last;
}

// A TCP flow between 10.0.0.5 and 93.184.216.34:443 by curl (pid 4321, uid 1000), oriented
// initiator -> responder. Egress: this host opened it; ingress: the peer did.
FlowRecord tcp_flow(uint8_t direction) {
    FlowRecord f;
    f.key = FlowKey::tcp(0xc0ffee);
    auto &t = f.tuple;
    t.family = 2;
    t.proto = 6;
    t.direction = direction;
    if (direction == PL_DIR_EGRESS) {
        set_v4(t.saddr, 10, 0, 0, 5);
        t.sport = 40000;
        set_v4(t.daddr, 93, 184, 216, 34);
        t.dport = 443;
    } else {
        set_v4(t.saddr, 93, 184, 216, 34);
        t.sport = 40000;
        set_v4(t.daddr, 10, 0, 0, 5);
        t.dport = 443;
    }
    f.start_ns = 100 * kSec;
    f.end_ns = 102 * kSec + 500;
    f.counters.bytes_sent = 517;
    f.counters.bytes_received = 4096;
    f.counters.packets_sent = 3;
    f.counters.packets_received = 5;
    f.flags = PL_FLOW_ESTABLISHED;
    f.end_reason = EndReason::Closed;

    auto &who = f.who;
    who.quality = IdentityQuality::Full;
    who.raw.tgid = 4321;
    who.raw.pid = 4322;
    who.raw.uid = 1000;
    who.raw.euid = 0;
    who.raw.gid = 1000;
    who.raw.cgroup_id = 8812;
    who.comm = "curl";
    who.exe = "/usr/bin/curl";
    who.args = {"curl", "-s", "https://example.com"};
    who.user_name = "alice";
    who.effective_user_name = "root";
    who.group_name = "alice";
    who.parent_pid = 4000;
    who.parent_comm = "bash";
    return f;
}

const EcsContext kCtx{"web-1", nullptr};

} // namespace

TEST_CASE("format_ip shows IPv4, IPv6, and IPv4-mapped IPv6 as IPv4") {
    uint8_t a[16];
    set_v4(a, 192, 0, 2, 10);
    CHECK(format_ip(2, a) == "192.0.2.10");
    set_v6(a, 1);
    CHECK(format_ip(10, a) == "fd00::1");
    set_v4_mapped(a, 10, 1, 2, 3);
    CHECK(format_ip(10, a) == "10.1.2.3");
    std::memset(a, 0, sizeof(a));
    a[15] = 1;
    CHECK(format_ip(10, a) == "::1");
}

TEST_CASE("network_type is ipv4 for IPv4 and for IPv6 flows between IPv4-mapped addresses") {
    pl_tuple t{};
    t.family = 2;
    set_v4(t.saddr, 10, 0, 0, 1);
    set_v4(t.daddr, 10, 0, 0, 2);
    CHECK(std::string(network_type(t)) == "ipv4");

    t.family = 10;
    set_v4_mapped(t.saddr, 10, 0, 0, 1);
    set_v4_mapped(t.daddr, 10, 0, 0, 2);
    CHECK(std::string(network_type(t)) == "ipv4");

    set_v6(t.daddr, 2);
    CHECK(std::string(network_type(t)) == "ipv6");
    set_v6(t.saddr, 1);
    CHECK(std::string(network_type(t)) == "ipv6");
}

TEST_CASE("the end of an egress TCP flow has the local host as source with the bytes it sent") {
    Json doc = flow_event(tcp_flow(PL_DIR_EGRESS), FlowPhase::End, kCtx);

    CHECK(doc["event"]["action"] == "flow-end");
    CHECK(doc["event"]["kind"] == "event");
    CHECK(doc["event"]["type"] == Json::array({"end", "connection"}));
    CHECK(doc["event"]["duration"] == 2 * kSec + 500);
    CHECK(doc["host"]["name"] == "web-1");

    CHECK(doc["source"]["ip"] == "10.0.0.5");
    CHECK(doc["source"]["port"] == 40000);
    CHECK(doc["source"]["bytes"] == 517);
    CHECK(doc["source"]["packets"] == 3);
    CHECK(doc["destination"]["ip"] == "93.184.216.34");
    CHECK(doc["destination"]["port"] == 443);
    CHECK(doc["destination"]["bytes"] == 4096);
    CHECK(doc["destination"]["packets"] == 5);

    CHECK(doc["network"]["transport"] == "tcp");
    CHECK(doc["network"]["iana_number"] == "6");
    CHECK(doc["network"]["type"] == "ipv4");
    CHECK(doc["network"]["direction"] == "egress");
    CHECK(doc["network"]["bytes"] == 517 + 4096);
    CHECK(doc["network"]["packets"] == 8);

    CHECK(doc["policer"]["flow"]["end_reason"] == "closed");
    CHECK(doc["policer"]["flow"]["established"] == true);
    CHECK(doc["policer"]["flow"]["cookie"] == 0xc0ffee);
}

TEST_CASE("the end of an ingress flow has the peer as source with the bytes it sent us") {
    Json doc = flow_event(tcp_flow(PL_DIR_INGRESS), FlowPhase::End, kCtx);

    CHECK(doc["network"]["direction"] == "ingress");
    CHECK(doc["source"]["ip"] == "93.184.216.34");
    CHECK(doc["source"]["bytes"] == 4096);
    CHECK(doc["source"]["packets"] == 5);
    CHECK(doc["destination"]["ip"] == "10.0.0.5");
    CHECK(doc["destination"]["bytes"] == 517);
    CHECK(doc["destination"]["packets"] == 3);
    CHECK(doc["network"]["bytes"] == 517 + 4096);
}

TEST_CASE("the start of a flow has no counters and no duration") {
    Json doc = flow_event(tcp_flow(PL_DIR_EGRESS), FlowPhase::Start, kCtx);

    CHECK(doc["event"]["action"] == "flow-start");
    CHECK(doc["event"]["type"] == Json::array({"start", "connection"}));
    CHECK_FALSE(doc["event"].contains("duration"));
    CHECK_FALSE(doc["source"].contains("bytes"));
    CHECK_FALSE(doc["destination"].contains("bytes"));
    CHECK_FALSE(doc["network"].contains("bytes"));
    CHECK_FALSE(doc["policer"]["flow"].contains("end_reason"));
    CHECK(doc["source"]["ip"] == "10.0.0.5");
}

TEST_CASE("a UDP flow end is reported as udp, with its end reason and no established flag") {
    FlowRecord f = tcp_flow(PL_DIR_EGRESS);
    f.tuple.proto = 17;
    f.end_reason = EndReason::Idle;
    Json doc = flow_event(f, FlowPhase::End, kCtx);

    CHECK(doc["network"]["transport"] == "udp");
    CHECK(doc["network"]["iana_number"] == "17");
    CHECK(doc["policer"]["flow"]["end_reason"] == "idle");
    CHECK_FALSE(doc["policer"]["flow"].contains("established"));
}

TEST_CASE("a fully known identity gives process, user and group") {
    Json doc = flow_event(tcp_flow(PL_DIR_EGRESS), FlowPhase::Start, kCtx);

    REQUIRE(doc.contains("process"));
    Json &p = doc["process"];
    CHECK(p["pid"] == 4321);
    CHECK(p["thread"]["id"] == 4322);
    CHECK(p["name"] == "curl");
    CHECK(p["executable"] == "/usr/bin/curl");
    CHECK(p["command_line"] == "curl -s https://example.com");
    CHECK(p["args"] == Json::array({"curl", "-s", "https://example.com"}));
    CHECK(p["args_count"] == 3);
    CHECK(p["parent"]["pid"] == 4000);
    CHECK(p["parent"]["name"] == "bash");
    CHECK_FALSE(p["parent"].contains("executable"));

    CHECK(doc["user"]["id"] == "1000");
    CHECK(doc["user"]["name"] == "alice");
    CHECK(doc["user"]["effective"]["id"] == "0");
    CHECK(doc["user"]["effective"]["name"] == "root");
    CHECK(doc["group"]["id"] == "1000");
    CHECK(doc["group"]["name"] == "alice");
    CHECK(doc["cgroup"]["id"] == 8812);
    CHECK(doc["policer"]["flow"]["identity"] == "full");
}

TEST_CASE("a partial identity has a user but no process") {
    FlowRecord f = tcp_flow(PL_DIR_EGRESS);
    f.who.quality = IdentityQuality::Partial;
    Json doc = flow_event(f, FlowPhase::End, kCtx);

    CHECK_FALSE(doc.contains("process"));
    CHECK(doc["user"]["id"] == "1000");
    CHECK(doc["policer"]["flow"]["identity"] == "partial");
}

TEST_CASE("an identity without a gid has no group") {
    FlowRecord f = tcp_flow(PL_DIR_EGRESS);
    f.who.raw.gid = static_cast<uint32_t>(-1);
    f.who.group_name.clear();
    Json doc = flow_event(f, FlowPhase::End, kCtx);

    CHECK_FALSE(doc.contains("group"));
    CHECK(doc.contains("user"));
}

TEST_CASE("a container identity gives container and, for a pod, the orchestrator resource") {
    const std::string id = "620a63c8e74d39cc01c3835b8dfb2ca817c1c9affa1287ed02a81625bb2c57aa";
    FlowRecord f = tcp_flow(PL_DIR_EGRESS);
    f.who.workload.container =
        ContainerRef{"containerd", id, "ac6787c8-8664-4240-bbd7-33780d3b8f45", ""};
    Json doc = flow_event(f, FlowPhase::Start, kCtx);

    CHECK(doc["container"]["id"] == id);
    CHECK(doc["container"]["runtime"] == "containerd");
    CHECK(doc["orchestrator"]["type"] == "kubernetes");
    CHECK(doc["orchestrator"]["resource"]["type"] == "pod");
    CHECK(doc["orchestrator"]["resource"]["id"] == "ac6787c8-8664-4240-bbd7-33780d3b8f45");

    f.who.workload.container->pod_uid.clear();
    Json plain = flow_event(f, FlowPhase::Start, kCtx);
    CHECK(plain["container"]["runtime"] == "containerd");
    CHECK_FALSE(plain.contains("orchestrator"));

    f.who.workload.container.reset();
    CHECK_FALSE(flow_event(f, FlowPhase::Start, kCtx).contains("container"));
}

TEST_CASE("to_line writes one line of valid JSON even for invalid UTF-8 in the input") {
    FlowRecord f = tcp_flow(PL_DIR_EGRESS);
    f.who.args = {"printf", "\xff\xfe", "two\nlines"};
    f.who.comm = "bad\xc3";
    Json doc = flow_event(f, FlowPhase::End, kCtx);

    std::string line;
    REQUIRE_NOTHROW(line = to_line(doc));
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');

    Json back;
    REQUIRE_NOTHROW(back = Json::parse(line));
    CHECK(back["process"]["args"][0] == "printf");
    CHECK(back["process"]["args"][1] != "");
    CHECK(back["process"]["args"][1].get<std::string>().find("\xEF\xBF\xBD") != std::string::npos);
    CHECK(back["process"]["args"][2] == "two\nlines");
    CHECK(back["source"]["bytes"] == 517);
}
