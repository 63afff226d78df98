// options.h - policerd's command line.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace policer::daemon {

struct Options {
    bool events_stdout = false;
    std::string cgroup_root; // "" = the cgroup v2 mount from /proc/mounts
    std::string btf = "/sys/kernel/btf/vmlinux";
    std::string bpffs = "/sys/fs/bpf";
    uint32_t ringbuf_bytes = 8u << 20;
    uint32_t max_flows = 65536;
    uint32_t max_processes = 65536;
    uint32_t udp_idle_timeout_s = 60;
    uint32_t accept_wait_ms = 200;
    uint32_t stats_interval_s = 60;
    std::string log_level = "info";
};

// What parsing the command line asks for: run, or print text (help, version) and exit 0.
struct Command {
    Options options;
    std::string print_and_exit; // non-empty: --help or --version output
};

// Parses argv; errors name the offending option.
Result<Command> parse_options(int argc, const char *const *argv);

// Parses sizes such as "8M", "65536", "1G", "512K" (binary multiples).
Result<uint64_t> parse_size(const std::string &text);

} // namespace policer::daemon
