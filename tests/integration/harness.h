// harness.h - what the kernel integration tests are built from: real processes, a real
// policerd reading the real kernel, network namespaces joined by veth pairs, and "containers"
// made the way runtimes make them (a cgroup v2 directory with a docker-style name, plus a
// network namespace). Everything is torn down by destructors, also when a test fails.
#pragma once

#include <nlohmann/json.hpp>

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pltest {

using json = nlohmann::json;
using namespace std::chrono_literals;

// Paths of the binaries under test, set by CMake.
struct Binaries {
    static const char *policerd();
    static const char *run_in();
    static const char *udp();
    static const char *storm();
    static const char *prefork();
    static const char *policer();
    static const char *drop_priv();
    static const char *exec_from();
};

// ---- processes ----

struct CommandResult {
    int status = -1; // exit code, or 128 + signal
    std::string out, err;
};

// Runs argv (no shell) to completion, capturing output. Throws if it cannot be started.
CommandResult run(const std::vector<std::string> &argv, std::chrono::seconds timeout = 30s);
// Like run(), but throws with the command's stderr unless it exits 0.
std::string must_run(const std::vector<std::string> &argv);

// A process running beside the test. Killed and reaped by the destructor.
class Child {
public:
    explicit Child(const std::vector<std::string> &argv, bool capture_stdout = true);
    ~Child();
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;

    pid_t pid() const { return pid_; }
    // One line of stdout (without '\n'); nullopt on EOF or timeout.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout = 5000ms);
    // Exit code (or 128 + signal); kills it with SIGKILL after `timeout`.
    int wait(std::chrono::milliseconds timeout = 10000ms);
    void signal(int sig);

private:
    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string buf_;
    bool reaped_ = false;
    int status_ = -1;
};

// ---- the daemon under test ----

class Policerd {
public:
    // Starts policerd --events-stdout with `extra` arguments and waits for agent-start.
    // `wrapper` runs before policerd (e.g. unshare, to give it a mount namespace of its own).
    explicit Policerd(std::vector<std::string> extra = {}, std::vector<std::string> wrapper = {});
    ~Policerd();
    Policerd(const Policerd &) = delete;
    Policerd &operator=(const Policerd &) = delete;

    using Pred = std::function<bool(const json &)>;
    // The first event (already received or arriving within `timeout`) matching `pred`.
    std::optional<json> wait_for(const Pred &pred, std::chrono::milliseconds timeout = 10000ms);
    // Waits until `count` events match; returns them all (fewer on timeout).
    std::vector<json> wait_for_count(const Pred &pred, size_t count,
                                     std::chrono::milliseconds timeout);
    // Every event so far. A line on policerd's stdout that is not JSON is a defect: it makes
    // this (and the waits above) throw, failing the test.
    std::vector<json> events() const;

    pid_t pid() const { return pid_; }
    // Its store and control socket (in a directory of its own unless the test gave them).
    const std::string &db_path() const { return db_path_; }
    const std::string &control_socket() const { return socket_path_; }
    void pause();      // SIGSTOP: the kernel keeps writing to the ring buffer
    void resume();     // SIGCONT
    void signal_hup(); // SIGHUP: re-read the rule files
    // Sends `sig` (SIGTERM by default) and waits; returns the exit code. Idempotent.
    int stop(int sig = 15);
    std::string stderr_text() const;

private:
    void reader();

    pid_t pid_ = -1;
    int out_fd_ = -1;
    std::string err_path_;
    std::string state_dir_, db_path_, socket_path_;
    std::thread reader_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<json> events_;
    std::vector<std::string> bad_lines_;
    bool eof_ = false;
    int exit_code_ = -1;
};

// ---- network and containers ----

// The cgroup v2 mount point, from /proc/mounts.
std::string cgroup2_mount();

// A network namespace joined to the host by a veth pair:
// host side 10.231.<n>.1/24 and fd31:<n>::1/64, namespace side .2 and ::2.
class TestNetns {
public:
    explicit TestNetns(int n);
    ~TestNetns();
    TestNetns(const TestNetns &) = delete;
    TestNetns &operator=(const TestNetns &) = delete;

    const std::string &name() const { return name_; }
    const std::string &host_iface() const { return veth_host_; }
    std::string host_ip4() const;
    std::string ns_ip4() const;
    std::string host_ip6() const;
    std::string ns_ip6() const;
    // Inode of the namespace, as policer reports it (policer.flow.netns).
    uint64_t inode() const;

private:
    void teardown();
    int n_;
    std::string name_, veth_host_, veth_ns_;
};

// A container as docker (systemd cgroup driver) would make it: a cgroup
// /policer-test.slice/docker-<64 hex>.scope and its own network namespace.
class TestContainer {
public:
    explicit TestContainer(int n);
    ~TestContainer();
    TestContainer(const TestContainer &) = delete;
    TestContainer &operator=(const TestContainer &) = delete;

    const std::string &id() const { return id_; }
    const std::string &cgroup_path() const { return rel_; } // relative to the cgroup v2 root
    const std::string &cgroup_dir() const { return dir_; }  // absolute
    TestNetns &net() { return net_; }

    // argv that runs `cmd` inside this container as uid/gid.
    std::vector<std::string> argv(uint32_t uid, uint32_t gid,
                                  const std::vector<std::string> &cmd) const;

private:
    std::string id_, rel_, dir_, parent_dir_;
    TestNetns net_;
};

// ---- servers in the test process ----

// Accepts TCP connections; each gets its request read (to "\r\n\r\n" when `http`, or up to
// the first read otherwise) and a fixed response. Records what each connection carried.
class TcpServer {
public:
    struct Conn {
        std::string peer_ip;
        uint16_t peer_port = 0;
        size_t bytes_in = 0, bytes_out = 0;
    };
    TcpServer(const std::string &ip, bool http, int backlog = 128);
    ~TcpServer();

    uint16_t port() const { return port_; }
    std::vector<Conn> connections() const;
    size_t connection_count() const;
    static const std::string &http_response();

private:
    void loop();

    int fd_ = -1;
    uint16_t port_ = 0;
    bool http_;
    bool stop_ = false;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<Conn> conns_;
};

// ---- clients in the test process ----

// A TCP connection from the test process (root, host namespace) to ip:port (IPv4), retried for
// about 4 s while nothing listens there yet; the socket, or -1.
int connect_retry(const std::string &ip, uint16_t port);

// Runs pl-connect (tests/helpers/pl_connect.cpp) with `args`, after `prefix` (e.g. as_nobody());
// returns the first line it printed ("ok", "error EPERM", "sent 3 refused 0", ...).
std::string client(const std::vector<std::string> &prefix, const std::vector<std::string> &args);
// A prefix running the command as nobody:nogroup (pl-run-in).
std::vector<std::string> as_nobody();

// ---- captures and scratch space ----

// A temporary directory, removed with its contents by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// tcpdump writing every packet on `iface` to `file` until stop() (or destruction).
class Capture {
public:
    Capture(const std::string &iface, const std::string &file);
    ~Capture();
    // Stops tcpdump and waits until the file is complete.
    void stop();

private:
    std::unique_ptr<Child> tcpdump_;
};

// ---- JSON helpers ----

// A copy of the value at a dotted ECS path ("process.executable"), or null. A copy, so that
// `for (auto &x : at(d.events().front(), "..."))` cannot dangle.
json at(const json &doc, const std::string &dotted);
bool is_action(const json &doc, const char *action);

// A flow event of `action` ("flow-start", "flow-end") for process `pid`, and for `transport`
// ("tcp", "udp") unless that is null.
Policerd::Pred flow_of(const char *action, pid_t pid, const char *transport = nullptr);

// `p` with its links resolved (realpath), as policer reports process.executable; `p` as it is
// if it cannot be resolved.
std::string real_path(const std::string &p);

// Name of a uid/gid from NSS (what policer should report).
std::string user_name(uint32_t uid);
std::string group_name(uint32_t gid);

constexpr uint32_t kNobody = 65534;
constexpr uint32_t kNogroup = 65534;

} // namespace pltest
