// sock_destroy.cpp - SOCK_DESTROY requests over NETLINK_SOCK_DIAG (see sock_destroy.h): the
// request, and a strict reading of the kernel's acknowledgement.
#include "policer/sock_destroy.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

namespace policer {
namespace {

// How long one request waits for the kernel's answer. The kernel answers SOCK_DESTROY
// synchronously, inside sendto(); the timeout only guards against a reply that never comes.
constexpr auto kReplyTimeout = std::chrono::seconds(1);
// Replies to earlier requests that timed out may still be queued; at most this many are
// skipped before the request is abandoned.
constexpr int kMaxStaleReplies = 64;

struct DestroyRequest {
    nlmsghdr nh;
    inet_diag_req_v2 req;
};
static_assert(sizeof(DestroyRequest) == NLMSG_LENGTH(sizeof(inet_diag_req_v2)),
              "the request must have no padding between header and body");

std::string protocol_name(uint8_t protocol) {
    return protocol == IPPROTO_TCP ? "TCP" : "UDP";
}

// The kernel's error for a request, as a precise message. ENOENT is not an error (NotFound).
Error destroy_error(int err, uint8_t protocol) {
    const std::string what = "SOCK_DESTROY of a " + protocol_name(protocol) + " socket";
    switch (err) {
    case EOPNOTSUPP:
        return Error{what +
                     ": the kernel cannot destroy sockets (built without "
                     "CONFIG_INET_DIAG_DESTROY, or no destroy handler for " +
                     protocol_name(protocol) + ")"};
    case EPERM:
    case EACCES:
        return Error{what + ": not permitted (needs CAP_NET_ADMIN in the socket's network "
                            "namespace)"};
    case EINVAL: return Error{what + ": the kernel refused the request as malformed"};
    default: return Error::from_errno(what, err);
    }
}

} // namespace

const char *destroy_outcome_name(DestroyOutcome o) {
    return o == DestroyOutcome::Destroyed ? "destroyed" : "not found";
}

Result<SockDestroyer> SockDestroyer::open() {
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return Error::from_errno("socket(NETLINK_SOCK_DIAG)");

    // Never block for long on a reply; the deadline in destroy() bounds the whole wait.
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kReplyTimeout).count();
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        return Error::from_errno("setsockopt(SO_RCVTIMEO) on the sock_diag socket");
    // Errors need not echo our request back: the header is enough to check it is ours. Best
    // effort (kernels before 4.3 lack it; the receive buffer has room for the echo anyway).
    int one = 1;
    (void)::setsockopt(fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));

    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0)
        return Error::from_errno("bind(NETLINK_SOCK_DIAG)");
    socklen_t len = sizeof(local);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&local), &len) != 0)
        return Error::from_errno("getsockname(NETLINK_SOCK_DIAG)");
    if (len != sizeof(local) || local.nl_family != AF_NETLINK || local.nl_pid == 0)
        return Error{"sock_diag socket: the kernel gave it no port id"};
    return SockDestroyer(std::move(fd), local.nl_pid);
}

Result<DestroyOutcome> SockDestroyer::destroy_tcp(const SocketId &id) {
    return destroy(id, IPPROTO_TCP);
}

Result<DestroyOutcome> SockDestroyer::destroy_udp(const SocketId &id) {
    return destroy(id, IPPROTO_UDP);
}

