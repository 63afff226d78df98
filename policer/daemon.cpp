// daemon.cpp - see daemon.h.
#include "policer/daemon.h"
#include "store/schema.h"

#include "enrich/kernel_strings.h"
#include "policer/sd_notify.h"
#include "policer/system_setup.h"
#include "policer/version.h"

#include <bpf/libbpf.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace policer::daemon {
namespace {

constexpr uint64_t kMs = 1000000ull;
constexpr uint64_t kSec = 1000000000ull;
constexpr int kTickMs = 50;
// An address learned from a DNS answer labels flows for its TTL plus this long.
constexpr uint64_t kDomainGraceNs = 300 * kSec;
// Records read from one ring per wake-up: under a flood the loop still ticks (accept deadlines,
// sweeps, stats) and sees signals.
constexpr uint32_t kRingBudget = 8192;
// A ring callback's way of saying "budget spent": libbpf stops, the record is consumed.
constexpr int kBudgetSpent = -1000000;
// argv of another process at start-up: how long to wait, and after how many stalls to stop.
constexpr auto kArgsDeadline = std::chrono::milliseconds(200);
constexpr uint64_t kMaxArgsStalls = 8;

// Reads argv on a thread of its own: the target can make the read block (see ProcReader).
// On timeout the thread is left behind, blocked, and the caller goes on without argv.
std::optional<std::vector<std::string>> args_with_deadline(const enrich::ProcReader &proc,
                                                           uint32_t pid) {
    struct Shared {
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        std::vector<std::string> args;
    };
    auto shared = std::make_shared<Shared>();
    std::thread([shared, pid, reader = proc] {
        auto args = reader.read_args(pid);
        std::lock_guard<std::mutex> lk(shared->mu);
        shared->args = std::move(args);
        shared->done = true;
        shared->cv.notify_all();
    }).detach();
    std::unique_lock<std::mutex> lk(shared->mu);
    if (!shared->cv.wait_for(lk, kArgsDeadline, [&] { return shared->done; })) return std::nullopt;
    return std::move(shared->args);
}

const char *event_type_name(uint32_t t) {
    switch (t) {
    case PL_EV_EXEC: return "exec";
    case PL_EV_FORK: return "fork";
    case PL_EV_EXIT: return "exit";
    case PL_EV_FLOW_NEW: return "flow_new";
    case PL_EV_FLOW_END: return "flow_end";
    case PL_EV_FLOW_ACCEPT: return "flow_accept";
    case PL_EV_SOCK_CLOSE: return "sock_close";
    case PL_EV_CGROUP_MKDIR: return "cgroup_mkdir";
    case PL_EV_CGROUP_RMDIR: return "cgroup_rmdir";
    case PL_EV_SAMPLE: return "sample";
    default: return nullptr;
    }
}

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
    return buf;
}

} // namespace

Daemon::Daemon(const Options &opts, std::unique_ptr<probes::ProbeSet> probes,
               enrich::CgroupPaths cgroups, std::unique_ptr<l7::DpiEngine> dpi)
    : opts_(opts), probes_(std::move(probes)), proc_("/proc"),
      procs_(opts.max_processes, opts.max_processes, proc_.tick_ns()),
      names_(4096, std::chrono::seconds(60)), cgroups_(std::move(cgroups)),
      enricher_(procs_, names_, cgroups_, proc_), flows_(opts.max_flows), dpi_(std::move(dpi)),
      domains_(opts.max_domains, kDomainGraceNs) {
    ecs_.host_name = host_name();
    ecs_.clock = &clock_;
    if (dpi_)
        dissector_ = std::make_unique<l7::Dissector>(
            *dpi_, domains_, l7::DissectorConfig{opts.max_dissected_flows, opts.dissect_packets},
            [this](const l7::DissectKey &k, const pl_flow_key &ref, const l7::L7Info &info) {
                on_l7_done(k, ref, info);
            });
}

Daemon::~Daemon() = default;

void Daemon::RingDeleter::operator()(ring_buffer *r) const {
    ring_buffer__free(r);
}

