// sd_notify.h - readiness and status for the service manager (systemd's Type=notify), by its
// documented datagram protocol rather than by linking libsystemd: policerd sends
// newline-separated assignments ("READY=1", "STOPPING=1", "STATUS=...") in one datagram to the
// AF_UNIX socket named by $NOTIFY_SOCKET. A name starting with '@' is an abstract socket.
// Without $NOTIFY_SOCKET (not started by systemd) nothing is sent.
#pragma once

#include "common/result.h"

#include <string>
#include <string_view>

namespace policer::daemon {

// Sends `state` to `address` (an absolute path, or "@name" for an abstract socket). Errors
// say why: an address that is neither, too long, a send that failed.
Status sd_notify_to(const std::string &address, std::string_view state);

// Sends `state` to $NOTIFY_SOCKET; Ok, sending nothing, when it is unset or empty.
Status sd_notify(std::string_view state);

} // namespace policer::daemon
