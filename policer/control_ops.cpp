// control_ops.cpp - policerd's store and control socket: the managed rule set (every change
// checked, installed, then recorded with who made it), status, live flows, event following,
// and flow records and alerts written to the store off the event path (docs/control.md).
#include "policer/daemon.h"
#include "store/flow_event.h"
#include "store/schema.h"
#include "policer/version.h"
#include "common/timestamp.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <unordered_map>

namespace policer::daemon {
namespace {

constexpr uint64_t kSecNs = 1000000000ull;

Json bad_request(const std::string &why) {
    return {{"ok", false}, {"error", why}, {"bad_request", true}};
}

// The string list `field` of a request ("names": ["a", "b"]), or a reason it is not one.
std::optional<std::vector<std::string>> string_list(const Json &req, const char *field,
                                                    std::string &why) {
    auto it = req.find(field);
    if (it == req.end() || !it->is_array()) {
        why = std::string("\"") + field + "\" must be a list of names";
        return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto &v : *it) {
        if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 256) {
            why = std::string("\"") + field + "\" must hold names (non-empty strings)";
            return std::nullopt;
        }
        out.push_back(v.get<std::string>());
    }
    return out;
}

Json entry_json(const store::PolicyEntry &e, bool with_text) {
    Json j = {{"name", e.name}, {"kind", e.kind}, {"enabled", e.enabled}, {"origin", "store"}};
    if (with_text) j["text"] = e.text;
    return j;
}

Json actor_json(const store::Actor &a) {
    return {{"uid", a.uid}, {"user", a.user}, {"gid", a.gid}, {"pid", a.pid}};
}

} // namespace

Status Daemon::open_store() {
    if (!db_) return Ok{};
    store::BatchWriterOptions wo;
    wo.retention.max_age = std::chrono::hours(24) * opts_.retention_days;
    wo.retention.max_bytes = static_cast<int64_t>(opts_.db_max_bytes);
    auto w = store::BatchWriter::open(opts_.db_path, wo);
    if (!w) return w.error();
    writer_ = std::move(*w);
    spdlog::info("store {}: managed rules at revision {}; flow records and alerts kept {} days",
                 opts_.db_path, policy_revision_, opts_.retention_days);
    return Ok{};
}

Status Daemon::open_control() {
    started_ns_ = clock_.now_boot_ns();
    if (opts_.control_socket.empty()) return Ok{};
    ControlOptions co;
    co.path = opts_.control_socket;
    co.group = opts_.control_group;
    auto srv = ControlServer::listen(
        co, [this](const Json &req, const Peer &peer) { return on_control(req, peer); });
    if (!srv) return srv.error();
    control_ = std::move(*srv);
    return watch_fd(control_->fd(), "control socket");
}

void Daemon::store_event(std::string_view topic, const Json &doc) {
    if (!writer_ || (topic != "flow.end" && topic != "alert")) return;
    // One copy into the store's JSON type per flow end or alert (not per packet).
    const nlohmann::json event(doc);
    std::string text = doc.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (topic == "alert") {
        if (auto row = store::alert_row_from_event(event, std::move(text)))
            writer_->enqueue(std::move(*row));
        return;
    }
    // A flow an `alert` rule matched is an alert too.
    const bool alert = event.contains("policer") && event["policer"].contains("verdict") &&
                       event["policer"]["verdict"].value("action", "") == "alert";
    if (alert)
        if (auto a = store::alert_row_from_event(event, text)) writer_->enqueue(std::move(*a));
    if (auto row = store::flow_row_from_event(event, std::move(text)))
        writer_->enqueue(std::move(*row));
}

Status Daemon::use_rules(std::shared_ptr<const rules::CompiledRules> compiled) {
    if (!opts_.report_only && compiled) {
        if (!enforcer_) {
            // The first rules of a policerd started without any: enforcement starts now.
            auto enforcer = Enforcer::open(enforce_opts_);
            if (!enforcer) return enforcer.error();
            enforcer_ = std::move(*enforcer);
            enforce_ring_.reset(ring_buffer__new(enforcer_->kernel().events_fd(),
                                                 &Daemon::on_enforce_record, this, nullptr));
            if (!enforce_ring_) return Error::from_errno("cannot open the enforcement ring buffer");
            if (auto st =
                    watch_fd(ring_buffer__epoll_fd(enforce_ring_.get()), "enforcement ring buffer");
                !st)
                return st;
            rules_ = compiled;
            return start_enforcement(running_exes());
        }
        if (auto st = enforcer_->install(compiled, list_cgroups(), running_exes()); !st) return st;
        // Addresses learned from DNS answers before this install name them in the new tables.
        domains_.for_each(clock_.now_boot_ns(),
                          [&](uint8_t family, const uint8_t *addr, const std::string &name) {
                              enforcer_->on_domain(family, addr, name);
                          });
    }
    rules_ = std::move(compiled);
    return Ok{};
}