namespace {

// The rule set, checked before anything is loaded into the kernel: a set with any error is
// refused whole, with every diagnostic (file:line:col).
// The --rules files and the store's managed entries, compiled (null when there are none).
Result<std::shared_ptr<const rules::CompiledRules>>
load_rule_set(const RuleManager &mgr, const std::vector<store::PolicyEntry> &managed) {
    if (mgr.files().empty() && managed.empty())
        return std::shared_ptr<const rules::CompiledRules>{};
    RulePlan plan = mgr.compile(managed);
    std::string diags;
    for (const auto &d : plan.diagnostics)
        diags += d;
    if (!plan.ok) return Error{"the rules have errors; nothing was loaded:\n" + diags};
    if (!diags.empty()) spdlog::warn("rules:\n{}", diags);
    const auto &set = plan.compiled->set();
    spdlog::info("{} rule(s) from {} file(s) and {} managed item(s){}", set.rules.size(),
                 mgr.files().size(), managed.size(),
                 set.audit_mode ? " (mode audit: verdicts are reported, nothing is refused)" : "");
    return plan.compiled;
}

} // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Options &opts) {
    RuleManager mgr(opts.rules);
    if (auto st = check_privileges(); !st) return st.error();
    if (auto st = check_btf(opts.btf); !st) return st.error();
    // The store before the rules: the managed rules are part of the rule set to start with.
    std::optional<store::Database> db;
    store::Policy managed;
    if (!opts.db_path.empty()) {
        const std::string dir = opts.db_path.substr(0, opts.db_path.rfind('/'));
        if (!dir.empty() && ::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST)
            return Error::from_errno("cannot create " + dir);
        auto opened = store::open_store(opts.db_path);
        if (!opened) return opened.error();
        auto current = store::PolicyStore(*opened).current();
        if (!current) return current.error();
        managed = std::move(*current);
        db.emplace(std::move(*opened));
    }
    auto rule_set = load_rule_set(mgr, managed.entries);
    if (!rule_set) return rule_set.error();

    auto mounts_text = enrich::read_file_bounded("/proc/mounts", 1 << 20);
    if (!mounts_text) return Error::from_errno("cannot read /proc/mounts");
    auto mounts = parse_mounts(*mounts_text);
    if (auto st = ensure_mounted(mounts, "bpf", opts.bpffs); !st) return st.error();
    // libbpf finds tracepoint ids under /sys/kernel/tracing (or debugfs): nowhere else.
    if (auto st = ensure_mounted(mounts, "tracefs", "/sys/kernel/tracing"); !st) return st.error();

    auto cg2 = find_mount(mounts, "cgroup2");
    if (!cg2)
        return Error{"no cgroup v2 hierarchy is mounted (policer attaches its socket hooks "
                     "there); mount one with: mount -t cgroup2 none /sys/fs/cgroup"};
    std::string cgroup_root = opts.cgroup_root.empty() ? *cg2 : opts.cgroup_root;
    auto cgroups = enrich::CgroupPaths::open(*cg2, 16384);
    if (!cgroups) return cgroups.error();

    probes::ProbeOptions popts;
    popts.cgroup_root = cgroup_root;
    popts.btf_path = opts.btf == Options{}.btf ? "" : opts.btf;
    popts.ringbuf_bytes = opts.ringbuf_bytes;
    popts.max_udp_flows = opts.max_flows;
    popts.max_pending_accepts = std::max<uint32_t>(1024, opts.max_flows / 4);
    popts.sample_packets = opts.sample_packets;
    popts.sample_bytes = opts.sample_bytes;
    popts.samples_ringbuf_bytes = opts.samples_ringbuf_bytes;
    popts.max_processes = opts.max_processes;
    popts.udp_new_flows_per_sec = opts.udp_new_flows_per_sec;

    std::unique_ptr<l7::DpiEngine> dpi;
    if (opts.sample_packets > 0) {
        auto engine = l7::DpiEngine::create();
        if (!engine) return engine.error();
        dpi = std::move(*engine);
    }
    auto probes = probes::ProbeSet::load(popts);
    if (!probes) return probes.error();
    if (auto st = (*probes)->attach(); !st) return st.error();

    std::unique_ptr<Daemon> d(
        new Daemon(opts, std::move(*probes), std::move(*cgroups), std::move(dpi)));
    d->rules_ = std::move(*rule_set);
    d->rule_mgr_ = std::move(mgr);
    d->db_ = std::move(db);
    d->policy_revision_ = managed.revision;
    d->enforce_opts_.pin_dir = opts.pin_dir.empty() ? opts.bpffs + "/policer" : opts.pin_dir;
    d->enforce_opts_.cgroup_root = cgroup_root;
    d->enforce_opts_.btf_path = popts.btf_path;
    d->enforce_opts_.max_flow_verdicts = opts.max_flow_verdicts;
    d->enforce_opts_.max_tuple_verdicts = opts.max_flow_verdicts;
    d->enforce_opts_.max_limit_buckets = opts.max_limit_buckets;
    if (d->rules_ && !opts.report_only) {
        auto enforcer = Enforcer::open(d->enforce_opts_);
        if (!enforcer) return enforcer.error();
        d->enforcer_ = std::move(*enforcer);
    }
    if (auto st = d->setup_loop(); !st) return st.error();
    // After attaching: a process that execs meanwhile is in the ring buffer, read next.
    auto running = d->seed_processes();
    if (d->enforcer_)
        if (auto st = d->start_enforcement(running); !st) return st.error();
    if (auto st = d->open_store(); !st) return st.error();
    if (auto st = d->open_control(); !st) return st.error();
    return d;
}

Status Daemon::setup_loop() {
    samples_ring_.reset(
        ring_buffer__new(probes_->samples_fd(), &Daemon::on_sample_record, this, nullptr));
    if (!samples_ring_) return Error::from_errno("cannot open the samples ring buffer");
    events_ring_.reset(ring_buffer__new(probes_->events_fd(), &Daemon::on_record, this, nullptr));
    if (!events_ring_) return Error::from_errno("cannot open the events ring buffer");
    if (enforcer_) {
        enforce_ring_.reset(ring_buffer__new(enforcer_->kernel().events_fd(),
                                             &Daemon::on_enforce_record, this, nullptr));
        if (!enforce_ring_) return Error::from_errno("cannot open the enforcement ring buffer");
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) return Error::from_errno("sigprocmask");
    signal_fd_.reset(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) return Error::from_errno("signalfd");
    ::signal(SIGPIPE, SIG_IGN);

    epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_fd_) return Error::from_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    for (ring_buffer *r : {samples_ring_.get(), events_ring_.get(), enforce_ring_.get()}) {
        if (!r) continue;
        ev.data.fd = ring_buffer__epoll_fd(r);
        if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, ev.data.fd, &ev) != 0)
            return Error::from_errno("epoll_ctl (ring buffer)");
    }
    ev.data.fd = signal_fd_.get();
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, ev.data.fd, &ev) != 0)
        return Error::from_errno("epoll_ctl (signals)");
    return Ok{};
}

std::vector<ExeInfo> Daemon::seed_processes() {
    std::vector<ExeInfo> running;
    size_t n = 0;
    for (uint32_t pid : proc_.list_pids()) {
        auto snap = proc_.read(pid, false);
        if (!snap) continue;
        // argv only while it comes quickly: a process can make reading it block forever.
        if (counters_.args_timeouts < kMaxArgsStalls) {
            if (auto args = args_with_deadline(proc_, pid))
                snap->args = std::move(*args);
            else if (++counters_.args_timeouts == kMaxArgsStalls)
                spdlog::warn("reading /proc/PID/cmdline stalled {} times; command lines of "
                             "processes older than policerd are not read",
                             kMaxArgsStalls);
        }
        if (snap->exe_ino && enforcer_ && !snap->exe.empty())
            running.push_back({snap->exe, snap->exe_dev, snap->exe_ino});
        if (snap->exe_ino) {
            pl_proc kp{};
            kp.start_ns = snap->start_ns;
            kp.exe_ino = snap->exe_ino;
            kp.exe_dev = snap->exe_dev;
            probes_->seed_process(pid, kp);
        }
        procs_.upsert(enrich::process_from_snapshot(*snap));
        ++n;
    }
    spdlog::info("seeded {} processes from /proc", n);
    return running;
}

