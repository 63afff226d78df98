// probe_set.cpp - loading, attaching and map access for the policer BPF object.
#include "probes/probe_set.h"

#include "policer_probes.skel.h"
#include "probes/libbpf_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdarg>
#include <cstring>
#include <cstdio>

namespace policer::probes {
namespace {

// libbpf talks through one process-wide callback; route it to spdlog.
bool is_power_of_two(uint32_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

} // namespace

uint64_t Counters::ringbuf_drops_total() const {
    uint64_t sum = 0;
    for (uint32_t t = 0; t < PL_EV_TYPE_MAX; ++t)
        sum += value[PL_CNT_RB_DROP_BASE + t];
    return sum;
}

void ProbeSet::LinkDeleter::operator()(bpf_link *l) const {
    bpf_link__destroy(l);
}

void ProbeSet::SkelDeleter::operator()(policer_probes *s) const {
    policer_probes__destroy(s);
}

ProbeSet::ProbeSet(ProbeOptions opts, Skel skel) : opts_(std::move(opts)), skel_(std::move(skel)) {}

ProbeSet::~ProbeSet() {
    links_.clear(); // detach before the programs go (skel_ is destroyed after)
}

Result<std::unique_ptr<ProbeSet>> ProbeSet::load(const ProbeOptions &opts) {
    long page = sysconf(_SC_PAGESIZE);
    if (!is_power_of_two(opts.ringbuf_bytes) || opts.ringbuf_bytes < static_cast<uint32_t>(page))
        return Error{"ring buffer size " + std::to_string(opts.ringbuf_bytes) +
                     " must be a power of two and at least one page (" + std::to_string(page) +
                     " bytes)"};
    if (opts.max_udp_flows == 0 || opts.max_pending_accepts == 0)
        return Error{"map sizes must be greater than zero"};
    if (!is_power_of_two(opts.samples_ringbuf_bytes) ||
        opts.samples_ringbuf_bytes < static_cast<uint32_t>(page))
        return Error{"samples ring buffer size " + std::to_string(opts.samples_ringbuf_bytes) +
                     " must be a power of two and at least one page"};
    if (opts.sample_bytes < 1 || opts.sample_bytes > PL_SAMPLE_MAX)
        return Error{"sample size must be between 1 and " + std::to_string(PL_SAMPLE_MAX) +
                     " bytes"};
    if (opts.sample_packets > 0xffff) return Error{"at most 65535 samples per flow and direction"};

    route_libbpf_logs();

    LIBBPF_OPTS(bpf_object_open_opts, open_opts);
    if (!opts.btf_path.empty()) open_opts.btf_custom_path = opts.btf_path.c_str();
    Skel owned(policer_probes__open_opts(&open_opts));
    if (!owned) return Error::from_errno("cannot open the BPF object");
    policer_probes *skel = owned.get();
    std::unique_ptr<ProbeSet> set(new ProbeSet(opts, std::move(owned)));

    bpf_map__set_max_entries(skel->maps.pl_events, opts.ringbuf_bytes);
    bpf_map__set_max_entries(skel->maps.pl_udp_flows, opts.max_udp_flows);
    bpf_map__set_max_entries(skel->maps.pl_pending_accept, opts.max_pending_accepts);
    bpf_map__set_max_entries(skel->maps.pl_samples, opts.samples_ringbuf_bytes);
    bpf_map__set_max_entries(skel->maps.pl_flow_state, opts.max_udp_flows);
    bpf_map__set_max_entries(skel->maps.pl_procs, opts.max_processes);
    skel->rodata->pl_cfg_udp_new_flows_per_sec = opts.udp_new_flows_per_sec;
    skel->rodata->pl_cfg_sample_packets = opts.sample_packets;
    skel->rodata->pl_cfg_sample_bytes = opts.sample_bytes;

    if (int err = policer_probes__load(skel); err)
        return Error::from_errno("cannot load the BPF programs (the libbpf log above names the "
                                 "program and the verifier's reason)",
                                 -err);
    return set;
}

Status ProbeSet::attach() {
    cgroup_fd_.reset(::open(opts_.cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_fd_)
        return Error::from_errno("cannot open the cgroup v2 root " + opts_.cgroup_root);

    std::vector<Link> links;
    std::vector<Hook> hooks;
    bpf_program *prog;
    bpf_object__for_each_program(prog, skel_->obj) {
        Hook hook{bpf_program__name(prog), bpf_program__section_name(prog), "kernel"};
        bpf_link *link;
        if (prog == skel_->progs.pl_tcp_live) {
            // An iterator: bound to the socket storage map, run when read (tcp_live()).
            union bpf_iter_link_info info {};
            info.map.map_fd = static_cast<uint32_t>(bpf_map__fd(skel_->maps.pl_sock));
            DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, iter_opts);
            iter_opts.link_info = &info;
            iter_opts.link_info_len = sizeof(info);
            link = bpf_program__attach_iter(prog, &iter_opts);
            hook.target = "pl_sock";
            if (link) tcp_live_.reset(link);
        } else if (is_cgroup_program(prog)) {
            hook.target = opts_.cgroup_root;
            link = bpf_program__attach_cgroup(prog, cgroup_fd_.get());
        } else {
            link = bpf_program__attach(prog);
        }
        if (!link) {
            int err = errno;
            return Error::from_errno(
                "cannot attach " + hook.program + " (" + hook.section + ") to " + hook.target, err);
        }
        if (link != tcp_live_.get()) links.emplace_back(link);
        bpf_prog_info info{};
        uint32_t info_len = sizeof(info);
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &info_len) == 0) hook.id = info.id;
        hooks.push_back(std::move(hook));
    }
    links_ = std::move(links);
    hooks_ = std::move(hooks);
    return Ok{};
}

