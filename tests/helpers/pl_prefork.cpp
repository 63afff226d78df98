// pl-prefork: a pre-forked server in miniature. The parent (root) binds and listens; a child
// drops to another uid and is the one that accept()s - as nginx workers do. The connection
// belongs to the child, not to the listener's owner.
//   pl-prefork ADDR PORT UID GID
// The child prints "ready <its pid>" just before accept(); serves one connection (echoes one
// read).
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: pl-prefork ADDR PORT UID GID\n");
        return 2;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) return 2;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
        listen(ls, 16) != 0) {
        std::perror("pl-prefork: listen");
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        if (setgroups(0, nullptr) != 0 || setgid(static_cast<gid_t>(std::atoi(argv[4]))) != 0 ||
            setuid(static_cast<uid_t>(std::atoi(argv[3]))) != 0)
            _exit(1);
        std::printf("ready %d\n", getpid());
        std::fflush(stdout);
        int c = accept(ls, nullptr, nullptr);
        if (c < 0) _exit(1);
        char buf[256];
        ssize_t n = read(c, buf, sizeof(buf));
        if (n > 0 && write(c, buf, static_cast<size_t>(n)) != n) _exit(1);
        close(c);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
