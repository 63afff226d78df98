// options_test.cpp - policerd's command line: sizes, defaults, and the errors a user sees.
#include "policer/iface_enforcer.h"
#include "policer/options.h"

#include "policer/version.h"

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace {

using policer::daemon::Command;
using policer::daemon::parse_options;
using policer::daemon::parse_size;

// parse_options on "policerd <args...>".
policer::Result<Command> parse(std::initializer_list<const char *> args) {
    std::vector<const char *> argv{"policerd"};
    argv.insert(argv.end(), args.begin(), args.end());
    return parse_options(static_cast<int>(argv.size()), argv.data());
}

bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("parse_size reads plain byte counts and binary K, M and G multiples") {
    CHECK(*parse_size("65536") == 65536);
    CHECK(*parse_size("0") == 0);
    CHECK(*parse_size("512K") == 512 * 1024);
    CHECK(*parse_size("512k") == 512 * 1024);
    CHECK(*parse_size("8M") == 8u << 20);
    CHECK(*parse_size("1G") == 1ull << 30);
    CHECK(*parse_size("16G") == 16ull << 30);
    CHECK(*parse_size("18446744073709551615") == 18446744073709551615ull);
}

TEST_CASE("parse_size rejects what is not a size") {
    for (const char *text : {"", "abc", "12X", "8MB", "M", " 8M", "-1", "1.5G", "8 M"}) {
        CAPTURE(text);
        auto r = parse_size(text);
        REQUIRE_FALSE(r.ok());
        CHECK_FALSE(r.error().message.empty());
    }
}

TEST_CASE("parse_size rejects sizes that do not fit in 64 bits") {
    for (const char *text :
         {"99999999999999999999G", "18446744073709551616", "17179869184G", "18014398509481984K"}) {
        CAPTURE(text);
        auto r = parse_size(text);
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().message, "too large"));
    }
    CHECK(*parse_size("17179869183G") == 17179869183ull << 30);
}

TEST_CASE("without arguments policerd runs with the documented defaults") {
    auto r = parse({});
    REQUIRE(r.ok());
    CHECK(r->print_and_exit.empty());
    const auto &o = r->options;
    CHECK_FALSE(o.events_stdout);
    CHECK(o.cgroup_root == "");
    CHECK(o.btf == "/sys/kernel/btf/vmlinux");
    CHECK(o.bpffs == "/sys/fs/bpf");
    CHECK(o.ringbuf_bytes == 8u << 20);
    CHECK(o.max_flows == 65536);
    CHECK(o.max_processes == 65536);
    CHECK(o.udp_idle_timeout_s == 60);
    CHECK(o.accept_wait_ms == 200);
    CHECK(o.stats_interval_s == 60);
    CHECK(o.log_level == "info");
}

TEST_CASE("options given on the command line are taken") {
    auto r = parse({"--events-stdout", "--cgroup-root", "/sys/fs/cgroup/unified", "--ringbuf-size",
                    "64M", "--max-flows", "512K", "--max-processes", "1000", "--udp-idle-timeout",
                    "5", "--accept-wait", "0", "--stats-interval", "10", "--log-level", "debug",
                    "--btf", "/boot/vmlinux.btf"});
    REQUIRE(r.ok());
    const auto &o = r->options;
    CHECK(o.events_stdout);
    CHECK(o.cgroup_root == "/sys/fs/cgroup/unified");
    CHECK(o.ringbuf_bytes == 64u << 20);
    CHECK(o.max_flows == 512 * 1024);
    CHECK(o.max_processes == 1000);
    CHECK(o.udp_idle_timeout_s == 5);
    CHECK(o.accept_wait_ms == 0);
    CHECK(o.stats_interval_s == 10);
    CHECK(o.log_level == "debug");
    CHECK(o.btf == "/boot/vmlinux.btf");
}

TEST_CASE("a ring buffer size that is not a power of two of at least 4K is rejected") {
    for (const char *size : {"3M", "1000", "2K", "0"}) {
        CAPTURE(size);
        auto r = parse({"--ringbuf-size", size});
        REQUIRE_FALSE(r.ok());
        CHECK(contains(r.error().message, "--ringbuf-size"));
        CHECK(contains(r.error().message, "power of two"));
    }
    CHECK(parse({"--ringbuf-size", "4K"})->options.ringbuf_bytes == 4096);
    CHECK(parse({"--ringbuf-size", "1G"})->options.ringbuf_bytes == 1u << 30);
}

