// zmq_stream_test.cpp - policerd's ZeroMQ event stream end to end: a real policerd reading the
// real kernel publishes on tcp and ipc endpoints, and real subscribers (cppzmq SUB sockets in
// the test) receive the flow events of real loopback connections, each checked against
// docs/events.schema.json. With CURVE (keys from `policer keygen`), only an allowed subscriber
// key receives anything. A subscriber that stops reading does not slow enforcement (connect()
// refusals and allowed connections per second) or the event loop, a healthy subscriber beside it
// loses nothing, and the stalled one sees its own losses as a gap in event.sequence.
#include "harness.h"

#include "policer/agent_id.h"
#include "policer/curve_cert.h"

#include <doctest/doctest.h>
#include <zmq.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <fstream>

using namespace pltest;

namespace {

using Clock = std::chrono::steady_clock;

const std::string kSchema = std::string(PL_SOURCE_DIR) + "/docs/events.schema.json";
const std::string kValidator = std::string(PL_SOURCE_DIR) + "/tests/support/validate_events.py";

struct Frame {
    std::string topic;
    json doc;
    std::string text; // the JSON part, as sent
};

std::optional<Frame> receive(zmq::socket_t &sub, std::chrono::milliseconds timeout) {
    sub.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    zmq::message_t m;
    if (!sub.recv(m, zmq::recv_flags::none)) return std::nullopt;
    const std::string text = m.to_string();
    const size_t sp = text.find(' ');
    REQUIRE(sp != std::string::npos);
    Frame f{text.substr(0, sp), json::parse(text.substr(sp + 1), nullptr, false),
            text.substr(sp + 1)};
    REQUIRE_FALSE(f.doc.is_discarded());
    return f;
}

// A TCP port on 127.0.0.1 that nothing listens on just now.
uint16_t free_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0);
    socklen_t len = sizeof(sa);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len) == 0);
    close(fd);
    return ntohs(sa.sin_port);
}

// connect() from the test process to 127.0.0.1:port, then close. Returns the local port (0 if
// connect failed) and sets `err` to connect's errno (0 on success).
uint16_t connect_once(uint16_t port, int &err) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    err = connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0 ? 0 : errno;
    uint16_t local = 0;
    if (err == 0) {
        sockaddr_in me{};
        socklen_t len = sizeof(me);
        getsockname(fd, reinterpret_cast<sockaddr *>(&me), &len);
        local = ntohs(me.sin_port);
    }
    close(fd);
    return local;
}

// Every frame `sub` receives until `done` holds for the frames so far or `timeout` passes.
std::vector<Frame> collect(zmq::socket_t &sub,
                           const std::function<bool(const std::vector<Frame> &)> &done,
                           std::chrono::milliseconds timeout) {
    std::vector<Frame> out;
    const auto end = Clock::now() + timeout;
    while (Clock::now() < end && !done(out))
        if (auto f = receive(sub, 100ms)) out.push_back(std::move(*f));
    return out;
}

bool is_flow_of_port(const Frame &f, const char *topic, uint16_t port) {
    return f.topic == topic && at(f.doc, "destination.port") == port;
}

// The JSON of `frames` checked against docs/events.schema.json by python3-jsonschema.
void validate(const std::vector<Frame> &frames, const TempDir &dir) {
    const std::string file = dir.file("events.jsonl");
    {
        std::ofstream out(file);
        for (const auto &f : frames)
            out << f.text << "\n";
    }
    // Debian's python3, which scripts/deps.sh gives python3-jsonschema (not a python3 earlier in
    // PATH).
    auto r = run({"/usr/bin/python3", kValidator, kSchema, file});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
}

json status_json(const Policerd &d) {
    auto r = run({Binaries::policer(), "status", "--json", "--socket", d.control_socket()});
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto j = json::parse(r.out, nullptr, false);
    REQUIRE_FALSE(j.is_discarded());
    return j;
}

mode_t mode_of(const std::string &path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// Waits until the subscriber gets anything (agent-stats come every second).
void join(zmq::socket_t &sub) {
    REQUIRE_MESSAGE(receive(sub, 5000ms).has_value(), "the subscriber never received anything");
}

} // namespace

