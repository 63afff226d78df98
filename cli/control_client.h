// control_client.h - the CLI's side of the control socket (docs/control.md): one connection,
// one JSON request per line, answers read line by line with a deadline.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace policer::cli {

// The socket policerd listens on unless told otherwise.
inline constexpr const char *kDefaultSocket = "/run/policer/policer.sock";

class ControlClient {
public:
    // Connects; errors say what to check (is policerd running, may this user connect).
    static Result<ControlClient> connect(const std::string &path);

    // Sends `request` and returns the answer (an object with "ok"). A refusal by policerd is an
    // answer, not an error; errors are transport failures.
    Result<nlohmann::json> call(const nlohmann::json &request,
                                std::chrono::milliseconds timeout = std::chrono::seconds(30));

    // The next line policerd sends (for events.follow), waiting at most `timeout`; nothing on
    // timeout, an error when the connection ends.
    Result<std::optional<nlohmann::json>> next(std::chrono::milliseconds timeout);

private:
    explicit ControlClient(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
    std::string buf_;
};

} // namespace policer::cli
