// boot_clock.cpp - see boot_clock.h.
#include "policer/boot_clock.h"

#include <ctime>

namespace policer::daemon {
namespace {

uint64_t read_clock(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

void BootClock::refresh() {
    uint64_t boot = read_clock(CLOCK_BOOTTIME);
    uint64_t real = read_clock(CLOCK_REALTIME);
    offset_ns_ = real - boot;
}

uint64_t BootClock::now_boot_ns() const {
    return read_clock(CLOCK_BOOTTIME);
}

} // namespace policer::daemon
