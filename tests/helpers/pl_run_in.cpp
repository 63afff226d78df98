// pl-run-in: the tests' container runtime. Puts itself into a cgroup and a network namespace,
// drops to a uid/gid, then execs a command with a minimal, fixed environment:
//   pl-run-in [--cgroup DIR] [--netns NAME] [--uid N] [--gid N] -- command [args...]
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void die(const std::string &what) {
    std::fprintf(stderr, "pl-run-in: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(127);
}

} // namespace

int main(int argc, char **argv) {
    std::string cgroup, netns;
    long uid = -1, gid = -1;
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "pl-run-in: %s needs a value\n", a.c_str());
            return 127;
        }
        if (a == "--cgroup")
            cgroup = argv[++i];
        else if (a == "--netns")
            netns = argv[++i];
        else if (a == "--uid")
            uid = std::strtol(argv[++i], nullptr, 10);
        else if (a == "--gid")
            gid = std::strtol(argv[++i], nullptr, 10);
        else {
            std::fprintf(stderr, "pl-run-in: unknown option %s\n", a.c_str());
            return 127;
        }
    }
    if (i >= argc) {
        std::fprintf(stderr, "usage: pl-run-in [--cgroup DIR] [--netns NAME] [--uid N] [--gid N] "
                             "-- command [args...]\n");
        return 127;
    }

    if (!cgroup.empty()) {
        int fd = open((cgroup + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) die("open " + cgroup + "/cgroup.procs");
        std::string pid = std::to_string(getpid());
        if (write(fd, pid.data(), pid.size()) < 0) die("join cgroup " + cgroup);
        close(fd);
    }
    if (!netns.empty()) {
        int fd = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open netns " + netns);
        if (setns(fd, CLONE_NEWNET) != 0) die("setns " + netns);
        close(fd);
    }
    if (gid >= 0 || uid >= 0) {
        if (setgroups(0, nullptr) != 0) die("setgroups");
    }
    if (gid >= 0 && setgid(static_cast<gid_t>(gid)) != 0) die("setgid");
    if (uid >= 0 && setuid(static_cast<uid_t>(uid)) != 0) die("setuid");

    char path_env[] = "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    char home_env[] = "HOME=/";
    char *envp[] = {path_env, home_env, nullptr};
    execvpe(argv[i], argv + i, envp);
    die(std::string("exec ") + argv[i]);
}
