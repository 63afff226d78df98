// process_table.cpp - see process_table.h.
#include "enrich/process_table.h"

namespace policer::enrich {

ProcessTable::ProcessTable(size_t max_live, size_t max_exited, uint64_t tick_ns)
    : tick_ns_(tick_ns ? tick_ns : 1), live_(max_live), exited_(max_exited) {}

bool ProcessTable::same_start(const ProcessInfo &p, uint64_t start_ns) const {
    if (p.start_exact) return p.start_ns == start_ns;
    // /proc truncates start_boottime to clock ticks.
    return start_ns / tick_ns_ == p.start_ns / tick_ns_;
}

void ProcessTable::retire(ProcessInfo info) {
    info.exited = true;
    auto key = std::make_pair(info.tgid, info.start_ns / tick_ns_);
    exited_.put(key, std::move(info));
}

void ProcessTable::upsert(ProcessInfo info) {
    if (ProcessInfo *old = live_.get(info.tgid)) {
        // Same tgid, another process: the old one is gone (its exit was missed).
        if (!same_start(*old, info.start_ns)) retire(std::move(*old));
    }
    uint32_t tgid = info.tgid;
    live_.put(tgid, std::move(info));
}

void ProcessTable::on_fork(uint32_t tgid, uint32_t ppid, uint64_t start_ns, uint32_t uid,
                           uint32_t gid, uint32_t euid, const std::string &comm) {
    ProcessInfo child;
    child.tgid = tgid;
    child.ppid = ppid;
    child.start_ns = start_ns;
    child.uid = uid;
    child.gid = gid;
    child.euid = euid;
    child.comm = comm;
    if (const ProcessInfo *parent = live_.peek(ppid)) {
        child.exe = parent->exe;
        child.args = parent->args;
        child.exe_ino = parent->exe_ino;
        child.exe_dev = parent->exe_dev;
        child.exe_flags = parent->exe_flags;
    }
    upsert(std::move(child));
}

void ProcessTable::on_exit(uint32_t tgid, uint64_t start_ns) {
    ProcessInfo *p = live_.get(tgid);
    if (!p || !same_start(*p, start_ns)) return;
    ProcessInfo info;
    live_.erase(tgid, &info);
    retire(std::move(info));
}

const ProcessInfo *ProcessTable::find(uint32_t tgid, uint64_t start_ns) {
    if (const ProcessInfo *p = live_.get(tgid); p && same_start(*p, start_ns)) return p;
    return exited_.get(std::make_pair(tgid, start_ns / tick_ns_));
}

const ProcessInfo *ProcessTable::find_live(uint32_t tgid) {
    return live_.get(tgid);
}

ProcessTableStats ProcessTable::stats() const {
    return ProcessTableStats{live_.size(), exited_.size(), live_.evictions(), exited_.evictions()};
}

} // namespace policer::enrich