int ProbeSet::events_fd() const {
    return bpf_map__fd(skel_->maps.pl_events);
}

int ProbeSet::samples_fd() const {
    return bpf_map__fd(skel_->maps.pl_samples);
}

void ProbeSet::seed_process(uint32_t tgid, const pl_proc &proc) {
    bpf_map_update_elem(bpf_map__fd(skel_->maps.pl_procs), &tgid, &proc, BPF_NOEXIST);
}

void ProbeSet::mark_classified(const pl_flow_key &key) {
    pl_flow_state st{};
    st.flags = PL_FLOW_STATE_CLASSIFIED;
    // Best effort: if the update fails the kernel just samples up to its per-flow bound.
    bpf_map_update_elem(bpf_map__fd(skel_->maps.pl_flow_state), &key, &st, BPF_ANY);
}

void ProbeSet::forget_flow(const pl_flow_key &key) {
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.pl_flow_state), &key);
}

Result<Counters> ProbeSet::counters() const {
    Counters c;
    if (auto st =
            sum_percpu_counters(bpf_map__fd(skel_->maps.pl_counters), PL_CNT_MAX, c.value.data());
        !st)
        return st.error();
    return c;
}

std::optional<pl_udp_value> ProbeSet::udp_flow(const pl_flow_key &key) const {
    pl_udp_value v{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.pl_udp_flows), &key, &v) != 0)
        return std::nullopt;
    return v;
}

std::optional<pl_udp_value> ProbeSet::take_udp_flow(const pl_flow_key &key) {
    pl_udp_value v{};
    if (bpf_map_lookup_and_delete_elem(bpf_map__fd(skel_->maps.pl_udp_flows), &key, &v) != 0)
        return std::nullopt;
    return v;
}

Result<std::vector<pl_tcp_live>> ProbeSet::tcp_live(size_t max) const {
    if (!tcp_live_) return Error{"the live TCP counters iterator is not attached"};
    UniqueFd it(bpf_iter_create(bpf_link__fd(tcp_live_.get())));
    if (!it) return Error::from_errno("cannot start the live TCP counters iterator");
    std::vector<pl_tcp_live> out;
    // Records are whole: the iterator writes each with one bpf_seq_write, and read() returns
    // whole seq_file pages. A short record would be a kernel bug, and is refused.
    std::vector<char> buf(64 * sizeof(pl_tcp_live));
    size_t have = 0;
    while (out.size() < max) {
        ssize_t n = ::read(it.get(), buf.data() + have, buf.size() - have);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("cannot read the live TCP counters iterator");
        if (n == 0) break;
        have += static_cast<size_t>(n);
        size_t used = 0;
        for (; have - used >= sizeof(pl_tcp_live) && out.size() < max;
             used += sizeof(pl_tcp_live)) {
            pl_tcp_live rec;
            std::memcpy(&rec, buf.data() + used, sizeof(rec));
            out.push_back(rec);
        }
        std::memmove(buf.data(), buf.data() + used, have - used);
        have -= used;
    }
    if (have != 0 && out.size() < max)
        return Error{"the live TCP counters iterator returned a partial record"};
    return out;
}

Result<std::vector<std::pair<pl_flow_key, pl_udp_value>>> ProbeSet::udp_flows() const {
    constexpr uint32_t kBatch = 256;
    int fd = bpf_map__fd(skel_->maps.pl_udp_flows);
    std::vector<std::pair<pl_flow_key, pl_udp_value>> out;
    std::vector<pl_flow_key> keys(kBatch);
    std::vector<pl_udp_value> values(kBatch);
    // The hash-map batch cursor is an opaque 4-byte bucket index; 8 bytes leaves room.
    uint64_t in = 0, next = 0;
    bool first = true;
    // Bounded: at most max_entries elements (plus one batch of slack) are read per snapshot.
    while (out.size() <= opts_.max_udp_flows) {
        uint32_t count = kBatch;
        int err = bpf_map_lookup_batch(fd, first ? nullptr : &in, &next, keys.data(), values.data(),
                                       &count, nullptr);
        int e = err ? errno : 0;
        for (uint32_t i = 0; i < count; ++i)
            out.emplace_back(keys[i], values[i]);
        if (err && e == ENOENT) break; // end of map
        if (err) return Error::from_errno("cannot read the UDP flow map", e);
        in = next;
        first = false;
    }
    return out;
}

std::vector<MapFill> ProbeSet::map_fill() const {
    return probes::map_fill(skel_->obj);
}

} // namespace policer::probes
