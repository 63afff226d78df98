// text.h - small helpers for the line-oriented text the kernel exposes (/proc, /sys).
#pragma once

#include <cctype>
#include <string_view>

namespace policer {

// `s` without leading and trailing white space.
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

// Calls f(line) for each '\n'-terminated line of `text` (the last may lack its '\n'), without
// the '\n'. Stops early, returning true, when f returns true.
template <typename F>
bool for_each_line(std::string_view text, F &&f) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        if (f(text.substr(pos, end - pos))) return true;
        pos = end + 1;
    }
    return false;
}

} // namespace policer
