// event_decoder.cpp - see event_decoder.h.
#include "policer/event_decoder.h"

#include <cstring>
#include <string>

namespace policer::daemon {
namespace {

template <typename T>
Result<ProbeEvent> copy_exact(const void *data, size_t len, const char *name) {
    if (len != sizeof(T))
        return Error{std::string(name) + " record of " + std::to_string(len) + " bytes, expected " +
                     std::to_string(sizeof(T))};
    T ev;
    std::memcpy(&ev, data, sizeof(T));
    return ProbeEvent(ev);
}

bool valid_tuple(const pl_tuple &t) {
    return (t.family == PL_AF_INET || t.family == PL_AF_INET6) &&
           (t.proto == PL_IPPROTO_TCP || t.proto == PL_IPPROTO_UDP) &&
           (t.direction == PL_DIR_EGRESS || t.direction == PL_DIR_INGRESS);
}

} // namespace

Result<ProbeEvent> decode_event(const void *data, size_t len) {
    pl_event_header hdr;
    if (len < sizeof(hdr))
        return Error{"record of " + std::to_string(len) + " bytes is shorter than its header"};
    std::memcpy(&hdr, data, sizeof(hdr));
    if (hdr.size != len)
        return Error{"record says " + std::to_string(hdr.size) + " bytes but is " +
                     std::to_string(len)};

    switch (hdr.type) {
    case PL_EV_EXEC: {
        auto r = copy_exact<pl_exec_event>(data, len, "exec");
        if (r) {
            const auto &e = std::get<pl_exec_event>(*r);
            if (e.exe_len > PL_EXE_LEN || e.args_len > PL_ARGS_LEN)
                return Error{"exec record with out-of-range lengths"};
        }
        return r;
    }
    case PL_EV_FORK: return copy_exact<pl_fork_event>(data, len, "fork");
    case PL_EV_EXIT: return copy_exact<pl_exit_event>(data, len, "exit");
    case PL_EV_FLOW_NEW:
    case PL_EV_FLOW_END: {
        auto r = copy_exact<pl_flow_event>(data, len, "flow");
        if (r && !valid_tuple(std::get<pl_flow_event>(*r).tuple))
            return Error{"flow record with an invalid family, protocol or direction"};
        return r;
    }
    case PL_EV_FLOW_ACCEPT: return copy_exact<pl_flow_event>(data, len, "accept");
    case PL_EV_SOCK_CLOSE: return copy_exact<pl_sock_close_event>(data, len, "sock-close");
    case PL_EV_CGROUP_MKDIR:
    case PL_EV_CGROUP_RMDIR: {
        auto r = copy_exact<pl_cgroup_event>(data, len, "cgroup");
        if (r && std::get<pl_cgroup_event>(*r).path_len >= PL_CGROUP_PATH_LEN)
            return Error{"cgroup record with an out-of-range path length"};
        return r;
    }
    default: return Error{"record of unknown type " + std::to_string(hdr.type)};
    }
}

Result<SampleRecord> decode_sample(const void *data, size_t len) {
    if (len < PL_SAMPLE_HEADER_SIZE)
        return Error{"sample of " + std::to_string(len) + " bytes is shorter than its header"};
    pl_sample_event head;
    std::memcpy(&head, data, PL_SAMPLE_HEADER_SIZE);
    if (head.hdr.type != PL_EV_SAMPLE)
        return Error{"record of type " + std::to_string(head.hdr.type) + " on the samples ring"};
    if (head.hdr.size != len || head.cap_len != len - PL_SAMPLE_HEADER_SIZE ||
        head.cap_len > PL_SAMPLE_MAX || head.cap_len > head.pkt_len)
        return Error{"sample with inconsistent lengths"};
    if ((head.proto != PL_IPPROTO_TCP && head.proto != PL_IPPROTO_UDP) || head.egress > 1)
        return Error{"sample with an invalid protocol or direction"};
    SampleRecord r;
    r.ts_ns = head.hdr.ts_ns;
    r.cookie = head.cookie;
    r.pkt_len = head.pkt_len;
    r.egress = head.egress == 1;
    r.proto = head.proto;
    r.data = static_cast<const uint8_t *>(data) + PL_SAMPLE_HEADER_SIZE;
    r.cap_len = head.cap_len;
    return r;
}

} // namespace policer::daemon
