// process_table.h - every process policer knows of, by tgid, fed by the exec/fork/exit probes
// and seeded from /proc at start. A process that has exited stays findable for a while (in
// a bounded LRU) so that flows read from the ring buffer after their process is gone are still
// attributed to it.
#pragma once

#include "enrich/lru_cache.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace policer::enrich {

struct ProcessInfo {
    uint32_t tgid = 0;
    uint32_t ppid = 0;
    uint64_t start_ns = 0;   // CLOCK_BOOTTIME ns; (tgid, start_ns) names one process
    bool start_exact = true; // false when seeded from /proc (clock-tick resolution)
    uint32_t uid = 0, gid = 0, euid = 0;
    std::string comm;
    std::string exe;
    std::vector<std::string> args;
    uint64_t exe_ino = 0; // the executable's (dev, inode), kernel device encoding; 0: unknown
    uint32_t exe_dev = 0;
    uint32_t exe_flags = 0; // PL_EXE_*
    bool exited = false;
};

struct ProcessTableStats {
    size_t live = 0;
    size_t exited = 0;
    uint64_t live_evictions = 0;
    uint64_t exited_evictions = 0;
};

class ProcessTable {
public:
    // tick_ns: resolution of /proc start times, to match seeded entries against the kernel's.
    ProcessTable(size_t max_live, size_t max_exited, uint64_t tick_ns);

    // A new program image (exec) or a process seeded from /proc: replaces what was known of
    // that tgid.
    void upsert(ProcessInfo info);
    // A new process by fork: it runs its parent's image until it execs.
    void on_fork(uint32_t tgid, uint32_t ppid, uint64_t start_ns, uint32_t uid, uint32_t gid,
                 uint32_t euid, const std::string &comm);
    void on_exit(uint32_t tgid, uint64_t start_ns);

    // The process (tgid, start_ns), live or recently exited; nullptr if unknown.
    const ProcessInfo *find(uint32_t tgid, uint64_t start_ns);
    // The live process with this tgid, whatever its start (for parents); nullptr if none.
    const ProcessInfo *find_live(uint32_t tgid);

    ProcessTableStats stats() const;

private:
    bool same_start(const ProcessInfo &p, uint64_t start_ns) const;
    void retire(ProcessInfo info);

    struct KeyHash {
        size_t operator()(const std::pair<uint32_t, uint64_t> &k) const {
            return std::hash<uint64_t>()(k.second * 1000003u ^ k.first);
        }
    };

    uint64_t tick_ns_;
    LruCache<uint32_t, ProcessInfo> live_;
    // Exited processes by (tgid, start tick): a pid can be reused while its old owner is here.
    LruCache<std::pair<uint32_t, uint64_t>, ProcessInfo, KeyHash> exited_;
};

} // namespace policer::enrich
