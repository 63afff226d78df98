// enforce_set.cpp - loading, pinning, adoption and table installation of the enforcement object.
#include "probes/enforce_set.h"

#include "common/unique_fd.h"
#include "policer_enforce.skel.h"
#include "probes/iface_attach.h"
#include "probes/libbpf_util.h"
#include "rules/kernel_tables.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace policer::probes {
namespace {

bool exists(const std::string &path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

Status make_dir(const std::string &path) {
    if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Ok{};
    return Error::from_errno("cannot create " + path);
}

// Creates an inner map for one bank. Every name says what it holds, for bpftool map show.
Result<UniqueFd> create_inner(bpf_map_type type, const char *name, uint32_t key, uint32_t value,
                              uint32_t entries, uint32_t flags) {
    LIBBPF_OPTS(bpf_map_create_opts, o);
    o.map_flags = flags;
    int fd = bpf_map_create(type, name, key, value, std::max<uint32_t>(entries, 1), &o);
    if (fd < 0) return Error::from_errno(std::string("cannot create the map ") + name, -fd);
    return UniqueFd(fd);
}

Status update(int fd, const void *key, const void *value, const char *what) {
    if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0)
        return Error::from_errno(std::string("cannot write ") + what);
    return Ok{};
}

// The words of one bitmap, zero-padded to the kernel's fixed value size.
Status write_bitmap(int fd, uint32_t id, const std::vector<uint64_t> &words) {
    std::array<uint64_t, PL_RULE_BM_WORDS> value{};
    std::copy_n(words.begin(), std::min<size_t>(words.size(), value.size()), value.begin());
    return update(fd, &id, value.data(), "a rule bitmap");
}

// Room for what policerd adds to a bank after installing it (resolved symbolic values).
uint32_t with_slack(size_t n, size_t min_slack) {
    return static_cast<uint32_t>(n + std::max(min_slack, n / 2));
}

} // namespace

void EnforceSet::SkelDeleter::operator()(policer_enforce *s) const {
    policer_enforce__destroy(s);
}

void EnforceSet::LinkDeleter::operator()(bpf_link *l) const {
    // Closes our fd only: a pinned link stays attached (that is the point of pinning).
    bpf_link__destroy(l);
}

EnforceSet::EnforceSet(EnforceOptions opts, Skel skel)
    : opts_(std::move(opts)), skel_(std::move(skel)) {}

EnforceSet::~EnforceSet() {
    links_.clear();
}

Result<std::unique_ptr<EnforceSet>> EnforceSet::open(const EnforceOptions &opts) {
    if (opts.pin_dir.empty() || opts.pin_dir[0] != '/')
        return Error{"the pin directory must be an absolute path under bpffs"};
    if (opts.max_flow_verdicts == 0 || opts.max_tuple_verdicts == 0 || opts.max_limit_buckets == 0)
        return Error{"enforcement map sizes must be greater than zero"};
    for (const std::string &d : {opts.pin_dir, opts.pin_dir + "/maps", opts.pin_dir + "/links"})
        if (auto st = make_dir(d); !st) return st.error();

    LIBBPF_OPTS(bpf_object_open_opts, open_opts);
    if (!opts.btf_path.empty()) open_opts.btf_custom_path = opts.btf_path.c_str();
    Skel owned(policer_enforce__open_opts(&open_opts));
    if (!owned) return Error::from_errno("cannot open the enforcement BPF object");
    std::unique_ptr<EnforceSet> set(new EnforceSet(opts, std::move(owned)));
    policer_enforce *skel = set->skel_.get();

    bpf_map__set_max_entries(skel->maps.pl_flow_verdicts, opts.max_flow_verdicts);
    bpf_map__set_max_entries(skel->maps.pl_tuple_verdicts, opts.max_tuple_verdicts);
    bpf_map__set_max_entries(skel->maps.pl_limit_buckets, opts.max_limit_buckets);
    bpf_map__set_max_entries(skel->maps.pl_enf_events, opts.events_bytes);

    // Every map is pinned. A map an earlier policerd pinned is reused as it is (sized as it
    // was), so the tables and verdicts in force stay in force across the restart.
    bpf_map *map;
    bpf_object__for_each_map(map, skel->obj) {
        std::string path = opts.pin_dir + "/maps/" + bpf_map__name(map);
        if (exists(path)) {
            UniqueFd fd(bpf_obj_get(path.c_str()));
            if (!fd) return Error::from_errno("cannot open the pinned map " + path);
            bpf_map_info info{};
            uint32_t len = sizeof(info);
            if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
                return Error::from_errno("cannot read the pinned map " + path);
            bpf_map__set_max_entries(map, info.max_entries);
            set->adopted_ = true;
        }
        if (int err = bpf_map__set_pin_path(map, path.c_str()); err)
            return Error::from_errno("cannot pin " + path, -err);
    }

    if (int err = policer_enforce__load(skel); err)
        return Error::from_errno(
            "cannot load the enforcement programs (the libbpf log above names the program or "
            "pinned map; state pinned by an incompatible policer is removed with policerd "
            "--remove-enforcement)",
            -err);
    if (auto st = set->attach_cgroup_hooks(); !st) return st.error();
    return set;
}

