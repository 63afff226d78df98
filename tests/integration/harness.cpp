// harness.cpp - see harness.h.
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char **environ;

namespace pltest {

const char *Binaries::policerd() {
    return PL_POLICERD;
}
const char *Binaries::run_in() {
    return PL_RUN_IN;
}
const char *Binaries::udp() {
    return PL_UDP;
}
const char *Binaries::storm() {
    return PL_STORM;
}
const char *Binaries::prefork() {
    return PL_PREFORK;
}
const char *Binaries::policer() {
    return PL_POLICER;
}
const char *Binaries::drop_priv() {
    return PL_DROP_PRIV;
}
const char *Binaries::exec_from() {
    return PL_EXEC_FROM;
}

namespace {

using Clock = std::chrono::steady_clock;

std::vector<char *> c_argv(const std::vector<std::string> &argv) {
    std::vector<char *> v;
    for (const auto &a : argv)
        v.push_back(const_cast<char *>(a.c_str()));
    v.push_back(nullptr);
    return v;
}

std::string join(const std::vector<std::string> &argv) {
    std::string s;
    for (const auto &a : argv)
        s += (s.empty() ? "" : " ") + a;
    return s;
}

// posix_spawn with stdout/stderr redirected to the given fds (-1: inherit; -2: /dev/null).
pid_t spawn(const std::vector<std::string> &argv, int out_fd, int err_fd, int in_fd = -2) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_fd == -2) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (out_fd == -2) posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    if (err_fd == -2) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    // The test blocks no signals, but be explicit: children start with default dispositions.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    auto args = c_argv(argv);
    int err = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0)
        throw std::runtime_error("cannot start " + join(argv) + ": " + std::strerror(err));
    return pid;
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// waitpid with a deadline; SIGKILL when it passes.
int wait_deadline(pid_t pid, std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    int status = 0;
    while (true) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return decode_status(status);
        if (r < 0) return -1;
        if (Clock::now() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return decode_status(status);
        }
        std::this_thread::sleep_for(5ms);
    }
}

std::string read_all(int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        s.append(buf, static_cast<size_t>(n));
    return s;
}

std::string random_hex(size_t n) {
    std::random_device rd;
    std::mt19937_64 rng(rd());
    static const char *digits = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i)
        s += digits[rng() % 16];
    return s;
}

} // namespace

// ---- processes ----

CommandResult run(const std::vector<std::string> &argv, std::chrono::seconds timeout) {
    char out_tmpl[] = "/tmp/pltest-out-XXXXXX";
    char err_tmpl[] = "/tmp/pltest-err-XXXXXX";
    int out = mkstemp(out_tmpl), err = mkstemp(err_tmpl);
    unlink(out_tmpl);
    unlink(err_tmpl);
    CommandResult r;
    pid_t pid = spawn(argv, out, err);
    r.status = wait_deadline(pid, timeout);
    lseek(out, 0, SEEK_SET);
    lseek(err, 0, SEEK_SET);
    r.out = read_all(out);
    r.err = read_all(err);
    close(out);
    close(err);
    return r;
}

std::string must_run(const std::vector<std::string> &argv) {
    auto r = run(argv);
    if (r.status != 0)
        throw std::runtime_error(join(argv) + " failed (" + std::to_string(r.status) +
                                 "): " + r.err);
    return r.out;
}

