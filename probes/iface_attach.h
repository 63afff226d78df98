// iface_attach.h - attaching loaded enforcement programs to network interfaces: TC (clsact
// ingress/egress) and XDP, and asking what is attached.
//
// Deliberately not RAII: enforcement must outlive policerd (a crash or restart must not open
// the interfaces), so nothing is detached by a destructor. A restarted policerd attaches its
// new programs over the old ones atomically (TC: same handle and priority with replace; XDP:
// XDP_FLAGS_REPLACE against the program found there), so there is no moment without one.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <optional>
#include <string>

namespace policer::probes {

// The TC filter policer owns on every hook: identified by its handle ("PL"), at priority 1 so
// that it runs before any other classifier on the hook (which might redirect the packet away
// before a verdict is applied). Another tool's filters at other (priority, handle) pairs are
// left alone.
inline constexpr uint32_t kTcHandle = 0x504c;
inline constexpr uint32_t kTcPriority = 1;

// Programs policer attaches are all named "pl_..." (bpf_prog_info.name): an XDP program with
// another name belongs to someone else and is never replaced or detached.
inline constexpr const char *kProgNamePrefix = "pl_";

// Attaches `prog_fd` (a loaded BPF_PROG_TYPE_SCHED_CLS program, direct action) at the ingress
// or egress hook of `ifindex`, creating the clsact qdisc if missing. An earlier policer program
// there is replaced atomically.
Status attach_tc(int ifindex, bool ingress, int prog_fd);

// Removes policer's filter from the hook; Ok if there is none (or no clsact at all). The clsact
// qdisc stays: other tools' filters may hang on it.
Status detach_tc(int ifindex, bool ingress);

// Id of the program policer's filter runs on that hook (bpftool prog show id N), if any.
std::optional<uint32_t> tc_prog_id(int ifindex, bool ingress);

// How an XDP program ended up attached.
enum class XdpMode { Native, Generic };

// Attaches `prog_fd` (a loaded BPF_PROG_TYPE_XDP program) to `ifindex`. If a policer program is
// attached already it is replaced atomically, in the mode it runs in; a foreign one is an
// error. Otherwise native (driver) mode is tried first, then generic (skb) mode with a warning.
Result<XdpMode> attach_xdp(int ifindex, int prog_fd);

// Detaches policer's XDP program from `ifindex`; Ok if none is attached. A foreign program is
// left in place (error).
Status detach_xdp(int ifindex);

// Id of the XDP program attached to `ifindex` in any mode, if any.
std::optional<uint32_t> xdp_prog_id(int ifindex);

// Whether program `id` is one of policer's (its name starts with kProgNamePrefix).
bool is_policer_prog(uint32_t id);

// Removes policer's TC filters and XDP programs from every interface of the current network
// namespace (what `policerd --remove-enforcement` does beside unpinning). Foreign programs are
// left alone. Returns the first error; the other interfaces are still tried.
Status detach_everywhere();

// "eth0 (ifindex 2)" - how errors and logs name an interface, also one that is gone.
std::string iface_label(int ifindex);

} // namespace policer::probes