Result<DestroyOutcome> SockDestroyer::destroy(const SocketId &id, uint8_t protocol) {
    if (id.family != AF_INET && id.family != AF_INET6)
        return Error{"SOCK_DESTROY: address family " + std::to_string(id.family) +
                     " is neither AF_INET nor AF_INET6"};
    // Without a cookie the kernel would kill whatever socket holds the tuple now, possibly
    // not the one a verdict was about; INET_DIAG_NOCOOKIE in both halves means exactly that.
    if (id.cookie == 0 || id.cookie == ~uint64_t(0))
        return Error{"SOCK_DESTROY: the socket's cookie is required (got " +
                     std::to_string(id.cookie) + ")"};

    DestroyRequest m{};
    m.nh.nlmsg_len = sizeof(m);
    m.nh.nlmsg_type = SOCK_DESTROY;
    m.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    m.nh.nlmsg_seq = ++seq_;
    m.req.sdiag_family = id.family;
    m.req.sdiag_protocol = protocol;
    m.req.idiag_states = ~0u; // any state: the tuple and cookie say which socket
    m.req.id.idiag_sport = htons(id.local_port);
    m.req.id.idiag_dport = htons(id.remote_port);
    const size_t alen = id.family == AF_INET ? 4 : 16;
    std::memcpy(m.req.id.idiag_src, id.local_addr.data(), alen);
    std::memcpy(m.req.id.idiag_dst, id.remote_addr.data(), alen);
    m.req.id.idiag_if = 0;
    // The kernel compares each half with the cookie's low and high 32 bits, in host order.
    m.req.id.idiag_cookie[0] = static_cast<uint32_t>(id.cookie);
    m.req.id.idiag_cookie[1] = static_cast<uint32_t>(id.cookie >> 32);

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK; // nl_pid 0: the kernel
    ssize_t n;
    do {
        n = ::sendto(fd_.get(), &m, sizeof(m), 0, reinterpret_cast<sockaddr *>(&kernel),
                     sizeof(kernel));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error::from_errno("SOCK_DESTROY: sendto(NETLINK_SOCK_DIAG)");
    if (static_cast<size_t>(n) != sizeof(m))
        return Error{"SOCK_DESTROY: the request was sent short (" + std::to_string(n) + " of " +
                     std::to_string(sizeof(m)) + " bytes)"};

    const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
    alignas(nlmsghdr) char buf[8192];
    for (int stale = 0; stale <= kMaxStaleReplies;) {
        if (std::chrono::steady_clock::now() > deadline)
            return Error{"SOCK_DESTROY: no reply from the kernel within 1s"};
        sockaddr_nl from{};
        iovec iov{buf, sizeof(buf)};
        msghdr mh{};
        mh.msg_name = &from;
        mh.msg_namelen = sizeof(from);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        ssize_t got = ::recvmsg(fd_.get(), &mh, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return Error{"SOCK_DESTROY: no reply from the kernel within 1s"};
            return Error::from_errno("SOCK_DESTROY: recvmsg(NETLINK_SOCK_DIAG)");
        }
        if (mh.msg_flags & MSG_TRUNC)
            return Error{"SOCK_DESTROY: the kernel's reply did not fit the receive buffer"};
        // Only the kernel's own messages count; any other sender's are dropped.
        if (mh.msg_namelen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0) {
            ++stale;
            spdlog::debug("SOCK_DESTROY: ignored a netlink message from port {}", from.nl_pid);
            continue;
        }

        size_t left = static_cast<size_t>(got);
        const char *p = buf;
        while (left > 0) {
            if (left < sizeof(nlmsghdr))
                return Error{"SOCK_DESTROY: a truncated netlink header in the kernel's reply"};
            nlmsghdr h;
            std::memcpy(&h, p, sizeof(h));
            if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > left)
                return Error{"SOCK_DESTROY: a netlink message of invalid length " +
                             std::to_string(h.nlmsg_len) + " in the kernel's reply"};
            const size_t step = std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), left);
            if (h.nlmsg_seq != seq_) {
                // The late answer to an earlier request that timed out.
                ++stale;
                spdlog::debug("SOCK_DESTROY: skipped a reply to request {} (waiting for {})",
                              h.nlmsg_seq, seq_);
                p += step;
                left -= step;
                continue;
            }
            if (h.nlmsg_pid != portid_)
                return Error{"SOCK_DESTROY: the reply is addressed to port " +
                             std::to_string(h.nlmsg_pid) + ", not ours (" +
                             std::to_string(portid_) + ")"};
            if (h.nlmsg_type != NLMSG_ERROR)
                return Error{"SOCK_DESTROY: unexpected netlink message type " +
                             std::to_string(h.nlmsg_type) + " in the kernel's reply"};
            if (h.nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr)))
                return Error{"SOCK_DESTROY: the kernel's acknowledgement is too short (" +
                             std::to_string(h.nlmsg_len) + " bytes)"};
            nlmsgerr e;
            std::memcpy(&e, p + NLMSG_HDRLEN, sizeof(e));
            // The acknowledgement carries the header of the request it answers.
            if (e.msg.nlmsg_seq != seq_ || e.msg.nlmsg_type != SOCK_DESTROY)
                return Error{"SOCK_DESTROY: the kernel acknowledged a different request"};
            if (e.error > 0)
                return Error{"SOCK_DESTROY: invalid error code " + std::to_string(e.error) +
                             " in the kernel's acknowledgement"};
            if (e.error == 0) return DestroyOutcome::Destroyed;
            // ENOENT: no socket has this tuple, or the one that has it has another cookie.
            if (-e.error == ENOENT) return DestroyOutcome::NotFound;
            return destroy_error(-e.error, protocol);
        }
    }
    return Error{"SOCK_DESTROY: too many unrelated netlink messages before the reply"};
}

} // namespace policer
