// iface_watch.cpp - the rtnetlink link watcher and link dump (see iface_watch.h). Everything
// read from the socket is length-checked before use: a malformed message is skipped, never
// trusted.
#include "policer/iface_watch.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <utility>

namespace policer::daemon {
namespace {

// One datagram: link messages are a few KiB (more with many VFs); the kernel sizes dump
// datagrams to what we read, and a larger one is detected (MSG_TRUNC), not misread.
constexpr size_t kRecvBytes = 64 * 1024;
// Datagrams handled per drain() call before returning to the event loop.
constexpr int kDrainBudget = 256;
// Socket buffer for notifications: a burst of container starts must not overrun it.
constexpr int kRcvBuf = 4 << 20;
// A dump larger than this is not a real machine's link table.
constexpr size_t kMaxLinks = 1 << 20;
constexpr int kDumpAttempts = 3;
constexpr int kDumpTimeoutSec = 5;

// A buffer aligned for struct nlmsghdr (the NLMSG_* macros read fields in place).
struct RecvBuffer {
    alignas(NLMSG_ALIGNTO) alignas(nlmsghdr) char bytes[kRecvBytes];
};

// A string attribute: the bytes up to the first NUL inside the payload. False (and `out`
// untouched) when the payload has no NUL, or the string is `max` bytes or longer.
bool read_string_attr(const rtattr *rta, size_t max, std::string &out) {
    const char *p = static_cast<const char *>(RTA_DATA(rta));
    size_t payload = RTA_PAYLOAD(rta);
    size_t n = strnlen(p, payload);
    if (n == payload || n >= max) return false; // not terminated inside the attribute, or too long
    out.assign(p, n);
    return true;
}

// IFLA_LINKINFO is nested: the kind is one of its attributes.
void read_link_kind(const rtattr *info, std::string &kind) {
    int len = static_cast<int>(RTA_PAYLOAD(info));
    for (auto *rta = static_cast<const rtattr *>(RTA_DATA(info)); RTA_OK(rta, len);
         rta = RTA_NEXT(rta, len)) {
        if ((rta->rta_type & NLA_TYPE_MASK) == IFLA_INFO_KIND) {
            // Kinds are short ("veth", "ipvlan", ...); a long one is malformed.
            if (!read_string_attr(rta, 64, kind)) kind.clear();
            return;
        }
    }
}

// One RTM_NEWLINK/RTM_DELLINK message; false if it is malformed.
bool parse_link(const nlmsghdr *nh, LinkChange &out) {
    if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return false;
    const auto *ifi = static_cast<const ifinfomsg *>(NLMSG_DATA(nh));
    if (ifi->ifi_index <= 0) return false;
    out.type =
        nh->nlmsg_type == RTM_DELLINK ? LinkChange::Type::Removed : LinkChange::Type::Present;
    out.ifindex = ifi->ifi_index;
    out.flags = ifi->ifi_flags;
    int len = static_cast<int>(nh->nlmsg_len - NLMSG_LENGTH(sizeof(ifinfomsg)));
    for (auto *rta = reinterpret_cast<const rtattr *>(reinterpret_cast<const char *>(ifi) +
                                                      NLMSG_ALIGN(sizeof(ifinfomsg)));
         RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
        switch (rta->rta_type & NLA_TYPE_MASK) {
        case IFLA_IFNAME:
            if (!read_string_attr(rta, IF_NAMESIZE, out.name)) return false;
            break;
        case IFLA_LINKINFO: read_link_kind(rta, out.kind); break;
        default: break;
        }
    }
    return true;
}

// NLMSG_OK, with the comparison of the u32 length and the int remainder made explicit.
bool nlmsg_ok(const nlmsghdr *nh, int left) {
    return left >= static_cast<int>(sizeof(nlmsghdr)) && nh->nlmsg_len >= sizeof(nlmsghdr) &&
           nh->nlmsg_len <= static_cast<unsigned>(left);
}

// What a batch of messages said besides links (for dumps).
struct BatchState {
    bool done = false;        // NLMSG_DONE
    bool interrupted = false; // NLM_F_DUMP_INTR: the table changed during the dump
    int error = 0;            // NLMSG_ERROR's (negative) errno, 0 if none
};

// Walks `len` bytes of aligned messages. With `seq`/`port` nonzero, only replies to that
// request are taken (a dump socket may still hold answers to an earlier attempt).
void parse_batch(const char *buf, size_t len, uint32_t seq, uint32_t port,
                 std::vector<LinkChange> &out, BatchState &st) {
    int left = static_cast<int>(len);
    for (auto *nh = reinterpret_cast<const nlmsghdr *>(buf); nlmsg_ok(nh, left);
         nh = NLMSG_NEXT(nh, left)) {
        if (seq != 0 && (nh->nlmsg_seq != seq || nh->nlmsg_pid != port)) continue;
        if (nh->nlmsg_flags & NLM_F_DUMP_INTR) st.interrupted = true;
        switch (nh->nlmsg_type) {
        case NLMSG_DONE: st.done = true; return;
        case NLMSG_ERROR:
            if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
                const auto *e = static_cast<const nlmsgerr *>(NLMSG_DATA(nh));
                if (e->error != 0) st.error = e->error;
            } else {
                st.error = -EBADMSG;
            }
            st.done = true;
            return;
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            LinkChange c;
            if (parse_link(nh, c))
                out.push_back(std::move(c));
            else
                spdlog::debug("iface watch: malformed link message skipped");
            break;
        }
        default: break;
        }
    }
}

