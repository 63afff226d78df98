// enforcer.cpp - see enforcer.h.
#include "policer/enforcer.h"

#include "enrich/container.h"
#include "enrich/proc_reader.h"
#include "rules/blocklist.h"

#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace policer::daemon {
namespace {

// Bounds on what is read from the account databases (a directory service can be huge).
constexpr size_t kMaxAccounts = 65536;

rules::Attr known_text(const std::string &s) {
    rules::Attr a;
    a.state = rules::AttrState::Known;
    a.str = s;
    return a;
}

rules::Attr attr_of(rules::AttrState state) {
    rules::Attr a;
    a.state = state;
    return a;
}

} // namespace

Enforcer::Enforcer(std::unique_ptr<probes::EnforceSet> set) : set_(std::move(set)) {}

Result<std::unique_ptr<Enforcer>> Enforcer::open(const probes::EnforceOptions &opts) {
    auto set = probes::EnforceSet::open(opts);
    if (!set) return set.error();
    std::unique_ptr<Enforcer> e(new Enforcer(std::move(*set)));
    if (auto d = SockDestroyer::open())
        e->destroyer_.emplace(std::move(*d));
    else
        spdlog::warn("TCP flows cut by an L7 verdict will be dropped but not reset: {}",
                     d.error().message);
    return e;
}

bool Enforcer::uses(pl_rule_field slot) const {
    if (!tables_) return false;
    for (const auto &s : tables_->symbolic())
        if (s.slot == slot) return true;
    return false;
}

void Enforcer::stage(std::vector<rules::NameEntry> &out, const pl_rule_name_key &key,
                     const pl_rule_ref &ref) const {
    const pl_rule_ref &missing = tables_->header().missing[key.field];
    if (ref.match == missing.match && ref.inexact == missing.inexact) return;
    out.push_back({key, ref});
}

void Enforcer::resolve_accounts(std::vector<rules::NameEntry> &out) {
    if (uses(PL_RF_USER_NAME)) {
        setpwent();
        size_t n = 0;
        while (passwd *pw = getpwent()) {
            if (++n > kMaxAccounts) break;
            stage(out, rules::KernelTables::key_id(PL_RF_USER_NAME, pw->pw_uid),
                  tables_->ref_user_name(std::string(pw->pw_name)));
        }
        endpwent();
    }
    if (uses(PL_RF_GROUP_NAME)) {
        setgrent();
        size_t n = 0;
        while (group *gr = getgrent()) {
            if (++n > kMaxAccounts) break;
            stage(out, rules::KernelTables::key_id(PL_RF_GROUP_NAME, gr->gr_gid),
                  tables_->ref_group_name(std::string(gr->gr_name)));
        }
        endgrent();
    }
}

void Enforcer::resolve_cgroup(std::vector<rules::NameEntry> &out, const CgroupInfo &c) {
    if (!uses(PL_RF_CGROUP) || c.id == 0) return;
    rules::KernelTables::CgroupFacts f;
    f.path = c.path;
    enrich::CgroupIdentity who = enrich::parse_cgroup_path(c.path);
    if (who.container) {
        f.container_id = known_text(who.container->id);
        f.container_runtime = known_text(who.container->runtime);
        // The runtime's own record names it; until it is written the name is unknown (rules
        // on it defer to policerd rather than guess).
        timespec ts{};
        clock_gettime(CLOCK_BOOTTIME, &ts);
        auto name =
            container_names_.name(*who.container, uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec);
        f.container_name = name ? known_text(*name) : attr_of(rules::AttrState::Unknown);
        if (!name && pending_names_.size() < 4096) pending_names_.push_back(c);
    } else {
        f.container_id = f.container_name = f.container_runtime = attr_of(rules::AttrState::Absent);
    }
    stage(out, rules::KernelTables::key_cgroup(c.id), tables_->ref_cgroup(f));
}

void Enforcer::resolve_exe(std::vector<rules::NameEntry> &out, const ExeInfo &e) {
    if (!uses(PL_RF_EXE) || e.path.empty() || e.ino == 0) return;
    std::string id = std::to_string(e.dev) + ":" + std::to_string(e.ino);
    if (!exes_seen_.insert(id).second) return;
    stage(out, rules::KernelTables::key_exe(e.dev, e.ino), tables_->ref_exe(e.path));
}

void Enforcer::resolve_ifaces(std::vector<rules::NameEntry> &out) {
    if (!uses(PL_RF_IFACE)) return;
    if (struct if_nameindex *ifs = if_nameindex()) {
        for (struct if_nameindex *i = ifs; i->if_index != 0; ++i)
            stage(out, rules::KernelTables::key_id(PL_RF_IFACE, i->if_index),
                  tables_->ref_iface(i->if_name));
        if_freenameindex(ifs);
    }
}

