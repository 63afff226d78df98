// zmq_sink_test.cpp - the ZeroMQ event stream with real sockets: a ZmqSink publishing on an ipc
// endpoint in a temporary directory, and real SUB sockets (cppzmq) receiving. Frames and the
// envelope, topic selection, contiguous sequence numbers, rate limits, a subscriber that stops
// reading (publish() must never block, a healthy subscriber beside it loses nothing, and the
// stalled one sees its losses as a gap in event.sequence), and CURVE with the ZAP handler: an
// allowed key receives, an unknown key and a client without a key receive nothing.
#include "policer/curve_cert.h"
#include "policer/options.h"
#include "policer/zmq_sink.h"

#include "temp_dir.h"

#include <doctest/doctest.h>
#include <zmq.hpp>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace policer::daemon;
using policer::curve::CurveKeys;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char *kAgentId = "58213555-a93e-43a4-bc84-9073392f62c4";

using unit_test::TempDir;
std::string ipc(const TempDir &d, const std::string &name = "events.sock") {
    return "ipc://" + d.file(name);
}

std::unique_ptr<ZmqSink> open_sink(const ZmqOptions &o) {
    auto s = ZmqSink::open(o, kAgentId);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(*s);
}

// An event as policerd makes them: host.name and event.action are there already.
Json event(const char *action, int n = 0) {
    Json doc;
    doc["@timestamp"] = "2026-01-01T00:00:00.000000Z";
    doc["event"] = {{"kind", "event"}, {"action", action}, {"dataset", "policer.flow"}};
    doc["host"] = {{"name", "testhost"}};
    doc["n"] = n;
    return doc;
}

struct Frame {
    std::string topic;
    Json doc;
};

std::optional<Frame> receive(zmq::socket_t &sub, std::chrono::milliseconds timeout) {
    sub.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    zmq::message_t m;
    if (!sub.recv(m, zmq::recv_flags::none)) return std::nullopt;
    REQUIRE_FALSE(m.more()); // one frame per event
    const std::string text = m.to_string();
    const size_t sp = text.find(' ');
    REQUIRE(sp != std::string::npos);
    Frame f{text.substr(0, sp), Json::parse(text.substr(sp + 1), nullptr, false)};
    REQUIRE_FALSE(f.doc.is_discarded());
    return f;
}

// PUB/SUB joins late (the subscription travels to the publisher after connect): publish `agent`
// events until the subscriber gets one, at most `limit`. True when it did.
bool join(ZmqSink &sink, zmq::socket_t &sub, const char *topic = "agent",
          std::chrono::milliseconds limit = 5000ms) {
    const auto end = Clock::now() + limit;
    while (Clock::now() < end) {
        sink.publish(topic, event("agent-stats"));
        if (receive(sub, 50ms)) {
            // Take what else the joining left queued.
            while (receive(sub, 50ms)) {
            }
            return true;
        }
    }
    return false;
}

zmq::socket_t subscriber(zmq::context_t &ctx, const std::string &ep,
                         const std::string &prefix = "") {
    zmq::socket_t s(ctx, zmq::socket_type::sub);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::subscribe, prefix);
    s.connect(ep);
    return s;
}

void curve_client(zmq::socket_t &s, const std::string &server_public, const CurveKeys &mine) {
    s.set(zmq::sockopt::curve_serverkey, server_public);
    s.set(zmq::sockopt::curve_publickey, mine.public_z85);
    s.set(zmq::sockopt::curve_secretkey, mine.secret_z85);
}

CurveKeys keys() {
    auto k = policer::curve::generate_keys();
    REQUIRE(k.ok());
    return *k;
}

} // namespace

TEST_CASE("internal topics map to the stream topics and flow.l7 is a verdict") {
    CHECK(*stream_topic("flow.start") == "flow.start");
    CHECK(*stream_topic("flow.end") == "flow.end");
    CHECK(*stream_topic("flow.l7") == "verdict");
    CHECK(*stream_topic("flow.verdict") == "verdict");
    CHECK(*stream_topic("alert") == "alert");
    CHECK(*stream_topic("rule.change") == "rule.change");
    CHECK(*stream_topic("agent") == "agent");
    CHECK_FALSE(stream_topic("flow").has_value());
    CHECK_FALSE(stream_topic("bogus").has_value());
}

