// pl-udp: UDP for the tests.
//   pl-udp send ADDR PORT COUNT SIZE [--expect-replies] [--hold SECONDS]
//       unconnected: sendto()/recvfrom(); --hold keeps the socket open that long before exiting
//   pl-udp send-connected ADDR PORT COUNT SIZE [--expect-replies]   connect(), then send()/recv()
//   pl-udp scan ADDR FIRST_PORT COUNT [HOLD_SECONDS]   one datagram to each of COUNT ports, from
//       one socket, as a port scan does; then keeps the socket open HOLD_SECONDS
//   pl-udp serve ADDR PORT COUNT                          echo COUNT datagrams back, then exit
// Prints "ready" on stdout once a server is bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockaddr_text.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char *what) {
    std::fprintf(stderr, "pl-udp: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

socklen_t make_addr(const char *ip, int port, sockaddr_storage &ss) {
    socklen_t len = sockaddr_from_text(ip, port, ss);
    if (len == 0) {
        std::fprintf(stderr, "pl-udp: bad address %s\n", ip);
        std::exit(2);
    }
    return len;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: pl-udp send|send-connected ADDR PORT COUNT SIZE "
                             "[--expect-replies]\n"
                             "       pl-udp serve ADDR PORT COUNT\n");
        return 2;
    }
    std::string mode = argv[1];
    sockaddr_storage addr;
    socklen_t alen = make_addr(argv[2], std::atoi(argv[3]), addr);
    int count = std::atoi(argv[4]);
    int fd = socket(addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    if (mode == "scan") {
        auto *v4 = reinterpret_cast<sockaddr_in *>(&addr);
        auto *v6 = reinterpret_cast<sockaddr_in6 *>(&addr);
        const int first = std::atoi(argv[3]);
        for (int i = 0; i < count; ++i) {
            uint16_t port = htons(static_cast<uint16_t>(first + i));
            (addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port) = port;
            if (sendto(fd, "s", 1, 0, reinterpret_cast<sockaddr *>(&addr), alen) < 0) die("sendto");
        }
        if (argc > 5) sleep(static_cast<unsigned>(std::atoi(argv[5])));
        return 0;
    }
    if (mode == "send-connected") {
        if (argc < 6) return 2;
        size_t size = static_cast<size_t>(std::atoi(argv[5]));
        bool replies = argc > 6 && std::string(argv[6]) == "--expect-replies";
        if (connect(fd, reinterpret_cast<sockaddr *>(&addr), alen) != 0) die("connect");
        std::vector<char> buf(size, 'y');
        for (int i = 0; i < count; ++i) {
            if (send(fd, buf.data(), buf.size(), 0) < 0) die("send");
            if (replies && recv(fd, buf.data(), buf.size(), 0) < 0) die("recv");
        }
        return 0;
    }
    if (mode == "send") {
        if (argc < 6) return 2;
        size_t size = static_cast<size_t>(std::atoi(argv[5]));
        bool replies = false;
        unsigned hold = 0;
        for (int a = 6; a < argc; ++a) {
            std::string opt = argv[a];
            if (opt == "--expect-replies")
                replies = true;
            else if (opt == "--hold" && a + 1 < argc)
                hold = static_cast<unsigned>(std::atoi(argv[++a]));
            else
                return 2;
        }
        std::vector<char> buf(size, 'x');
        for (int i = 0; i < count; ++i) {
            if (sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&addr), alen) <
                0)
                die("sendto");
            if (replies) {
                sockaddr_storage from;
                socklen_t flen = sizeof(from);
                if (recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from),
                             &flen) < 0)
                    die("recvfrom");
            }
        }
        if (hold) sleep(hold);
        return 0;
    }
    if (mode == "serve") {
        if (bind(fd, reinterpret_cast<sockaddr *>(&addr), alen) != 0) die("bind");
        std::printf("ready\n");
        std::fflush(stdout);
        std::vector<char> buf(65536);
        for (int i = 0; i < count; ++i) {
            sockaddr_storage from;
            socklen_t flen = sizeof(from);
            ssize_t n =
                recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &flen);
            if (n < 0) die("recvfrom");
            if (sendto(fd, buf.data(), static_cast<size_t>(n), 0,
                       reinterpret_cast<sockaddr *>(&from), flen) < 0)
                die("sendto");
        }
        return 0;
    }
    std::fprintf(stderr, "pl-udp: unknown mode %s\n", mode.c_str());
    return 2;
}
