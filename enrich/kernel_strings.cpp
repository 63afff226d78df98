// kernel_strings.cpp - see kernel_strings.h.
#include "enrich/kernel_strings.h"

#include <cstring>

namespace policer::enrich {

std::string bounded_cstr(const char *buf, size_t cap) {
    const void *nul = std::memchr(buf, '\0', cap);
    size_t len = nul ? static_cast<size_t>(static_cast<const char *>(nul) - buf) : cap;
    return std::string(buf, len);
}

std::string exe_from_components(std::string_view leaf_first, bool truncated) {
    std::vector<std::string_view> parts;
    size_t pos = 0;
    while (pos < leaf_first.size()) {
        size_t end = leaf_first.find('\0', pos);
        if (end == std::string_view::npos) end = leaf_first.size();
        if (end > pos) parts.push_back(leaf_first.substr(pos, end - pos));
        pos = end + 1;
    }
    if (parts.empty()) return truncated ? "..." : "";
    std::string path = truncated ? "..." : "";
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        path += '/';
        path.append(it->data(), it->size());
    }
    return path;
}

std::vector<std::string> split_args(std::string_view raw, size_t max_args) {
    std::vector<std::string> args;
    if (!raw.empty() && raw.back() == '\0') raw.remove_suffix(1);
    if (raw.empty()) return args;
    size_t pos = 0;
    while (args.size() < max_args) {
        size_t end = raw.find('\0', pos);
        if (end == std::string_view::npos) {
            args.emplace_back(raw.substr(pos));
            break;
        }
        args.emplace_back(raw.substr(pos, end - pos));
        pos = end + 1;
    }
    return args;
}

std::string join_args(const std::vector<std::string> &args) {
    std::string out;
    for (size_t i = 0; i < args.size(); ++i) {
        if (i) out += ' ';
        out += args[i];
    }
    return out;
}

} // namespace policer::enrich