TEST_CASE("stream frames are topic space json with the envelope and contiguous sequence numbers") {
    TempDir d;
    ZmqOptions o;
    o.endpoints = {ipc(d)};
    auto sink = open_sink(o);
    zmq::context_t ctx;
    auto sub = subscriber(ctx, ipc(d));
    REQUIRE(join(*sink, sub));

    const char *internal[] = {"flow.start", "flow.l7", "flow.end",    "alert",
                              "agent",      "bogus",   "rule.change", "flow.verdict"};
    const char *wire[] = {"flow.start", "verdict", "flow.end",    "alert",
                          "agent",      nullptr,   "rule.change", "verdict"};
    std::vector<std::string> expected;
    for (int i = 0; i < 80; ++i) {
        sink->publish(internal[i % 8], event("flow-start", i));
        if (wire[i % 8]) expected.push_back(wire[i % 8]);
    }
    std::optional<uint64_t> prev;
    for (const auto &topic : expected) {
        auto f = receive(sub, 2000ms);
        REQUIRE(f.has_value());
        CHECK(f->topic == topic);
        CHECK(f->doc["agent"]["id"] == kAgentId);
        CHECK(f->doc["agent"]["type"] == "policer");
        CHECK(f->doc["host"]["name"] == "testhost");
        CHECK(f->doc["event"]["action"] == "flow-start"); // the document is kept as it was
        const uint64_t seq = f->doc["event"]["sequence"];
        if (prev) CHECK(seq == *prev + 1); // no gap: nothing was lost
        prev = seq;
    }
    CHECK(*prev == sink->last_sequence());
    CHECK_FALSE(receive(sub, 200ms).has_value()); // "bogus" was not streamed
    CHECK(sink->counters("verdict").published == 20);
    CHECK(sink->counters("flow.start").send_errors == 0);
}

TEST_CASE("only the topics of zmq-topics are published and a subscriber's prefix filter holds") {
    TempDir d;
    ZmqOptions o;
    o.endpoints = {ipc(d)};
    o.topics = {"flow.end", "agent"};
    auto sink = open_sink(o);
    zmq::context_t ctx;
    auto all = subscriber(ctx, ipc(d));
    auto ends = subscriber(ctx, ipc(d), "flow.end ");
    REQUIRE(join(*sink, all));
    // `ends` does not take agent events: join it on flow ends.
    bool joined = false;
    for (auto end = Clock::now() + 5s; !joined && Clock::now() < end;) {
        sink->publish("flow.end", event("flow-end"));
        joined = receive(ends, 50ms).has_value();
    }
    REQUIRE(joined);
    while (receive(ends, 50ms)) {
    }
    while (receive(all, 50ms)) {
    }

    for (int i = 0; i < 30; ++i) {
        sink->publish("flow.start", event("flow-start", i));
        sink->publish("flow.end", event("flow-end", i));
        sink->publish("alert", event("flow-refused", i));
    }
    std::optional<uint64_t> prev;
    for (int i = 0; i < 30; ++i) {
        auto f = receive(all, 2000ms);
        REQUIRE(f.has_value());
        CHECK(f->topic == "flow.end");
        CHECK(f->doc["n"] == i);
        // Topics not published take no number: still no gap.
        const uint64_t seq = f->doc["event"]["sequence"];
        if (prev) CHECK(seq == *prev + 1);
        prev = seq;
        auto e = receive(ends, 2000ms);
        REQUIRE(e.has_value());
        CHECK(e->topic == "flow.end");
    }
    CHECK_FALSE(receive(all, 200ms).has_value());
    CHECK(sink->counters("flow.start").published == 0);
    CHECK(sink->stats()["topics"]["flow.start"]["enabled"] == false);
}

