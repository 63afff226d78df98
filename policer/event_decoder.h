// event_decoder.h - turns a raw ring-buffer record into a validated, typed event. The kernel
// is trusted to be the kernel, not to be bug-free: sizes, types, lengths and enum values are
// all checked before any field is used.
#pragma once

#include "common/result.h"
#include "probes/probe_abi.h"

#include <cstddef>
#include <variant>

namespace policer::daemon {

using ProbeEvent = std::variant<pl_exec_event, pl_fork_event, pl_exit_event, pl_flow_event,
                                pl_sock_close_event, pl_cgroup_event>;

Result<ProbeEvent> decode_event(const void *data, size_t len);

// A payload sample (pl_samples ring). `data` points into the ring record: valid only during
// the ring-buffer callback.
struct SampleRecord {
    uint64_t ts_ns = 0;
    uint64_t cookie = 0;
    uint32_t pkt_len = 0;
    bool egress = false;
    uint8_t proto = 0;
    const uint8_t *data = nullptr;
    size_t cap_len = 0;
};

Result<SampleRecord> decode_sample(const void *data, size_t len);

} // namespace policer::daemon
