// enforce_set.h - the C++ owner of the enforcement object (policer_enforce): the only code that
// touches its skeleton. It loads the programs, pins maps and links under bpffs so that
// enforcement outlives policerd, adopts what an earlier policerd pinned (replacing each program
// atomically, so no packet passes unjudged during a restart), and writes rule tables into the
// bank not in use before switching generations in one store.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "probes/probe_abi.h"
#include "probes/probe_set.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct policer_enforce;
struct bpf_link;

namespace policer::rules {
class KernelTables;
struct NameEntry;
} // namespace policer::rules

namespace policer::probes {

struct EnforceOptions {
    std::string pin_dir;     // e.g. /sys/fs/bpf/policer: maps/ and links/ below it
    std::string cgroup_root; // cgroup v2 directory the socket hooks attach to
    std::string btf_path;    // "" = the running kernel's BTF
    uint32_t max_flow_verdicts = 65536;
    uint32_t max_tuple_verdicts = 65536;
    uint32_t max_limit_buckets = 16384;
    uint32_t events_bytes = 1u << 20; // refusal reports (power of two)
};

struct EnforceCounters {
    std::array<uint64_t, PL_ECNT_MAX> value{};
};

// What install() wrote, for status output.
struct InstalledTables {
    uint32_t generation = 0;
    uint32_t bitmaps = 0, bitmap_capacity = 0;
    uint32_t names = 0, name_capacity = 0;
    uint32_t ranges = 0, terms = 0, rules = 0;
};

class EnforceSet {
public:
    // Loads the programs and attaches them to the cgroup root. When `pin_dir` holds the state of
    // an earlier policerd, its maps are reused (the tables in force stay in force) and each of
    // its links is switched to the new program in one step.
    static Result<std::unique_ptr<EnforceSet>> open(const EnforceOptions &opts);
    ~EnforceSet();
    EnforceSet(const EnforceSet &) = delete;
    EnforceSet &operator=(const EnforceSet &) = delete;

    // Detaches every pinned program (socket hooks, and TC/XDP on every interface) and removes
    // the pins: the host is no longer enforced. Safe when nothing is pinned.
    static Status remove(const std::string &pin_dir);

    bool adopted() const { return adopted_; }
    // Generation in force (0: none). After adoption, the one the earlier policerd installed.
    uint32_t generation() const;
    const std::vector<Hook> &hooks() const { return hooks_; }
    // How full the hash maps are (policer status).
    std::vector<MapFill> map_fill() const;

    // Writes `t` into the bank not in force, then makes it the one in force. On error nothing
    // changes in the kernel's decisions. `t.header().generation` must be generation() + 1 or
    // more (see next_generation()).
    Status install(const rules::KernelTables &t);
    uint32_t next_generation() const;
    const InstalledTables &installed() const { return installed_; }

    // Symbolic-set entries resolved after install(), into the tables in force: bitmaps new in
    // `t` first, then the entries. Fails (changing nothing) when the bank has no room left:
    // install() the tables again then.
    Status put_names(const rules::KernelTables &t, const std::vector<rules::NameEntry> &entries);

    // Tier 2/3 verdicts of flows of local sockets (origin PL_VO_DAEMON).
    Status set_flow_verdict(const pl_flow_key &key, const pl_flow_verdict &v);
    void clear_flow_verdict(const pl_flow_key &key);
    std::optional<pl_flow_verdict> flow_verdict(const pl_flow_key &key) const;
    // By 5-tuple, for TC and XDP (key: as the peer's packets carry it).
    Status set_tuple_verdict(const pl_tuple_key &key, const pl_flow_verdict &v);
    void clear_tuple_verdict(const pl_tuple_key &key);
    // XDP source blocklist: replaces the whole list.
    Status set_blocklist(const std::vector<pl_blocklist_key> &prefixes);

    Result<EnforceCounters> counters() const;
    int events_fd() const;
    // The interface programs, for probes/iface_attach (attached per interface by the daemon;
    // a TC filter or XDP attachment holds its program, so they outlive policerd too).
    int tc_prog_fd(bool ingress) const;
    int xdp_prog_fd() const;

private:
    struct SkelDeleter {
        void operator()(policer_enforce *s) const;
    };
    using Skel = std::unique_ptr<policer_enforce, SkelDeleter>;
    struct LinkDeleter {
        void operator()(bpf_link *l) const;
    };
    using Link = std::unique_ptr<bpf_link, LinkDeleter>;

    EnforceSet(EnforceOptions opts, Skel skel);
    Status attach_cgroup_hooks();

    EnforceOptions opts_;
    Skel skel_;
    bool adopted_ = false;
    std::vector<Link> links_;
    std::vector<Hook> hooks_;
    InstalledTables installed_;
    // Inner maps of the bank in force that put_names() adds to.
    UniqueFd active_bitmaps_, active_names_;
    uint32_t bitmaps_written_ = 0; // of the tables in force
    uint32_t bitmap_capacity_ = 0, name_capacity_ = 0, names_written_ = 0;
};

} // namespace policer::probes
