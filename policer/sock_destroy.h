// sock_destroy.h - kills one local TCP or UDP socket through the kernel's sock_diag netlink
// interface (SOCK_DESTROY, CONFIG_INET_DIAG_DESTROY). The socket's owner sees its next call
// fail with ECONNABORTED; for TCP the kernel also sends the peer a RST. This is how a flow
// that is already established when a verdict turns against it is cut (a verdict known only
// after dissection, a rule set reloaded while the flow runs).
//
// The request names the socket by its 4-tuple and its cookie (SO_COOKIE, or the cookie the
// probes report): the kernel finds the socket by tuple and then refuses it unless the cookie
// matches, so a socket that closed and whose tuple was reused by another one is never hit.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <array>
#include <cstdint>
#include <utility>

namespace policer {

// One local socket as the kernel knows it. Addresses in network byte order, IPv4 in the
// first 4 bytes (for AF_INET6, IPv4-mapped addresses name an IPv4 connection of a dual-stack
// socket, and the kernel looks it up as IPv4). Ports in host byte order.
struct SocketId {
    uint8_t family = 0; // AF_INET or AF_INET6
    std::array<uint8_t, 16> local_addr{};
    std::array<uint8_t, 16> remote_addr{};
    uint16_t local_port = 0;
    uint16_t remote_port = 0;
    uint64_t cookie = 0; // required: 0 and ~0 (the kernel's "any cookie") are refused
};

// What a destroy request found. NotFound is an ordinary outcome: the socket closed on its own
// before the request (or it never had this tuple and cookie) - there is nothing left to kill.
enum class DestroyOutcome { Destroyed, NotFound };
const char *destroy_outcome_name(DestroyOutcome o);

// Owns one NETLINK_SOCK_DIAG socket; requests are synchronous, one at a time (not
// thread-safe: give each thread its own). Needs CAP_NET_ADMIN in the sockets' network
// namespace. Each reply is awaited at most about a second, so a request never hangs.
class SockDestroyer {
public:
    static Result<SockDestroyer> open();

    // Kills the TCP socket `id`; the peer gets a RST when the connection's state calls for one
    // (established, closing).
    Result<DestroyOutcome> destroy_tcp(const SocketId &id);
    // Kills the UDP socket `id` (kernel >= 4.5: udp_abort). The kernel finds UDP sockets the
    // way it delivers a datagram from remote to local, so an unconnected socket is found by
    // its local address and port whatever the remote (all zeros will do); the cookie still
    // has to match. UDP has no RST: only the local owner learns of it.
    Result<DestroyOutcome> destroy_udp(const SocketId &id);

private:
    SockDestroyer(UniqueFd fd, uint32_t portid) : fd_(std::move(fd)), portid_(portid) {}
    Result<DestroyOutcome> destroy(const SocketId &id, uint8_t protocol);

    UniqueFd fd_;
    uint32_t portid_ = 0; // our netlink port id: the kernel addresses its replies to it
    uint32_t seq_ = 0;    // of the last request
};

} // namespace policer