TEST_CASE("zmq: a subscriber receives schema-valid flow.start and flow.end events of real "
          "loopback traffic") {
    TempDir dir;
    const std::string tcp = "tcp://127.0.0.1:" + std::to_string(free_port());
    const std::string ipc = "ipc://" + dir.file("events.sock");
    Policerd d({"--zmq-endpoint", tcp, "--zmq-endpoint", ipc});
    zmq::context_t ctx;
    zmq::socket_t sub(ctx, zmq::socket_type::sub), ipc_sub(ctx, zmq::socket_type::sub);
    for (auto *s : {&sub, &ipc_sub}) {
        s->set(zmq::sockopt::linger, 0);
        s->set(zmq::sockopt::subscribe, "");
    }
    sub.connect(tcp);
    ipc_sub.connect(ipc);
    join(sub);
    join(ipc_sub);

    TcpServer server("127.0.0.1", true);
    for (int i = 0; i < 3; ++i) {
        auto r = run({"curl", "-s", "-o", "/dev/null",
                      "http://127.0.0.1:" + std::to_string(server.port()) + "/"});
        REQUIRE(r.status == 0);
    }
    const uint16_t port = server.port();
    auto frames = collect(
        sub,
        [&](const std::vector<Frame> &fs) {
            size_t starts = 0, ends = 0;
            for (const auto &f : fs) {
                starts += is_flow_of_port(f, "flow.start", port);
                ends += is_flow_of_port(f, "flow.end", port);
            }
            // Each connection is two flows: curl's and the server's accepted socket.
            return starts >= 6 && ends >= 6;
        },
        15000ms);

    const std::string agent_id = *policer::daemon::agent_id_from_machine_id();
    size_t starts = 0, ends = 0;
    std::optional<uint64_t> prev;
    for (const auto &f : frames) {
        CAPTURE(f.text);
        // The topic says what the document is.
        const std::string action = at(f.doc, "event.action");
        if (f.topic == "flow.start") CHECK(action == "flow-start");
        if (f.topic == "flow.end") CHECK(action == "flow-end");
        if (f.topic == "agent") CHECK(action.rfind("agent-", 0) == 0);
        CHECK(at(f.doc, "agent.id") == agent_id);
        CHECK(at(f.doc, "agent.type") == "policer");
        // Nothing was lost: the numbers run on without a gap.
        const uint64_t seq = at(f.doc, "event.sequence");
        if (prev) CHECK(seq == *prev + 1);
        prev = seq;
        if (is_flow_of_port(f, "flow.start", port)) {
            ++starts;
            if (at(f.doc, "network.direction") == "egress")
                CHECK(at(f.doc, "process.name") == "curl");
        }
        ends += is_flow_of_port(f, "flow.end", port);
    }
    CHECK(starts >= 6);
    CHECK(ends >= 6);
    validate(frames, dir);

    // The same events on the ipc endpoint.
    auto ipc_frames = collect(
        ipc_sub,
        [&](const std::vector<Frame> &fs) {
            return std::any_of(fs.begin(), fs.end(), [&](const Frame &f) {
                return is_flow_of_port(f, "flow.end", port);
            });
        },
        10000ms);
    CHECK(std::any_of(ipc_frames.begin(), ipc_frames.end(),
                      [&](const Frame &f) { return is_flow_of_port(f, "flow.end", port); }));

    const json st = status_json(d);
    CHECK(at(st, "policer.zmq.published") > 0);
    CHECK(at(st, "policer.zmq.send_errors") == 0);
    CHECK(st["policer"]["zmq"]["topics"]["flow.start"]["published"] > 0);
}

