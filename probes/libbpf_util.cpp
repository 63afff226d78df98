// libbpf_util.cpp - see libbpf_util.h.
#include "probes/libbpf_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace policer::probes {
namespace {

int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args) {
    char buf[1024];
    int n = std::vsnprintf(buf, sizeof(buf), fmt, args);
    if (n > 0 && buf[std::min<size_t>(n, sizeof(buf) - 1) - 1] == '\n')
        buf[std::min<size_t>(n, sizeof(buf) - 1) - 1] = '\0';
    // Asking an interface with no clsact qdisc (or no filter of ours) which TC program it runs
    // is how policer finds out that it runs none; the kernel's complaint is not a warning.
    if (level == LIBBPF_WARN && (std::strstr(buf, "Parent Qdisc doesn't exist") ||
                                 std::strstr(buf, "Cannot find specified filter chain")))
        level = LIBBPF_DEBUG;
    // Most of libbpf's messages name it already.
    const char *prefix = std::strncmp(buf, "libbpf:", 7) == 0 ? "" : "libbpf: ";
    switch (level) {
    case LIBBPF_WARN: spdlog::warn("{}{}", prefix, buf); break;
    case LIBBPF_INFO: spdlog::debug("{}{}", prefix, buf); break;
    case LIBBPF_DEBUG: spdlog::trace("{}{}", prefix, buf); break;
    }
    return n;
}

} // namespace

void route_libbpf_logs() {
    libbpf_set_print(libbpf_print);
}

bool is_cgroup_program(const bpf_program *prog) {
    switch (bpf_program__type(prog)) {
    case BPF_PROG_TYPE_CGROUP_SOCK:
    case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
    case BPF_PROG_TYPE_SOCK_OPS:
    case BPF_PROG_TYPE_CGROUP_SKB: return true;
    default: return false;
    }
}

Status sum_percpu_counters(int fd, uint32_t count, uint64_t *out) {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return Error::from_errno("cannot count possible CPUs", -ncpu);
    std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
    for (uint32_t i = 0; i < count; ++i) {
        if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0)
            return Error::from_errno("cannot read counter " + std::to_string(i));
        for (uint64_t v : per_cpu)
            out[i] += v;
    }
    return Ok{};
}

std::vector<MapFill> map_fill(const bpf_object *obj) {
    std::vector<MapFill> out;
    const bpf_map *map;
    bpf_object__for_each_map(map, obj) {
        switch (bpf_map__type(map)) {
        case BPF_MAP_TYPE_HASH:
        case BPF_MAP_TYPE_LRU_HASH:
        case BPF_MAP_TYPE_PERCPU_HASH:
        case BPF_MAP_TYPE_LRU_PERCPU_HASH:
        case BPF_MAP_TYPE_LPM_TRIE: break;
        default: continue;
        }
        MapFill fill{bpf_map__name(map), 0, bpf_map__max_entries(map)};
        const int fd = bpf_map__fd(map);
        std::vector<unsigned char> key(bpf_map__key_size(map)), next(key.size());
        // Bounded by max_entries: a map that changes while it is walked can restart the walk.
        for (const void *prev = nullptr; fill.entries < fill.max_entries; prev = key.data()) {
            if (bpf_map_get_next_key(fd, prev, next.data()) != 0) break;
            key.swap(next);
            ++fill.entries;
        }
        out.push_back(std::move(fill));
    }
    return out;
}

} // namespace policer::probes
