// probe_set.h - the C++ owner of policer's BPF object. Like Katran's control plane, it is the
// only code that touches the skeleton: it loads and attaches the programs, owns every link,
// and exposes the maps behind a small typed API.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "probes/libbpf_util.h"
#include "probes/probe_abi.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct policer_probes;
struct bpf_link;

namespace policer::probes {

struct ProbeOptions {
    std::string cgroup_root;           // cgroup v2 directory the cgroup hooks attach to
    std::string btf_path;              // "" = the running kernel's BTF
    uint32_t ringbuf_bytes = 8u << 20; // power of two, at least one page
    uint32_t max_udp_flows = 65536;    // kernel UDP flow table (LRU)
    uint32_t max_pending_accepts = 16384;
    uint32_t max_processes = 65536;        // the kernel's process map (LRU)
    uint32_t udp_new_flows_per_sec = 1000; // per socket; beyond, one aggregate flow
    // L7 payload sampling (0 packets: off).
    uint32_t sample_packets = 8;  // per flow and direction
    uint32_t sample_bytes = 1500; // per packet, at most PL_SAMPLE_MAX
    uint32_t samples_ringbuf_bytes = 4u << 20;
};

// Where one program is attached, for status output and error messages.
struct Hook {
    std::string program; // e.g. pl_tcp_sockops
    std::string section; // e.g. sockops, tp_btf/sched_process_exec
    std::string target;  // cgroup path, or "kernel"
    uint32_t id = 0;     // the kernel's id of the loaded program (bpftool prog show id N)
};

// Kernel-side counters, summed over CPUs (enum pl_counter).
struct Counters {
    std::array<uint64_t, PL_CNT_MAX> value{};

    uint64_t ringbuf_drops(uint32_t event_type) const {
        return value[PL_CNT_RB_DROP_BASE + event_type];
    }
    uint64_t ringbuf_drops_total() const;
};

class ProbeSet {
public:
    // Opens and loads (verifies) all programs and creates the maps.
    static Result<std::unique_ptr<ProbeSet>> load(const ProbeOptions &opts);
    ~ProbeSet();
    ProbeSet(const ProbeSet &) = delete;
    ProbeSet &operator=(const ProbeSet &) = delete;

    // Attaches every program; on error nothing stays attached and the message names the hook.
    // Optional probes (the accept(2) tracepoints, which need CONFIG_FTRACE_SYSCALLS) that
    // cannot attach are skipped with a warning: policer then names inbound connections by
    // their listener.
    Status attach();
    const std::vector<std::string> &skipped() const { return skipped_; }

    const std::vector<Hook> &hooks() const { return hooks_; }
    // How full the hash maps are (policer status).
    std::vector<MapFill> map_fill() const;
    int events_fd() const;
    int samples_fd() const;
    uint32_t ringbuf_bytes() const { return opts_.ringbuf_bytes; }

    Result<Counters> counters() const;

    // UDP flow map: read without removing, or remove and return the final counters.
    std::optional<pl_udp_value> udp_flow(const pl_flow_key &key) const;
    std::optional<pl_udp_value> take_udp_flow(const pl_flow_key &key);
    // Records a process that existed before the probes (from /proc); a newer entry made by the
    // exec/fork probes wins.
    void seed_process(uint32_t tgid, const pl_proc &proc);

    // Stop sampling a flow (its dissection is over); forget it when it ends.
    void mark_classified(const pl_flow_key &key);
    void forget_flow(const pl_flow_key &key);

    // The counters of every live TCP flow (sockets with a reported flow), read from the kernel
    // by the pl_tcp_live iterator; at most `max` records.
    Result<std::vector<pl_tcp_live>> tcp_live(size_t max) const;

    // Every UDP flow in the kernel map, read in batches (for the idle sweep).
    Result<std::vector<std::pair<pl_flow_key, pl_udp_value>>> udp_flows() const;

private:
    struct SkelDeleter {
        void operator()(policer_probes *s) const;
    };
    using Skel = std::unique_ptr<policer_probes, SkelDeleter>;
    struct LinkDeleter {
        void operator()(bpf_link *l) const;
    };
    using Link = std::unique_ptr<bpf_link, LinkDeleter>;

    ProbeSet(ProbeOptions opts, Skel skel);

    ProbeOptions opts_;
    Skel skel_;
    UniqueFd cgroup_fd_;
    std::vector<Link> links_;
    Link tcp_live_; // the iterator over the socket storage map; each read makes a new iterator
    std::vector<Hook> hooks_;
    std::vector<std::string> skipped_; // optional probes that could not attach
};

} // namespace policer::probes