Status Enforcer::install(std::shared_ptr<const rules::CompiledRules> rules,
                         const std::vector<CgroupInfo> &cgroups, const std::vector<ExeInfo> &exes,
                         const std::vector<rules::NameEntry> *carry) {
    std::string err;
    auto tables = rules::KernelTables::build(rules, set_->next_generation(), err);
    if (!tables) return Error{"the rule set cannot be enforced in the kernel: " + err};

    // Resolve into the new tables before they are installed: a rule naming a user, executable
    // or container holds from the first decision of its generation.
    std::swap(tables_, tables);
    auto saved_seen = std::move(exes_seen_);
    exes_seen_.clear();
    std::vector<rules::NameEntry> entries;
    resolve_accounts(entries);
    for (const auto &c : cgroups)
        resolve_cgroup(entries, c);
    for (const auto &e : exes)
        resolve_exe(entries, e);
    if (uses(PL_RF_EXE)) {
        // Executables named exactly are resolved from the file system too (not yet run).
        for (const auto &s : tables_->symbolic()) {
            if (s.slot != PL_RF_EXE) continue;
            for (const auto &path : s.values) {
                struct stat st {};
                if (::stat(path.c_str(), &st) == 0)
                    resolve_exe(entries, {path, enrich::kernel_dev(st.st_dev),
                                          static_cast<uint64_t>(st.st_ino)});
            }
        }
    }
    resolve_ifaces(entries);
    if (carry) entries.insert(entries.end(), carry->begin(), carry->end());
    for (const auto &e : entries)
        tables_->put_name(e);

    if (auto st = set_->install(*tables_); !st) {
        std::swap(tables_, tables); // the previous tables stay in force
        exes_seen_ = std::move(saved_seen);
        return st.error();
    }
    rules_ = std::move(rules);
    // Sources every flow from (and to) is refused: XDP drops them before the stack.
    std::vector<pl_blocklist_key> block;
    for (const auto &p : rules::xdp_blocklist(*rules_).prefixes) {
        pl_blocklist_key k{};
        k.family = static_cast<uint8_t>(p.family);
        k.prefixlen = 8 + p.bits;
        std::memcpy(k.addr, p.addr.data(), 16);
        block.push_back(k);
    }
    if (auto st = set_->set_blocklist(block); !st)
        spdlog::warn("{}", st.error().message);
    else
        blocklist_size_ = block.size();
    spdlog::info("rule tables generation {} enforced: {} terms, {} bitmaps, {} resolved names, "
                 "{} XDP blocklist prefixes",
                 set_->installed().generation, set_->installed().terms, set_->installed().bitmaps,
                 entries.size(), block.size());
    return Ok{};
}

void Enforcer::push(std::vector<rules::NameEntry> entries) {
    // Repeats (the same DNS answer again, a cgroup seen twice) would only use up the bank.
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const rules::NameEntry &e) { return tables_->holds(e); }),
                  entries.end());
    if (entries.empty()) return;
    for (const auto &e : entries)
        tables_->put_name(e);
    if (auto st = set_->put_names(*tables_, entries); !st) {
        // The bank is full of resolved values: reinstalling sizes a fresh one.
        if (push_errors_++ == 0)
            spdlog::warn("{}; reinstalling the rule tables", st.error().message);
        // The same rules, so every name resolved so far (cgroups, executables, addresses from
        // DNS, and the entries of this push) keeps its meaning in the new tables.
        std::vector<rules::NameEntry> carried = tables_->names();
        std::vector<CgroupInfo> none;
        if (rules_)
            if (auto again = install(rules_, none, {}, &carried); !again)
                spdlog::error("cannot reinstall the rule tables: {}", again.error().message);
    }
}

void Enforcer::on_cgroup(const CgroupInfo &c) {
    if (!tables_) return;
    std::vector<rules::NameEntry> entries;
    resolve_cgroup(entries, c);
    push(std::move(entries));
}

void Enforcer::retry_pending() {
    if (!tables_ || pending_names_.empty()) return;
    std::vector<CgroupInfo> todo;
    todo.swap(pending_names_);
    std::vector<rules::NameEntry> entries;
    for (const auto &c : todo)
        resolve_cgroup(entries, c); // still unnamed ones go back on the list
    push(std::move(entries));
}

void Enforcer::on_exec(const ExeInfo &e) {
    if (!tables_) return;
    std::vector<rules::NameEntry> entries;
    resolve_exe(entries, e);
    push(std::move(entries));
}

void Enforcer::on_domain(uint8_t family, const uint8_t *addr, const std::string &name) {
    if (!tables_) return;
    std::vector<rules::NameEntry> entries;
    for (pl_rule_field slot : {PL_RF_DST_DOMAIN, PL_RF_SRC_DOMAIN}) {
        if (!uses(slot)) continue;
        stage(entries, rules::KernelTables::key_domain(slot, family == PL_AF_INET6, addr),
              tables_->ref_domain(slot, name));
    }
    push(std::move(entries));
}

