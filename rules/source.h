// source.h - rule text, positions in it, and diagnostics that point at them.
//
// Every error a rule author sees names file:line:col, quotes the line, underlines the
// offending text and, where a near miss is likely a typo, suggests the intended word.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace policer::rules {

// One rule file's text. Kept alive by everything that points into it.
struct SourceFile {
    std::string path;
    std::string text;
};
using SourcePtr = std::shared_ptr<const SourceFile>;

struct SourceLoc {
    SourcePtr file;
    uint32_t line = 0; // 1-based
    uint32_t col = 0;  // 1-based, in bytes
    uint32_t len = 0;  // bytes underlined

    std::string str() const; // "path:line:col"
};

enum class Severity { Error, Warning };

struct Diagnostic {
    Severity severity = Severity::Error;
    SourceLoc loc;
    std::string message;
    std::string suggestion; // "user.name" for "did you mean 'user.name'?"; may be empty

    // "path:3:10: error: unknown field 'usr.name' (did you mean 'user.name'?)"
    // followed by the source line and a caret line.
    std::string format() const;
};

using Diagnostics = std::vector<Diagnostic>;

bool has_errors(const Diagnostics &d);

// The closest candidate to `word` if it is close enough to be a likely typo, else "".
std::string closest(std::string_view word, const std::vector<std::string> &candidates);

} // namespace policer::rules
