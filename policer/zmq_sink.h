// zmq_sink.h - policerd's ZeroMQ event stream (docs/events.md, "ZeroMQ"): a PUB socket on the
// --zmq-endpoint addresses, one frame per event, "<topic> <json>". Every document gets the
// stream envelope (agent.id, agent.type, event.sequence). A slow or dead subscriber never holds
// up the event loop or another subscriber: sends never block, and libzmq drops, per subscriber,
// what does not fit that subscriber's --zmq-hwm queue (that subscriber alone sees the gap in
// event.sequence; policerd cannot see or count it). policerd counts what it publishes, what the
// per-topic rate limits drop (a gap every subscriber sees) and send errors (status, agent-stats).
#pragma once

#include "common/result.h"
#include "policer/event_sink.h"
#include "policer/options.h"
#include "policer/zap_handler.h"

#include <zmq.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace policer::daemon {

// The topics of the stream, as subscribers see them.
inline constexpr std::array<std::string_view, 6> kStreamTopics = {
    "flow.start", "flow.end", "verdict", "alert", "rule.change", "agent"};

// The stream topic of an event policerd publishes under `internal` ("flow.l7" -> "verdict"), or
// nullopt for one that is not streamed.
std::optional<std::string_view> stream_topic(std::string_view internal);

class ZmqSink : public EventSink {
public:
    struct TopicCounters {
        // Handed to libzmq. Not "delivered": a subscriber whose queue is full loses the message
        // inside libzmq, unseen here; only that subscriber's event.sequence shows it.
        uint64_t published = 0;
        uint64_t rate_limited = 0; // over the topic's --zmq-rate: lost for every subscriber
        uint64_t send_errors = 0;  // zmq_send failed: lost for every subscriber
    };

    // Binds every endpoint (with CURVE and the ZAP handler when o.curve_secret is set). Errors
    // say what to fix; nothing is left bound.
    static Result<std::unique_ptr<ZmqSink>> open(const ZmqOptions &o, std::string agent_id);
    ~ZmqSink() override;

    void publish(std::string_view topic, const Json &doc) override;

    // policer.zmq of agent-stats and `policer status`.
    Json stats() const;
    TopicCounters counters(std::string_view stream_topic) const;
    uint64_t last_sequence() const { return sequence_; }

private:
    struct TokenBucket {
        double rate = 0; // tokens per second; 0: no limit
        double tokens = 0;
        std::chrono::steady_clock::time_point last{};
        bool take(std::chrono::steady_clock::time_point now);
    };
    struct Topic {
        bool enabled = true;
        TokenBucket bucket;
        TopicCounters counters;
    };

    ZmqSink(const ZmqOptions &o, std::string agent_id);

    ZmqOptions opts_;
    const std::string agent_id_;
    std::array<Topic, kStreamTopics.size()> topics_;
    uint64_t sequence_ = 0;
    bool warned_error_ = false;
    // Declared in this order so that they go in reverse: the PUB socket closes while the ZAP
    // handler still answers (no client gets in unchecked), then the context ends.
    zmq::context_t ctx_;
    std::unique_ptr<ZapHandler> zap_;
    zmq::socket_t pub_;
};

} // namespace policer::daemon
