// net_bench.cpp - pl-net-bench, the traffic of bench/enforce_bench.sh: one server and five
// client measurements, so that the enforcement benchmark needs no other tool (iperf3, ...).
// Results and how to read them: docs/BENCHMARKS.md ("Enforcement").
//
//   pl-net-bench server [--port P]
//   pl-net-bench tcp-send HOST [--port P] [--seconds S]
//   pl-net-bench tcp-recv HOST [--port P] [--seconds S]
//   pl-net-bench udp HOST [--port P] [--seconds S] [--size BYTES]
//   pl-net-bench connect-rate HOST [--port P] [--seconds S]
//   pl-net-bench connect-latency HOST [--port P] [--count N]
//   pl-net-bench connect-once HOST [--port P] [--seconds TIMEOUT]
//
// The server listens on every address (IPv4 and IPv6) and prints "ready" once it does:
//   TCP P    bulk and control: a request line "sink" (the client sends until it shuts its side
//            down; the server answers "bytes=B ns=T", measured from the first byte to the end),
//            "source S" (the server sends for S seconds, then closes) or "udp-count" (the
//            server answers "datagrams=N": what UDP P has received so far);
//   TCP P+1  accepts and closes (connection rate, connect latency);
//   UDP P    counts the datagrams it receives.
// Clients print one line of key=value pairs; rates are counted on the receiving side:
//   tcp-send         MB/s (10^6 bytes) the server received from this client
//   tcp-recv         MB/s this client received from the server
//   udp              datagrams/s the server received (sent: what this client sent)
//   connect-rate     connections/s: socket(), connect(), close() in a loop
//   connect-latency  µs that connect() took: p50, p99, mean and max over N connections
//   connect-once     what one connect() to HOST:P (not P+1) met: result=connected, refused
//                    (a reset: nothing listens), eperm (refused locally, as by policer's
//                    connect hook), timeout (no answer, as when a firewall drops the SYN) or
//                    error; the driver checks with it that a configuration is in force
// Client sockets close with SO_LINGER 0 (a reset: no TIME_WAIT), so that a connection loop
// never runs out of ports. Exit status: 0, 1 on a failure, 2 on a usage error.

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBulkChunk = 128 * 1024;
constexpr unsigned kUdpBatch = 32;

[[noreturn]] void fail(const char *what) {
    std::fprintf(stderr, "pl-net-bench: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

[[noreturn]] void usage(int status) {
    std::fputs("usage: pl-net-bench server [--port P]\n"
               "       pl-net-bench tcp-send|tcp-recv|udp|connect-rate HOST [--port P] "
               "[--seconds S] [--size BYTES]\n"
               "       pl-net-bench connect-latency HOST [--port P] [--count N]\n"
               "       pl-net-bench connect-once HOST [--port P] [--seconds TIMEOUT]\n"
               "Measures TCP throughput, UDP datagrams/s, connections/s and connect() latency\n"
               "against a pl-net-bench server (bench/enforce_bench.sh runs it).\n",
               status ? stderr : stdout);
    std::exit(status);
}

int64_t ns_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

struct Options {
    std::string mode;
    std::string host;
    uint16_t port = 47100;
    double seconds = 3;
    size_t size = 64;
    size_t count = 20000;
};

// ---- sockets -----------------------------------------------------------------------------

// The address of HOST (a numeric IPv4 or IPv6 address) and `port`.
sockaddr_storage resolve(const std::string &host, uint16_t port, socklen_t &len) {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_UNSPEC;
    addrinfo *res = nullptr;
    const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0 || !res) {
        std::fprintf(stderr, "pl-net-bench: '%s' is not an IP address: %s\n", host.c_str(),
                     gai_strerror(rc));
        std::exit(2);
    }
    sockaddr_storage ss{};
    std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
    len = res->ai_addrlen;
    freeaddrinfo(res);
    return ss;
}

void set_int(int fd, int level, int name, int value) {
    if (setsockopt(fd, level, name, &value, sizeof value) < 0) fail("setsockopt");
}

// Closes with a reset: the port is free again at once (no TIME_WAIT).
void close_abort(int fd) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

int connect_tcp(const sockaddr_storage &addr, socklen_t len) {
    const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    if (connect(fd, reinterpret_cast<const sockaddr *>(&addr), len) < 0) fail("connect");
    return fd;
}

bool write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// One line (without its '\n') of at most 255 bytes, read byte by byte: nothing after it is
// consumed. Empty on EOF or error.
std::string read_line(int fd) {
    std::string line;
    char c;
    while (line.size() < 255) {
        const ssize_t r = recv(fd, &c, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || c == '\n') break;
        line += c;
    }
    return line;
}

// A dual-stack socket bound to [::]:port.
int bind_any(int type, uint16_t port) {
    const int fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) < 0) fail("bind");
    return fd;
}