TEST_CASE("zmq: with CURVE an allowed subscriber key receives events and an unknown key or a "
          "client without a key receives nothing") {
    TempDir dir;
    const std::string keys = dir.file("keys"), clients = dir.file("clients"),
                      empty = dir.file("empty");
    for (const auto &p : {keys, clients, empty})
        std::filesystem::create_directory(p);
    for (const auto &[where, name] : std::vector<std::pair<std::string, std::string>>{
             {keys, "server"}, {clients, "rsyslog"}, {keys, "stranger"}})
        must_run({Binaries::policer(), "keygen", "--dir", where, name});
    CHECK(mode_of(keys + "/server.cert") == 0644);
    CHECK(mode_of(keys + "/server.cert_secret") == 0600);
    // Never overwritten without --force.
    auto again = run({Binaries::policer(), "keygen", "--dir", keys, "server"});
    CHECK(again.status == 1);
    CHECK(again.err.find("exists") != std::string::npos);
    // Only public certificates belong in the allow-list.
    std::filesystem::rename(clients + "/rsyslog.cert_secret", keys + "/rsyslog.cert_secret");

    const std::string ipc = "ipc://" + dir.file("events.sock");
    const std::string secret = keys + "/server.cert_secret";

    // Fail closed: an empty allow-list keeps policerd from starting (before anything is loaded).
    auto refused =
        run({Binaries::policerd(), "--db", "none", "--control-socket", "none", "--zmq-endpoint",
             ipc, "--zmq-curve-secret", secret, "--zmq-curve-clients", empty});
    CHECK(refused.status == 1);
    CHECK(refused.err.find("no client certificate") != std::string::npos);

    Policerd d(
        {"--zmq-endpoint", ipc, "--zmq-curve-secret", secret, "--zmq-curve-clients", clients});
    auto server = policer::curve::read_cert_file(keys + "/server.cert", false);
    auto allowed = policer::curve::read_cert_file(keys + "/rsyslog.cert_secret", true);
    auto stranger = policer::curve::read_cert_file(keys + "/stranger.cert_secret", true);
    REQUIRE(server.ok());
    REQUIRE(allowed.ok());
    REQUIRE(stranger.ok());

    zmq::context_t ctx;
    zmq::socket_t good(ctx, zmq::socket_type::sub), bad(ctx, zmq::socket_type::sub),
        plain(ctx, zmq::socket_type::sub);
    auto curve = [&](zmq::socket_t &s, const policer::curve::CurveKeys &k) {
        s.set(zmq::sockopt::curve_serverkey, server->public_z85);
        s.set(zmq::sockopt::curve_publickey, k.public_z85);
        s.set(zmq::sockopt::curve_secretkey, k.secret_z85);
    };
    curve(good, *allowed);
    curve(bad, *stranger);
    for (auto *s : {&good, &bad, &plain}) {
        s->set(zmq::sockopt::linger, 0);
        s->set(zmq::sockopt::subscribe, "");
        s->connect(ipc);
    }
    join(good);

    TcpServer web("127.0.0.1", true);
    const uint16_t port = web.port();
    for (int i = 0; i < 3; ++i)
        run({"curl", "-s", "-o", "/dev/null", "http://127.0.0.1:" + std::to_string(port) + "/"});
    auto got = collect(
        good,
        [&](const std::vector<Frame> &fs) {
            return std::any_of(fs.begin(), fs.end(), [&](const Frame &f) {
                return is_flow_of_port(f, "flow.end", port);
            });
        },
        15000ms);
    CHECK(std::any_of(got.begin(), got.end(),
                      [&](const Frame &f) { return is_flow_of_port(f, "flow.start", port); }));
    CHECK(std::any_of(got.begin(), got.end(),
                      [&](const Frame &f) { return is_flow_of_port(f, "flow.end", port); }));
    validate(got, dir);
    // The same seconds of events, agent-stats included, reached neither of the others.
    CHECK_FALSE(receive(bad, 1500ms).has_value());
    CHECK_FALSE(receive(plain, 1500ms).has_value());
    const json st = status_json(d);
    CHECK(st["policer"]["zmq"]["curve"] == true);
    CHECK(st["policer"]["zmq"]["subscribers"]["accepted"] >= 1);
    CHECK(st["policer"]["zmq"]["subscribers"]["refused"] >= 1);
    CHECK(d.stderr_text().find("unknown key " + stranger->public_z85) != std::string::npos);

    // Signals reach the event loop, never the ZAP handler's thread (which would die of them
    // and take policerd down): a reload (systemctl reload) keeps policerd serving, and SIGTERM
    // stops it cleanly, with agent-stop and exit status 0.
    d.signal_hup();
    std::this_thread::sleep_for(500ms);
    CHECK(status_json(d).contains("mode")); // still answering
    CHECK(d.stop() == 0);
    CHECK(is_action(d.events().back(), "agent-stop"));
}