Json Daemon::change_rules(const RulePlan &plan, const std::string &action, const Peer &peer) {
    if (!plan.ok) {
        Json r = {{"ok", false}, {"error", plan.error}};
        if (!plan.diagnostics.empty()) r["diagnostics"] = plan.diagnostics;
        return r;
    }
    store::PolicyStore ps(*db_);
    // Kernel first (the step that can refuse a valid set: table capacity), then the record;
    // if recording fails, the rule set in force before goes back.
    auto previous = rules_;
    if (auto st = use_rules(plan.compiled); !st)
        return {{"ok", false}, {"error", "the kernel refused the rule set: " + st.error().message}};
    store::Actor actor{peer.uid, peer.gid, peer.pid, peer.user};
    auto rev = ps.commit(policy_revision_, plan.entries, actor, action, plan.summary);
    if (!rev) {
        if (previous) {
            if (auto st = use_rules(previous); !st)
                spdlog::error("cannot restore the previous rule set: {}", st.error().message);
        }
        return {{"ok", false}, {"error", "cannot record the change: " + rev.error().message}};
    }
    policy_revision_ = *rev;
    spdlog::info("rules revision {} by {} (uid {}, pid {}): {}", *rev, peer.user, peer.uid,
                 peer.pid, plan.summary);
    Json ev = agent_event("rule-change", "configuration", ecs_);
    ev["event"]["outcome"] = "success";
    ev["user"] = {{"id", std::to_string(peer.uid)}, {"name", peer.user}};
    ev["policer"]["rules"] = {{"revision", *rev},
                              {"action", action},
                              {"summary", plan.summary},
                              {"changed", plan.changed},
                              {"generation", enforcer_ ? enforcer_->generation() : 0}};
    publish("rule.change", ev);
    Json r = {{"ok", true}, {"revision", *rev}, {"changed", plan.changed}};
    r["generation"] = enforcer_ ? enforcer_->generation() : 0;
    if (!plan.diagnostics.empty()) r["diagnostics"] = plan.diagnostics; // warnings
    return r;
}

Json Daemon::live_flows(size_t limit) {
    // Counters so far: TCP from the kernel's sockets (one iterator pass for all of them), UDP
    // from the kernel's flow map. A flow whose counters cannot be read is listed without them.
    std::unordered_map<uint64_t, pl_flow_counters> tcp;
    if (auto live = probes_->tcp_live(flows_.capacity())) {
        for (const auto &r : *live)
            tcp.emplace(r.cookie, r.counters);
    } else {
        spdlog::warn("live flows are listed without TCP counters: {}", live.error().message);
    }
    Json out = Json::array();
    flows_.for_each([&](const FlowRecord &rec) {
        if (out.size() >= limit || !rec.start_reported) return;
        Json doc = with_verdict(flow_event(rec, FlowPhase::Start, ecs_), !rec.l7);
        std::optional<pl_flow_counters> counters;
        if (rec.key.is_udp()) {
            if (auto v = probes_->udp_flow(rec.key.k)) counters = v->counters;
        } else if (auto it = tcp.find(rec.key.k.cookie); it != tcp.end()) {
            counters = it->second;
        }
        if (counters) add_counters(doc, rec.tuple, *counters);
        out.push_back(std::move(doc));
    });
    return out;
}

