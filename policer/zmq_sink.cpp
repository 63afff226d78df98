// zmq_sink.cpp - see zmq_sink.h.
#include "policer/zmq_sink.h"

#include "policer/curve_cert.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>

namespace policer::daemon {
namespace {

// Subscribers only send subscriptions: anything larger is not one (the peer is dropped).
constexpr int64_t kMaxInboundBytes = 4096;
// ZMTP heartbeats: a subscriber that stops answering is disconnected, and its queue freed.
constexpr int kHeartbeatIvlMs = 5000;
constexpr int kHeartbeatTimeoutMs = 15000;
// How long events still queued at shutdown (agent-stop) may take to leave.
constexpr int kLingerMs = 1000;
// Not in libzmq's stable API (4.3): a CURVE socket refuses clients when no ZAP handler answers.
// Set when the library knows it; the handler is bound for the socket's lifetime regardless.
constexpr int kZapEnforceDomain = 93;

std::optional<size_t> topic_index(std::string_view t) {
    for (size_t i = 0; i < kStreamTopics.size(); ++i)
        if (kStreamTopics[i] == t) return i;
    return std::nullopt;
}

} // namespace

std::optional<std::string_view> stream_topic(std::string_view internal) {
    if (internal == "flow.l7" || internal == "flow.verdict") return std::string_view("verdict");
    if (auto i = topic_index(internal)) return kStreamTopics[*i];
    return std::nullopt;
}

bool ZmqSink::TokenBucket::take(std::chrono::steady_clock::time_point now) {
    if (rate <= 0) return true;
    if (last.time_since_epoch().count() == 0) {
        tokens = rate; // a full second's burst to start with
    } else {
        const double dt = std::chrono::duration<double>(now - last).count();
        tokens = std::min(rate, tokens + dt * rate);
    }
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
}

ZmqSink::ZmqSink(const ZmqOptions &o, std::string agent_id)
    : opts_(o), agent_id_(std::move(agent_id)), ctx_(1) {
    for (size_t i = 0; i < kStreamTopics.size(); ++i) {
        const std::string name(kStreamTopics[i]);
        topics_[i].enabled =
            o.topics.empty() || std::find(o.topics.begin(), o.topics.end(), name) != o.topics.end();
        if (auto it = o.rates.find(name); it != o.rates.end())
            topics_[i].bucket.rate = static_cast<double>(it->second);
    }
}

ZmqSink::~ZmqSink() = default;

Result<std::unique_ptr<ZmqSink>> ZmqSink::open(const ZmqOptions &o, std::string agent_id) {
    if (o.endpoints.empty()) return Error{"no --zmq-endpoint"};
    std::unique_ptr<ZmqSink> s(new ZmqSink(o, std::move(agent_id)));
    std::optional<curve::CurveKeys> server;
    if (!o.curve_secret.empty() || !o.curve_clients.empty()) {
        if (o.curve_secret.empty() || o.curve_clients.empty())
            return Error{"--zmq-curve-secret and --zmq-curve-clients go together"};
        auto keys = curve::read_cert_file(o.curve_secret, true);
        if (!keys) return Error{"--zmq-curve-secret: " + keys.error().message};
        server = std::move(*keys);
        // Fail closed: no allow-list, no stream.
        auto clients = curve::read_client_dir(o.curve_clients);
        if (!clients) return Error{"--zmq-curve-clients: " + clients.error().message};
        std::vector<std::string> allowed;
        for (const auto &c : *clients)
            allowed.push_back(c.public_z85);
        auto zap = ZapHandler::start(s->ctx_, allowed);
        if (!zap) return zap.error();
        s->zap_ = std::move(*zap);
        spdlog::info("event stream: CURVE on, server key {}, {} subscriber key(s) allowed from {}",
                     server->public_z85, allowed.size(), o.curve_clients);
    }
    if (!server)
        for (const auto &ep : o.endpoints) {
            const bool loopback = ep.rfind("tcp://127.", 0) == 0 ||
                                  ep.rfind("tcp://[::1]", 0) == 0 ||
                                  ep.rfind("tcp://localhost:", 0) == 0;
            if (ep.rfind("tcp://", 0) == 0 && !loopback)
                spdlog::warn("event stream: {} is reachable from the network and CURVE is off: "
                             "anyone who can connect receives every event (--zmq-curve-secret, "
                             "--zmq-curve-clients; docs/siem.md)",
                             ep);
        }
    try {
        s->pub_ = zmq::socket_t(s->ctx_, zmq::socket_type::pub);
        auto &p = s->pub_;
        // Per subscriber: a message that does not fit one subscriber's queue is dropped for that
        // subscriber alone. Not ZMQ_XPUB_NODROP: with it, one stalled subscriber (libzmq still
        // answers its heartbeats, so it is never disconnected) makes every send of its topics
        // fail, for all subscribers. Isolation over counting: the loss is seen by the subscriber
        // that lost it, as a gap in event.sequence.
        p.set(zmq::sockopt::sndhwm, static_cast<int>(o.hwm));
        p.set(zmq::sockopt::linger, kLingerMs);
        p.set(zmq::sockopt::maxmsgsize, kMaxInboundBytes);
        p.set(zmq::sockopt::heartbeat_ivl, kHeartbeatIvlMs);
        p.set(zmq::sockopt::heartbeat_timeout, kHeartbeatTimeoutMs);
        p.set(zmq::sockopt::tcp_keepalive, 1);
        p.set(zmq::sockopt::ipv6, 1); // tcp://[::1]:port; tcp://*:port takes IPv4 as well
        if (server) {
            p.set(zmq::sockopt::curve_server, 1);
            p.set(zmq::sockopt::curve_secretkey, server->secret_z85);
            p.set(zmq::sockopt::zap_domain, "policer");
            const int on = 1;
            zmq_setsockopt(p.handle(), kZapEnforceDomain, &on, sizeof(on));
            std::fill(server->secret_z85.begin(), server->secret_z85.end(), '\0');
        }
        for (const auto &ep : o.endpoints) {
            try {
                p.bind(ep);
            } catch (const zmq::error_t &e) {
                return Error{"--zmq-endpoint " + ep + ": cannot bind: " + e.what()};
            }
            spdlog::info("event stream: publishing on {}", p.get(zmq::sockopt::last_endpoint));
        }
    } catch (const zmq::error_t &e) {
        return Error{std::string("event stream: ") + e.what()};
    }
    return s;
}

void ZmqSink::publish(std::string_view topic, const Json &doc) {
    auto wire = stream_topic(topic);
    if (!wire) return;
    Topic &t = topics_[*topic_index(*wire)];
    if (!t.enabled) return;
    // Numbered before the limits: every event lost from here on is a gap a subscriber sees.
    const uint64_t seq = ++sequence_;
    if (!t.bucket.take(std::chrono::steady_clock::now())) {
        ++t.counters.rate_limited;
        return;
    }
    Json out = doc;
    Json &agent = out["agent"];
    agent["id"] = agent_id_;
    agent["type"] = "policer";
    out["event"]["sequence"] = seq;
    std::string frame(*wire);
    frame += ' ';
    frame += to_line(out);
    // Never blocks (a PUB socket drops per subscriber; ZMQ_DONTWAIT besides): success means
    // libzmq took the message, not that every subscriber's queue had room for it.
    if (zmq_send(pub_.handle(), frame.data(), frame.size(), ZMQ_DONTWAIT) >= 0) {
        ++t.counters.published;
        return;
    }
    ++t.counters.send_errors;
    if (!warned_error_) {
        warned_error_ = true;
        spdlog::error("event stream: send failed: {} (counted in policer.zmq)",
                      zmq_strerror(errno));
    }
}

ZmqSink::TopicCounters ZmqSink::counters(std::string_view stream_topic) const {
    auto i = topic_index(stream_topic);
    return i ? topics_[*i].counters : TopicCounters{};
}

Json ZmqSink::stats() const {
    Json topics = Json::object();
    TopicCounters total;
    for (size_t i = 0; i < kStreamTopics.size(); ++i) {
        const Topic &t = topics_[i];
        Json j = {{"enabled", t.enabled},
                  {"published", t.counters.published},
                  {"rate_limited", t.counters.rate_limited},
                  {"send_errors", t.counters.send_errors}};
        if (t.bucket.rate > 0) j["rate"] = static_cast<uint64_t>(t.bucket.rate);
        topics[std::string(kStreamTopics[i])] = j;
        total.published += t.counters.published;
        total.rate_limited += t.counters.rate_limited;
        total.send_errors += t.counters.send_errors;
    }
    Json j = {{"endpoints", opts_.endpoints},     {"hwm", opts_.hwm},
              {"curve", zap_ != nullptr},         {"sequence", sequence_},
              {"published", total.published},     {"rate_limited", total.rate_limited},
              {"send_errors", total.send_errors}, {"topics", topics}};
    if (zap_) {
        auto c = zap_->counters();
        j["subscribers"] = {
            {"accepted", c.accepted}, {"refused", c.refused}, {"malformed", c.malformed}};
    }
    return j;
}

} // namespace policer::daemon
