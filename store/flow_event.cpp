// flow_event.cpp - ECS flow-end event to FlowRow.
#include "store/flow_event.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace policer::store {
namespace {

using Json = nlohmann::json;

// The value at a dotted path of nested objects, or null.
const Json *at(const Json &doc, std::initializer_list<const char *> path) {
    const Json *node = &doc;
    for (const char *key : path) {
        if (!node->is_object()) return nullptr;
        auto it = node->find(key);
        if (it == node->end()) return nullptr;
        node = &*it;
    }
    return node;
}

std::string text(const Json &doc, std::initializer_list<const char *> path) {
    const Json *v = at(doc, path);
    return v && v->is_string() ? v->get<std::string>() : std::string();
}

// Numbers, and numbers written as strings (ECS's user.id).
std::optional<int64_t> number(const Json &doc, std::initializer_list<const char *> path) {
    const Json *v = at(doc, path);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_number_unsigned()) return static_cast<int64_t>(v->get<uint64_t>());
    if (v->is_string()) {
        const std::string &s = v->get_ref<const std::string &>();
        char *end = nullptr;
        errno = 0;
        long long n = std::strtoll(s.c_str(), &end, 10);
        if (!s.empty() && errno == 0 && *end == '\0') return n;
    }
    return std::nullopt;
}

} // namespace

std::optional<int64_t> parse_timestamp_ms(std::string_view text) {
    std::string s(text);
    tm t{};
    int fraction_start = 0, fraction_end = 0;
    char zulu = 0;
    unsigned fraction = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%n%u%n%c", &t.tm_year, &t.tm_mon,
                    &t.tm_mday, &t.tm_hour, &t.tm_min, &t.tm_sec, &fraction_start, &fraction,
                    &fraction_end, &zulu) != 8 ||
        zulu != 'Z' || static_cast<size_t>(fraction_end) + 1 != s.size())
        return std::nullopt;
    // Scale the fraction to milliseconds whatever its number of digits.
    int digits = fraction_end - fraction_start;
    if (digits <= 0 || digits > 9) return std::nullopt;
    int64_t ms = fraction;
    for (int i = digits; i < 3; ++i)
        ms *= 10;
    for (int i = 3; i < digits; ++i)
        ms /= 10;
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    time_t secs = timegm(&t);
    if (secs == static_cast<time_t>(-1)) return std::nullopt;
    return static_cast<int64_t>(secs) * 1000 + ms;
}

Result<FlowRow> flow_row_from_event(const Json &event, std::string event_text) {
    FlowRow r;
    auto end = parse_timestamp_ms(text(event, {"@timestamp"}));
    if (!end) return Error{"flow event without a valid @timestamp"};
    r.end_ms = *end;
    if (auto ns = number(event, {"event", "duration"})) r.start_ms = r.end_ms - *ns / 1000000;

    r.uid = number(event, {"user", "id"});
    r.user_name = text(event, {"user", "name"});
    r.pid = number(event, {"process", "pid"});
    r.exe = text(event, {"process", "executable"});
    r.container_id = text(event, {"container", "id"});
    r.container_name = text(event, {"container", "name"});
    r.cgroup_path = text(event, {"cgroup", "path"});
    r.l4_proto = text(event, {"network", "transport"});
    r.src_ip = text(event, {"source", "ip"});
    r.src_port = number(event, {"source", "port"}).value_or(0);
    r.dst_ip = text(event, {"destination", "ip"});
    r.dst_port = number(event, {"destination", "port"}).value_or(0);
    r.direction = text(event, {"network", "direction"});
    r.l7_proto = text(event, {"network", "protocol"});

    const bool ingress = r.direction == "ingress";
    r.domain = text(event, {"policer", "l7", "host"});
    if (r.domain.empty()) r.domain = text(event, {ingress ? "source" : "destination", "domain"});

    r.action = text(event, {"policer", "verdict", "action"});
    r.rule = text(event, {"rule", "name"});

    // ECS counts by initiator (source) and responder (destination); the row by this host.
    const char *local = ingress ? "destination" : "source";
    const char *remote = ingress ? "source" : "destination";
    r.bytes_out = number(event, {local, "bytes"}).value_or(0);
    r.packets_out = number(event, {local, "packets"}).value_or(0);
    r.bytes_in = number(event, {remote, "bytes"}).value_or(0);
    r.packets_in = number(event, {remote, "packets"}).value_or(0);

    r.event_json = std::move(event_text);
    return r;
}

Result<AlertRow> alert_row_from_event(const nlohmann::json &event, std::string event_text) {
    auto ts = parse_timestamp_ms(text(event, {"@timestamp"}));
    if (!ts) return Error{"the event has no valid @timestamp"};
    AlertRow r;
    r.time_ms = *ts;
    r.rule = text(event, {"rule", "name"});
    r.action = text(event, {"event", "action"});
    r.severity = number(event, {"event", "severity"});
    r.outcome = text(event, {"event", "outcome"});
    const std::string who = text(event, {"process", "executable"});
    const std::string to = text(event, {"destination", "ip"});
    r.summary = r.action + (r.rule.empty() ? "" : " by rule " + r.rule) +
                (who.empty() ? "" : ": " + who) + (to.empty() ? "" : " -> " + to);
    r.event_json = std::move(event_text);
    return r;
}

} // namespace policer::store
