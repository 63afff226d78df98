// options.h - policerd's command line.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace policer::daemon {

// The ZeroMQ event stream (docs/events.md, "ZeroMQ"); no endpoint: no stream.
struct ZmqOptions {
    std::vector<std::string> endpoints;    // ipc:///path or tcp://addr:port
    std::vector<std::string> topics;       // wire topics published (all when not given)
    std::map<std::string, uint32_t> rates; // wire topic -> messages per second
    uint32_t hwm = 10000;                  // messages queued per subscriber before drops
    std::string curve_secret;              // server's secret certificate: CURVE + ZAP on
    std::string curve_clients;             // directory of the allowed subscribers' certificates
};

struct Options {
    bool events_stdout = false;
    ZmqOptions zmq;
    std::string cgroup_root; // "" = the cgroup v2 mount from /proc/mounts
    std::string btf = "/sys/kernel/btf/vmlinux";
    std::string bpffs = "/sys/fs/bpf";
    uint32_t ringbuf_bytes = 8u << 20;
    uint32_t max_flows = 65536;
    uint32_t max_processes = 65536;
    uint32_t udp_idle_timeout_s = 60;
    uint32_t udp_new_flows_per_sec = 1000; // per socket; beyond, one aggregate flow
    uint32_t accept_wait_ms = 200;
    uint32_t stats_interval_s = 60;
    // L7 dissection
    uint32_t sample_packets = 8;  // per flow and direction; 0: no L7 dissection
    uint32_t sample_bytes = 1500; // per sampled packet
    uint32_t samples_ringbuf_bytes = 4u << 20;
    uint32_t max_dissected_flows = 16384; // flows with nDPI state or a pending result
    uint32_t dissect_packets = 32;        // packets inspected per flow before giving up
    uint32_t dissect_idle_s = 60;         // a flow with no sample for this long is finished
    uint32_t max_domains = 65536;         // IP -> domain cache from DNS answers
    std::string log_level = "info";
    // Rule files and rules.d directories, enforced in the kernel (unless `mode audit`, or
    // report_only).
    std::vector<std::string> rules;
    bool report_only = false;           // verdicts in events only; nothing loaded to enforce them
    std::string pin_dir;                // "" = <bpffs>/policer
    bool remove_enforcement = false;    // detach and unpin what an earlier policerd left, then exit
    std::vector<std::string> tc_ifaces; // TC enforcement on these interfaces (names or globs)
    std::vector<std::string> xdp_ifaces; // XDP enforcement on these uplinks (names or globs)
    bool veth_tc = true;                 // TC enforcement on every veth as it appears
    // Store and control socket ("" disables either).
    std::string db_path = "/var/lib/policer/policer.db";
    std::string control_socket = "/run/policer/policer.sock";
    std::string control_group = "policer";
    uint32_t retention_days = 30;
    uint64_t db_max_bytes = 1ull << 30;
    uint32_t max_flow_verdicts = 65536;
    uint32_t max_limit_buckets = 16384;
};

// What parsing the command line asks for: run, or print text (help, version) and exit 0.
struct Command {
    Options options;
    std::string print_and_exit; // non-empty: --help or --version output
    std::string config_file;    // --config: the file the options were also read from
    bool check_config = false;  // --check-config: check options and rule files, then exit
};

// Parses argv, and the --config file it names (the command line overrides the file); errors
// name the offending option, and the file:line that set it.
Result<Command> parse_options(int argc, const char *const *argv);

// Parses sizes such as "8M", "65536", "1G", "512K" (binary multiples).
Result<uint64_t> parse_size(const std::string &text);

} // namespace policer::daemon
