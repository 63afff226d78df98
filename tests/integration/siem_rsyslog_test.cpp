// siem_rsyslog_test.cpp - a real SIEM consumer of policerd's ZeroMQ event stream: Debian's
// rsyslogd with imczmq (rsyslog-czmq), running the shipped packaging/rsyslog/policer-siem.conf,
// subscribes over CURVE and writes the events to a JSON file. The tests make real traffic and
// read it back from that file; a subscriber whose key policerd does not know gets nothing.
//
// rsyslogd runs as a private instance: its own configuration, work directory and pid file in a
// temporary directory, and no imuxsock/imklog, so the host's /dev/log and kernel log are left
// alone.
#include "harness.h"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace pltest;

namespace {

constexpr const char *kRsyslogd = "/usr/sbin/rsyslogd";
constexpr const char *kImczmq = "/usr/lib/x86_64-linux-gnu/rsyslog/imczmq.so";

std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string &path, const std::string &text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

// `text` with every `from` replaced by `to`; the shipped file must still spell `from`, or the
// test would run something other than what is shipped.
std::string substitute(std::string text, const std::string &from, const std::string &to) {
    INFO("packaging/rsyslog/policer-siem.conf no longer contains " << from);
    size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    for (; at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

// The complete lines of a file rsyslog is writing (a last line without '\n' is still being
// written), each parsed as JSON; a line that is not JSON fails the test.
std::vector<json> json_lines(const std::string &path) {
    std::vector<json> out;
    const std::string text = read_file(path);
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        const std::string line = text.substr(start, nl - start);
        INFO(path << ": line " << out.size() + 1 << ": " << line);
        json j = json::parse(line, nullptr, false);
        REQUIRE_FALSE(j.is_discarded());
        REQUIRE(j.is_object());
        out.push_back(std::move(j));
    }
    return out;
}

// Keys made the way docs/siem.md makes them: `policer keygen`, one pair per party, and the
// allowed subscribers' public certificates in a directory of their own.
struct Keys {
    explicit Keys(const TempDir &tmp) : dir(tmp.file("curve")), clients(dir + "/clients") {
        std::filesystem::create_directories(clients);
        for (const char *name : {"policerd", "rsyslog", "intruder"})
            must_run({Binaries::policer(), "keygen", "--dir", dir, name});
        std::filesystem::copy_file(dir + "/rsyslog.cert", clients + "/rsyslog.cert");
    }
    std::vector<std::string> policerd_args() const {
        return {"--zmq-curve-secret", dir + "/policerd.cert_secret", "--zmq-curve-clients",
                clients};
    }
    std::string dir, clients;
};

// A private rsyslogd running the shipped configuration with its paths moved under `dir`:
// subscribing to `endpoint` as `client` (a certificate name in `keys`), writing `events`.
// `topics` replaces the shipped subscription (all topics) when not empty. Stopped and reaped
// by the destructor.
class Rsyslogd {
public:
    Rsyslogd(const std::string &dir, const std::string &endpoint, const Keys &keys,
             const std::string &client, const std::string &topics = "")
        : dir_(dir), events_(dir + "/log/events.json"), log_(dir + "/rsyslogd.log") {
        INFO("rsyslog and rsyslog-czmq are needed (scripts/deps.sh installs them)");
        REQUIRE(access(kRsyslogd, X_OK) == 0);
        REQUIRE(access(kImczmq, R_OK) == 0);
        std::filesystem::create_directories(dir_ + "/work");

        std::string conf =
            read_file(std::string(PL_SOURCE_DIR) + "/packaging/rsyslog/policer-siem.conf");
        conf =
            substitute(conf, "/etc/policer/curve/rsyslog.cert", keys.dir + "/" + client + ".cert");
        conf = substitute(conf, "/etc/policer/curve/", keys.dir + "/");
        conf = substitute(conf, "ipc:///run/policer/events.sock", endpoint);
        conf = substitute(conf, "/var/log/policer/events.json", events_);
        if (!topics.empty()) conf = substitute(conf, "topics=\"\"", "topics=\"" + topics + "\"");
        write_file(dir_ + "/policer-siem.conf", conf);

        // What /etc/rsyslog.conf would be: a work directory, and rsyslogd's own messages (the
        // only ones left in the default ruleset) in a file the test shows when it fails.
        write_file(dir_ + "/rsyslog.conf", "global(workDirectory=\"" + dir_ +
                                               "/work\")\n"
                                               "action(type=\"omfile\" file=\"" +
                                               log_ +
                                               "\")\n"
                                               "include(file=\"" +
                                               dir_ + "/policer-siem.conf\")\n");
        auto check = run({kRsyslogd, "-N1", "-f", dir_ + "/rsyslog.conf"});
        INFO("rsyslogd -N1: " << check.err);
        REQUIRE(check.status == 0);

        child_ = std::make_unique<Child>(std::vector<std::string>{kRsyslogd, "-n", "-f",
                                                                  dir_ + "/rsyslog.conf", "-i",
                                                                  dir_ + "/rsyslogd.pid"},
                                         false);
    }
    ~Rsyslogd() { stop(); }
    Rsyslogd(const Rsyslogd &) = delete;
    Rsyslogd &operator=(const Rsyslogd &) = delete;

    // SIGTERM (rsyslogd flushes its files and exits), SIGKILL if it takes over 10 s.
    int stop() {
        if (!child_) return exit_code_;
        child_->signal(SIGTERM);
        exit_code_ = child_->wait(10000ms);
        child_.reset();
        return exit_code_;
    }

    const std::string &events_file() const { return events_; }
    std::vector<json> events() const { return json_lines(events_); }
    // Waits until at least `n` events have been written; whether they have.
    bool wait_count(size_t n, std::chrono::milliseconds timeout = 15000ms) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (events().size() < n) {
            if (std::chrono::steady_clock::now() >= deadline) return false;
            std::this_thread::sleep_for(100ms);
        }
        return true;
    }
    std::string own_log() const { return read_file(log_); }

    // The events written so far, polled until one matches `want` or `timeout` passes.
    std::optional<json> wait_for(const Policerd::Pred &want,
                                 std::chrono::milliseconds timeout = 15000ms) const {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        do {
            for (const json &j : events())
                if (want(j)) return j;
            std::this_thread::sleep_for(100ms);
        } while (std::chrono::steady_clock::now() < deadline);
        return std::nullopt;
    }

private:
    std::string dir_, events_, log_;
    std::unique_ptr<Child> child_;
    int exit_code_ = -1;
};

bool is_agent_event(const json &j) {
    return at(j, "event.dataset") == "policer.agent";
}

// A flow event of `action` of this test process's TCP connection to `port` (the client side:
// the server in this process sees the same flow, ingress).
Policerd::Pred our_flow(const char *action, uint16_t port) {
    return [action, port](const json &j) {
        return is_action(j, action) && at(j, "destination.port") == port &&
               at(j, "process.pid") == getpid() && at(j, "network.transport") == "tcp" &&
               at(j, "network.direction") == "egress";
    };
}

// One TCP connection from this process to `server`: a request, which the server reads before
// it closes the connection.
void talk_to(const TcpServer &server) {
    int fd = connect_retry("127.0.0.1", server.port());
    REQUIRE(fd >= 0);
    const std::string hello = "hello siem\n";
    REQUIRE(send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(hello.size()));
    char buf[256];
    CHECK(recv(fd, buf, sizeof(buf), 0) == 0);
    close(fd);
}

// policerd's arguments for a CURVE stream on `endpoint`.
std::vector<std::string> stream_args(const std::string &endpoint, const Keys &keys) {
    std::vector<std::string> args{"--zmq-endpoint", endpoint};
    for (auto &a : keys.policerd_args())
        args.push_back(a);
    return args;
}

} // namespace