Json Daemon::status_reply() {
    Json r = {{"ok", true}, {"version", kVersion}, {"pid", getpid()}};
    r["uptime_s"] = (clock_.now_boot_ns() - started_ns_) / kSecNs;
    r["mode"] = opts_.report_only          ? "report-only"
                : !rules_                  ? "observe"
                : rules_->set().audit_mode ? "audit"
                                           : "enforce";
    Json rules = {{"revision", policy_revision_}, {"files", rule_mgr_.files()}};
    if (rules_) rules["rules"] = rules_->set().rules.size();
    if (enforcer_) rules["generation"] = enforcer_->generation();
    r["rules"] = rules;
    Json hooks = Json::array();
    for (const auto &h : probes_->hooks())
        hooks.push_back({{"program", h.program},
                         {"hook", h.section},
                         {"target", h.target},
                         {"id", h.id},
                         {"kind", "observe"}});
    if (enforcer_)
        for (const auto &h : enforcer_->kernel().hooks())
            hooks.push_back({{"program", h.program},
                             {"hook", h.section},
                             {"target", h.target},
                             {"id", h.id},
                             {"kind", "enforce"}});
    r["hooks"] = hooks;
    if (ifaces_) r["interfaces"] = ifaces_->status();
    // Kernel map fill: how close each table is to its limit (LRU maps then evict).
    Json maps = Json::object();
    auto add_fill = [&maps](const std::vector<probes::MapFill> &fill, const char *object) {
        for (const auto &m : fill)
            maps[m.name] = {
                {"object", object}, {"entries", m.entries}, {"max_entries", m.max_entries}};
    };
    add_fill(probes_->map_fill(), "observe");
    if (enforcer_) add_fill(enforcer_->kernel().map_fill(), "enforce");
    r["maps"] = maps;
    // The counters of agent-stats: ring buffers, tables and their fill, enforcement.
    Json stats = stats_event("agent-stats");
    r["policer"] = stats.contains("policer") ? stats["policer"] : Json::object();
    if (writer_) {
        auto c = writer_->counters();
        r["store"] = {{"path", opts_.db_path},
                      {"written", c.written},
                      {"dropped", c.dropped},
                      {"write_errors", c.write_errors},
                      {"batches", c.batches}};
    }
    if (control_) {
        const auto &c = control_->counters();
        r["control"] = {{"connections", c.connections},
                        {"refused_peers", c.refused_peers},
                        {"requests", c.requests},
                        {"bad_requests", c.bad_requests},
                        {"follow_events_dropped", c.follow_events_dropped}};
    }
    return r;
}

