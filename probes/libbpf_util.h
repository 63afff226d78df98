// libbpf_util.h - what the owners of the BPF objects (ProbeSet, EnforceSet) both need from
// libbpf: which programs attach to a cgroup, and per-CPU counters summed over CPUs.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_program;

namespace policer::probes {

// Sends libbpf's messages to spdlog (warnings as warnings, the rest at debug/trace).
void route_libbpf_logs();

// Programs attached to the cgroup root (the rest attach to the kernel or to interfaces).
bool is_cgroup_program(const bpf_program *prog);

// How full one hash-type map is (policer status): entries counted by walking its keys.
struct MapFill {
    std::string name;
    uint32_t entries = 0;
    uint32_t max_entries = 0;
};

// The fill of every hash, LRU hash and LPM trie map of `obj` (arrays, ring buffers and socket
// storage have no fill to report). Walks each map's keys: O(entries), for status requests.
std::vector<MapFill> map_fill(const bpf_object *obj);

// Adds every CPU's value of entries [0, count) of per-CPU array `fd` into out[0..count).
Status sum_percpu_counters(int fd, uint32_t count, uint64_t *out);

} // namespace policer::probes
