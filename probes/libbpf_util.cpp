// libbpf_util.cpp - see libbpf_util.h.
#include "probes/libbpf_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <string>
#include <vector>

namespace policer::probes {

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

} // namespace policer::probes
