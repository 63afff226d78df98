// iface_attach.cpp - TC and XDP attachment of enforcement programs (see iface_attach.h),
// through libbpf's netlink helpers (libbpf 1.1: no tcx links, and links would die with the
// process anyway).
#include "probes/iface_attach.h"

#include "common/unique_fd.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace policer::probes {
namespace {

const char *tc_hook_name(bool ingress) {
    return ingress ? "tc ingress" : "tc egress";
}

// "tc ingress on eth0 (ifindex 2): what: strerror" - libbpf returns -errno.
Error hook_error(const char *hook, int ifindex, const std::string &what, int neg_err) {
    return Error{std::string(hook) + " on " + iface_label(ifindex) + ": " + what + ": " +
                 std::strerror(neg_err < 0 ? -neg_err : neg_err)};
}

bpf_tc_hook make_hook(int ifindex, bool ingress) {
    bpf_tc_hook hook{};
    hook.sz = sizeof(hook);
    hook.ifindex = ifindex;
    hook.attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
    return hook;
}

// Identifies policer's filter: libbpf matches (handle, priority) on query, replace and detach.
bpf_tc_opts make_tc_opts() {
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kTcHandle;
    opts.priority = kTcPriority;
    return opts;
}

// The XDP program attached to an interface in the one mode policer could own it in.
struct XdpCurrent {
    uint32_t id = 0;
    uint32_t mode_flag = 0; // XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE
};

Result<XdpCurrent> xdp_current(int ifindex) {
    bpf_xdp_query_opts q{};
    q.sz = sizeof(q);
    if (int err = bpf_xdp_query(ifindex, 0, &q); err < 0)
        return hook_error("xdp", ifindex, "query", err);
    XdpCurrent cur;
    if (q.drv_prog_id) {
        cur.id = q.drv_prog_id;
        cur.mode_flag = XDP_FLAGS_DRV_MODE;
    } else if (q.skb_prog_id) {
        cur.id = q.skb_prog_id;
        cur.mode_flag = XDP_FLAGS_SKB_MODE;
    }
    return cur;
}

// An fd of program `id` after checking that it is one of policer's (its name), so that a
// foreign program is never replaced or removed.
Result<UniqueFd> own_prog_fd(int ifindex, uint32_t id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return hook_error("xdp", ifindex, "open program id " + std::to_string(id), -errno);
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len); err < 0)
        return hook_error("xdp", ifindex, "info of program id " + std::to_string(id), err);
    std::string name(info.name, strnlen(info.name, sizeof(info.name)));
    if (name.rfind(kProgNamePrefix, 0) != 0)
        return Error{"xdp on " + iface_label(ifindex) + ": program id " + std::to_string(id) +
                     " (" + (name.empty() ? "unnamed" : name) +
                     ") is not policer's; not touching it"};
    return Result<UniqueFd>(std::move(fd));
}

} // namespace

std::string iface_label(int ifindex) {
    char name[IF_NAMESIZE] = {};
    std::string idx = "ifindex " + std::to_string(ifindex);
    if (ifindex > 0 && if_indextoname(static_cast<unsigned>(ifindex), name))
        return std::string(name) + " (" + idx + ")";
    return idx;
}

Status attach_tc(int ifindex, bool ingress, int prog_fd) {
    const char *hook_name = tc_hook_name(ingress);
    bpf_tc_hook hook = make_hook(ifindex, ingress);
    bpf_tc_opts opts = make_tc_opts();
    opts.prog_fd = prog_fd;
    // Replace: a filter at our (priority, handle) is swapped in place, with no gap.
    opts.flags = BPF_TC_F_REPLACE;
    int err = bpf_tc_attach(&hook, &opts);
    if (err < 0) {
        // Most likely no clsact qdisc yet (one serves both directions). Attaching first and
        // creating on failure keeps the common cases (second direction, restarted daemon)
        // free of the kernel's "exists" complaints that libbpf logs.
        int created = bpf_tc_hook_create(&hook);
        if (created < 0 && created != -EEXIST)
            return hook_error(hook_name, ifindex, "create clsact qdisc", created);
        if (created == 0) {
            opts.prog_id = 0;
            err = bpf_tc_attach(&hook, &opts);
        }
    }
    if (err < 0) return hook_error(hook_name, ifindex, "attach program", err);
    spdlog::debug("{} on {}: program id {} attached", hook_name, iface_label(ifindex),
                  opts.prog_id);
    return Ok{};
}