TEST_CASE("a topic over its rate limit is dropped, counted and seen as a sequence gap") {
    TempDir d;
    ZmqOptions o;
    o.endpoints = {ipc(d)};
    o.rates = {{"flow.start", 20}};
    auto sink = open_sink(o);
    zmq::context_t ctx;
    auto sub = subscriber(ctx, ipc(d));
    REQUIRE(join(*sink, sub));

    const auto t0 = Clock::now();
    for (int i = 0; i < 1000; ++i)
        sink->publish("flow.start", event("flow-start", i));
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    sink->publish("flow.end", event("flow-end")); // other topics have no limit

    std::vector<uint64_t> seqs;
    std::optional<uint64_t> end_seq;
    while (auto f = receive(sub, 300ms)) {
        if (f->topic == "flow.start") seqs.push_back(f->doc["event"]["sequence"]);
        if (f->topic == "flow.end") end_seq = f->doc["event"]["sequence"].get<uint64_t>();
    }
    REQUIRE(end_seq.has_value());
    REQUIRE_FALSE(seqs.empty());
    const auto c = sink->counters("flow.start");
    // A second's burst (20), plus what refilled while publishing.
    const size_t allowed = 20 + static_cast<size_t>(secs * 20) + 1;
    INFO("received " << seqs.size() << " in " << secs << " s");
    CHECK(seqs.size() >= 20);
    CHECK(seqs.size() <= allowed);
    CHECK(c.published == seqs.size());
    CHECK(c.rate_limited == 1000 - seqs.size());
    CHECK(sink->counters("flow.end").published == 1);
    // Every dropped event left a gap in the numbers the subscriber saw: 1000 flow starts and
    // one flow end were numbered, fewer arrived.
    CHECK(*end_seq - seqs.front() + 1 == 1001);
    CHECK(*end_seq - seqs.front() + 1 - (seqs.size() + 1) == c.rate_limited);
    const Json st = sink->stats();
    CHECK(st["rate_limited"] == c.rate_limited);
    CHECK(st["topics"]["flow.start"]["rate"] == 20);
}