int Daemon::run() {
    Json start = agent_event("agent-start", "state", ecs_);
    start["agent"] = {{"type", "policerd"}, {"version", kVersion}};
    if (dpi_) start["policer"]["ndpi"] = l7::DpiEngine::version();
    Json hooks = Json::array();
    for (const auto &h : probes_->hooks())
        hooks.push_back(
            {{"program", h.program}, {"hook", h.section}, {"target", h.target}, {"id", h.id}});
    start["policer"]["hooks"] = hooks;
    if (!probes_->skipped().empty()) start["policer"]["hooks_skipped"] = probes_->skipped();
    if (rules_) {
        start["policer"]["rules"] = {{"files", rules_->set().files},
                                     {"rules", rules_->set().rules.size()},
                                     {"mode", rules_->set().audit_mode ? "audit" : "enforce"},
                                     {"enforced", enforcer_ && !rules_->set().audit_mode}};
        if (enforcer_) {
            const auto &k = enforcer_->kernel();
            Json enf = {{"generation", k.installed().generation},
                        {"adopted", k.adopted()},
                        {"pin_dir", opts_.pin_dir},
                        {"terms", k.installed().terms},
                        {"bitmaps", k.installed().bitmaps},
                        {"names", k.installed().names}};
            Json khooks = Json::array();
            for (const auto &h : k.hooks())
                khooks.push_back({{"program", h.program},
                                  {"hook", h.section},
                                  {"target", h.target},
                                  {"id", h.id}});
            enf["hooks"] = khooks;
            enf["xdp_blocklist"] = enforcer_->blocklist_size();
            if (ifaces_) enf["interfaces"] = ifaces_->status();
            start["policer"]["enforcement"] = enf;
        }
    }
    publish("agent", start);
    flush();
    spdlog::info("policerd {} ready: {} probes attached, cgroup hooks at {}", kVersion,
                 probes_->hooks().size(),
                 opts_.cgroup_root.empty() ? cgroups_.mount() : opts_.cgroup_root);
    // Type=notify: systemd orders dependent units after this point, when the probes are
    // attached and the control socket is serving - not merely when the process exists.
    if (auto st = sd_notify("READY=1\nSTATUS=attached, serving"); !st)
        spdlog::warn("{}", st.error().message);

    last_stats_ns_ = last_sweep_ns_ = last_clock_refresh_ns_ = clock_.now_boot_ns();
    bool stop = false, more = false;
    while (!stop) {
        epoll_event evs[4];
        int n = epoll_wait(epoll_fd_.get(), evs, 4, more ? 0 : kTickMs);
        if (n < 0 && errno != EINTR) {
            spdlog::error("epoll_wait: {}", std::strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            if (control_ && evs[i].data.fd == control_->fd()) {
                control_->on_readable();
                continue;
            }
            if (ifaces_ && evs[i].data.fd == ifaces_->fd()) {
                ifaces_->on_readable();
                continue;
            }
            if (evs[i].data.fd == signal_fd_.get()) {
                signalfd_siginfo si{};
                if (read(signal_fd_.get(), &si, sizeof(si)) == sizeof(si)) {
                    if (si.ssi_signo == SIGHUP) {
                        reload_rules();
                        continue;
                    }
                    spdlog::info("received {}, stopping{}",
                                 strsignal(static_cast<int>(si.ssi_signo)),
                                 enforcer_ ? " (enforcement stays pinned)" : "");
                    stop = true;
                }
            }
        }
        // Samples first, so that a DNS answer is learned before the connections it led to.
        more = drain(samples_ring_.get());
        more = drain(events_ring_.get()) || more;
        if (enforce_ring_) more = drain(enforce_ring_.get()) || more;
        tick();
        flush();
    }

    // Everything the kernel wrote before the probes go is still reported (bounded: the probes
    // are still attached and a flood must not keep policerd from stopping).
    for (int i = 0; i < 16; ++i) {
        bool left = drain(samples_ring_.get());
        left = drain(events_ring_.get()) || left;
        if (!left) break;
    }
    publish("agent", stats_event("agent-stats"));
    publish("agent", agent_event("agent-stop", "state", ecs_));
    flush();
    return 0;
}

bool Daemon::drain(ring_buffer *ring) {
    budget_left_ = kRingBudget;
    int r = ring_buffer__consume(ring);
    if (r == kBudgetSpent) return true;
    if (r < 0) spdlog::error("ring buffer: {}", std::strerror(-r));
    return false;
}

int Daemon::on_record(void *ctx, void *data, size_t len) {
    auto *self = static_cast<Daemon *>(ctx);
    ++self->counters_.events;
    const bool last = --self->budget_left_ == 0;
    auto ev = decode_event(data, len);
    if (!ev) {
        if (self->counters_.invalid_events++ < 10)
            spdlog::warn("invalid event from the probes: {}", ev.error().message);
        return last ? kBudgetSpent : 0;
    }
    std::visit([self](const auto &e) { self->handle(e); }, *ev);
    return last ? kBudgetSpent : 0;
}

int Daemon::on_sample_record(void *ctx, void *data, size_t len) {
    auto *self = static_cast<Daemon *>(ctx);
    const bool last = --self->budget_left_ == 0;
    auto s = decode_sample(data, len);
    if (!s) {
        if (self->counters_.invalid_samples++ < 10)
            spdlog::warn("invalid payload sample from the probes: {}", s.error().message);
        return last ? kBudgetSpent : 0;
    }
    self->on_sample(*s);
    return last ? kBudgetSpent : 0;
}

void Daemon::on_sample(const SampleRecord &s) {
    ++counters_.samples;
    if (!dissector_) return;
    // The flow's name in the kernel maps: the socket, and for UDP the remote endpoint.
    pl_flow_key ref{};
    ref.cookie = s.cookie;
    if (s.proto == 17) {
        l7::PacketView v;
        if (l7::parse_packet(s.data, s.cap_len, v) == l7::PacketError::None) {
            ref.family = v.family;
            ref.rport = s.egress ? v.dport : v.sport;
            std::memcpy(ref.raddr, s.egress ? v.dst : v.src, sizeof(ref.raddr));
        }
    }
    dissector_->feed(ref, s.data, s.cap_len, s.ts_ns);
    // Enforcement does not wait for dissection to finish (a flow may send nothing more for it
    // to learn): once nDPI has named the protocol, the rules are judged on what is known.
    if (!enforcer_) return;
    FlowRecord *rec = flows_.find(FlowKey{ref});
    if (!rec || rec->kernel_verdict || rec->l7 || !rec->start_reported) return;
    const l7::L7Info *info = dissector_->peek(dissect_key(*rec));
    if (!info || !info->classified) return;
    FlowRecord probe = *rec;
    probe.l7 = *info;
    Json doc = with_verdict(flow_event(probe, FlowPhase::Classified, ecs_), false, rec);
    if (rec->kernel_verdict) {
        // The kernel now refuses or limits this live flow: say so as it happens.
        doc["event"]["action"] = "flow-refused";
        doc["event"]["kind"] = "alert";
        publish("alert", doc);
    }
}

l7::DissectKey Daemon::dissect_key(const FlowRecord &rec) {
    const pl_tuple &t = rec.tuple;
    return l7::DissectKey::of(rec.key.k.cookie, t.family, t.proto, t.saddr, t.sport, t.daddr,
                              t.dport);
}

void Daemon::on_l7_done(const l7::DissectKey &, const pl_flow_key &ref, const l7::L7Info &info) {
    // The kernel stops sampling this flow - unless it is DNS: later answers on the same socket
    // (A then AAAA) name addresses too (the per-flow sample budget still bounds it).
    if (info.protocol != "DNS" && info.master != "DNS") probes_->mark_classified(ref);
    FlowRecord *rec = flows_.find(FlowKey{ref});
    if (!rec) return; // its flow event is still on its way (or it ended): picked up then
    rec->l7 = info;
    rec->l7_ns = clock_.now_boot_ns();
    if (rec->start_reported && !rec->l7_reported) {
        rec->l7_reported = true;
        publish("flow.l7", with_verdict(flow_event(*rec, FlowPhase::Classified, ecs_), false, rec));
    }
}

// The final L7 result of a flow that is ending; frees its dissection state.
void Daemon::finalize_l7(FlowRecord &rec) {
    if (!dissector_) return;
    // The flow's last samples may have been written while the events ring was being read
    // (after this loop drained the samples ring): read them now, or its result is lost.
    const auto budget = budget_left_;
    budget_left_ = kRingBudget;
    if (samples_ring_) ring_buffer__consume(samples_ring_.get());
    budget_left_ = budget;
    if (auto info = dissector_->take(dissect_key(rec))) rec.l7 = std::move(*info);
    probes_->forget_flow(rec.key.k);
}

void Daemon::handle(const pl_exec_event &e) {
    enrich::ProcessInfo p;
    p.tgid = e.ident.tgid;
    p.ppid = e.ident.ppid;
    p.start_ns = e.ident.start_ns;
    p.uid = e.ident.uid;
    p.gid = e.ident.gid;
    p.euid = e.ident.euid;
    p.comm = enrich::bounded_cstr(e.ident.comm, sizeof(e.ident.comm));
    p.exe_ino = e.ident.exe_ino;
    p.exe_dev = e.ident.exe_dev;
    p.exe_flags = e.ident.exe_flags;
    const std::string_view components(e.exe, e.exe_len);
    const bool truncated = p.exe_flags & PL_EXE_TRUNCATED;
    if (p.exe_flags & PL_EXE_PSEUDO) {
        // Not a path: the name of a file on no mount ("memfd:x"), or what is left of a
        // disconnected one, shown as the kernel names it.
        std::string name;
        for (auto part = components; !part.empty();) {
            size_t nul = part.find('\0');
            std::string_view piece = part.substr(0, nul);
            if (!piece.empty()) name = std::string(piece) + (name.empty() ? "" : "/" + name);
            if (nul == std::string_view::npos) break;
            part.remove_prefix(nul + 1);
        }
        p.exe = name;
    } else {
        p.exe = enrich::exe_from_components(components, truncated);
    }
    if (truncated) {
        // Too long for the kernel's buffer: /proc has the whole link while the process lives
        // (readlink only: it never waits on the process).
        auto snap = proc_.read(p.tgid, false);
        if (snap && !snap->exe.empty() && snap->exe_ino == p.exe_ino &&
            snap->start_ns / proc_.tick_ns() == p.start_ns / proc_.tick_ns())
            p.exe = snap->exe;
    }
    p.args = enrich::split_args(std::string_view(e.args, e.args_len));
    if (enforcer_ && !(p.exe_flags & PL_EXE_PSEUDO))
        enforcer_->on_exec({p.exe, p.exe_dev, p.exe_ino});
    procs_.upsert(std::move(p));
}

void Daemon::handle(const pl_fork_event &e) {
    procs_.on_fork(e.ident.tgid, e.ident.ppid, e.ident.start_ns, e.ident.uid, e.ident.gid,
                   e.ident.euid, enrich::bounded_cstr(e.ident.comm, sizeof(e.ident.comm)));
}

void Daemon::handle(const pl_exit_event &e) {
    procs_.on_exit(e.tgid, e.start_ns);
}

void Daemon::handle(const pl_cgroup_event &e) {
    std::string path(e.path, std::min<size_t>(e.path_len, sizeof(e.path)));
    if (e.hdr.type == PL_EV_CGROUP_MKDIR) {
        if (enforcer_) enforcer_->on_cgroup({e.cgroup_id, path});
        cgroups_.on_mkdir(e.cgroup_id, std::move(path));
    } else
        cgroups_.on_rmdir(e.cgroup_id, std::move(path));
}

void Daemon::handle(const pl_flow_event &e) {
    switch (e.hdr.type) {
    case PL_EV_FLOW_NEW: flow_new(e); break;
    case PL_EV_FLOW_ACCEPT: flow_accept(e); break;
    case PL_EV_FLOW_END: flow_end(e); break;
    }
}

void Daemon::flow_new(const pl_flow_event &e) {
    FlowRecord rec;
    rec.tuple = e.tuple;
    rec.start_ns = e.hdr.ts_ns;
    rec.flags = e.flags;
    rec.who = enricher_.resolve(e.ident);
    const bool tcp = e.tuple.proto == PL_IPPROTO_TCP;
    if (tcp) {
        rec.key = FlowKey::tcp(e.cookie);
    } else {
        pl_flow_key k{};
        k.cookie = e.cookie;
        k.family = e.tuple.family;
        const bool egress = e.tuple.direction == PL_DIR_EGRESS;
        k.rport = egress ? e.tuple.dport : e.tuple.sport;
        std::memcpy(k.raddr, egress ? e.tuple.daddr : e.tuple.saddr, sizeof(k.raddr));
        rec.key = FlowKey::udp(k);
    }

    const bool egress = e.tuple.direction == PL_DIR_EGRESS;
    rec.remote_domain =
        domains_.lookup(e.tuple.family, egress ? e.tuple.daddr : e.tuple.saddr, e.hdr.ts_ns);
    if (dissector_) {
        // Its first samples may have been dissected before this event was read.
        if (const l7::L7Info *info = dissector_->peek(dissect_key(rec)); info && info->done) {
            rec.l7 = *info;
            rec.l7_ns = e.hdr.ts_ns;
        }
    }

    // The kernel started this UDP flow again (its entry was evicted or ended meanwhile): the
    // old record ends here, so no start goes without an end.
    if (!tcp && flows_.find(rec.key)) {
        ++counters_.udp_replaced;
        end_udp_flow(rec.key, EndReason::Replaced, e.hdr.ts_ns, std::nullopt);
    }

    // An inbound TCP flow is reported once we know who accept()s it (or after accept-wait).
    const bool wait = tcp && e.tuple.direction == PL_DIR_INGRESS && opts_.accept_wait_ms > 0;
    FlowKey key = rec.key;
    if (!wait) report_start(rec);
    if (auto victim = flows_.add(std::move(rec))) evicted(std::move(*victim), e.hdr.ts_ns);
    if (wait) flows_.wait_for_accept(key, e.hdr.ts_ns + opts_.accept_wait_ms * kMs);
}

void Daemon::flow_accept(const pl_flow_event &e) {
    FlowRecord *rec = flows_.find(FlowKey::tcp(e.cookie));
    if (!rec) {
        ++counters_.accepts_without_flow;
        return;
    }
    // A start already reported (accept-wait passed) keeps its identity, so that start and end
    // of a flow never disagree on whose it is.
    if (rec->start_reported) return;
    rec->who = enricher_.resolve(e.ident);
    report_start(*rec);
}

void Daemon::flow_end(const pl_flow_event &e) {
    auto rec = flows_.remove(FlowKey::tcp(e.cookie));
    if (!rec) {
        // Its start was lost (ring buffer full) or evicted: report the end on its own, with
        // the identity the kernel kept on the socket.
        ++counters_.flow_ends_without_start;
        rec.emplace();
        rec->key = FlowKey::tcp(e.cookie);
        rec->tuple = e.tuple;
        rec->who = enricher_.resolve(e.ident);
        rec->start_reported = true;
    } else if (!rec->start_reported) {
        report_start(*rec);
    }
    finalize_l7(*rec);
    rec->end_ns = e.hdr.ts_ns;
    rec->counters = e.counters;
    rec->flags |= e.flags;
    rec->end_reason = EndReason::Closed;
    report_end(*rec);
}

void Daemon::handle(const pl_sock_close_event &e) {
    for (const FlowKey &key : flows_.udp_flows_of(e.cookie))
        end_udp_flow(key, EndReason::Closed, e.hdr.ts_ns, probes_->take_udp_flow(key.k));
}

void Daemon::end_udp_flow(const FlowKey &key, EndReason reason, uint64_t now_ns,
                          std::optional<pl_udp_value> kv) {
    auto rec = flows_.remove(key);
    if (!rec) {
        if (!kv) return;
        // In the kernel but not here: its start event was lost.
        ++counters_.flow_ends_without_start;
        rec.emplace();
        rec->key = key;
        rec->tuple = kv->tuple;
        rec->who.quality = enrich::IdentityQuality::Partial;
        rec->who.raw.gid = static_cast<uint32_t>(-1);
        rec->start_ns = kv->first_ns;
        rec->start_reported = true;
    }
    if (kv) rec->counters = kv->counters;
    finalize_l7(*rec);
    rec->end_ns = reason == EndReason::Idle && kv ? kv->last_ns : now_ns;
    rec->end_reason = reason;
    rec->flags |= reason == EndReason::Idle ? PL_FLOW_IDLE : PL_FLOW_CLOSED;
    report_end(*rec);
}

void Daemon::evicted(FlowRecord rec, uint64_t now_ns) {
    if (rec.key.is_udp()) {
        // Close it out here, or its kernel counters would linger until the idle sweep.
        auto kv = probes_->take_udp_flow(rec.key.k);
        if (!rec.start_reported) report_start(rec);
        if (kv) rec.counters = kv->counters;
        finalize_l7(rec);
        rec.end_ns = now_ns;
        rec.end_reason = EndReason::Evicted;
        report_end(rec);
    } else if (!rec.start_reported) {
        // TCP: its end still comes from the kernel, with the socket's identity.
        report_start(rec);
    }
}

void Daemon::report_start(FlowRecord &rec) {
    rec.start_reported = true;
    ++counters_.flows_started;
    // Before dissection, L7 fields are unknown rather than absent: an L7 rule may still match.
    publish("flow.start",
            with_verdict(flow_event(rec, FlowPhase::Start, ecs_), dpi_ && !rec.l7, &rec));
    if (rec.l7 && !rec.l7_reported) {
        rec.l7_reported = true;
        publish("flow.l7", with_verdict(flow_event(rec, FlowPhase::Classified, ecs_), false, &rec));
    }
}

void Daemon::report_end(FlowRecord &rec) {
    ++counters_.flows_ended;
    publish("flow.end", with_verdict(flow_event(rec, FlowPhase::End, ecs_), false));
    if (enforcer_ && rec.kernel_verdict) enforcer_->forget(rec.tuple);
}

Json Daemon::with_verdict(Json doc, bool l7_pending, FlowRecord *rec) {
    if (!rules_) return doc;
    const rules::Decision d = rules_->decide(rules::attrs_from_ecs(doc, l7_pending));
    const rules::RuleSet &set = rules_->set();
    Json v;
    switch (d.kind) {
    case rules::Decision::Kind::Rule: v["by"] = "rule"; break;
    case rules::Decision::Kind::Default: v["by"] = "default"; break;
    case rules::Decision::Kind::Pending: v["by"] = "pending"; break;
    }
    if (d.kind == rules::Decision::Kind::Pending)
        v["action"] = "pending";
    else
        v["action"] = rules::action_text(d.action);
    if (d.rule < set.rules.size()) {
        const rules::Rule &r = set.rules[d.rule];
        doc["rule"] = {{"name", r.name}, {"ruleset", "policer"}, {"reference", r.loc.str()}};
        if (!r.description.empty()) doc["rule"]["description"] = r.description;
    }
    v["audit"] = d.audit || set.audit_mode; // a pending verdict will be audit-only too
    v["enforced"] = enforcer_ != nullptr && !set.audit_mode;
    if (enforcer_ && rec && !rec->kernel_verdict && d.kind != rules::Decision::Kind::Pending &&
        !rec->end_ns) {
        FlowVerdict fv;
        fv.tuple = rec->tuple;
        fv.cookie = rec->key.k.cookie;
        fv.tcp = rec->tuple.proto == PL_IPPROTO_TCP;
        fv.decision = d;
        fv.decision.audit = d.audit || set.audit_mode;
        fv.tgid = rec->who.raw.tgid;
        fv.uid = rec->who.raw.uid;
        fv.cgroup_id = rec->who.raw.cgroup_id;
        if (auto done = enforcer_->apply(fv)) {
            rec->kernel_verdict = true;
            v["kernel"] = *done; // what the kernel now does to this live flow
        }
    }
    doc["policer"]["verdict"] = v;
    return doc;
}

// ---- kernel enforcement ----

std::vector<CgroupInfo> Daemon::list_cgroups() const {
    // Every cgroup there is now (bounded): later ones arrive as cgroup_mkdir events.
    std::vector<CgroupInfo> out;
    const std::string root = cgroups_.mount();
    std::vector<std::string> todo{""};
    constexpr size_t kMaxCgroups = 65536;
    while (!todo.empty() && out.size() < kMaxCgroups) {
        std::string rel = std::move(todo.back());
        todo.pop_back();
        std::string dir = root + rel;
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) continue;
        out.push_back({static_cast<uint64_t>(st.st_ino), rel.empty() ? "/" : rel});
        DIR *d = ::opendir(dir.c_str());
        if (!d) continue;
        while (dirent *e = ::readdir(d)) {
            if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
            todo.push_back(rel + "/" + e->d_name);
        }
        ::closedir(d);
    }
    return out;
}

