// dpi_engine.h - the boundary around nDPI. One DpiEngine per thread (nDPI's detection module
// is not thread safe); one DpiFlow per flow being dissected. Only dpi_engine.cpp includes
// nDPI's headers.
#pragma once

#include "common/result.h"
#include "policer/l7/l7_info.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace policer::l7 {

class DpiFlow; // nDPI per-flow state, owned

struct DpiFlowDeleter {
    void operator()(DpiFlow *f) const;
};
using DpiFlowPtr = std::unique_ptr<DpiFlow, DpiFlowDeleter>;

// Where dissection of a flow stands after a packet.
enum class DpiProgress {
    Continue, // not identified yet, or identified and more metadata may follow
    Done,     // identified and nothing more to learn
};

class DpiEngine {
public:
    static Result<std::unique_ptr<DpiEngine>> create();
    ~DpiEngine();
    DpiEngine(const DpiEngine &) = delete;
    DpiEngine &operator=(const DpiEngine &) = delete;

    // nDPI's version string, for --version and agent-start.
    static std::string version();

    DpiFlowPtr new_flow();
    // Feeds one IP packet (from the IP header; its length fields must match `len`).
    DpiProgress process(DpiFlow &flow, const uint8_t *ip, uint16_t len, uint64_t ts_ms);
    // What is known so far. With give_up, an unidentified flow gets nDPI's port-based guess
    // and the result is final.
    L7Info describe(DpiFlow &flow, bool give_up);

private:
    struct Module;
    explicit DpiEngine(std::unique_ptr<Module> m);
    std::unique_ptr<Module> m_;
};

} // namespace policer::l7
