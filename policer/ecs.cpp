// ecs.cpp - see ecs.h.
#include "policer/ecs.h"

#include "common/net.h"
#include "enrich/kernel_strings.h"
#include "policer/l7/l7_ecs.h"

#include <arpa/inet.h>

#include <cstring>

namespace policer::daemon {
namespace {

const char *direction_name(uint8_t d) {
    switch (d) {
    case PL_DIR_EGRESS: return "egress";
    case PL_DIR_INGRESS: return "ingress";
    default: return "unknown";
    }
}

const char *quality_name(enrich::IdentityQuality q) {
    switch (q) {
    case enrich::IdentityQuality::Full: return "full";
    case enrich::IdentityQuality::Listener: return "listener";
    case enrich::IdentityQuality::Partial: return "partial";
    case enrich::IdentityQuality::Unknown: return "unknown";
    }
    return "unknown";
}

const char *end_reason_name(EndReason r) {
    switch (r) {
    case EndReason::Closed: return "closed";
    case EndReason::Idle: return "idle";
    case EndReason::Evicted: return "evicted";
    case EndReason::Lost: return "lost";
    case EndReason::Replaced: return "replaced";
    }
    return "unknown";
}

Json endpoint(const pl_tuple &t, bool source) {
    Json j;
    j["ip"] = format_ip(t.family, source ? t.saddr : t.daddr);
    j["port"] = source ? t.sport : t.dport;
    return j;
}

Json process_json(const enrich::Identity &who, const EcsContext &ctx) {
    Json p;
    p["pid"] = who.raw.tgid;
    p["thread"] = {{"id", who.raw.pid}};
    p["name"] = who.comm;
    if (!who.exe.empty()) p["executable"] = who.exe;
    if (!who.args.empty()) {
        p["command_line"] = enrich::join_args(who.args);
        p["args"] = who.args;
        p["args_count"] = who.args.size();
    }
    if (who.raw.start_ns && ctx.clock)
        p["start"] = format_timestamp(ctx.clock->to_unix_ns(who.raw.start_ns));
    Json parent;
    parent["pid"] = who.parent_pid;
    if (!who.parent_comm.empty()) parent["name"] = who.parent_comm;
    if (!who.parent_exe.empty()) parent["executable"] = who.parent_exe;
    p["parent"] = parent;
    return p;
}

// What is unusual about a process's executable (ECS has no fields for it).
Json exe_flags(const enrich::Identity &who) {
    Json f = Json::array();
    if (who.raw.exe_flags & PL_EXE_PSEUDO) f.push_back("pseudo_file");
    if (who.raw.exe_flags & PL_EXE_UNLINKED) f.push_back("deleted");
    if (who.raw.exe_flags & PL_EXE_TRUNCATED) f.push_back("path_truncated");
    if (who.raw.exe_flags & PL_EXE_ARGS_TRUNCATED) f.push_back("args_truncated");
    if (!who.exe.empty() && !who.exe_verified) f.push_back("unverified");
    return f;
}

} // namespace

const char *network_type(const pl_tuple &t) {
    if (t.family == PL_AF_INET) return "ipv4";
    return is_v4_mapped(t.saddr) && is_v4_mapped(t.daddr) ? "ipv4" : "ipv6";
}

namespace {

// The counters are the local socket's; the source is the initiator.
void put_counters(const pl_tuple &t, const pl_flow_counters &c, Json &src, Json &dst, Json &net) {
    const bool egress = t.direction == PL_DIR_EGRESS;
    src["bytes"] = egress ? c.bytes_sent : c.bytes_received;
    src["packets"] = egress ? c.packets_sent : c.packets_received;
    dst["bytes"] = egress ? c.bytes_received : c.bytes_sent;
    dst["packets"] = egress ? c.packets_received : c.packets_sent;
    net["bytes"] = c.bytes_sent + c.bytes_received;
    net["packets"] = c.packets_sent + c.packets_received;
}

} // namespace

void add_counters(Json &doc, const pl_tuple &t, const pl_flow_counters &c) {
    put_counters(t, c, doc["source"], doc["destination"], doc["network"]);
}

Json flow_event(const FlowRecord &f, FlowPhase phase, const EcsContext &ctx) {
    const bool end = phase == FlowPhase::End;
    const pl_tuple &t = f.tuple;
    const enrich::Identity &who = f.who;
    Json doc;
    uint64_t ts = end ? f.end_ns : phase == FlowPhase::Classified ? f.l7_ns : f.start_ns;
    doc["@timestamp"] = format_timestamp(ctx.clock ? ctx.clock->to_unix_ns(ts) : ts);

    Json event;
    event["kind"] = "event";
    event["category"] = {"network"};
    switch (phase) {
    case FlowPhase::Start:
        event["type"] = {"start", "connection"};
        event["action"] = "flow-start";
        break;
    case FlowPhase::Classified:
        event["type"] = {"protocol", "connection"};
        event["action"] = "flow-classified";
        break;
    case FlowPhase::End:
        event["type"] = {"end", "connection"};
        event["action"] = "flow-end";
        break;
    }
    event["dataset"] = "policer.flow";
    if (end && f.end_ns >= f.start_ns) event["duration"] = f.end_ns - f.start_ns;
    doc["event"] = event;
    doc["host"] = {{"name", ctx.host_name}};

    Json net;
    net["transport"] = t.proto == PL_IPPROTO_TCP ? "tcp" : "udp";
    net["iana_number"] = std::to_string(t.proto);
    net["type"] = network_type(t);
    net["direction"] = direction_name(t.direction);

    Json src = endpoint(t, true), dst = endpoint(t, false);
    if (end) put_counters(t, f.counters, src, dst, net);
    if (f.remote_domain) (t.direction == PL_DIR_INGRESS ? src : dst)["domain"] = *f.remote_domain;
    doc["network"] = net;
    doc["source"] = src;
    doc["destination"] = dst;

    if (who.quality != enrich::IdentityQuality::Partial && who.raw.tgid != 0)
        doc["process"] = process_json(who, ctx);

    // Nothing is known of whose flow it is: say so, never "uid 0".
    const bool unknown = who.quality == enrich::IdentityQuality::Unknown;
    Json user;
    user["id"] = std::to_string(who.raw.uid);
    if (!who.user_name.empty()) user["name"] = who.user_name;
    Json effective;
    effective["id"] = std::to_string(who.raw.euid);
    if (!who.effective_user_name.empty()) effective["name"] = who.effective_user_name;
    user["effective"] = effective;
    if (!unknown) doc["user"] = user;
    if (!unknown && who.raw.gid != static_cast<uint32_t>(-1)) {
        Json group;
        group["id"] = std::to_string(who.raw.gid);
        if (!who.group_name.empty()) group["name"] = who.group_name;
        doc["group"] = group;
    }

    Json cg;
    cg["id"] = who.raw.cgroup_id;
    if (who.cgroup_path) cg["path"] = *who.cgroup_path;
    if (!who.workload.systemd_unit.empty()) {
        cg["systemd_unit"] = who.workload.systemd_unit;
        // A unit name in a directory systemd (root) did not make was chosen by a user.
        cg["systemd_unit_verified"] = who.unit_owner && *who.unit_owner == 0;
    }
    if (!unknown) doc["cgroup"] = cg;

    if (who.workload.container) {
        const auto &c = *who.workload.container;
        doc["container"] = {{"id", c.id}, {"runtime", c.runtime}};
        if (!c.pod_uid.empty())
            doc["orchestrator"] = {{"type", "kubernetes"},
                                   {"resource", {{"type", "pod"}, {"id", c.pod_uid}}}};
    }

    Json pol;
    if (doc.contains("process")) {
        Json f = exe_flags(who);
        if (!f.empty()) pol["process"]["exe_flags"] = f;
    }
    if (who.workload.container) {
        // Runtimes make containers' cgroups as root; rootless ones (podman) as their user, and
        // a user can name a directory of their own like anyone's container.
        Json c;
        c["verified"] = who.container_owner && *who.container_owner == 0;
        if (who.container_owner) c["cgroup_owner_uid"] = *who.container_owner;
        pol["container"] = c;
    }
    Json flow;
    flow["cookie"] = f.key.k.cookie;
    flow["identity"] = quality_name(who.quality);
    flow["netns"] = who.raw.netns;
    if (f.flags & PL_FLOW_AGGREGATE) flow["aggregate"] = true;
    if (end) {
        flow["end_reason"] = end_reason_name(f.end_reason);
        if (t.proto == PL_IPPROTO_TCP) flow["established"] = (f.flags & PL_FLOW_ESTABLISHED) != 0;
    }
    pol["flow"] = flow;
    doc["policer"] = pol;
    if (f.l7) l7::add_l7_fields(doc, *f.l7);
    return doc;
}

Json agent_event(const char *action, const char *kind, const EcsContext &ctx) {
    Json doc;
    uint64_t now = ctx.clock ? ctx.clock->to_unix_ns(ctx.clock->now_boot_ns()) : 0;
    doc["@timestamp"] = format_timestamp(now);
    doc["event"] = {{"kind", kind}, {"action", action}, {"dataset", "policer.agent"}};
    doc["host"] = {{"name", ctx.host_name}};
    return doc;
}

std::string to_line(const Json &doc) {
    return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

} // namespace policer::daemon