namespace {

struct LoadResult {
    double packet_s = 0; // allowed connects and refused connects, as the test process saw them
    double event_s = 0;  // from the last close until policerd reported that flow's end
    int refused = 0;
};

// `n` allowed connections to `allowed_port` and `n` connects the rules refuse, interleaved.
LoadResult load(Policerd &d, uint16_t allowed_port, uint16_t denied_port, int n) {
    LoadResult r;
    uint16_t last_local = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
        int err = 0;
        uint16_t local = connect_once(allowed_port, err);
        REQUIRE(err == 0);
        last_local = local;
        connect_once(denied_port, err);
        r.refused += err == EPERM;
    }
    const auto t1 = Clock::now();
    r.packet_s = std::chrono::duration<double>(t1 - t0).count();
    auto end = d.wait_for(
        [&](const json &j) {
            return is_action(j, "flow-end") && at(j, "source.port") == last_local &&
                   at(j, "destination.port") == allowed_port;
        },
        60000ms);
    REQUIRE(end.has_value());
    r.event_s = std::chrono::duration<double>(Clock::now() - t1).count();
    return r;
}

// A subscriber that reads everything, on a thread of its own, from construction to stop().
class Reader {
public:
    Reader(zmq::context_t &ctx, const std::string &ep) : sub_(ctx, zmq::socket_type::sub) {
        sub_.set(zmq::sockopt::linger, 0);
        sub_.set(zmq::sockopt::rcvhwm, 0); // its own queue never drops
        sub_.set(zmq::sockopt::rcvtimeo, 100);
        sub_.set(zmq::sockopt::subscribe, "");
        sub_.connect(ep);
        thread_ = std::thread([this] {
            while (!stop_) {
                zmq::message_t m;
                if (!sub_.recv(m, zmq::recv_flags::none)) continue;
                const std::string text = m.to_string();
                const size_t sp = text.find(' ');
                Frame f{text.substr(0, sp), json::parse(text.substr(sp + 1), nullptr, false),
                        text.substr(sp + 1)};
                std::lock_guard<std::mutex> l(mu_);
                frames_.push_back(std::move(f));
            }
        });
    }
    ~Reader() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::vector<Frame> frames() {
        std::lock_guard<std::mutex> l(mu_);
        return frames_;
    }

private:
    zmq::socket_t sub_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<Frame> frames_;
    std::thread thread_;
};

// The event.sequence numbers `frames` skip.
uint64_t missing(const std::vector<Frame> &frames) {
    uint64_t n = 0;
    for (size_t i = 1; i < frames.size(); ++i) {
        const uint64_t a = at(frames[i - 1].doc, "event.sequence"),
                       b = at(frames[i].doc, "event.sequence");
        CHECK(b > a);
        if (b > a) n += b - a - 1;
    }
    return n;
}

} // namespace