TEST_CASE("siem: rsyslog imczmq subscribes over CURVE and writes policerd's flow events as "
          "JSON lines") {
    TempDir tmp;
    Keys keys(tmp);
    const std::string endpoint = "ipc://" + tmp.file("events.sock");
    Policerd d(stream_args(endpoint, keys));
    Rsyslogd rsyslog(tmp.file("rsyslog"), endpoint, keys, "rsyslog");

    // A subscriber only gets what is published after it has connected: agent-stats, every
    // second, says when it has.
    INFO("rsyslogd's own log: " << rsyslog.own_log());
    INFO("policerd stderr: " << d.stderr_text());
    REQUIRE(rsyslog.wait_for(is_agent_event));

    TcpServer server("127.0.0.1", /*http=*/false);
    talk_to(server);
    auto start = rsyslog.wait_for(our_flow("flow-start", server.port()));
    auto end = rsyslog.wait_for(our_flow("flow-end", server.port()));
    REQUIRE(start);
    REQUIRE(end);

    // The flow, with the identity behind it, as policerd attributed it.
    for (const json *e : {&*start, &*end}) {
        INFO(e->dump());
        CHECK(at(*e, "destination.ip") == "127.0.0.1");
        CHECK(at(*e, "source.ip") == "127.0.0.1");
        CHECK(at(*e, "network.direction") == "egress");
        CHECK(at(*e, "process.executable") == real_path("/proc/self/exe"));
        CHECK(at(*e, "user.id") == "0");
        CHECK(at(*e, "policer.flow.identity") == "full");
        CHECK(at(*e, "host.name").is_string());
        CHECK_FALSE(at(*e, "host.name").get<std::string>().empty());
        CHECK(at(*e, "agent.id").is_string());
        CHECK_FALSE(at(*e, "agent.id").get<std::string>().empty());
        CHECK(at(*e, "event.sequence").is_number_integer());
        CHECK(at(*e, "@timestamp").is_string());
    }
    CHECK(at(*end, "policer.flow.end_reason") == "closed");
    CHECK(at(*end, "source.bytes").get<int64_t>() >= 11);
    CHECK(at(*start, "policer.flow.cookie") == at(*end, "policer.flow.cookie"));

    // What reached the SIEM is what policerd printed for the same flow.
    auto printed = d.wait_for([&](const json &j) {
        return is_action(j, "flow-end") &&
               at(j, "policer.flow.cookie") == at(*end, "policer.flow.cookie");
    });
    REQUIRE(printed);
    for (const char *field : {"@timestamp", "source", "destination", "network", "process", "user",
                              "group", "cgroup", "host.name"})
        CHECK_MESSAGE(at(*printed, field) == at(*end, field), field);

    // Every line of the file is one JSON object, in publishing order, none twice.
    REQUIRE(rsyslog.stop() == 0);
    const std::string text = read_file(rsyslog.events_file());
    REQUIRE_FALSE(text.empty());
    CHECK(text.back() == '\n');
    const auto all = rsyslog.events();
    int64_t last = -1;
    for (const json &j : all) {
        INFO(j.dump());
        REQUIRE(at(j, "event.sequence").is_number_integer());
        const auto seq = at(j, "event.sequence").get<int64_t>();
        CHECK(seq > last);
        last = seq;
        CHECK(at(j, "event.action").is_string());
    }
    struct stat st {};
    REQUIRE(stat(rsyslog.events_file().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("siem: a subscriber whose key is not in the allow-list gets nothing, a topic "
          "subscription gets only its topic") {
    TempDir tmp;
    Keys keys(tmp);
    const std::string endpoint = "ipc://" + tmp.file("events.sock");
    Policerd d(stream_args(endpoint, keys));
    // The intruder knows policerd's public key, but its own is not in --zmq-curve-clients.
    Rsyslogd intruder(tmp.file("intruder"), endpoint, keys, "intruder");
    // Allowed, subscribed to flow.end only; and allowed with everything: the control that
    // shows events were published all along.
    Rsyslogd ends_only(tmp.file("ends"), endpoint, keys, "rsyslog", "flow.end");
    Rsyslogd allowed(tmp.file("allowed"), endpoint, keys, "rsyslog");
    INFO("intruder's rsyslogd log: " << intruder.own_log());
    INFO("allowed rsyslogd log: " << allowed.own_log());
    REQUIRE(allowed.wait_for(is_agent_event));

    TcpServer server("127.0.0.1", /*http=*/false);
    talk_to(server);
    REQUIRE(allowed.wait_for(our_flow("flow-end", server.port())));
    REQUIRE(ends_only.wait_for(our_flow("flow-end", server.port())));
    // Two more agent-stats seconds for the intruder to receive anything it could.
    REQUIRE(allowed.wait_count(allowed.events().size() + 2));

    // It did connect, and policerd's ZAP handler refused it.
    CHECK(d.wait_for([](const json &j) {
        return is_action(j, "agent-stats") &&
               at(j, "policer.zmq.subscribers.refused").is_number_integer() &&
               at(j, "policer.zmq.subscribers.refused").get<int64_t>() >= 1;
    }));

    REQUIRE(intruder.stop() == 0);
    REQUIRE(ends_only.stop() == 0);
    CHECK(intruder.events().empty());
    const auto ends = ends_only.events();
    CHECK_FALSE(ends.empty());
    for (const json &j : ends)
        CHECK(is_action(j, "flow-end"));
}