ControlServer::Reply Daemon::on_control(const Json &req, const Peer &peer) {
    ControlServer::Reply reply;
    const std::string op = req["op"].get<std::string>();
    auto text_field = [&](const char *name, std::string &out) -> bool {
        auto it = req.find(name);
        if (it == req.end() || !it->is_string()) return false;
        out = it->get<std::string>();
        return true;
    };
    const bool mutating = op == "rule.add" || op == "rule.rm" || op == "rule.enable" ||
                          op == "rule.disable" || op == "rule.import" || op == "rule.rollback";
    const bool needs_store = mutating || op == "rule.list" || op == "rule.show" ||
                             op == "rule.export" || op == "rule.history";
    if (needs_store && !db_) {
        reply.body = {{"ok", false},
                      {"error", "policerd runs without a store (--db none): rules are managed "
                                "in the --rules files only"}};
        return reply;
    }
    std::optional<store::Policy> current;
    if (needs_store) {
        auto c = store::PolicyStore(*db_).current();
        if (!c) {
            reply.body = {{"ok", false}, {"error", c.error().message}};
            return reply;
        }
        current = std::move(*c);
    }

    if (op == "status") {
        reply.body = status_reply();
    } else if (op == "rule.list" || op == "rule.export") {
        Json entries = Json::array();
        for (const auto &e : current->entries)
            entries.push_back(entry_json(e, op == "rule.export"));
        if (op == "rule.list" && rules_)
            for (const auto &r : rules_->set().rules)
                if (r.loc.file && r.loc.file->path.rfind("managed:", 0) != 0)
                    entries.push_back({{"name", r.name},
                                       {"kind", "rule"},
                                       {"enabled", true},
                                       {"origin", r.loc.file->path}});
        reply.body = {{"ok", true}, {"revision", current->revision}, {"entries", entries}};
        if (op == "rule.export") reply.body["text"] = RuleManager::export_text(current->entries);
    } else if (op == "rule.show") {
        std::string name;
        if (!text_field("name", name)) {
            reply.body = bad_request("\"name\" must be a string");
            return reply;
        }
        for (const auto &e : current->entries)
            if (e.name == name) reply.body = {{"ok", true}, {"entry", entry_json(e, true)}};
        if (reply.body.is_null())
            reply.body = {{"ok", false}, {"error", "no managed item named '" + name + "'"}};
    } else if (op == "rule.add" || op == "rule.import") {
        std::string text, source = "<rules>";
        if (!text_field("text", text)) {
            reply.body = bad_request("\"text\" must be a string (the rule text)");
            return reply;
        }
        if (req.contains("source") && !text_field("source", source)) {
            reply.body = bad_request("\"source\" must be a string");
            return reply;
        }
        bool replace = false;
        if (req.contains("replace")) {
            if (!req["replace"].is_boolean()) {
                reply.body = bad_request("\"replace\" must be true or false");
                return reply;
            }
            replace = req["replace"].get<bool>();
        }
        RulePlan plan = op == "rule.add" ? rule_mgr_.add(current->entries, text, source, replace)
                                         : rule_mgr_.import(text, source);
        reply.body = change_rules(plan, op == "rule.add" ? "add" : "import", peer);
    } else if (op == "rule.rm" || op == "rule.enable" || op == "rule.disable") {
        std::string why;
        auto names = string_list(req, "names", why);
        if (!names) {
            reply.body = bad_request(why);
            return reply;
        }
        RulePlan plan = op == "rule.rm"
                            ? rule_mgr_.remove(current->entries, *names)
                            : rule_mgr_.set_enabled(current->entries, *names, op == "rule.enable");
        reply.body = change_rules(plan, op.substr(5), peer);
    } else if (op == "rule.history") {
        size_t limit = 50;
        if (req.contains("limit")) {
            if (!req["limit"].is_number_unsigned() || req["limit"].get<uint64_t>() > 100000) {
                reply.body = bad_request("\"limit\" must be a number from 0 to 100000");
                return reply;
            }
            limit = req["limit"].get<size_t>();
        }
        std::optional<std::string> name;
        if (req.contains("name")) {
            std::string n;
            if (!text_field("name", n)) {
                reply.body = bad_request("\"name\" must be a string");
                return reply;
            }
            name = n;
        }
        auto hist = store::PolicyStore(*db_).history(limit, name);
        if (!hist) {
            reply.body = {{"ok", false}, {"error", hist.error().message}};
            return reply;
        }
        Json revs = Json::array();
        for (const auto &h : *hist) {
            Json changes = Json::array();
            for (const auto &c : h.changes) {
                Json cj = {{"name", c.name}};
                cj["before"] = c.before ? Json(c.before->text) : Json(nullptr);
                cj["after"] = c.after ? Json(c.after->text) : Json(nullptr);
                cj["enabled_before"] = c.before ? Json(c.before->enabled) : Json(nullptr);
                cj["enabled_after"] = c.after ? Json(c.after->enabled) : Json(nullptr);
                changes.push_back(cj);
            }
            Json rj = {
                {"revision", h.revision},       {"time", format_timestamp(h.time_ms * 1000000ull)},
                {"actor", actor_json(h.actor)}, {"action", h.action},
                {"summary", h.summary},         {"changes", changes}};
            if (h.rollback_of) rj["rollback_of"] = *h.rollback_of;
            revs.push_back(rj);
        }
        reply.body = {{"ok", true}, {"revision", current->revision}, {"revisions", revs}};
    } else if (op == "rule.rollback") {
        if (!req.contains("revision") || !req["revision"].is_number_unsigned()) {
            reply.body = bad_request("\"revision\" must be a revision number");
            return reply;
        }
        const int64_t target = req["revision"].get<int64_t>();
        auto old = store::PolicyStore(*db_).revision(target);
        if (!old) {
            reply.body = {{"ok", false}, {"error", old.error().message}};
            return reply;
        }
        RulePlan plan = rule_mgr_.compile(old->entries);
        plan.summary = "rollback to revision " + std::to_string(target);
        for (const auto &c : store::entry_changes(current->entries, old->entries))
            plan.changed.push_back(c.name);
        reply.body = change_rules(plan, "rollback", peer);
    } else if (op == "flows.live") {
        size_t limit = 1000;
        if (req.contains("limit")) {
            if (!req["limit"].is_number_unsigned() || req["limit"].get<uint64_t>() > 100000) {
                reply.body = bad_request("\"limit\" must be a number from 0 to 100000");
                return reply;
            }
            limit = req["limit"].get<size_t>();
        }
        reply.body = {{"ok", true}, {"flows", live_flows(limit)}};
    } else if (op == "events.follow") {
        std::vector<std::string> topics;
        if (req.contains("topics")) {
            std::string why;
            auto t = string_list(req, "topics", why);
            if (!t) {
                reply.body = bad_request(why);
                return reply;
            }
            topics = *t;
        }
        reply.body = {{"ok", true}};
        reply.follow = true;
        reply.topics = std::move(topics);
    } else {
        reply.body = bad_request("unknown op '" + op +
                                 "' (status, rule.list, rule.show, rule.add, rule.rm, "
                                 "rule.enable, rule.disable, rule.import, rule.export, "
                                 "rule.history, rule.rollback, flows.live, events.follow)");
    }
    return reply;
}

} // namespace policer::daemon
