// version.h - the one place the version string lives (set by CMake from project()).
#pragma once

namespace policer {
inline constexpr const char *kVersion = POLICER_VERSION;
} // namespace policer
