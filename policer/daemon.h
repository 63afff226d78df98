// daemon.h - policerd's core: owns the probes, reads their ring buffer, keeps the process,
// cgroup and flow tables, and reports flows to the event sinks. One thread, one epoll loop.
#pragma once

#include "enrich/cgroup_paths.h"
#include "enrich/identity.h"
#include "enrich/proc_reader.h"
#include "enrich/process_table.h"
#include "enrich/user_names.h"
#include "policer/boot_clock.h"
#include "policer/ecs.h"
#include "policer/enforcer.h"
#include "policer/event_decoder.h"
#include "policer/event_sink.h"
#include "policer/control_server.h"
#include "policer/flow_table.h"
#include "policer/iface_enforcer.h"
#include "policer/l7/dissector.h"
#include "policer/l7/domain_cache.h"
#include "policer/l7/dpi_engine.h"
#include "policer/options.h"
#include "policer/rule_manager.h"
#include "policer/zmq_sink.h"
#include "probes/probe_set.h"
#include "rules/compiler.h"
#include "store/batch_writer.h"
#include "store/database.h"
#include "store/policy_store.h"

#include <memory>
#include <vector>

struct ring_buffer;

namespace policer::daemon {

// What policerd itself counts (the kernel's counters come from ProbeSet::counters()).
struct DaemonCounters {
    uint64_t events = 0;
    uint64_t invalid_events = 0;
    uint64_t flows_started = 0;
    uint64_t flows_ended = 0;
    uint64_t flow_ends_without_start = 0; // the start was lost or evicted: reported anyway
    uint64_t accepts_without_flow = 0;
    uint64_t samples = 0;
    uint64_t invalid_samples = 0;
    uint64_t udp_lost = 0;      // UDP flows the kernel's table dropped before they ended
    uint64_t udp_replaced = 0;  // UDP flows started again by the kernel under the same key
    uint64_t args_timeouts = 0; // /proc argv reads abandoned at start-up
};

class Daemon {
public:
    // Checks privileges and kernel support, mounts what is missing, loads and attaches the
    // probes and seeds the process table from /proc. Errors say what to fix.
    static Result<std::unique_ptr<Daemon>> start(const Options &opts);
    ~Daemon();

    // Runs until SIGINT or SIGTERM; returns the process exit code.
    int run();

    void add_sink(std::unique_ptr<EventSink> sink) { sinks_.push_back(std::move(sink)); }
    // The ZeroMQ stream: a sink whose counters (published, rate-limited, send errors) also go
    // into agent-stats and status.
    void add_stream(std::unique_ptr<ZmqSink> sink) {
        zmq_ = sink.get();
        sinks_.push_back(std::move(sink));
    }

private:
    Daemon(const Options &opts, std::unique_ptr<probes::ProbeSet> probes,
           enrich::CgroupPaths cgroups, std::unique_ptr<l7::DpiEngine> dpi);

    Status setup_loop();
    // Adds `fd` to the epoll loop (readable); `what` names it in the error.
    Status watch_fd(int fd, const char *what);
    // Returns the images running (for enforcement), read in the same pass.
    std::vector<ExeInfo> seed_processes();

    static int on_record(void *ctx, void *data, size_t len);
    static int on_sample_record(void *ctx, void *data, size_t len);
    void on_sample(const SampleRecord &s);
    void on_l7_done(const l7::DissectKey &key, const pl_flow_key &ref, const l7::L7Info &info);
    void finalize_l7(FlowRecord &rec);
    static l7::DissectKey dissect_key(const FlowRecord &rec);
    void handle(const pl_exec_event &e);
    void handle(const pl_fork_event &e);
    void handle(const pl_exit_event &e);
    void handle(const pl_flow_event &e);
    void handle(const pl_sock_close_event &e);
    void handle(const pl_cgroup_event &e);