// ---- server ------------------------------------------------------------------------------

std::atomic<uint64_t> g_datagrams{0};

void serve_sink(int fd) {
    std::vector<char> buf(kBulkChunk);
    uint64_t bytes = 0;
    Clock::time_point first{};
    for (;;) {
        const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (bytes == 0) first = Clock::now();
        bytes += static_cast<uint64_t>(r);
    }
    const std::string reply = "bytes=" + std::to_string(bytes) +
                              " ns=" + std::to_string(bytes ? ns_since(first) : 0) + "\n";
    write_all(fd, reply.data(), reply.size());
}

void serve_source(int fd, double seconds) {
    std::vector<char> buf(kBulkChunk, 'x');
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end)
        if (!write_all(fd, buf.data(), buf.size())) return;
}

void serve_bulk(int fd) {
    const std::string req = read_line(fd);
    if (req == "sink") {
        serve_sink(fd);
    } else if (req.rfind("source ", 0) == 0) {
        const double s = std::strtod(req.c_str() + 7, nullptr);
        if (s > 0 && s <= 600) serve_source(fd, s);
    } else if (req == "udp-count") {
        const std::string reply = "datagrams=" + std::to_string(g_datagrams.load()) + "\n";
        write_all(fd, reply.data(), reply.size());
    }
    close(fd);
}

void bulk_listener(int lfd) {
    for (;;) {
        const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            fail("accept");
        }
        std::thread(serve_bulk, fd).detach();
    }
}

void accept_close(int lfd) {
    for (;;) {
        const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE &&
                   errno != ENFILE && errno != ENOBUFS && errno != ENOMEM) {
            fail("accept");
        }
    }
}

