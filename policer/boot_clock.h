// boot_clock.h - converts the probes' CLOCK_BOOTTIME nanoseconds to wall-clock time for
// @timestamp fields. The offset is re-read periodically so that NTP steps are followed.
#pragma once

#include "common/timestamp.h"

#include <cstdint>
#include <string>

namespace policer::daemon {

class BootClock {
public:
    BootClock() { refresh(); }

    void refresh();
    uint64_t now_boot_ns() const;
    // Nanoseconds since the Unix epoch for a CLOCK_BOOTTIME value.
    uint64_t to_unix_ns(uint64_t boot_ns) const { return boot_ns + offset_ns_; }

private:
    uint64_t offset_ns_ = 0;
};

using policer::format_timestamp;

} // namespace policer::daemon
