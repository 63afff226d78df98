// pl-storm: short TCP connections, as fast as they go: connect, send one byte, close.
//   pl-storm ADDR PORT COUNT
// Exits 0 only if every connection was made.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: pl-storm ADDR PORT COUNT\n");
        return 2;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) return 2;
    int count = std::atoi(argv[3]);
    for (int i = 0; i < count; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0) {
            std::fprintf(stderr, "pl-storm: connection %d: %s\n", i, std::strerror(errno));
            return 1;
        }
        char b = 'x';
        if (write(fd, &b, 1) != 1) return 1;
        close(fd);
    }
    return 0;
}
