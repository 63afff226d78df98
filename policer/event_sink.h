// event_sink.h - where policerd's events go. Each event has a topic ("flow.start",
// "flow.end", "agent") and an ECS document; sinks decide the wire format.
#pragma once

#include "policer/ecs.h"

#include <cstdio>
#include <string_view>

namespace policer::daemon {

class EventSink {
public:
    virtual ~EventSink() = default;
    virtual void publish(std::string_view topic, const Json &doc) = 0;
    // Called after each batch of events, so sinks may buffer within a batch.
    virtual void flush() {}
};

// One JSON document per line on a stdio stream (--events-stdout).
class LineSink : public EventSink {
public:
    explicit LineSink(std::FILE *out) : out_(out) {}
    void publish(std::string_view topic, const Json &doc) override;
    void flush() override;

private:
    std::FILE *out_;
    bool broken_ = false; // the reader went away: stop writing, keep running
};

} // namespace policer::daemon
