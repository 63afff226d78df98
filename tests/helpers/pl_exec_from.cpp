// pl-exec-from: runs a program from where exe paths are unusual - a memfd, or a file deleted
// before it was executed - the way fileless malware does.
//   pl-exec-from memfd|deleted PROGRAM [ARGS...]
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: pl-exec-from memfd|deleted PROGRAM [ARGS...]\n");
        return 2;
    }
    const std::string mode = argv[1];
    int src = open(argv[2], O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (src < 0 || fstat(src, &st) != 0) {
        std::perror("pl-exec-from: open");
        return 1;
    }
    int fd;
    std::string tmp;
    if (mode == "memfd") {
        fd = memfd_create("pl-payload", 0);
    } else if (mode == "deleted") {
        tmp = "/tmp/pl-exec-from-" + std::to_string(getpid());
        fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL, 0755);
    } else {
        return 2;
    }
    if (fd < 0) {
        std::perror("pl-exec-from: create");
        return 1;
    }
    off_t off = 0;
    while (off < st.st_size)
        if (sendfile(fd, src, &off, static_cast<size_t>(st.st_size - off)) <= 0) return 1;
    if (mode == "deleted") {
        // Executable, reopened read-only (a file open for writing cannot be executed), then
        // unlinked: it runs from a path that no longer exists.
        close(fd);
        fd = open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
        unlink(tmp.c_str());
    }
    fexecve(fd, argv + 2, environ);
    std::perror("pl-exec-from: fexecve");
    return 1;
}
