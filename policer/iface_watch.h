// iface_watch.h - which network interfaces exist, and when they come and go: an rtnetlink
// (NETLINK_ROUTE, RTMGRP_LINK) listener whose non-blocking fd sits in policerd's epoll loop,
// plus a one-shot dump of the current links. This is how TC enforcement follows container
// veths as runtimes create and remove them.
//
// Order at startup: open() the watch first, then list_links(), so that a link created in
// between is seen at least once (possibly twice: attaching is idempotent).
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace policer::daemon {

struct LinkChange {
    enum class Type {
        Present, // RTM_NEWLINK: the link was added, or changed (flags, name, ...), or is listed
        Removed, // RTM_DELLINK
    };
    Type type = Type::Present;
    int ifindex = 0;
    std::string name;   // IFLA_IFNAME
    std::string kind;   // IFLA_LINKINFO/IFLA_INFO_KIND: "veth", "bridge", ...; "" for hardware
    uint32_t flags = 0; // ifi_flags (IFF_*)
    bool up() const;    // IFF_UP
};

class IfaceWatch {
public:
    // Joins the link multicast group of the current network namespace.
    static Result<IfaceWatch> open();

    // For epoll (level-triggered: drain() may leave work for the next round).
    int fd() const { return fd_.get(); }

    // What arrived since the last call, in order; never blocks. At most a bounded number of
    // datagrams per call, so that a storm of link changes cannot starve the rest of the loop.
    std::vector<LinkChange> drain();

    // True (once) after the kernel dropped notifications because the socket buffer was full,
    // or one was too large to read: the caller should reconcile with list_links().
    bool take_lost_events();

    // Every link of the current network namespace (an RTM_GETLINK dump on a socket of its
    // own, so the watch's stream is undisturbed), each as a Present change.
    static Result<std::vector<LinkChange>> list_links();

private:
    explicit IfaceWatch(UniqueFd fd) : fd_(std::move(fd)) {}

    UniqueFd fd_;
    bool lost_ = false;
};

// Parses a buffer of rtnetlink messages as received (RTM_NEWLINK and RTM_DELLINK; anything
// else, and anything malformed, is skipped). Exposed for tests: it is the part that reads
// what the kernel wrote, and it checks every length before reading.
std::vector<LinkChange> parse_link_messages(const void *data, size_t len);

} // namespace policer::daemon