Status EnforceSet::attach_cgroup_hooks() {
    UniqueFd cg(::open(opts_.cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cg) return Error::from_errno("cannot open the cgroup v2 root " + opts_.cgroup_root);
    bpf_program *prog;
    bpf_object__for_each_program(prog, skel_->obj) {
        if (!is_cgroup_program(prog)) continue; // TC and XDP attach per interface
        Hook hook{bpf_program__name(prog), bpf_program__section_name(prog), opts_.cgroup_root};
        std::string path = opts_.pin_dir + "/links/" + hook.program;
        bpf_link *link = nullptr;
        if (exists(path)) {
            // Adopt: the pinned link keeps the hook attached; swap its program in one step.
            link = bpf_link__open(path.c_str());
            if (!link) return Error::from_errno("cannot open the pinned link " + path);
            if (int err = bpf_link__update_program(link, prog); err) {
                bpf_link__destroy(link);
                return Error::from_errno("cannot replace the program of " + path, -err);
            }
        } else {
            link = bpf_program__attach_cgroup(prog, cg.get());
            if (!link)
                return Error::from_errno("cannot attach " + hook.program + " (" + hook.section +
                                         ") to " + hook.target);
            if (int err = bpf_link__pin(link, path.c_str()); err) {
                bpf_link__destroy(link);
                return Error::from_errno("cannot pin " + path, -err);
            }
        }
        links_.emplace_back(link);
        bpf_prog_info info{};
        uint32_t len = sizeof(info);
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) hook.id = info.id;
        hooks_.push_back(std::move(hook));
    }
    return Ok{};
}

Status EnforceSet::remove(const std::string &pin_dir) {
    // Interfaces first: their programs are not pinned (TC filters and XDP attachments hold
    // them), so they are found by name on every interface.
    route_libbpf_logs();
    std::string first_error;
    if (auto st = detach_everywhere(); !st) first_error = st.error().message;
    if (!exists(pin_dir)) {
        if (!first_error.empty()) return Error{first_error};
        return Ok{};
    }
    auto each = [&](const std::string &dir, auto fn) {
        DIR *d = ::opendir(dir.c_str());
        if (!d) return;
        std::vector<std::string> names;
        while (dirent *e = ::readdir(d))
            if (e->d_name[0] != '.') names.emplace_back(e->d_name);
        ::closedir(d);
        for (const auto &n : names)
            fn(dir + "/" + n);
    };
    each(pin_dir + "/links", [&](const std::string &path) {
        if (bpf_link *link = bpf_link__open(path.c_str())) {
            if (int err = bpf_link__detach(link); err && first_error.empty())
                first_error = "cannot detach " + path + ": " + std::strerror(-err);
            bpf_link__destroy(link);
        }
        if (::unlink(path.c_str()) != 0 && first_error.empty())
            first_error = "cannot remove " + path + ": " + std::strerror(errno);
    });
    each(pin_dir + "/maps", [&](const std::string &path) {
        if (::unlink(path.c_str()) != 0 && first_error.empty())
            first_error = "cannot remove " + path + ": " + std::strerror(errno);
    });
    for (const std::string &d : {pin_dir + "/links", pin_dir + "/maps", pin_dir})
        ::rmdir(d.c_str());
    if (!first_error.empty()) return Error{first_error};
    return Ok{};
}

int EnforceSet::tc_prog_fd(bool ingress) const {
    return bpf_program__fd(ingress ? skel_->progs.pl_enf_tc_ingress
                                   : skel_->progs.pl_enf_tc_egress);
}

int EnforceSet::xdp_prog_fd() const {
    return bpf_program__fd(skel_->progs.pl_enf_xdp);
}

uint32_t EnforceSet::generation() const {
    uint32_t zero = 0;
    pl_enforce_state st{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.pl_enf_state), &zero, &st) != 0) return 0;
    return st.generation;
}