std::vector<ExeInfo> Daemon::running_exes() const {
    // The images running now (readlink and stat only: never blocks on a process).
    std::vector<ExeInfo> out;
    for (uint32_t pid : proc_.list_pids()) {
        if (out.size() >= opts_.max_processes) break;
        auto snap = proc_.read(pid, false);
        if (snap && snap->exe_ino && !snap->exe.empty())
            out.push_back({snap->exe, snap->exe_dev, snap->exe_ino});
    }
    return out;
}

Status Daemon::start_enforcement(const std::vector<ExeInfo> &running) {
    if (auto st = enforcer_->install(rules_, list_cgroups(), running); !st) return st;
    domains_.set_listener([this](uint8_t family, const uint8_t *addr, const std::string &name) {
        enforcer_->on_domain(family, addr, name);
    });
    IfaceConfig ic{opts_.tc_ifaces, opts_.xdp_ifaces, opts_.veth_tc};
    const auto &k = enforcer_->kernel();
    auto ifaces = IfaceEnforcer::start(std::move(ic),
                                       {k.tc_prog_fd(true), k.tc_prog_fd(false), k.xdp_prog_fd()});
    if (!ifaces) return ifaces.error();
    ifaces_ = std::move(*ifaces);
    return watch_fd(ifaces_->fd(), "links");
}

