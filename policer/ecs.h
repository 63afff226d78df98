// ecs.h - flow and agent events as Elastic Common Schema documents (nested JSON objects:
// `source.ip` is {"source":{"ip":...}}). Fields outside ECS live under `cgroup.*` and
// `policer.*`. docs/events.md lists every field.
#pragma once

#include "common/net.h"
#include "policer/boot_clock.h"
#include "policer/flow_table.h"

#include <nlohmann/json.hpp>

#include <string>

namespace policer::daemon {

using Json = nlohmann::ordered_json;

// "ipv4" or "ipv6", after IPv4-mapped addresses are unmapped.
const char *network_type(const pl_tuple &t);

struct EcsContext {
    std::string host_name;
    const BootClock *clock = nullptr;
};

enum class FlowPhase {
    Start,      // flow-start
    Classified, // flow-classified: L7 dissection has its result
    End,        // flow-end
};

Json flow_event(const FlowRecord &flow, FlowPhase phase, const EcsContext &ctx);

// Adds a flow's counters (source/destination/network .bytes and .packets) to its event: what
// flow-end carries, and what live flows carry so far.
void add_counters(Json &doc, const pl_tuple &t, const pl_flow_counters &c);

// The common envelope of agent events (agent-start, agent-stats, agent-stop).
Json agent_event(const char *action, const char *kind, const EcsContext &ctx);

// One line of JSON; invalid UTF-8 from process names or arguments is replaced, never thrown.
std::string to_line(const Json &doc);

} // namespace policer::daemon