uint32_t EnforceSet::next_generation() const {
    uint32_t g = generation() + 1;
    return g == 0 ? 2 : g; // 0 means "no rule set"; wrapping keeps the bank alternating
}

Status EnforceSet::install(const rules::KernelTables &t) {
    const pl_rule_header &h = t.header();
    const uint32_t gen = h.generation;
    const uint32_t current = generation();
    if (gen == 0 || gen == current || ((gen ^ current) & 1) == 0)
        return Error{"internal: generation " + std::to_string(gen) +
                     " does not follow the one in force (" + std::to_string(current) + ")"};
    const uint32_t bank = gen & 1;

    const auto &bitmaps = t.bitmaps();
    const auto &names = t.names();
    const uint32_t bm_cap = with_slack(bitmaps.size(), 1024);
    const uint32_t name_cap = with_slack(names.size(), 4096);

    auto bm = create_inner(BPF_MAP_TYPE_ARRAY, "pl_rule_bm", 4, PL_RULE_BM_WORDS * 8, bm_cap,
                           BPF_F_INNER_MAP);
    if (!bm) return bm.error();
    auto ranges = create_inner(BPF_MAP_TYPE_LPM_TRIE, "pl_rule_rng", sizeof(pl_rule_range_key),
                               sizeof(pl_rule_ref), static_cast<uint32_t>(t.ranges().size()),
                               BPF_F_NO_PREALLOC);
    if (!ranges) return ranges.error();
    auto nm = create_inner(BPF_MAP_TYPE_HASH, "pl_rule_names", sizeof(pl_rule_name_key),
                           sizeof(pl_rule_ref), name_cap, 0);
    if (!nm) return nm.error();
    auto actions = create_inner(BPF_MAP_TYPE_ARRAY, "pl_rule_act", 4, sizeof(pl_rule_action),
                                static_cast<uint32_t>(t.actions().size()), BPF_F_INNER_MAP);
    if (!actions) return actions.error();

    for (uint32_t id = 0; id < bitmaps.size(); ++id)
        if (auto st = write_bitmap(bm->get(), id, bitmaps[id]); !st) return st;
    for (const auto &r : t.ranges())
        if (auto st = update(ranges->get(), &r.key, &r.ref, "a rule range"); !st) return st;
    for (const auto &n : names)
        if (auto st = update(nm->get(), &n.key, &n.ref, "a rule name"); !st) return st;
    for (uint32_t i = 0; i < t.actions().size(); ++i)
        if (auto st = update(actions->get(), &i, &t.actions()[i], "a rule action"); !st) return st;
    const auto &terms = t.terms();
    if (terms.size() > PL_RULE_MAX_TERMS) return Error{"internal: too many terms"};
    for (uint32_t i = 0; i < terms.size(); ++i) {
        uint32_t k = bank * PL_RULE_MAX_TERMS + i;
        if (auto st = update(bpf_map__fd(skel_->maps.pl_rule_terms), &k, &terms[i], "a rule term");
            !st)
            return st;
    }
    for (uint32_t c = 0; c < PL_RULE_CLASSES; ++c) {
        uint32_t k = bank * PL_RULE_CLASSES + c;
        if (auto st = update(bpf_map__fd(skel_->maps.pl_rule_classes), &k, &t.classes()[c],
                             "the rule class table");
            !st)
            return st;
    }
    if (auto st = update(bpf_map__fd(skel_->maps.pl_rule_headers), &bank, &h, "the rule header");
        !st)
        return st;
    const std::pair<bpf_map *, int> outer[] = {{skel_->maps.pl_rule_bitmaps, bm->get()},
                                               {skel_->maps.pl_rule_ranges, ranges->get()},
                                               {skel_->maps.pl_rule_names, nm->get()},
                                               {skel_->maps.pl_rule_actions, actions->get()}};
    for (const auto &[map, fd] : outer) {
        uint32_t inner = static_cast<uint32_t>(fd);
        if (auto st = update(bpf_map__fd(map), &bank, &inner, bpf_map__name(map)); !st) return st;
    }

    // The switch: one 32-bit store. A decision in progress finishes on the bank it started on.
    pl_enforce_state state{};
    state.generation = gen;
    uint32_t zero = 0;
    if (auto st =
            update(bpf_map__fd(skel_->maps.pl_enf_state), &zero, &state, "the enforcement state");
        !st)
        return st;

    active_bitmaps_ = std::move(*bm);
    active_names_ = std::move(*nm);
    bitmaps_written_ = static_cast<uint32_t>(bitmaps.size());
    bitmap_capacity_ = bm_cap;
    names_written_ = static_cast<uint32_t>(names.size());
    name_capacity_ = name_cap;
    installed_ = InstalledTables{gen,
                                 bitmaps_written_,
                                 bm_cap,
                                 names_written_,
                                 name_cap,
                                 static_cast<uint32_t>(t.ranges().size()),
                                 static_cast<uint32_t>(terms.size()),
                                 static_cast<uint32_t>(t.actions().size())};
    return Ok{};
}