Status Daemon::watch_fd(int fd, const char *what) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
        return Error::from_errno(std::string("epoll_ctl (") + what + ")");
    return Ok{};
}

void Daemon::reload_rules() {
    spdlog::info("SIGHUP: reading the rule files again");
    auto fail = [&](const std::string &why) {
        spdlog::error("rule reload refused, the rule set in force stays: {}", why);
        Json ev = agent_event("rules-reload-failed", "configuration", ecs_);
        ev["event"]["outcome"] = "failure";
        ev["error"] = {{"message", why}};
        publish("agent", ev);
    };
    std::vector<store::PolicyEntry> managed;
    if (db_) {
        auto current = store::PolicyStore(*db_).current();
        if (!current) return fail(current.error().message);
        managed = std::move(current->entries);
    }
    if (rule_mgr_.files().empty() && managed.empty())
        return fail("there are no rules: policerd was started without --rules and manages none");
    auto compiled = load_rule_set(rule_mgr_, managed);
    if (!compiled) return fail(compiled.error().message);
    if (auto st = use_rules(*compiled); !st) return fail(st.error().message);
    Json ev = agent_event("rules-reloaded", "configuration", ecs_);
    ev["event"]["outcome"] = "success";
    ev["policer"]["rules"] = {{"files", rules_->set().files},
                              {"rules", rules_->set().rules.size()},
                              {"mode", rules_->set().audit_mode ? "audit" : "enforce"},
                              {"enforced", enforcer_ && !rules_->set().audit_mode}};
    if (enforcer_) ev["policer"]["rules"]["generation"] = enforcer_->generation();
    publish("agent", ev);
}

