// pl-connect: one client the enforcement tests drive, printing what the kernel let it do.
//   pl-connect tcp ADDR PORT [--timeout-ms N]        connect(); prints "ok" or "error <ERRNO>"
//   pl-connect udp ADDR PORT [--count N] [--ms T]    sendto() N datagrams (unconnected), spread
//                                                    over T ms; prints "sent <n> refused <m>",
//                                                    or "error <ERRNO>" when none could be sent
//   pl-connect udp-connected ADDR PORT [--count N] [--ms T]   connect() then send()
//   pl-connect stream ADDR PORT --ms N               connect(), send an HTTP request, then 1 KiB
//                                                    every 5 ms for N ms; prints "sent <bytes>"
//                                                    and the first error ("error <ERRNO>")
// ERRNO is the symbolic name (EPERM, ETIMEDOUT, ECONNRESET, ...). Exit status 0 unless the
// arguments are wrong.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockaddr_text.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

const char *errno_name(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case EPIPE: return "EPIPE";
    case EAGAIN: return "EAGAIN";
    case EINPROGRESS: return "EINPROGRESS";
    default: return "EOTHER";
    }
}

socklen_t make_addr(const char *ip, int port, sockaddr_storage &ss) {
    socklen_t len = sockaddr_from_text(ip, port, ss);
    if (len == 0) {
        std::fprintf(stderr, "pl-connect: bad address %s\n", ip);
        std::exit(2);
    }
    return len;
}

int fail(const char *what) {
    std::printf("error %s\n", errno_name(errno));
    std::fprintf(stderr, "pl-connect: %s: %s\n", what, std::strerror(errno));
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: pl-connect tcp|udp|udp-connected|stream ADDR PORT [opts]\n");
        return 2;
    }
    std::string mode = argv[1];
    int count = 1, timeout_ms = 3000, ms = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        std::string o = argv[i];
        int v = std::atoi(argv[i + 1]);
        if (o == "--count") count = v;
        else if (o == "--timeout-ms") timeout_ms = v;
        else if (o == "--ms") ms = v;
    }
    sockaddr_storage ss;
    socklen_t len = make_addr(argv[2], std::atoi(argv[3]), ss);
    const bool udp = mode == "udp" || mode == "udp-connected";
    int fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd < 0) return fail("socket");
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    // Datagrams: count what the kernel took and what it refused (a limit refuses some).
    auto datagrams = [&](bool connected) {
        int sent = 0, refused = 0, last_err = 0;
        const useconds_t gap = ms > 0 && count > 0 ? static_cast<useconds_t>(ms * 1000L / count) : 0;
        for (int i = 0; i < count; ++i) {
            ssize_t n = connected ? send(fd, "policer", 7, 0)
                                  : sendto(fd, "policer", 7, 0, reinterpret_cast<sockaddr *>(&ss), len);
            if (n < 0) {
                ++refused;
                last_err = errno;
            } else {
                ++sent;
            }
            if (gap) usleep(gap);
        }
        if (sent == 0 && refused > 0) {
            errno = last_err;
            return fail("send");
        }
        std::printf("sent %d refused %d\n", sent, refused);
        return 0;
    };
    if (mode == "udp") return datagrams(false);
    if (connect(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
        // A TCP connect that got no answer within SO_SNDTIMEO reports EINPROGRESS.
        if (errno == EINPROGRESS) errno = ETIMEDOUT;
        return fail("connect");
    }
    if (mode == "tcp") {
        std::printf("ok\n");
        return 0;
    }
    if (mode == "udp-connected") return datagrams(true);
    // stream: an HTTP request, then data until the deadline or the first error.
    const std::string req = "GET /policer-l7 HTTP/1.1\r\nHost: forbidden.test\r\n\r\n";
    long total = 0;
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) return fail("send");
    total += static_cast<long>(req.size());
    char chunk[1024];
    std::memset(chunk, 'x', sizeof(chunk));
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    int err = 0;
    while (std::chrono::steady_clock::now() < end) {
        ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) {
            err = errno;
            break;
        }
        if (n > 0) total += n;
        usleep(5000);
    }
    std::printf("sent %ld\n", total);
    if (err) {
        errno = err;
        return fail("send");
    }
    return 0;
}
