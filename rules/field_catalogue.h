// field_catalogue.h - every field a rule can test, declared once: its name, type, the tier at
// which it can be enforced (and why), where to find it in a policer event (ECS path), and its
// documentation. The parser, the type checker, the compiler, `policer rule explain`,
// `policer fields` and docs/rules.md all read this table; no field list is written twice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace policer::rules {

enum class FieldType {
    String,    // text; ==, !=, in, not in, glob, not glob
    Number,    // unsigned 32-bit; ==, !=, in, not in; ranges such as 1000-1999
    Port,      // 0-65535; as Number
    Address,   // IPv4 or IPv6; ==, !=, in, not in with addresses and CIDR prefixes
    Enum,      // one of a fixed set of words; ==, !=, in, not in
    StringSet, // a set of texts (nDPI risks); == x: contains x; in (...): contains any
};

// Where a predicate can be decided (DESIGN.md: decide as early as the facts allow).
enum class Tier : uint8_t {
    Kernel = 1,    // at connect/bind/first packet, in the kernel, from compiled tables
    UserSpace = 2, // microseconds later, in policerd, when the flow is reported
    L7 = 3,        // after nDPI has dissected the flow's first payload packets
};

// How the kernel matches a tier-1 field (the table it is compiled into).
enum class KernelMatch {
    None,
    Class, // direction, protocol and IP family, folded into one small key
    Uid,   // the socket owner's uid (user.name is resolved to uids ahead of time)
    Gid,
    SrcPort,
    DstPort,
    SrcAddr,
    DstAddr,
    Domain, // addresses learned from DNS answers for the names the rule matches
    Comm,   // the process name the kernel keeps (16 bytes)
    Exe,    // executable identity (device, inode) from the kernel's process map
    Cgroup, // cgroup ids the daemon resolves from paths, container ids, names, runtimes
    Iface,  // interface index, at TC
};

struct FieldDef {
    const char *name; // as written in rules: "user.name"
    FieldType type;
    Tier tier;                        // for ==, !=, in, not in
    Tier glob_tier;                   // for glob, not glob (String fields)
    KernelMatch kernel;               // how tier 1 matches it (None above tier 1)
    const char *ecs;                  // where a policer event carries it: "user.name"
    const char *doc;                  // one line for `policer fields` and the docs
    const char *tier_reason;          // why it is enforced at its tier
    std::vector<const char *> values; // Enum: the allowed words
};

const std::vector<FieldDef> &field_catalogue();
const FieldDef *find_field(std::string_view name);
std::vector<std::string> field_names();

// Why a predicate on `f` is decided at its tier (a pattern may move a field to a later tier).
const char *tier_reason(const FieldDef &f, bool glob);

const char *type_name(FieldType t);
const char *tier_name(Tier t); // "kernel", "user space", "L7"

} // namespace policer::rules