int Daemon::on_enforce_record(void *ctx, void *data, size_t len) {
    auto *self = static_cast<Daemon *>(ctx);
    ++self->counters_.events;
    pl_deny_event e{};
    if (len != sizeof(e)) {
        ++self->counters_.invalid_events;
        return 0;
    }
    std::memcpy(&e, data, sizeof(e));
    if (e.hdr.type != PL_EV_DENY || e.hdr.size != sizeof(e)) {
        ++self->counters_.invalid_events;
        return 0;
    }
    self->on_refusal(e);
    return self->budget_left_ && --self->budget_left_ == 0 ? 1 : 0;
}

void Daemon::on_refusal(const pl_deny_event &e) {
    // The kernel refused (or, audited, would have refused) a connection before any flow
    // existed: reported with the identity the hook saw and the rule that decided.
    pl_ident id{};
    id.tgid = id.pid = e.tgid;
    id.uid = id.euid = e.uid;
    id.gid = e.gid;
    id.cgroup_id = e.cgroup_id;
    id.exe_dev = static_cast<uint32_t>(e.exe_dev);
    id.exe_ino = e.exe_ino;
    std::memcpy(id.comm, e.comm, sizeof(id.comm));
    if (auto *p = procs_.find_live(e.tgid)) id.start_ns = p->start_ns;
    FlowRecord rec;
    rec.tuple = e.tuple;
    rec.start_ns = e.hdr.ts_ns;
    rec.who = enricher_.resolve(id);
    rec.start_reported = true;
    Json doc = flow_event(rec, FlowPhase::Start, ecs_);
    doc["event"]["action"] = e.audit ? "connection-would-be-refused" : "connection-refused";
    doc["event"]["kind"] = e.audit ? "event" : "alert";
    doc["event"]["type"] = Json::array({"connection", "denied"});
    doc["event"]["outcome"] = e.audit ? "success" : "failure";
    static const char *hooks[] = {"",        "connect", "sendmsg", "ingress",
                                  "verdict", "limit",   "tc",      "xdp"};
    Json v = {{"by", e.rule == UINT32_MAX ? "default" : "rule"},
              {"audit", e.audit != 0},
              {"enforced", e.audit == 0},
              {"hook", e.hook < std::size(hooks) ? hooks[e.hook] : "unknown"},
              {"generation", e.generation}};
    static const char *actions[] = {"allow", "deny", "reject", "alert", "limit"};
    v["action"] = e.action < std::size(actions) ? actions[e.action] : "unknown";
    const rules::CompiledRules *rs = enforcer_ ? enforcer_->rules() : nullptr;
    if (rs && e.generation == enforcer_->generation() && e.rule < rs->set().rules.size()) {
        const rules::Rule &r = rs->set().rules[e.rule];
        doc["rule"] = {{"name", r.name}, {"ruleset", "policer"}, {"reference", r.loc.str()}};
        if (!r.description.empty()) doc["rule"]["description"] = r.description;
    }
    doc["policer"]["verdict"] = v;
    publish(e.audit ? "flow.verdict" : "alert", doc);
}