void udp_counter(int fd) {
    std::vector<char> bufs(kUdpBatch * 2048);
    mmsghdr msgs[kUdpBatch];
    iovec iov[kUdpBatch];
    for (;;) {
        std::memset(msgs, 0, sizeof msgs);
        for (unsigned i = 0; i < kUdpBatch; ++i) {
            iov[i] = {bufs.data() + i * 2048, 2048};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int n = recvmmsg(fd, msgs, kUdpBatch, MSG_WAITFORONE, nullptr);
        if (n > 0)
            g_datagrams.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        else if (n < 0 && errno != EINTR)
            fail("recvmmsg");
    }
}

int run_server(const Options &o) {
    if (o.port == 65535) {
        std::fprintf(stderr, "pl-net-bench: the server needs --port P and P+1\n");
        return 2;
    }
    const int bulk = bind_any(SOCK_STREAM, o.port);
    const int churn = bind_any(SOCK_STREAM, static_cast<uint16_t>(o.port + 1));
    const int udp = bind_any(SOCK_DGRAM, o.port);
    // A large receive buffer: datagrams are lost when the counter falls behind, not when a
    // burst of the sender's batches arrives at once (SO_RCVBUFFORCE needs CAP_NET_ADMIN).
    const int rcvbuf = 8 << 20;
    if (setsockopt(udp, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        set_int(udp, SOL_SOCKET, SO_RCVBUF, rcvbuf);
    if (listen(bulk, 64) < 0 || listen(churn, 65535) < 0) fail("listen");
    std::thread(bulk_listener, bulk).detach();
    std::thread(accept_close, churn).detach();
    std::thread(udp_counter, udp).detach();
    std::printf("ready port=%u\n", o.port);
    std::fflush(stdout);
    for (;;) pause(); // until a signal ends the process
}

// ---- clients -----------------------------------------------------------------------------

int run_tcp_send(const Options &o, const sockaddr_storage &addr, socklen_t len) {
    const int fd = connect_tcp(addr, len);
    std::vector<char> buf(kBulkChunk, 'x');
    if (!write_all(fd, "sink\n", 5)) fail("send");
    uint64_t sent = 0;
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration<double>(o.seconds);
    while (Clock::now() < end) {
        if (!write_all(fd, buf.data(), buf.size())) fail("send");
        sent += buf.size();
    }
    shutdown(fd, SHUT_WR);
    const std::string reply = read_line(fd);
    unsigned long long bytes = 0, ns = 0;
    if (std::sscanf(reply.c_str(), "bytes=%llu ns=%llu", &bytes, &ns) != 2 || ns == 0) {
        std::fprintf(stderr, "pl-net-bench: the server gave no count ('%s')\n", reply.c_str());
        return 1;
    }
    close(fd);
    std::printf("mode=tcp-send seconds=%.3f sent_bytes=%" PRIu64 " received_bytes=%llu "
                "mbytes_per_s=%.1f\n",
                ns / 1e9, sent, bytes, bytes * 1e3 / ns);
    return 0;
}

int run_tcp_recv(const Options &o, const sockaddr_storage &addr, socklen_t len) {
    const int fd = connect_tcp(addr, len);
    const std::string req = "source " + std::to_string(o.seconds) + "\n";
    if (!write_all(fd, req.data(), req.size())) fail("send");
    std::vector<char> buf(kBulkChunk);
    uint64_t bytes = 0;
    Clock::time_point first{};
    for (;;) {
        const ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail("recv");
        if (r == 0) break;
        if (bytes == 0) first = Clock::now();
        bytes += static_cast<uint64_t>(r);
    }
    const int64_t ns = bytes ? ns_since(first) : 0;
    close(fd);
    if (ns == 0) {
        std::fprintf(stderr, "pl-net-bench: received nothing\n");
        return 1;
    }
    std::printf("mode=tcp-recv seconds=%.3f received_bytes=%" PRIu64 " mbytes_per_s=%.1f\n",
                ns / 1e9, bytes, bytes * 1e3 / static_cast<double>(ns));
    return 0;
}

uint64_t udp_count(const sockaddr_storage &addr, socklen_t len) {
    const int fd = connect_tcp(addr, len);
    if (!write_all(fd, "udp-count\n", 10)) fail("send");
    const std::string reply = read_line(fd);
    close(fd);
    unsigned long long n = 0;
    if (std::sscanf(reply.c_str(), "datagrams=%llu", &n) != 1) {
        std::fprintf(stderr, "pl-net-bench: the server gave no count ('%s')\n", reply.c_str());
        std::exit(1);
    }
    return n;
}

int run_udp(const Options &o, const sockaddr_storage &addr, socklen_t len) {
    if (o.size < 1 || o.size > 1400) {
        std::fprintf(stderr, "pl-net-bench: --size must be 1..1400\n");
        return 2;
    }
    const int fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    if (connect(fd, reinterpret_cast<const sockaddr *>(&addr), len) < 0) fail("connect");
    std::vector<char> payload(o.size, 'u');
    mmsghdr msgs[kUdpBatch];
    iovec iov[kUdpBatch];
    std::memset(msgs, 0, sizeof msgs);
    for (unsigned i = 0; i < kUdpBatch; ++i) {
        iov[i] = {payload.data(), payload.size()};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const uint64_t before = udp_count(addr, len);
    uint64_t sent = 0, send_errors = 0;
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration<double>(o.seconds);
    while (Clock::now() < end) {
        const int n = sendmmsg(fd, msgs, kUdpBatch, 0);
        if (n > 0)
            sent += static_cast<uint64_t>(n);
        else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED || errno == EINTR)
            ++send_errors; // a full queue, or an ICMP error from an earlier datagram
        else
            fail("sendmmsg");
    }
    const double elapsed = ns_since(t0) / 1e9;
    // Datagrams still queued at the receiver are counted once it has read them.
    uint64_t received = 0;
    for (int i = 0; i < 20; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const uint64_t now = udp_count(addr, len) - before;
        if (i > 0 && now == received) break;
        received = now;
    }
    close(fd);
    std::printf("mode=udp seconds=%.3f size=%zu sent=%" PRIu64 " received=%" PRIu64
                " send_errors=%" PRIu64 " received_per_s=%.0f loss=%.4f\n",
                elapsed, o.size, sent, received, send_errors, received / elapsed,
                sent ? 1.0 - static_cast<double>(received) / static_cast<double>(sent) : 0.0);
    return received ? 0 : 1;
}

// One connection to the accept-and-close port: socket(), connect(), close with a reset.
// Returns the ns connect() took, or -1 (errno set) if it failed.
int64_t one_connect(const sockaddr_storage &addr, socklen_t len) {
    const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    const auto t0 = Clock::now();
    const int rc = connect(fd, reinterpret_cast<const sockaddr *>(&addr), len);
    const int64_t ns = ns_since(t0);
    const int err = errno;
    close_abort(fd);
    errno = err;
    return rc == 0 ? ns : -1;
}

int run_connect_rate(const Options &o, const sockaddr_storage &addr, socklen_t len) {
    uint64_t ok = 0, failed = 0;
    int last_errno = 0;
    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::duration<double>(o.seconds);
    while (Clock::now() < end) {
        if (one_connect(addr, len) >= 0) {
            ++ok;
        } else {
            ++failed;
            last_errno = errno;
            if (failed > 1000 && failed > ok) break;
        }
    }
    const double elapsed = ns_since(t0) / 1e9;
    std::printf("mode=connect-rate seconds=%.3f connections=%" PRIu64 " failed=%" PRIu64
                " connections_per_s=%.0f\n",
                elapsed, ok, failed, ok / elapsed);
    if (failed) {
        std::fprintf(stderr, "pl-net-bench: %" PRIu64 " connects failed, the last with: %s\n",
                     failed, std::strerror(last_errno));
        return 1;
    }
    return 0;
}

double percentile(const std::vector<int64_t> &sorted, double p) {
    // Nearest rank: the smallest value with at least p of the samples at or below it.
    size_t rank = static_cast<size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
    rank = std::clamp<size_t>(rank, 1, sorted.size());
    return static_cast<double>(sorted[rank - 1]);
}

int run_connect_latency(const Options &o, const sockaddr_storage &addr, socklen_t len) {
    // Untimed first connects: neighbour entries, routes and the server's first accepts.
    for (int i = 0; i < 200; ++i)
        if (one_connect(addr, len) < 0) fail("connect");
    std::vector<int64_t> ns;
    ns.reserve(o.count);
    for (size_t i = 0; i < o.count; ++i) {
        const int64_t t = one_connect(addr, len);
        if (t < 0) fail("connect");
        ns.push_back(t);
    }
    std::sort(ns.begin(), ns.end());
    double sum = 0;
    for (int64_t t : ns)
        sum += static_cast<double>(t);
    std::printf("mode=connect-latency count=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
                "mean_us=%.1f max_us=%.1f\n",
                ns.size(), percentile(ns, 0.50) / 1e3, percentile(ns, 0.90) / 1e3,
                percentile(ns, 0.99) / 1e3, sum / static_cast<double>(ns.size()) / 1e3,
                static_cast<double>(ns.back()) / 1e3);
    return 0;
}

int run_connect_once(const Options &o, const sockaddr_storage &addr, socklen_t len) {
    const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    int err = 0;
    if (connect(fd, reinterpret_cast<const sockaddr *>(&addr), len) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            const int n = poll(&p, 1, static_cast<int>(o.seconds * 1000));
            if (n < 0) fail("poll");
            socklen_t el = sizeof err;
            err = ETIMEDOUT;
            if (n > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) fail("getsockopt");
        }
    }
    close_abort(fd);
    const char *result = err == 0              ? "connected"
                         : err == ECONNREFUSED ? "refused"
                         : err == EPERM        ? "eperm"
                         : err == ETIMEDOUT    ? "timeout"
                                               : nullptr;
    if (result)
        std::printf("mode=connect-once result=%s\n", result);
    else
        std::printf("mode=connect-once result=error errno=%d (%s)\n", err, std::strerror(err));
    return 0;
}

double number_arg(const char *opt, const char *v, double lo, double hi) {
    char *end = nullptr;
    const double d = std::strtod(v, &end);
    if (!*v || *end || !(d >= lo && d <= hi)) {
        std::fprintf(stderr, "pl-net-bench: %s needs a number from %g to %g\n", opt, lo, hi);
        std::exit(2);
    }
    return d;
}

} // namespace

int main(int argc, char **argv) {
    std::signal(SIGPIPE, SIG_IGN);
    Options o;
    if (argc < 2) usage(2);
    o.mode = argv[1];
    if (o.mode == "-h" || o.mode == "--help") usage(0);
    int i = 2;
    if (o.mode != "server") {
        if (argc < 3 || argv[2][0] == '-') usage(2);
        o.host = argv[i++];
    }
    for (; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") usage(0);
        if (i + 1 >= argc) usage(2);
        const char *v = argv[++i];
        if (a == "--port")
            o.port = static_cast<uint16_t>(number_arg("--port", v, 1, 65535));
        else if (a == "--seconds")
            o.seconds = number_arg("--seconds", v, 0.01, 600);
        else if (a == "--size")
            o.size = static_cast<size_t>(number_arg("--size", v, 1, 1400));
        else if (a == "--count")
            o.count = static_cast<size_t>(number_arg("--count", v, 1, 10000000));
        else
            usage(2);
    }
    if (o.mode == "server") return run_server(o);
    // Connection loops go to the accept-and-close port P+1; the rest to P (UDP and TCP).
    const bool churn = o.mode == "connect-rate" || o.mode == "connect-latency";
    if (churn && o.port == 65535) usage(2);
    socklen_t len = 0;
    const sockaddr_storage addr =
        resolve(o.host, static_cast<uint16_t>(churn ? o.port + 1 : o.port), len);
    if (o.mode == "tcp-send") return run_tcp_send(o, addr, len);
    if (o.mode == "tcp-recv") return run_tcp_recv(o, addr, len);
    if (o.mode == "udp") return run_udp(o, addr, len);
    if (o.mode == "connect-rate") return run_connect_rate(o, addr, len);
    if (o.mode == "connect-latency") return run_connect_latency(o, addr, len);
    if (o.mode == "connect-once") return run_connect_once(o, addr, len);
    std::fprintf(stderr, "pl-net-bench: unknown mode '%s'\n", o.mode.c_str());
    usage(2);
}