Child::Child(const std::vector<std::string> &argv, bool capture_stdout) {
    int pipefd[2] = {-1, -1};
    if (capture_stdout && pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = spawn(argv, capture_stdout ? pipefd[1] : -2, -1);
    if (capture_stdout) {
        close(pipefd[1]);
        out_fd_ = pipefd[0];
    }
}

Child::~Child() {
    if (!reaped_) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Child::read_line(std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    while (true) {
        size_t nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return line;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
        if (left.count() <= 0 || out_fd_ < 0) return std::nullopt;
        pollfd p{out_fd_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
        char tmp[4096];
        ssize_t n = read(out_fd_, tmp, sizeof(tmp));
        if (n <= 0) return std::nullopt;
        buf_.append(tmp, static_cast<size_t>(n));
    }
}

int Child::wait(std::chrono::milliseconds timeout) {
    if (!reaped_) {
        status_ = wait_deadline(pid_, timeout);
        reaped_ = true;
    }
    return status_;
}

void Child::signal(int sig) {
    if (!reaped_) kill(pid_, sig);
}

// ---- the daemon under test ----

Policerd::Policerd(std::vector<std::string> extra, std::vector<std::string> wrapper) {
    std::vector<std::string> argv = std::move(wrapper);
    for (const char *a : {Binaries::policerd(), "--events-stdout", "--stats-interval", "1"})
        argv.emplace_back(a);
    // A store and control socket of its own (unless the test names them): tests never touch
    // the host's /var/lib/policer or /run/policer.
    char dir_tmpl[] = "/tmp/policerd-state-XXXXXX";
    if (!mkdtemp(dir_tmpl)) throw std::runtime_error("mkdtemp");
    state_dir_ = dir_tmpl;
    db_path_ = state_dir_ + "/policer.db";
    socket_path_ = state_dir_ + "/policer.sock";
    auto given = [&](const char *opt) {
        return std::find(extra.begin(), extra.end(), opt) != extra.end();
    };
    if (given("--db"))
        db_path_ = *(std::find(extra.begin(), extra.end(), "--db") + 1);
    else
        argv.insert(argv.end(), {"--db", db_path_});
    if (given("--control-socket"))
        socket_path_ = *(std::find(extra.begin(), extra.end(), "--control-socket") + 1);
    else
        argv.insert(argv.end(), {"--control-socket", socket_path_});
    argv.insert(argv.end(), extra.begin(), extra.end());
    char err_tmpl[] = "/tmp/policerd-stderr-XXXXXX";
    int err = mkstemp(err_tmpl);
    err_path_ = err_tmpl;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = spawn(argv, pipefd[1], err);
    close(pipefd[1]);
    close(err);
    out_fd_ = pipefd[0];
    reader_ = std::thread([this] { reader(); });
    if (!wait_for([](const json &j) { return is_action(j, "agent-start"); }, 30000ms)) {
        stop();
        throw std::runtime_error("policerd did not start:\n" + stderr_text());
    }
}

Policerd::~Policerd() {
    stop();
    unlink(err_path_.c_str());
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
}

void Policerd::reader() {
    std::string buf;
    char tmp[65536];
    ssize_t n;
    while ((n = read(out_fd_, tmp, sizeof(tmp))) > 0) {
        buf.append(tmp, static_cast<size_t>(n));
        size_t nl;
        std::vector<json> parsed;
        while ((nl = buf.find('\n')) != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            // A line that is not JSON is a defect the tests must see.
            parsed.push_back(json::parse(line, nullptr, false));
        }
        std::lock_guard<std::mutex> lk(mu_);
        for (auto &j : parsed)
            events_.push_back(std::move(j));
        cv_.notify_all();
    }
    std::lock_guard<std::mutex> lk(mu_);
    eof_ = true;
    cv_.notify_all();
}

std::optional<json> Policerd::wait_for(const Pred &pred, std::chrono::milliseconds timeout) {
    auto v = wait_for_count(pred, 1, timeout);
    if (v.empty()) return std::nullopt;
    return v.front();
}

std::vector<json> Policerd::wait_for_count(const Pred &pred, size_t count,
                                           std::chrono::milliseconds timeout) {
    auto end = Clock::now() + timeout;
    std::unique_lock<std::mutex> lk(mu_);
    size_t scanned = 0;
    std::vector<json> found;
    while (true) {
        if (!bad_lines_.empty())
            throw std::runtime_error("policerd printed a line that is not JSON: " + bad_lines_[0]);
        for (; scanned < events_.size(); ++scanned)
            if (pred(events_[scanned])) found.push_back(events_[scanned]);
        if (found.size() >= count || eof_) return found;
        if (cv_.wait_until(lk, end) == std::cv_status::timeout) {
            for (; scanned < events_.size(); ++scanned)
                if (pred(events_[scanned])) found.push_back(events_[scanned]);
            return found;
        }
    }
}

std::vector<json> Policerd::events() const {
    std::lock_guard<std::mutex> lk(mu_);
    if (!bad_lines_.empty())
        throw std::runtime_error("policerd printed a line that is not JSON: " + bad_lines_[0]);
    return events_;
}

void Policerd::pause() {
    kill(pid_, SIGSTOP);
}
void Policerd::resume() {
    kill(pid_, SIGCONT);
}

void Policerd::signal_hup() {
    if (pid_ > 0) ::kill(pid_, SIGHUP);
}

int Policerd::stop(int sig) {
    if (pid_ > 0 && exit_code_ < 0) {
        kill(pid_, SIGCONT);
        kill(pid_, sig);
        exit_code_ = wait_deadline(pid_, 15000ms);
    }
    if (reader_.joinable()) reader_.join();
    if (out_fd_ >= 0) {
        close(out_fd_);
        out_fd_ = -1;
    }
    return exit_code_;
}

std::string Policerd::stderr_text() const {
    std::ifstream f(err_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// ---- network and containers ----

std::string cgroup2_mount() {
    std::ifstream f("/proc/mounts");
    std::string src, target, type, rest;
    while (f >> src >> target >> type && std::getline(f, rest))
        if (type == "cgroup2") return target;
    throw std::runtime_error("no cgroup2 mount in /proc/mounts");
}

TestNetns::TestNetns(int n)
    : n_(n), name_("pl-t" + std::to_string(getpid()) + "-" + std::to_string(n)),
      // Unique to this run (interface names have at most 15 characters): a test never touches
      // another run's interfaces.
      veth_host_("plh" + std::to_string(n) + "-" + std::to_string(getpid() % 100000)),
      veth_ns_("plc" + std::to_string(n)) {
    try {
        must_run({"ip", "netns", "add", name_});
        must_run({"ip", "link", "add", veth_host_, "type", "veth", "peer", "name", veth_ns_,
                  "netns", name_});
        must_run({"ip", "addr", "add", host_ip4() + "/24", "dev", veth_host_});
        must_run({"ip", "-6", "addr", "add", host_ip6() + "/64", "dev", veth_host_, "nodad"});
        must_run({"ip", "link", "set", veth_host_, "up"});
        must_run({"ip", "-n", name_, "addr", "add", ns_ip4() + "/24", "dev", veth_ns_});
        must_run(
            {"ip", "-n", name_, "-6", "addr", "add", ns_ip6() + "/64", "dev", veth_ns_, "nodad"});
        must_run({"ip", "-n", name_, "link", "set", veth_ns_, "up"});
        must_run({"ip", "-n", name_, "link", "set", "lo", "up"});
    } catch (...) {
        teardown(); // the destructor does not run for a constructor that throws
        throw;
    }
}

TestNetns::~TestNetns() {
    teardown();
}

void TestNetns::teardown() {
    run({"ip", "link", "del", veth_host_});
    run({"ip", "netns", "del", name_});
}

std::string TestNetns::host_ip4() const {
    return "10.231." + std::to_string(n_) + ".1";
}
std::string TestNetns::ns_ip4() const {
    return "10.231." + std::to_string(n_) + ".2";
}
std::string TestNetns::host_ip6() const {
    return "fd31:" + std::to_string(n_) + "::1";
}
std::string TestNetns::ns_ip6() const {
    return "fd31:" + std::to_string(n_) + "::2";
}

uint64_t TestNetns::inode() const {
    struct stat st {};
    if (stat(("/run/netns/" + name_).c_str(), &st) != 0)
        throw std::runtime_error("stat netns " + name_);
    return st.st_ino;
}

TestContainer::TestContainer(int n) : id_(random_hex(64)), net_(n) {
    std::string root = cgroup2_mount();
    parent_dir_ = root + "/policer-test.slice";
    rel_ = "/policer-test.slice/docker-" + id_ + ".scope";
    dir_ = root + rel_;
    mkdir(parent_dir_.c_str(), 0755);
    if (mkdir(dir_.c_str(), 0755) != 0)
        throw std::runtime_error("cannot make cgroup " + dir_ + ": " + std::strerror(errno));
}

TestContainer::~TestContainer() {
    // Stop whatever still runs in the container, then remove its cgroup.
    std::ofstream(dir_ + "/cgroup.kill") << "1";
    for (int i = 0; i < 200 && rmdir(dir_.c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(10ms);
    rmdir(parent_dir_.c_str()); // fails while another test's container lives there; fine
}

std::vector<std::string> TestContainer::argv(uint32_t uid, uint32_t gid,
                                             const std::vector<std::string> &cmd) const {
    std::vector<std::string> v = {Binaries::run_in(),
                                  "--cgroup",
                                  dir_,
                                  "--netns",
                                  net_.name(),
                                  "--uid",
                                  std::to_string(uid),
                                  "--gid",
                                  std::to_string(gid),
                                  "--"};
    v.insert(v.end(), cmd.begin(), cmd.end());
    return v;
}

// ---- servers ----

const std::string &TcpServer::http_response() {
    static const std::string r = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: 13\r\nConnection: close\r\n\r\npolicer-test\n";
    return r;
}

TcpServer::TcpServer(const std::string &ip, bool http, int backlog) : http_(http) {
    sockaddr_storage ss{};
    socklen_t len;
    auto *v4 = reinterpret_cast<sockaddr_in *>(&ss);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        len = sizeof(*v6);
    } else {
        throw std::runtime_error("bad address " + ip);
    }
    fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr *>(&ss), len) != 0 ||
        listen(fd_, backlog) != 0)
        throw std::runtime_error("cannot listen on " + ip + ": " + std::strerror(errno));
    getsockname(fd_, reinterpret_cast<sockaddr *>(&ss), &len);
    port_ = ntohs(ss.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
    thread_ = std::thread([this] { loop(); });
}

TcpServer::~TcpServer() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    thread_.join();
    close(fd_);
}

void TcpServer::loop() {
    while (true) {
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (stop_) return;
        }
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        sockaddr_storage peer{};
        socklen_t plen = sizeof(peer);
        int c = accept4(fd_, reinterpret_cast<sockaddr *>(&peer), &plen, SOCK_CLOEXEC);
        if (c < 0) continue;
        Conn conn;
        char ip[INET6_ADDRSTRLEN] = {};
        if (peer.ss_family == AF_INET) {
            auto *a = reinterpret_cast<sockaddr_in *>(&peer);
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
            conn.peer_port = ntohs(a->sin_port);
        } else {
            auto *a = reinterpret_cast<sockaddr_in6 *>(&peer);
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
            conn.peer_port = ntohs(a->sin6_port);
        }
        conn.peer_ip = ip;
        timeval tv{5, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        std::string req;
        char buf[4096];
        ssize_t n;
        while ((n = read(c, buf, sizeof(buf))) > 0) {
            req.append(buf, static_cast<size_t>(n));
            if (!http_ || req.find("\r\n\r\n") != std::string::npos) break;
        }
        conn.bytes_in = req.size();
        if (http_) {
            const std::string &r = http_response();
            if (write(c, r.data(), r.size()) == static_cast<ssize_t>(r.size()))
                conn.bytes_out = r.size();
        }
        {
            // Recorded before the close the client waits for, so a test never looks too early.
            std::lock_guard<std::mutex> lk(mu_);
            conns_.push_back(conn);
        }
        close(c);
    }
}

std::vector<TcpServer::Conn> TcpServer::connections() const {
    std::lock_guard<std::mutex> lk(mu_);
    return conns_;
}

size_t TcpServer::connection_count() const {
    std::lock_guard<std::mutex> lk(mu_);
    return conns_.size();
}

// ---- clients in the test process ----

std::string client(const std::vector<std::string> &prefix, const std::vector<std::string> &args) {
    std::vector<std::string> argv = prefix;
    argv.push_back(PL_CONNECT);
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run(argv, 20s);
    auto nl = r.out.find('\n');
    return nl == std::string::npos ? r.out : r.out.substr(0, nl);
}

std::vector<std::string> as_nobody() {
    return {Binaries::run_in(), "--uid", "65534", "--gid", "65534", "--"};
}

int connect_retry(const std::string &ip, uint16_t port) {
    for (int i = 0; i < 200; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
        if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0) return fd;
        close(fd);
        usleep(20000);
    }
    return -1;
}

// ---- captures and scratch space ----

TempDir::TempDir() {
    char tmpl[] = "/tmp/pltest-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
    chmod(path_.c_str(), 0755); // servers running as nobody read their keys from here
}

TempDir::~TempDir() {
    run({"rm", "-rf", path_});
}

Capture::Capture(const std::string &iface, const std::string &file) {
    tcpdump_ = std::make_unique<Child>(std::vector<std::string>{"tcpdump", "-i", iface, "-w", file,
                                                                "-U", "-s", "0", "-Z", "root",
                                                                "--immediate-mode"},
                                       false);
    // tcpdump writes the file header once it is capturing.
    for (int i = 0; i < 500; ++i) {
        struct stat st {};
        if (stat(file.c_str(), &st) == 0 && st.st_size >= 24) return;
        std::this_thread::sleep_for(10ms);
    }
    throw std::runtime_error("tcpdump did not start on " + iface);
}

Capture::~Capture() {
    stop();
}

void Capture::stop() {
    if (!tcpdump_) return;
    std::this_thread::sleep_for(200ms); // let the last packets reach the capture
    tcpdump_->signal(SIGINT);
    tcpdump_->wait(5000ms);
    tcpdump_.reset();
}

// ---- JSON helpers ----

json at(const json &doc, const std::string &dotted) {
    const json *cur = &doc;
    size_t pos = 0;
    while (pos <= dotted.size()) {
        size_t dot = dotted.find('.', pos);
        if (dot == std::string::npos) dot = dotted.size();
        std::string key = dotted.substr(pos, dot - pos);
        if (!cur->is_object() || !cur->contains(key)) return json();
        cur = &(*cur)[key];
        pos = dot + 1;
    }
    return *cur;
}

bool is_action(const json &doc, const char *action) {
    const json &a = at(doc, "event.action");
    return a.is_string() && a.get<std::string>() == action;
}

Policerd::Pred flow_of(const char *action, pid_t pid, const char *transport) {
    return [=](const json &j) {
        return is_action(j, action) && at(j, "process.pid") == pid &&
               (!transport || at(j, "network.transport") == transport);
    };
}

std::string real_path(const std::string &p) {
    char buf[PATH_MAX];
    return realpath(p.c_str(), buf) ? std::string(buf) : p;
}

std::string user_name(uint32_t uid) {
    passwd *pw = getpwuid(uid);
    return pw ? pw->pw_name : "";
}

std::string group_name(uint32_t gid) {
    group *gr = getgrgid(gid);
    return gr ? gr->gr_name : "";
}

} // namespace pltest