void Daemon::tick() {
    uint64_t now = clock_.now_boot_ns();

    for (const FlowKey &key : flows_.accept_deadlines_due(now)) {
        FlowRecord *rec = flows_.find(key);
        if (rec && !rec->start_reported) report_start(*rec); // accepted by no one we saw
    }

    if (dissector_) dissector_->expire(now, opts_.dissect_idle_s * kSec);
    if (now - last_name_retry_ns_ >= kSec) {
        last_name_retry_ns_ = now;
        if (enforcer_) enforcer_->retry_pending();
        if (control_) control_->tick();
    }

    uint64_t sweep_every = std::min<uint64_t>(5 * kSec, opts_.udp_idle_timeout_s * kSec / 2);
    if (now - last_sweep_ns_ >= std::max<uint64_t>(sweep_every, kSec / 2)) {
        last_sweep_ns_ = now;
        sweep_udp(now);
    }

    if (now - last_clock_refresh_ns_ >= 60 * kSec) {
        last_clock_refresh_ns_ = now;
        clock_.refresh();
    }

    if (opts_.stats_interval_s && now - last_stats_ns_ >= opts_.stats_interval_s * kSec) {
        last_stats_ns_ = now;
        publish("agent", stats_event("agent-stats"));
    }

    // Losses are never silent: a warning when the kernel reports new ones (at most every 10 s;
    // the counts are in every agent-stats).
    if (now - last_drop_warning_ns_ >= 10 * kSec || last_drop_warning_ns_ == 0) {
        if (enforcer_)
            if (auto c = enforcer_->kernel().counters()) {
                uint64_t errs = c->value[PL_ECNT_EVAL_ERRORS];
                if (errs > reported_eval_errors_) {
                    // Never expected: the kernel found its tables inconsistent and let the
                    // flow pass rather than guess.
                    spdlog::error("the kernel could not evaluate the rule tables {} time(s); "
                                  "those flows passed",
                                  errs - reported_eval_errors_);
                    reported_eval_errors_ = errs;
                }
                uint64_t lost = c->value[PL_ECNT_EVENT_DROPS];
                if (lost > reported_refusal_drops_) {
                    spdlog::warn("{} refusal report(s) lost (ring full); the refusals happened",
                                 lost - reported_refusal_drops_);
                    reported_refusal_drops_ = lost;
                }
            }
        if (auto c = probes_->counters()) {
            uint64_t drops = c->ringbuf_drops_total();
            if (drops > reported_drops_) {
                spdlog::warn("ring buffer full: {} events lost ({} in total); raise "
                             "--ringbuf-size or --samples-ringbuf-size",
                             drops - reported_drops_, drops);
                reported_drops_ = drops;
                last_drop_warning_ns_ = now;
            }
        }
    }
}