Status detach_tc(int ifindex, bool ingress) {
    const char *hook_name = tc_hook_name(ingress);
    bpf_tc_hook hook = make_hook(ifindex, ingress);
    bpf_tc_opts opts = make_tc_opts();
    int err = bpf_tc_detach(&hook, &opts);
    // ENOENT: no such filter; EINVAL: no clsact qdisc to hold one. Either way nothing of ours.
    if (err < 0 && err != -ENOENT && err != -EINVAL)
        return hook_error(hook_name, ifindex, "detach program", err);
    return Ok{};
}

std::optional<uint32_t> tc_prog_id(int ifindex, bool ingress) {
    bpf_tc_hook hook = make_hook(ifindex, ingress);
    bpf_tc_opts opts = make_tc_opts();
    if (bpf_tc_query(&hook, &opts) < 0 || opts.prog_id == 0) return std::nullopt;
    return opts.prog_id;
}

Result<XdpMode> attach_xdp(int ifindex, int prog_fd) {
    auto cur = xdp_current(ifindex);
    if (!cur) return cur.error();

    if (cur->id != 0) {
        // Replace in the mode it runs in: native and generic programs cannot coexist, and
        // XDP_FLAGS_REPLACE makes the swap conditional on it still being this program.
        auto old_fd = own_prog_fd(ifindex, cur->id);
        if (!old_fd) return old_fd.error();
        bpf_xdp_attach_opts opts{};
        opts.sz = sizeof(opts);
        opts.old_prog_fd = old_fd->get();
        if (int err = bpf_xdp_attach(ifindex, prog_fd, cur->mode_flag | XDP_FLAGS_REPLACE, &opts);
            err < 0)
            return hook_error("xdp", ifindex, "replace program id " + std::to_string(cur->id), err);
        return cur->mode_flag == XDP_FLAGS_DRV_MODE ? XdpMode::Native : XdpMode::Generic;
    }

    int err =
        bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
    if (err == 0) return XdpMode::Native;
    // Generic mode runs after the skb is built: slower, but every driver has it.
    spdlog::warn("xdp on {}: native mode unavailable ({}); using generic (skb) mode",
                 iface_label(ifindex), std::strerror(-err));
    err =
        bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
    if (err < 0) return hook_error("xdp", ifindex, "attach program (generic mode)", err);
    return XdpMode::Generic;
}

Status detach_xdp(int ifindex) {
    auto cur = xdp_current(ifindex);
    if (!cur) return cur.error();
    if (cur->id == 0) return Ok{};
    auto old_fd = own_prog_fd(ifindex, cur->id);
    if (!old_fd) return old_fd.error();
    // Conditional on the program checked above: one attached meanwhile is not removed.
    bpf_xdp_attach_opts opts{};
    opts.sz = sizeof(opts);
    opts.old_prog_fd = old_fd->get();
    if (int err = bpf_xdp_detach(ifindex, cur->mode_flag | XDP_FLAGS_REPLACE, &opts); err < 0)
        return hook_error("xdp", ifindex, "detach program id " + std::to_string(cur->id), err);
    return Ok{};
}

bool is_policer_prog(uint32_t id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return false;
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) < 0) return false;
    return std::string(info.name, strnlen(info.name, sizeof(info.name)))
               .rfind(kProgNamePrefix, 0) == 0;
}

Status detach_everywhere() {
    struct if_nameindex *ifs = if_nameindex();
    if (!ifs) return Error::from_errno("cannot list network interfaces");
    std::string first_error;
    auto note = [&](const Status &st) {
        if (!st && first_error.empty()) first_error = st.error().message;
    };
    for (struct if_nameindex *i = ifs; i->if_index != 0; ++i) {
        const int ifindex = static_cast<int>(i->if_index);
        // Our handle and priority are ours by convention; the name check makes sure.
        for (bool ingress : {true, false})
            if (auto id = tc_prog_id(ifindex, ingress); id && is_policer_prog(*id))
                note(detach_tc(ifindex, ingress));
        if (auto id = xdp_prog_id(ifindex); id && is_policer_prog(*id)) note(detach_xdp(ifindex));
    }
    if_freenameindex(ifs);
    if (!first_error.empty()) return Error{first_error};
    return Ok{};
}

std::optional<uint32_t> xdp_prog_id(int ifindex) {
    bpf_xdp_query_opts q{};
    q.sz = sizeof(q);
    if (bpf_xdp_query(ifindex, 0, &q) < 0) return std::nullopt;
    for (uint32_t id : {q.drv_prog_id, q.skb_prog_id, q.hw_prog_id})
        if (id != 0) return id;
    return std::nullopt;
}

} // namespace policer::probes
