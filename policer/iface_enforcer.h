// iface_enforcer.h - which network interfaces carry policer's TC and XDP programs, kept true as
// interfaces come and go: the configured ones (names or glob patterns, e.g. "eth0", "ens*")
// and, by default, every veth (the host side of a container's link) as runtimes create them.
//
// TC (clsact ingress and egress) applies flow verdicts by 5-tuple to traffic that may have no
// local socket to carry one (bridged, forwarded, or sockets of other network namespaces); XDP
// on uplinks drops blocklisted sources and inbound packets of refused flows before the stack
// builds an skb. Attachments are not undone when policerd stops: enforcement outlives it, and a
// restarted policerd replaces each program atomically. At start-up, policer's programs found on
// interfaces that are no longer configured are removed.
#pragma once

#include "common/result.h"
#include "policer/iface_watch.h"
#include "probes/iface_attach.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace policer::daemon {

struct IfaceConfig {
    std::vector<std::string> tc;  // interface names or glob patterns
    std::vector<std::string> xdp; // interface names or glob patterns
    bool veths = true;            // TC on every veth as it appears
};

// The loaded programs to attach (fds owned by the EnforceSet, which outlives this).
struct IfacePrograms {
    int tc_ingress = -1;
    int tc_egress = -1;
    int xdp = -1;
};

struct IfaceCounters {
    uint64_t attached = 0;       // attachments made (TC counts once per interface)
    uint64_t attach_errors = 0;  // failed attachments (logged)
    uint64_t links_resynced = 0; // full re-listings after lost netlink notifications
};

class IfaceEnforcer {
public:
    // Watches links, attaches to every interface the configuration names or implies, and
    // removes policer's programs from interfaces it no longer names. An interface named
    // explicitly (no glob characters) that exists but cannot be attached is an error: the
    // operator asked for it. Failures on veths and pattern matches are logged and counted.
    static Result<std::unique_ptr<IfaceEnforcer>> start(IfaceConfig cfg, IfacePrograms progs);

    // For the epoll loop; call on_readable() when it is readable.
    int fd() const { return watch_.fd(); }
    void on_readable();

    const IfaceCounters &counters() const { return counters_; }
    // [{"iface": "eth0", "ifindex": 2, "tc": true, "xdp": "native"}, ...]
    nlohmann::json status() const;

    // Whether the configuration wants TC / XDP on an interface (exposed for tests).
    bool wants_tc(const LinkChange &l) const;
    bool wants_xdp(const LinkChange &l) const;

private:
    IfaceEnforcer(IfaceConfig cfg, IfacePrograms progs, IfaceWatch watch);

    struct Attached {
        std::string name;
        bool tc = false;
        std::optional<probes::XdpMode> xdp;
    };
    // Attaches what `l` wants and is not attached yet; with `strict`, an explicitly named
    // interface that fails is returned as an error.
    Status present(const LinkChange &l, bool strict);
    void resync();

    IfaceConfig cfg_;
    IfacePrograms progs_;
    IfaceWatch watch_;
    std::map<int, Attached> attached_; // by ifindex
    IfaceCounters counters_;
};

// Whether `name` matches an interface pattern: the name itself, or a glob (fnmatch).
bool iface_matches(const std::string &pattern, const std::string &name);

} // namespace policer::daemon