TEST_CASE("a stalled subscriber loses only its own events and sees the loss as a sequence gap") {
    TempDir d;
    ZmqOptions o;
    o.endpoints = {ipc(d)};
    o.hwm = 10000; // the default
    auto sink = open_sink(o);
    zmq::context_t ctx;
    // Connected, subscribed to everything, never reads; queues as small as can be.
    zmq::socket_t stalled(ctx, zmq::socket_type::sub);
    stalled.set(zmq::sockopt::linger, 0);
    stalled.set(zmq::sockopt::rcvhwm, 1);
    stalled.set(zmq::sockopt::rcvbuf, 4096);
    stalled.set(zmq::sockopt::subscribe, "");
    stalled.connect(ipc(d));
    // Reads everything, on a thread of its own.
    auto healthy = subscriber(ctx, ipc(d));
    healthy.set(zmq::sockopt::rcvhwm, 0);
    REQUIRE(join(*sink, stalled));
    REQUIRE(join(*sink, healthy));
    while (receive(stalled, 50ms)) {
    }
    // From here on `stalled` reads nothing until the end.

    constexpr uint64_t kEvents = 50000; // far more than its queues (10000 and socket buffers)
    const uint64_t first = sink->last_sequence() + 1, last = first + kEvents - 1;
    std::vector<uint64_t> got;
    got.reserve(kEvents);
    std::thread reader([&] {
        const auto end = Clock::now() + 30s;
        while (Clock::now() < end && (got.empty() || got.back() < last)) {
            healthy.set(zmq::sockopt::rcvtimeo, 100);
            zmq::message_t m;
            if (!healthy.recv(m, zmq::recv_flags::none)) continue;
            const std::string text = m.to_string();
            const Json doc = Json::parse(text.substr(text.find(' ') + 1), nullptr, false);
            if (!doc.is_discarded() && doc["event"]["sequence"].is_number_unsigned())
                got.push_back(doc["event"]["sequence"].get<uint64_t>());
        }
    });

    Json doc = event("flow-start");
    doc["process"]["command_line"] = std::string(200, 'x');
    const auto before = sink->counters("flow.start");
    auto slowest = Clock::duration::zero(), busy = Clock::duration::zero();
    for (uint64_t i = 0; i < kEvents; ++i) {
        const auto a = Clock::now();
        sink->publish("flow.start", doc);
        const auto took = Clock::now() - a;
        slowest = std::max(slowest, took);
        busy += took;
        // Bursts of 1000, as a busy host makes them; the stalled queue fills all the same.
        if (i % 1000 == 999) std::this_thread::sleep_for(1ms);
    }
    reader.join();
    const auto c = sink->counters("flow.start");
    INFO("publish: " << std::chrono::duration<double>(busy).count() << " s in all, slowest call "
                     << std::chrono::duration<double, std::milli>(slowest).count()
                     << " ms; the healthy subscriber got " << got.size());
    CHECK(std::chrono::duration<double>(busy).count() < 20.0);
    CHECK(slowest < 500ms); // no call waited for a subscriber
    CHECK(c.published - before.published == kEvents);
    CHECK(c.send_errors == 0);
    CHECK(sink->last_sequence() == last);

    // The healthy subscriber lost nothing: every number, in order, no gap.
    REQUIRE(got.size() == kEvents);
    CHECK(got.front() == first);
    size_t gaps = 0;
    for (size_t i = 1; i < got.size(); ++i)
        gaps += got[i] != got[i - 1] + 1;
    CHECK(gaps == 0);
    CHECK(got.back() == last);

    // The stalled subscriber lost what its queues could not take, and sees it as a gap: it has
    // the first events in order, then (once it reads again) the next event's number jumps.
    std::vector<uint64_t> late;
    while (auto f = receive(stalled, 300ms))
        late.push_back(f->doc["event"]["sequence"]);
    sink->publish("agent", event("agent-stats"));
    auto next = receive(stalled, 2000ms);
    REQUIRE(next.has_value());
    late.push_back(next->doc["event"]["sequence"]);
    INFO("the stalled subscriber got " << late.size() << " of " << kEvents + 1);
    REQUIRE(late.size() >= 2);
    CHECK(late.size() < kEvents);
    CHECK(late.front() == first); // its queue filled with the first ones
    CHECK(late.back() == last + 1);
    uint64_t missing = 0;
    for (size_t i = 1; i < late.size(); ++i) {
        CHECK(late[i] > late[i - 1]);
        missing += late[i] - late[i - 1] - 1;
    }
    CHECK(missing > 0);
    CHECK(missing == last + 1 - first + 1 - late.size());
}

TEST_CASE("with CURVE an allowed key receives and an unknown key or no key receives nothing") {
    TempDir d;
    const CurveKeys server = keys(), allowed = keys(), stranger = keys();
    std::filesystem::create_directory(d.file("clients"));
    REQUIRE(policer::curve::write_cert_pair(d.path, "server", server, false).ok());
    REQUIRE(policer::curve::write_cert_pair(d.file("clients"), "allowed", allowed, false).ok());
    ZmqOptions o;
    o.endpoints = {ipc(d)};
    o.curve_secret = d.file("server.cert_secret");
    o.curve_clients = d.file("clients");
    auto sink = open_sink(o);
    CHECK(sink->stats()["curve"] == true);

    zmq::context_t ctx;
    zmq::socket_t good(ctx, zmq::socket_type::sub), bad(ctx, zmq::socket_type::sub),
        plain(ctx, zmq::socket_type::sub);
    curve_client(good, server.public_z85, allowed);
    curve_client(bad, server.public_z85, stranger);
    for (auto *s : {&good, &bad, &plain}) {
        s->set(zmq::sockopt::linger, 0);
        s->set(zmq::sockopt::subscribe, "");
        s->connect(ipc(d));
    }
    REQUIRE(join(*sink, good));
    // The others had as long to join as the allowed one, and more now.
    for (int i = 0; i < 20; ++i) {
        sink->publish("flow.start", event("flow-start", i));
        std::this_thread::sleep_for(50ms);
    }
    int good_got = 0;
    while (receive(good, 200ms))
        ++good_got;
    CHECK(good_got == 20);
    CHECK_FALSE(receive(bad, 500ms).has_value());
    CHECK_FALSE(receive(plain, 500ms).has_value());
    const Json st = sink->stats();
    CHECK(st["subscribers"]["accepted"] >= 1);
    CHECK(st["subscribers"]["refused"] >= 1); // the unknown key, asked about by libzmq
}

