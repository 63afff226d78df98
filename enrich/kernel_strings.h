// kernel_strings.h - decoding of the string fields the probes capture (probe_abi.h). They come
// from the kernel and from other processes' memory: lengths are checked, nothing is assumed
// NUL terminated.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace policer::enrich {

// A fixed-size char array that may or may not hold a NUL (e.g. comm[16]).
std::string bounded_cstr(const char *buf, size_t cap);

// The executable path from its leaf-first components ("curl\0bin\0usr\0" -> "/usr/bin/curl").
// Empty input gives "". A `truncated` path is prefixed with "..." instead of "/".
std::string exe_from_components(std::string_view leaf_first, bool truncated);

// argv from the NUL-separated argument area of a process. A trailing NUL is optional; at most
// `max_args` arguments are returned.
std::vector<std::string> split_args(std::string_view raw, size_t max_args = 256);

// The command line as one string, arguments joined by single spaces (ECS process.command_line).
std::string join_args(const std::vector<std::string> &args);

} // namespace policer::enrich
