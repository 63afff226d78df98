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

} // namespace policer::daemon