Status EnforceSet::put_names(const rules::KernelTables &t,
                             const std::vector<rules::NameEntry> &entries) {
    if (!active_bitmaps_ || t.header().generation != installed_.generation)
        return Error{"internal: names for tables that are not in force"};
    const auto &bitmaps = t.bitmaps();
    if (bitmaps.size() > bitmap_capacity_)
        return Error{"the rule tables have no room for more resolved values (" +
                     std::to_string(bitmap_capacity_) + " bitmaps)"};
    if (names_written_ + entries.size() > name_capacity_)
        return Error{"the rule tables have no room for more resolved values (" +
                     std::to_string(name_capacity_) + " names)"};
    // Bitmaps before the entries that name them: a decision never sees a dangling id.
    for (uint32_t id = bitmaps_written_; id < bitmaps.size(); ++id)
        if (auto st = write_bitmap(active_bitmaps_.get(), id, bitmaps[id]); !st) return st;
    bitmaps_written_ = static_cast<uint32_t>(bitmaps.size());
    for (const auto &e : entries) {
        if (auto st = update(active_names_.get(), &e.key, &e.ref, "a resolved name"); !st)
            return st;
        ++names_written_; // an upper bound: replacing an entry counts again
    }
    installed_.bitmaps = bitmaps_written_;
    installed_.names = names_written_;
    return Ok{};
}

Status EnforceSet::set_flow_verdict(const pl_flow_key &key, const pl_flow_verdict &v) {
    return update(bpf_map__fd(skel_->maps.pl_flow_verdicts), &key, &v, "a flow verdict");
}

void EnforceSet::clear_flow_verdict(const pl_flow_key &key) {
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.pl_flow_verdicts), &key);
}

std::optional<pl_flow_verdict> EnforceSet::flow_verdict(const pl_flow_key &key) const {
    pl_flow_verdict v{};
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.pl_flow_verdicts), &key, &v) != 0)
        return std::nullopt;
    return v;
}

Status EnforceSet::set_tuple_verdict(const pl_tuple_key &key, const pl_flow_verdict &v) {
    return update(bpf_map__fd(skel_->maps.pl_tuple_verdicts), &key, &v, "a tuple verdict");
}

void EnforceSet::clear_tuple_verdict(const pl_tuple_key &key) {
    bpf_map_delete_elem(bpf_map__fd(skel_->maps.pl_tuple_verdicts), &key);
}

Status EnforceSet::set_blocklist(const std::vector<pl_blocklist_key> &prefixes) {
    int fd = bpf_map__fd(skel_->maps.pl_blocklist);
    // Add the new list first, then remove what is no longer in it: a source on both lists is
    // never briefly unblocked.
    std::vector<pl_blocklist_key> old;
    pl_blocklist_key k{}, next{};
    bool first = true;
    while (bpf_map_get_next_key(fd, first ? nullptr : &k, &next) == 0) {
        old.push_back(next);
        k = next;
        first = false;
    }
    uint32_t one = 1;
    for (const auto &p : prefixes)
        if (auto st = update(fd, &p, &one, "a blocklist prefix"); !st) return st;
    for (const auto &o : old) {
        bool kept = std::any_of(prefixes.begin(), prefixes.end(), [&](const pl_blocklist_key &p) {
            return std::memcmp(&p, &o, sizeof(p)) == 0;
        });
        if (!kept) bpf_map_delete_elem(fd, &o);
    }
    return Ok{};
}

Result<EnforceCounters> EnforceSet::counters() const {
    EnforceCounters c;
    if (auto st = sum_percpu_counters(bpf_map__fd(skel_->maps.pl_enf_counters), PL_ECNT_MAX,
                                      c.value.data());
        !st)
        return st.error();
    return c;
}

int EnforceSet::events_fd() const {
    return bpf_map__fd(skel_->maps.pl_enf_events);
}

std::vector<MapFill> EnforceSet::map_fill() const {
    return probes::map_fill(skel_->obj);
}

} // namespace policer::probes