TEST_CASE("zmq: a stalled subscriber slows neither enforcement nor the event loop nor a healthy "
          "subscriber and sees its own losses as a sequence gap") {
    TempDir dir;
    const uint16_t denied = free_port();
    const std::string rules = dir.file("test.rules");
    std::ofstream(rules) << "rule zmq-stall-deny {\n"
                            "    when l4.proto == tcp and dst.port == "
                         << denied << "\n    action deny\n}\n";
    const std::string pin = "/sys/fs/bpf/policer-test-zmq-stall";
    const std::string ipc = "ipc://" + dir.file("events.sock");
    struct Cleanup {
        std::string pin;
        ~Cleanup() { run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", pin}); }
    } cleanup{pin};
    // Queues of 500 messages per subscriber: the stalled one's fills early in the load (about
    // 2000 events), a healthy one that reads never comes near it.
    Policerd d({"--rules", rules, "--pin-dir", pin, "--zmq-endpoint", ipc, "--zmq-hwm", "500"});
    TcpServer server("127.0.0.1", false, 1024);
    const uint16_t port = server.port();
    constexpr int kConnections = 400;

    // The healthy subscriber is there for both measurements: only the stalled one differs.
    zmq::context_t ctx;
    Reader healthy(ctx, ipc);
    for (const auto end = Clock::now() + 5000ms; healthy.frames().empty() && Clock::now() < end;)
        std::this_thread::sleep_for(50ms);
    REQUIRE_MESSAGE(!healthy.frames().empty(), "the healthy subscriber never received anything");
    load(d, port, denied, 50); // warm-up: caches, first-flow costs
    const LoadResult base = load(d, port, denied, kConnections);
    CHECK(base.refused == kConnections);
    CHECK(at(status_json(d), "policer.zmq.send_errors") == 0);

    // A subscriber that joins, takes one event, and never reads again; queues as small as can be.
    zmq::socket_t stalled(ctx, zmq::socket_type::sub);
    stalled.set(zmq::sockopt::linger, 0);
    stalled.set(zmq::sockopt::rcvhwm, 1);
    stalled.set(zmq::sockopt::rcvbuf, 4096);
    stalled.set(zmq::sockopt::subscribe, "");
    stalled.connect(ipc);
    join(stalled);
    const uint64_t stall_from = at(status_json(d), "policer.zmq.sequence");

    const LoadResult stall = load(d, port, denied, kConnections);
    CHECK(stall.refused == kConnections);
    MESSAGE("packet path: " << base.packet_s << " s without, " << stall.packet_s
                            << " s with the stalled subscriber; event path: " << base.event_s
                            << " s / " << stall.event_s << " s");
    // Generous: the machine is shared (other tests, builds); a blocked event loop would take
    // tens of seconds, or forever.
    CHECK(stall.packet_s <= 3 * base.packet_s + 1.0);
    CHECK(stall.event_s <= 3 * base.event_s + 2.0);

    // The healthy subscriber receives every flow of the measured traffic (two flows per allowed
    // connection: the client's and the accepted socket), and every number: no gap.
    auto flows_since = [&](const std::vector<Frame> &fs, const char *topic) {
        return std::count_if(fs.begin(), fs.end(), [&](const Frame &f) {
            return at(f.doc, "event.sequence") > stall_from && is_flow_of_port(f, topic, port);
        });
    };
    std::vector<Frame> got;
    for (const auto end = Clock::now() + 15000ms; Clock::now() < end;) {
        got = healthy.frames();
        if (flows_since(got, "flow.end") >= 2 * kConnections) break;
        std::this_thread::sleep_for(100ms);
    }
    healthy.stop();
    INFO("the healthy subscriber got " << got.size() << " events");
    REQUIRE(got.size() >= 2);
    CHECK(flows_since(got, "flow.start") >= 2 * kConnections);
    CHECK(flows_since(got, "flow.end") >= 2 * kConnections);
    CHECK(missing(got) == 0);

    // The stalled subscriber lost what its queues could not take: once it reads, the numbers
    // jump. It takes its backlog, then the next event (agent-stats come every second).
    std::vector<Frame> late;
    while (auto f = receive(stalled, 500ms))
        late.push_back(std::move(*f));
    auto next = receive(stalled, 5000ms);
    REQUIRE(next.has_value());
    late.push_back(std::move(*next));
    INFO("the stalled subscriber got " << late.size() << " events");
    CHECK(late.size() < got.size());
    CHECK(missing(late) > 0);

    // policerd saw none of it: what a slow subscriber loses is not a send error.
    const json st = status_json(d);
    INFO(st["policer"]["zmq"].dump());
    CHECK(at(st, "policer.zmq.send_errors") == 0);
    CHECK(at(st, "policer.zmq.published") >= 2 * 4 * kConnections);
    CHECK_FALSE(st["policer"]["zmq"].contains("hwm_dropped"));
}
