// pl-drop-priv: a daemon in miniature that opens its sockets as root, then drops to another
// user and only then uses them (as ntpd, chronyd and dnsmasq do).
//   pl-drop-priv ADDR UDP_PORT TCP_PORT UID GID
// Sends one UDP datagram and makes one TCP connection, as UID:GID, on sockets root created.
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: pl-drop-priv ADDR UDP_PORT TCP_PORT UID GID\n");
        return 2;
    }
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    if (udp < 0 || tcp < 0) return 1;
    if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(std::atoi(argv[5]))) != 0 ||
        setuid(static_cast<uid_t>(std::atoi(argv[4]))) != 0) {
        std::perror("pl-drop-priv: drop");
        return 1;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) return 2;
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
    if (sendto(udp, "x", 1, 0, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 1) return 1;
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[3])));
    if (connect(tcp, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
        std::perror("pl-drop-priv: connect");
        return 1;
    }
    if (write(tcp, "y", 1) != 1) return 1;
    close(tcp);
    close(udp);
    return 0;
}