    void flow_new(const pl_flow_event &e);
    void flow_accept(const pl_flow_event &e);
    void flow_end(const pl_flow_event &e);
    void end_udp_flow(const FlowKey &key, EndReason reason, uint64_t now_ns,
                      std::optional<pl_udp_value> kernel_value);
    void evicted(FlowRecord rec, uint64_t now_ns);
    void report_start(FlowRecord &rec);
    void report_end(FlowRecord &rec);
    // The flow event `doc` with the rule set's verdict on it (when a rule set is loaded). A
    // final verdict that refuses or limits the live flow `rec` is pushed into the kernel.
    Json with_verdict(Json doc, bool l7_pending, FlowRecord *rec = nullptr);
    // Kernel enforcement: start (or adopt), reload on SIGHUP, refusal reports.
    Status start_enforcement(const std::vector<ExeInfo> &running);
    void reload_rules();
    static int on_enforce_record(void *ctx, void *data, size_t len);
    void on_refusal(const pl_deny_event &e);
    std::vector<CgroupInfo> list_cgroups() const;
    std::vector<ExeInfo> running_exes() const;

    // Store and control socket (control_ops.cpp).
    Status open_store();
    Status open_control();
    ControlServer::Reply on_control(const Json &req, const Peer &peer);
    Json change_rules(const RulePlan &plan, const std::string &action, const Peer &peer);
    // Makes `compiled` the rule set in force (in the kernel unless report-only).
    Status use_rules(std::shared_ptr<const rules::CompiledRules> compiled);
    Json status_reply();
    Json live_flows(size_t limit);
    void store_event(std::string_view topic, const Json &doc);

    void tick();
    void sweep_udp(uint64_t now_ns);
    Json stats_event(const char *action);
    void publish(std::string_view topic, const Json &doc);
    void flush();

    Options opts_;
    std::unique_ptr<probes::ProbeSet> probes_;
    enrich::ProcReader proc_;
    enrich::ProcessTable procs_;
    enrich::UserNames names_;
    enrich::CgroupPaths cgroups_;
    enrich::Enricher enricher_;
    FlowTable flows_;
    std::unique_ptr<l7::DpiEngine> dpi_; // null when L7 dissection is off
    l7::DomainCache domains_;
    std::unique_ptr<l7::Dissector> dissector_;
    BootClock clock_;
    EcsContext ecs_;
    std::vector<std::unique_ptr<EventSink>> sinks_;
    ZmqSink *zmq_ = nullptr; // the stream, owned by sinks_; null without --zmq-endpoint
    std::shared_ptr<const rules::CompiledRules> rules_; // null: no rules given
    std::unique_ptr<Enforcer> enforcer_;                // null: report-only or no rules
    std::unique_ptr<IfaceEnforcer> ifaces_;             // TC/XDP; null when enforcer_ is
    RuleManager rule_mgr_{{}};
    probes::EnforceOptions enforce_opts_;
    std::optional<store::Database> db_;          // the daemon thread's connection (rules)
    std::unique_ptr<store::BatchWriter> writer_; // flows and alerts, off the event path
    std::unique_ptr<ControlServer> control_;
    int64_t policy_revision_ = 0;
    uint64_t started_ns_ = 0;

    struct RingDeleter {
        void operator()(ring_buffer *r) const;
    };
    using Ring = std::unique_ptr<ring_buffer, RingDeleter>;
    // Drains one ring, at most a budget of records; true when records were left.
    bool drain(ring_buffer *ring);

    Ring samples_ring_, events_ring_, enforce_ring_;
    uint32_t budget_left_ = 0;
    UniqueFd epoll_fd_;
    UniqueFd signal_fd_;

    DaemonCounters counters_;
    uint64_t last_sweep_ns_ = 0;
    uint64_t last_stats_ns_ = 0;
    uint64_t last_clock_refresh_ns_ = 0;
    uint64_t reported_drops_ = 0;
    uint64_t last_drop_warning_ns_ = 0;
    uint64_t reported_eval_errors_ = 0;
    uint64_t reported_refusal_drops_ = 0;
    uint64_t last_name_retry_ns_ = 0;
};

} // namespace policer::daemon
