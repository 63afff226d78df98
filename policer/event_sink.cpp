// event_sink.cpp - see event_sink.h.
#include "policer/event_sink.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace policer::daemon {

void LineSink::publish(std::string_view, const Json &doc) {
    if (broken_) return;
    std::string line = to_line(doc);
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), out_) != line.size()) {
        broken_ = true;
        spdlog::error("cannot write events to stdout ({}); event output stopped",
                      std::strerror(errno));
    }
}

void LineSink::flush() {
    if (!broken_ && std::fflush(out_) != 0) {
        broken_ = true;
        spdlog::error("cannot write events to stdout ({}); event output stopped",
                      std::strerror(errno));
    }
}

} // namespace policer::daemon
