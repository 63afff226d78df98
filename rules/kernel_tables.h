// kernel_tables.h - the tier-1 part of a compiled rule set, in the layout the kernel evaluates
// (probes/probe_abi.h, "Rule tables"), the symbolic sets policerd resolves into it, and the
// kernel's evaluation written out in C++.
//
// Static tables come straight from the compiler: the class table (direction, protocol,
// family), the range tables (uid, gid, ports, addresses; the compiler's elementary intervals
// cut into LPM prefixes) and the process names. Names only policerd can turn into kernel keys
// are symbolic sets: user and group names (to uids and gids), executable paths (to device and
// inode), cgroup paths and containers (to cgroup ids), domains (to the addresses DNS answers
// gave), interfaces (to indexes). The daemon resolves them as the host changes and writes one
// name entry per key with the ref this class computes for the resolved value.
//
// decide() is the algorithm the BPF program runs, over the same tables. It never contradicts
// decide_reference() at Tier::Kernel: it gives the same verdict, or defers to user space
// where the reference also has to wait, or where a rule's condition was too large for normal
// form (the compiler evaluates those whole; the kernel cannot).
#pragma once

#include "probes/probe_abi.h"
#include "rules/compiler.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace policer::rules {

struct RangeEntry {
    pl_rule_range_key key;
    pl_rule_ref ref;
};

struct NameEntry {
    pl_rule_name_key key;
    pl_rule_ref ref;
};

// What rules name on one symbolic field, so that policerd knows what to resolve.
struct SymbolicSet {
    pl_rule_field slot;
    const FieldDef *field;
    std::vector<std::string> values;   // exact values rules compare with
    std::vector<std::string> patterns; // glob patterns decided in the kernel
};

// What a BPF program knows about a flow at its hook.
struct KernelFacts {
    bool ingress = false, udp = false, ipv6 = false;
    // IPv4 in the first 4 bytes; an IPv4-mapped IPv6 address is given as IPv4 (ipv6 false).
    std::array<uint8_t, 16> saddr{}, daddr{};
    uint16_t sport = 0, dport = 0;
    // At connect() an unbound socket has no source address or port yet: those fields (and
    // src.domain) are unknown to the hook.
    bool src_known = true;
    uint32_t uid = 0, gid = 0;
    char comm[PL_COMM_LEN] = {};
    bool exe_known = true; // the process map had the task's executable
    uint64_t exe_dev = 0, exe_ino = 0;
    uint64_t cgroup_id = 0;
    bool iface_known = false; // only at TC
    uint32_t ifindex = 0;
};

struct KernelDecision {
    enum class Kind {
        Rule,    // rule `rule` decided: apply `action`
        Default, // no rule can match: the default for the direction
        Defer,   // rule `rule` may match but needs what only user space knows: pass for now
    };
    Kind kind = Kind::Default;
    uint32_t rule = UINT32_MAX;
    pl_rule_action action{};
};

class KernelTables {
public:
    // Fails (nullopt, `error` set) when the set has more terms than the kernel's bitmaps hold.
    static std::optional<KernelTables> build(std::shared_ptr<const CompiledRules> rules,
                                             uint32_t generation, std::string &error);

    const pl_rule_header &header() const { return header_; }
    const std::vector<std::vector<uint64_t>> &bitmaps() const { return bitmaps_; } // by id
    const std::array<pl_rule_ref, PL_RULE_CLASSES> &classes() const { return classes_; }
    const std::vector<pl_rule_term> &terms() const { return terms_; }
    const std::vector<pl_rule_action> &actions() const { return actions_; }
    const std::vector<RangeEntry> &ranges() const { return ranges_; }
    const std::vector<NameEntry> &names() const { return names_; } // static and added
    const std::vector<SymbolicSet> &symbolic() const { return symbolic_; }
    size_t bitmap_bytes() const { return bitmaps_.size() * header_.words * 8; }

    // The ref of one resolved value of a symbolic slot. New bitmaps it needs are appended to
    // bitmaps() (the daemon writes them before the entry that uses them).
    pl_rule_ref ref_user_name(const std::optional<std::string> &name);
    pl_rule_ref ref_group_name(const std::optional<std::string> &name);
    pl_rule_ref ref_exe(const std::string &path);
    pl_rule_ref ref_domain(pl_rule_field slot, const std::optional<std::string> &name);
    pl_rule_ref ref_iface(const std::string &name);
    // A cgroup: its path (relative to the cgroup root, "/system.slice/x.service") and, when it
    // belongs to a container, the container's id, name and runtime (each may be unknown yet).
    struct CgroupFacts {
        std::string path;
        Attr container_id, container_name, container_runtime; // Known, Absent or Unknown
    };
    pl_rule_ref ref_cgroup(const CgroupFacts &c);

    // Adds or replaces a name entry, as the daemon's map update does.
    void put_name(const NameEntry &e);
    // Whether `e` is there with that very ref already (writing it again would change nothing).
    bool holds(const NameEntry &e) const;

    static pl_rule_name_key key_id(pl_rule_field slot, uint32_t id); // uid, gid, ifindex
    static pl_rule_name_key key_exe(uint64_t dev, uint64_t ino);
    static pl_rule_name_key key_cgroup(uint64_t cgroup_id);
    static pl_rule_name_key key_comm(const char *comm);
    static pl_rule_name_key key_domain(pl_rule_field slot, bool ipv6, const uint8_t *addr);

    // The kernel's evaluation.
    KernelDecision decide(const KernelFacts &f) const;

private:
    KernelTables() = default;
    uint32_t intern(const Bitmap &b);
    pl_rule_ref ref_for(const std::vector<std::pair<const FieldDef *, Attr>> &values);
    pl_rule_ref ref_text(const char *field_name, const std::optional<std::string> &v);
    pl_rule_ref ref_lpm(pl_rule_field slot, const uint8_t *data, unsigned bits) const;
    pl_rule_ref ref_name(pl_rule_field slot, const pl_rule_name_key &k) const;
    void add_ranges(const FieldIndex &ix, int family, pl_rule_field slot);

    std::shared_ptr<const CompiledRules> rules_;
    pl_rule_header header_{};
    std::vector<std::vector<uint64_t>> bitmaps_;
    std::unordered_map<std::string, uint32_t> bitmap_ids_; // words as bytes -> id
    std::array<pl_rule_ref, PL_RULE_CLASSES> classes_{};
    std::vector<pl_rule_term> terms_;
    std::vector<pl_rule_action> actions_;
    std::vector<RangeEntry> ranges_;
    std::vector<NameEntry> names_;
    std::unordered_map<std::string, size_t> name_index_; // key bytes -> names_ index
    std::unordered_map<std::string, pl_rule_ref> lpm_;   // (prefixlen, key) bytes -> ref
    std::vector<SymbolicSet> symbolic_;
    // Kernel-tier literals by catalogue field: (term, literal).
    std::vector<std::vector<std::pair<size_t, const Predicate *>>> literals_by_field_;
};

// An action as the kernel tables hold it (audit: the rule's or the set's).
pl_rule_action kernel_action(const Action &a, bool audit, uint32_t rule);

// The slot a catalogue field is looked up in (PL_RF_COUNT: not a kernel field).
pl_rule_field kernel_slot(const FieldDef &f, bool ipv6 = false);
const char *kernel_slot_name(pl_rule_field slot);

} // namespace policer::rules