std::array<pl_tuple_key, 2> Enforcer::tuple_keys(const pl_tuple &t) {
    // TC and XDP see a flow by its addresses, keyed as the peer's packets carry it (one key for
    // both directions on an uplink). On a container's veth the peer is the container itself:
    // its packets come in at the host side's ingress with the local end as source, so the
    // reversed key covers that view.
    const bool egress = t.direction != PL_DIR_INGRESS;
    pl_tuple_key tk{};
    std::memcpy(tk.saddr, egress ? t.daddr : t.saddr, 16);
    std::memcpy(tk.daddr, egress ? t.saddr : t.daddr, 16);
    tk.sport = egress ? t.dport : t.sport;
    tk.dport = egress ? t.sport : t.dport;
    tk.family = t.family;
    tk.proto = t.proto;
    pl_tuple_key rk = tk;
    std::memcpy(rk.saddr, tk.daddr, 16);
    std::memcpy(rk.daddr, tk.saddr, 16);
    rk.sport = tk.dport;
    rk.dport = tk.sport;
    return {tk, rk};
}

void Enforcer::forget(const pl_tuple &t) {
    // A later flow reusing the 5-tuple must not inherit the verdict. (Socket-keyed verdicts
    // need no clearing: a cookie is never reused, and the LRU map ages them out.)
    for (const pl_tuple_key &k : tuple_keys(t))
        set_->clear_tuple_verdict(k);
}

std::optional<std::string> Enforcer::apply(const FlowVerdict &fv) {
    const rules::Decision &d = fv.decision;
    if (d.kind != rules::Decision::Kind::Rule && d.kind != rules::Decision::Kind::Default)
        return std::nullopt;
    const bool refuses =
        d.action.kind == rules::ActionKind::Deny || d.action.kind == rules::ActionKind::Reject;
    const bool limits = d.action.kind == rules::ActionKind::Limit;
    if ((!refuses && !limits) || d.audit) return std::nullopt;

    pl_flow_verdict v{};
    pl_rule_action a = rules::kernel_action(d.action, false, static_cast<uint32_t>(d.rule));
    v.action = a.kind;
    v.audit = 0;
    v.origin = PL_VO_DAEMON;
    v.per = a.per;
    v.rule = d.rule == SIZE_MAX ? UINT32_MAX : static_cast<uint32_t>(d.rule);
    v.generation = generation();
    v.rate = a.rate;
    v.burst = a.burst;
    v.limit_id = a.per == PL_RL_USER ? fv.uid : a.per == PL_RL_CGROUP ? fv.cgroup_id : fv.tgid;

    const pl_tuple &t = fv.tuple;
    const bool egress = t.direction != PL_DIR_INGRESS;
    // A TCP flow cut mid-stream is reset first (its RST must leave before the verdict drops the
    // flow's packets): its process gets an error and its peer a RST, instead of both waiting on a
    // connection that can carry nothing. Sockets in other network namespaces are not reachable
    // this way; their packets are dropped.
    std::string done = limits ? "limited" : "dropped";
    if (fv.tcp && !limits && destroyer_) {
        SocketId id;
        id.family = t.family;
        std::memcpy(id.local_addr.data(), egress ? t.saddr : t.daddr, 16);
        std::memcpy(id.remote_addr.data(), egress ? t.daddr : t.saddr, 16);
        id.local_port = egress ? t.sport : t.dport;
        id.remote_port = egress ? t.dport : t.sport;
        id.cookie = fv.cookie;
        auto r = destroyer_->destroy_tcp(id);
        if (!r)
            spdlog::warn("cannot reset a refused TCP flow: {}", r.error().message);
        else if (*r == DestroyOutcome::Destroyed)
            done = "dropped and reset";
    }
    pl_flow_key key{};
    key.cookie = fv.cookie;
    if (!fv.tcp) {
        key.family = t.family;
        std::memcpy(key.raddr, egress ? t.daddr : t.saddr, 16);
        key.rport = egress ? t.dport : t.sport;
        pl_flow_key mark{};
        mark.cookie = fv.cookie;
        pl_flow_verdict m{};
        m.origin = PL_VO_MARK;
        if (auto st = set_->set_flow_verdict(mark, m); !st) spdlog::warn("{}", st.error().message);
    }
    if (auto st = set_->set_flow_verdict(key, v); !st) {
        spdlog::warn("{}", st.error().message);
        return std::nullopt;
    }
    // Refusals also by 5-tuple, for TC and XDP. Not limits: the socket's own hooks already
    // charge its packets to the bucket, and TC charging them again would halve the rate.
    if (!limits)
        for (const pl_tuple_key &k : tuple_keys(t))
            if (auto st = set_->set_tuple_verdict(k, v); !st)
                spdlog::warn("{}", st.error().message);
    return done;
}

} // namespace policer::daemon