TEST_CASE("a CURVE stream fails closed when its keys or allow-list are missing or broken") {
    TempDir d;
    const CurveKeys server = keys();
    REQUIRE(policer::curve::write_cert_pair(d.path, "server", server, false).ok());
    std::filesystem::create_directory(d.file("empty"));
    ZmqOptions o;
    o.endpoints = {ipc(d)};
    o.curve_secret = d.file("server.cert_secret");

    auto fails = [&](const std::string &what) {
        auto s = ZmqSink::open(o, kAgentId);
        REQUIRE_FALSE(s.ok());
        CHECK(s.error().message.find(what) != std::string::npos);
    };
    o.curve_clients = d.file("empty");
    fails("no client certificate");
    o.curve_clients = d.file("absent");
    fails("cannot read");
    o.curve_clients = "";
    fails("go together");
    o.curve_clients = d.path;               // holds server.cert: a valid list
    o.curve_secret = d.file("server.cert"); // mode 0644: not a secret one
    fails("chmod 600");
    // A public certificate is not the server's secret, whatever its mode.
    std::filesystem::copy_file(d.file("server.cert"), d.file("public.cert_secret"));
    std::filesystem::permissions(d.file("public.cert_secret"),
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
    o.curve_secret = d.file("public.cert_secret");
    fails("secret-key");
    o.curve_secret = d.file("server.cert_secret");
    o.endpoints = {"ipc://" + d.file("no/such/dir/events.sock")};
    fails("cannot bind");
}

TEST_CASE("policerd's zmq options are checked") {
    auto parse = [](std::vector<const char *> args) {
        args.insert(args.begin(), "policerd");
        return parse_options(static_cast<int>(args.size()), args.data());
    };
    auto ok = parse({"--zmq-endpoint", "ipc:///run/policer/events.sock", "--zmq-endpoint",
                     "tcp://127.0.0.1:5556", "--zmq-topics", "flow.end, alert", "--zmq-rate",
                     "flow.end=100", "--zmq-hwm", "500"});
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
    const ZmqOptions &z = ok->options.zmq;
    CHECK(z.endpoints.size() == 2);
    CHECK(z.topics == std::vector<std::string>{"flow.end", "alert"});
    CHECK(z.rates.at("flow.end") == 100);
    CHECK(z.hwm == 500);
    CHECK(parse({})->options.zmq.endpoints.empty());
    CHECK(parse({})->options.zmq.hwm == 10000);

    struct Bad {
        std::vector<const char *> args;
        const char *why;
    };
    const Bad bad[] = {
        {{"--zmq-endpoint", "udp://1.2.3.4:5"}, "ipc:///"},
        {{"--zmq-endpoint", "ipc://relative"}, "ipc:///"},
        {{"--zmq-endpoint", "tcp://nohost"}, "tcp://"},
        {{"--zmq-endpoint", "ipc:///x", "--zmq-topics", "flow.l7"}, "unknown topic"},
        {{"--zmq-endpoint", "ipc:///x", "--zmq-rate", "flow.end"}, "TOPIC=N"},
        {{"--zmq-endpoint", "ipc:///x", "--zmq-rate", "flow.end=0"}, "from 1"},
        {{"--zmq-endpoint", "ipc:///x", "--zmq-rate", "flow.end=5K"}, "from 1"},
        {{"--zmq-endpoint", "ipc:///x", "--zmq-hwm", "0"}, "--zmq-hwm"},
        {{"--zmq-endpoint", "ipc:///x", "--zmq-curve-secret", "/k"}, "go together"},
        {{"--zmq-topics", "alert"}, "need a --zmq-endpoint"},
    };
    for (const auto &b : bad) {
        auto r = parse(b.args);
        INFO(b.why);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find(b.why) != std::string::npos);
    }
}
