// enforcer.h - policerd's side of kernel enforcement: compiles a rule set into kernel tables,
// resolves their symbolic sets on this host (user and group names, executables, cgroups and
// containers, domains, interfaces) and keeps them current as the host changes, installs
// generations atomically, and pushes tier 2/3 verdicts of live flows into the kernel (dropping
// their packets, and resetting TCP flows).
#pragma once

#include "common/result.h"
#include "enrich/container_names.h"
#include "policer/sock_destroy.h"
#include "probes/enforce_set.h"
#include "rules/compiler.h"
#include "rules/kernel_tables.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace policer::daemon {

// What the host can tell about a cgroup, for container and cgroup rules.
struct CgroupInfo {
    uint64_t id = 0;
    std::string path; // relative to the cgroup v2 root
};

// A process image seen running (for process.exe rules with patterns).
struct ExeInfo {
    std::string path;
    uint64_t dev = 0; // kernel encoding (MKDEV: major << 20 | minor)
    uint64_t ino = 0;
};

// A tier 2/3 decision to push into the kernel for one live flow.
struct FlowVerdict {
    pl_tuple tuple{}; // initiator -> responder
    uint64_t cookie = 0;
    bool tcp = true;
    rules::Decision decision;
    uint32_t tgid = 0, uid = 0;
    uint64_t cgroup_id = 0;
};

class Enforcer {
public:
    static Result<std::unique_ptr<Enforcer>> open(const probes::EnforceOptions &opts);

    // Compiles `rules` into kernel tables for the next generation, resolves their symbolic sets
    // from the host (`cgroups`, `exes`) and installs them in one switch. On error the rule set
    // in force stays in force.
    // `carry`: names resolved for the tables in force that the new ones keep (a reinstall of the
    // same rules for room; addresses learned from DNS are replayed by the caller otherwise).
    Status install(std::shared_ptr<const rules::CompiledRules> rules,
                   const std::vector<CgroupInfo> &cgroups, const std::vector<ExeInfo> &exes,
                   const std::vector<rules::NameEntry> *carry = nullptr);

    // Host changes that resolve symbolic values of the tables in force.
    void on_cgroup(const CgroupInfo &c);
    void on_exec(const ExeInfo &e);
    void on_domain(uint8_t family, const uint8_t *addr, const std::string &name);
    // Containers whose runtime had not written their name yet: tried again (call every second).
    void retry_pending();

    // Pushes a user-space decision of a live flow into the kernel. Returns what was done
    // ("dropped", "reset", "limited") or nothing when the kernel had nothing to do.
    std::optional<std::string> apply(const FlowVerdict &v);
    // The flow `t` that apply() refused or limited has ended.
    void forget(const pl_tuple &t);

    probes::EnforceSet &kernel() { return *set_; }
    const probes::EnforceSet &kernel() const { return *set_; }
    uint32_t generation() const { return set_->installed().generation; }
    // Source prefixes in the XDP blocklist (derived from the rules at install).
    size_t blocklist_size() const { return blocklist_size_; }
    const rules::CompiledRules *rules() const { return rules_.get(); }

private:
    explicit Enforcer(std::unique_ptr<probes::EnforceSet> set);
    // Adds the entry when its value decides anything (its ref differs from the "missing" one).
    void stage(std::vector<rules::NameEntry> &out, const pl_rule_name_key &key,
               const pl_rule_ref &ref) const;
    void resolve_accounts(std::vector<rules::NameEntry> &out);
    void resolve_cgroup(std::vector<rules::NameEntry> &out, const CgroupInfo &c);
    void resolve_exe(std::vector<rules::NameEntry> &out, const ExeInfo &e);
    void resolve_ifaces(std::vector<rules::NameEntry> &out);
    void push(std::vector<rules::NameEntry> entries);
    static std::array<pl_tuple_key, 2> tuple_keys(const pl_tuple &t);
    bool uses(pl_rule_field slot) const;

    std::unique_ptr<probes::EnforceSet> set_;
    std::shared_ptr<const rules::CompiledRules> rules_;
    std::optional<rules::KernelTables> tables_;
    std::unordered_set<std::string> exes_seen_; // dev:ino already resolved for these tables
    std::optional<SockDestroyer> destroyer_;    // resets TCP flows cut by a user-space verdict
    std::vector<CgroupInfo> pending_names_;     // containers with no name yet (bounded)
    enrich::ContainerNames container_names_{enrich::ContainerNames::Roots{}, 4096};
    uint64_t push_errors_ = 0;
    size_t blocklist_size_ = 0;
};

} // namespace policer::daemon