TEST_CASE("a ring buffer size beyond 32 bits or not a size is rejected") {
    auto big = parse({"--ringbuf-size", "4G"});
    REQUIRE_FALSE(big.ok());
    CHECK(contains(big.error().message, "--ringbuf-size"));
    auto junk = parse({"--ringbuf-size", "lots"});
    REQUIRE_FALSE(junk.ok());
    CHECK(contains(junk.error().message, "--ringbuf-size"));
}

TEST_CASE("table sizes and the UDP idle timeout must be at least 1") {
    auto flows = parse({"--max-flows", "0"});
    REQUIRE_FALSE(flows.ok());
    CHECK(contains(flows.error().message, "--max-flows"));

    auto procs = parse({"--max-processes", "0"});
    REQUIRE_FALSE(procs.ok());
    CHECK(contains(procs.error().message, "--max-processes"));

    auto idle = parse({"--udp-idle-timeout", "0"});
    REQUIRE_FALSE(idle.ok());
    CHECK(contains(idle.error().message, "--udp-idle-timeout"));
}

TEST_CASE("unknown options and stray arguments are rejected") {
    auto unknown = parse({"--events-stdotu"});
    REQUIRE_FALSE(unknown.ok());
    CHECK(contains(unknown.error().message, "events-stdotu"));

    auto stray = parse({"--events-stdout", "eth0"});
    REQUIRE_FALSE(stray.ok());
    CHECK(contains(stray.error().message, "eth0"));

    auto not_a_number = parse({"--accept-wait", "soon"});
    REQUIRE_FALSE(not_a_number.ok());
    CHECK_FALSE(not_a_number.error().message.empty());
}

TEST_CASE("an unknown log level is rejected") {
    auto r = parse({"--log-level", "bogus"});
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "bogus"));
    for (const char *level : {"trace", "debug", "info", "warn", "error", "off"}) {
        CAPTURE(level);
        CHECK(parse({"--log-level", level}).ok());
    }
}

TEST_CASE("--help prints usage with examples and asks to exit") {
    for (const char *flag : {"--help", "-h"}) {
        CAPTURE(flag);
        auto r = parse({flag});
        REQUIRE(r.ok());
        CHECK(contains(r->print_and_exit, "Examples:"));
        CHECK(contains(r->print_and_exit, "--events-stdout"));
        CHECK(contains(r->print_and_exit, "--ringbuf-size"));
    }
}

TEST_CASE("--version prints the version and asks to exit") {
    auto r = parse({"--version"});
    REQUIRE(r.ok());
    CHECK(r->print_and_exit == std::string("policerd ") + policer::kVersion + "\n");
    CHECK(std::string(policer::kVersion) != "");
}

TEST_CASE("interfaces for TC and XDP are taken by name or glob, veths by default") {
    auto none = parse({});
    REQUIRE(none);
    CHECK(none->options.tc_ifaces.empty());
    CHECK(none->options.xdp_ifaces.empty());
    CHECK(none->options.veth_tc);
    auto r =
        parse({"--tc-iface", "eth0", "--tc-iface", "ens*", "--xdp-iface", "eth1", "--no-veth-tc"});
    REQUIRE(r);
    CHECK(r->options.tc_ifaces == std::vector<std::string>{"eth0", "ens*"});
    CHECK(r->options.xdp_ifaces == std::vector<std::string>{"eth1"});
    CHECK_FALSE(r->options.veth_tc);
    for (const char *bad : {"", "a-name-longer-than-15", "../eth0"}) {
        CAPTURE(bad);
        auto b = parse({"--xdp-iface", bad});
        REQUIRE_FALSE(b);
        CHECK(b.error().message.find("--xdp-iface") != std::string::npos);
    }
}

TEST_CASE("an interface pattern matches its name or, with glob characters, by fnmatch") {
    using policer::daemon::iface_matches;
    CHECK(iface_matches("eth0", "eth0"));
    CHECK_FALSE(iface_matches("eth0", "eth01"));
    CHECK(iface_matches("ens*", "ens3"));
    CHECK(iface_matches("veth[0-9]", "veth7"));
    CHECK_FALSE(iface_matches("ens*", "eth0"));
}