// One datagram. Returns its length, 0 for none (EAGAIN/timeout), or -errno; `truncated` is set
// when it did not fit, `from_kernel` when netlink port 0 (the kernel) sent it.
ssize_t recv_datagram(int fd, RecvBuffer &buf, int flags, bool &truncated, bool &from_kernel) {
    sockaddr_nl from{};
    iovec iov{buf.bytes, sizeof(buf.bytes)};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n;
    do {
        n = recvmsg(fd, &msg, flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    from_kernel =
        msg.msg_namelen >= sizeof(from) && from.nl_family == AF_NETLINK && from.nl_pid == 0;
    return n;
}

Result<std::vector<LinkChange>> dump_once(uint32_t seq, bool &interrupted) {
    UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) return Error::from_errno("link dump: netlink socket");
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (bind(fd.get(), reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0)
        return Error::from_errno("link dump: bind");
    socklen_t alen = sizeof(local);
    if (getsockname(fd.get(), reinterpret_cast<sockaddr *>(&local), &alen) != 0)
        return Error::from_errno("link dump: getsockname");
    // A kernel that never answers must not hang policerd.
    timeval tv{kDumpTimeoutSec, 0};
    if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        return Error::from_errno("link dump: SO_RCVTIMEO");

    struct {
        nlmsghdr nh;
        ifinfomsg ifi;
    } req{};
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    req.nh.nlmsg_type = RTM_GETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = seq;
    req.ifi.ifi_family = AF_UNSPEC;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(fd.get(), &req, req.nh.nlmsg_len, 0, reinterpret_cast<sockaddr *>(&kernel),
               sizeof(kernel)) < 0)
        return Error::from_errno("link dump: send RTM_GETLINK");

    auto buf = std::make_unique<RecvBuffer>();
    std::vector<LinkChange> links;
    BatchState st;
    while (!st.done) {
        bool truncated = false, from_kernel = false;
        ssize_t n = recv_datagram(fd.get(), *buf, 0, truncated, from_kernel);
        if (n == 0)
            return Error{"link dump: no answer from the kernel within " +
                         std::to_string(kDumpTimeoutSec) + " s"};
        if (n < 0) return Error::from_errno("link dump: receive", static_cast<int>(-n));
        if (truncated)
            return Error{"link dump: a message exceeds " + std::to_string(kRecvBytes) + " bytes"};
        if (!from_kernel) continue;
        parse_batch(buf->bytes, static_cast<size_t>(n), seq, local.nl_pid, links, st);
        if (st.error != 0) return Error::from_errno("link dump: RTM_GETLINK", -st.error);
        if (links.size() > kMaxLinks) return Error{"link dump: implausibly many links"};
    }
    interrupted = st.interrupted;
    return links;
}

} // namespace

bool LinkChange::up() const {
    return (flags & IFF_UP) != 0;
}

Result<IfaceWatch> IfaceWatch::open() {
    UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!fd) return Error::from_errno("iface watch: netlink socket");
    // FORCE needs CAP_NET_ADMIN (policerd has it) and ignores rmem_max; fall back to the
    // capped size otherwise.
    int rcvbuf = kRcvBuf;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0 &&
        setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0)
        spdlog::warn("iface watch: cannot enlarge the receive buffer: {}", std::strerror(errno));
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = RTMGRP_LINK;
    if (bind(fd.get(), reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0)
        return Error::from_errno("iface watch: join RTMGRP_LINK");
    return IfaceWatch(std::move(fd));
}

std::vector<LinkChange> IfaceWatch::drain() {
    std::vector<LinkChange> changes;
    if (!fd_) return changes;
    auto buf = std::make_unique<RecvBuffer>();
    for (int i = 0; i < kDrainBudget; ++i) {
        bool truncated = false, from_kernel = false;
        ssize_t n = recv_datagram(fd_.get(), *buf, MSG_DONTWAIT, truncated, from_kernel);
        if (n == 0) break;
        if (n == -ENOBUFS) {
            // The kernel dropped notifications; the socket keeps working.
            lost_ = true;
            continue;
        }
        if (n < 0) {
            spdlog::warn("iface watch: receive: {}", std::strerror(static_cast<int>(-n)));
            break;
        }
        if (truncated) {
            lost_ = true;
            continue;
        }
        // Only the kernel sends link notifications; anything else is not believed.
        if (!from_kernel) continue;
        BatchState st;
        parse_batch(buf->bytes, static_cast<size_t>(n), 0, 0, changes, st);
    }
    return changes;
}

bool IfaceWatch::take_lost_events() {
    return std::exchange(lost_, false);
}

Result<std::vector<LinkChange>> IfaceWatch::list_links() {
    // Distinct per call, so that a late answer to an earlier dump is never taken for this one.
    static std::atomic<uint32_t> next_seq{
        static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
    for (int attempt = 1;; ++attempt) {
        uint32_t seq = ++next_seq;
        if (seq == 0) seq = ++next_seq;
        bool interrupted = false;
        auto links = dump_once(seq, interrupted);
        if (!links || !interrupted) return links;
        // The link table changed mid-dump: the answer may be inconsistent; ask again.
        if (attempt >= kDumpAttempts) {
            spdlog::warn("link dump: interrupted {} times by link changes; using the last one",
                         attempt);
            return links;
        }
    }
}

std::vector<LinkChange> parse_link_messages(const void *data, size_t len) {
    std::vector<LinkChange> out;
    if (!data || len == 0 || len > INT_MAX) return out;
    // Copied into an aligned buffer: the caller's bytes may sit anywhere.
    std::vector<uint32_t> aligned((len + sizeof(uint32_t) - 1) / sizeof(uint32_t));
    std::memcpy(aligned.data(), data, len);
    BatchState st;
    parse_batch(reinterpret_cast<const char *>(aligned.data()), len, 0, 0, out, st);
    return out;
}

} // namespace policer::daemon
