// proc_reader.h - what policer reads from /proc: the processes that existed before policerd
// started (the probes see only what happens after), and a fallback for processes whose exec
// the probes did not see. Parsers take text so they are tested on fixtures; ProcReader does
// the bounded file reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policer::enrich {

// /proc/PID/stat, the fields policer uses.
struct ProcStat {
    int pid = 0;
    std::string comm;
    char state = '?';
    int ppid = 0;
    uint64_t start_ticks = 0; // field 22: start time since boot, in clock ticks
};

// Parses /proc/PID/stat. comm may contain spaces and ')' - it spans from the first '(' to the
// last ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

struct ProcIds {
    uint32_t uid = 0, euid = 0, gid = 0, egid = 0;
};

// The Uid: and Gid: lines of /proc/PID/status.
std::optional<ProcIds> parse_proc_status_ids(std::string_view text);

// The cgroup v2 path from /proc/PID/cgroup (the "0::<path>" line).
std::optional<std::string> parse_proc_cgroup_v2(std::string_view text);

// A process as /proc shows it now.
struct ProcSnapshot {
    uint32_t tgid = 0;
    uint32_t ppid = 0;
    uint64_t start_ns = 0; // CLOCK_BOOTTIME ns, clock-tick resolution
    ProcIds ids;
    std::string comm;
    std::string exe;      // empty for kernel threads or when unreadable
    uint64_t exe_ino = 0; // (dev, inode) of the executable, kernel device encoding
    uint32_t exe_dev = 0;
    std::vector<std::string> args;
    std::string cgroup; // cgroup v2 path
};

class ProcReader {
public:
    explicit ProcReader(std::string root = "/proc", size_t max_args_bytes = 4096);

    // Numeric entries of /proc: every process (thread groups only).
    std::vector<uint32_t> list_pids() const;
    // A snapshot of one process; nullopt if it vanished or /proc is unreadable. Reading argv
    // (/proc/PID/cmdline) reads the process's memory, which its owner can make block (a FUSE
    // mapping): only read with `with_args` where blocking is harmless.
    std::optional<ProcSnapshot> read(uint32_t pid, bool with_args) const;
    // argv alone (see above).
    std::vector<std::string> read_args(uint32_t pid) const;

    uint64_t tick_ns() const { return tick_ns_; }

private:
    std::string root_;
    size_t max_args_bytes_;
    uint64_t tick_ns_;
};

// The kernel's encoding of a device number (MKDEV), as the probes report s_dev.
uint32_t kernel_dev(uint64_t user_dev);

// Reads at most `max_bytes` of a file; nullopt if it cannot be opened.
std::optional<std::string> read_file_bounded(const std::string &path, size_t max_bytes);

} // namespace policer::enrich