void Daemon::sweep_udp(uint64_t now) {
    auto all = probes_->udp_flows();
    if (!all) {
        spdlog::warn("UDP idle sweep: {}", all.error().message);
        return;
    }
    const uint64_t idle = opts_.udp_idle_timeout_s * kSec;
    std::unordered_set<FlowKey, FlowKeyHash> in_kernel;
    in_kernel.reserve(all->size());
    for (const auto &[key, value] : *all) {
        in_kernel.insert(FlowKey::udp(key));
        if (value.last_ns + idle > now) continue;
        // Taken atomically: a datagram that raced in after the snapshot is counted in this
        // flow, and the next one starts a new flow.
        end_udp_flow(FlowKey::udp(key), EndReason::Idle, now, probes_->take_udp_flow(key));
    }
    // Flows the daemon follows but the kernel no longer holds: its LRU table was full and
    // dropped them. Their last counters are gone; they end here, counted, not never.
    for (const FlowKey &key : flows_.udp_flows()) {
        if (in_kernel.count(key) || probes_->udp_flow(key.k)) continue; // batch reads can miss
        ++counters_.udp_lost;
        end_udp_flow(key, EndReason::Lost, now, std::nullopt);
    }
}

Json Daemon::stats_event(const char *action) {
    Json doc = agent_event(action, "metric", ecs_);
    Json pol;
    Json ring;
    ring["size_bytes"] = probes_->ringbuf_bytes();
    if (auto c = probes_->counters()) {
        ring["dropped"] = c->ringbuf_drops_total();
        Json by_type = Json::object();
        for (uint32_t t = 1; t < PL_EV_TYPE_MAX; ++t)
            if (const char *name = event_type_name(t)) by_type[name] = c->ringbuf_drops(t);
        ring["dropped_by_event"] = by_type;
        pol["kernel"] = {{"udp_parse_failures", c->value[PL_CNT_UDP_PARSE_FAIL]},
                         {"udp_flow_insert_failures", c->value[PL_CNT_UDP_FLOW_INSERT_FAIL]},
                         {"sockets_without_identity", c->value[PL_CNT_NO_SOCK_STATE]},
                         {"exe_paths_truncated", c->value[PL_CNT_EXE_TRUNCATED]},
                         {"accepts_not_tracked", c->value[PL_CNT_ACCEPT_MISS]},
                         {"samples_written", c->value[PL_CNT_SAMPLES]},
                         {"udp_datagrams_aggregated", c->value[PL_CNT_UDP_AGGREGATED]},
                         {"tcp_sample_parse_failures", c->value[PL_CNT_SAMPLE_PARSE_FAIL]}};
    }
    pol["ringbuf"] = ring;
    pol["events"] = {{"received", counters_.events}, {"invalid", counters_.invalid_events}};
    pol["flows"] = {{"active", flows_.size()},
                    {"capacity", flows_.capacity()},
                    {"started", counters_.flows_started},
                    {"ended", counters_.flows_ended},
                    {"evicted", flows_.evictions()},
                    {"ends_without_start", counters_.flow_ends_without_start},
                    {"udp_lost_by_kernel_table", counters_.udp_lost},
                    {"udp_replaced", counters_.udp_replaced},
                    {"accepts_without_flow", counters_.accepts_without_flow}};
    Json l7 = {{"samples", counters_.samples},
               {"invalid_samples", counters_.invalid_samples},
               {"domains_known", domains_.size()}};
    if (dissector_) {
        const auto &ds = dissector_->stats();
        l7["flows_dissecting"] = dissector_->size();
        l7["flows_dissected"] = ds.flows;
        l7["classified"] = ds.classified;
        l7["evicted"] = ds.evicted;
        l7["malformed_samples"] = ds.malformed;
        l7["dns_responses"] = ds.dns_responses;
    }
    pol["l7"] = l7;
    auto ps = procs_.stats();
    pol["processes"] = {{"live", ps.live},
                        {"exited_remembered", ps.exited},
                        {"evicted", ps.live_evictions + ps.exited_evictions}};
    if (enforcer_)
        if (auto c = enforcer_->kernel().counters()) {
            const auto &v = c->value;
            pol["enforcement"] = {{"generation", enforcer_->generation()},
                                  {"decisions", v[PL_ECNT_DECISIONS]},
                                  {"connect_refused", v[PL_ECNT_CONNECT_DENIED]},
                                  {"sendmsg_refused", v[PL_ECNT_SENDMSG_DENIED]},
                                  {"inbound_dropped", v[PL_ECNT_INGRESS_DENIED]},
                                  {"verdict_packets_dropped", v[PL_ECNT_VERDICT_DROPS]},
                                  {"limit_dropped", v[PL_ECNT_LIMIT_DROPS]},
                                  {"audit_would_refuse", v[PL_ECNT_AUDIT_WOULD_DENY]},
                                  {"deferred_to_policerd", v[PL_ECNT_DEFERRED]},
                                  {"evaluation_errors", v[PL_ECNT_EVAL_ERRORS]},
                                  {"refusal_reports_lost", v[PL_ECNT_EVENT_DROPS]},
                                  {"tc_dropped", v[PL_ECNT_TC_DROPS]},
                                  {"tc_resets", v[PL_ECNT_TC_RESETS]},
                                  {"xdp_dropped", v[PL_ECNT_XDP_DROPS]}};
            if (ifaces_) {
                const auto &ic = ifaces_->counters();
                pol["enforcement"]["interfaces"] = ifaces_->status();
                pol["enforcement"]["interface_attachments"] = ic.attached;
                pol["enforcement"]["interface_attach_errors"] = ic.attach_errors;
                pol["enforcement"]["interface_resyncs"] = ic.links_resynced;
            }
        }
    if (zmq_) pol["zmq"] = zmq_->stats(); // the stream's drops, by topic
    doc["policer"] = pol;
    return doc;
}

void Daemon::publish(std::string_view topic, const Json &doc) {
    for (auto &s : sinks_)
        s->publish(topic, doc);
    store_event(topic, doc);
    if (control_ && control_->has_followers()) control_->broadcast(std::string(topic), doc);
}

void Daemon::flush() {
    for (auto &s : sinks_)
        s->flush();
}

} // namespace policer::daemon
