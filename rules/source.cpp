// source.cpp - see source.h.
#include "rules/source.h"

#include <algorithm>

namespace policer::rules {
namespace {

// Damerau-Levenshtein (optimal string alignment) distance: a swapped pair of letters, the
// commonest typo, counts as one edit.
size_t edit_distance(std::string_view a, std::string_view b) {
    const size_t n = a.size(), m = b.size();
    std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
    for (size_t i = 0; i <= n; ++i)
        d[i][0] = i;
    for (size_t j = 0; j <= m; ++j)
        d[0][j] = j;
    for (size_t i = 1; i <= n; ++i)
        for (size_t j = 1; j <= m; ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[n][m];
}

std::string line_of(const SourceFile &f, uint32_t line) {
    size_t pos = 0;
    for (uint32_t l = 1; l < line && pos != std::string::npos; ++l) {
        pos = f.text.find('\n', pos);
        if (pos != std::string::npos) ++pos;
    }
    if (pos == std::string::npos || pos > f.text.size()) return "";
    size_t end = f.text.find('\n', pos);
    return f.text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

} // namespace

std::string SourceLoc::str() const {
    std::string where = file ? file->path : std::string("<input>");
    if (line == 0) return where; // the whole file (it cannot be read, say)
    return where + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string Diagnostic::format() const {
    // No place at all (a note about the whole set): no location prefix.
    std::string out = (loc.file || loc.line > 0 ? loc.str() + ": " : std::string()) +
                      (severity == Severity::Error ? "error: " : "warning: ") + message;
    if (!suggestion.empty()) out += " (did you mean '" + suggestion + "'?)";
    out += '\n';
    if (loc.file && loc.line > 0) {
        std::string text = line_of(*loc.file, loc.line);
        // Tabs keep their width in the caret line, so the caret sits under the text.
        std::string caret;
        for (uint32_t i = 1; i < loc.col && i - 1 < text.size(); ++i)
            caret += text[i - 1] == '\t' ? '\t' : ' ';
        caret += '^';
        for (uint32_t i = 1; i < loc.len; ++i)
            caret += '~';
        out += "  " + text + "\n  " + caret + "\n";
    }
    return out;
}

bool has_errors(const Diagnostics &d) {
    return std::any_of(d.begin(), d.end(),
                       [](const Diagnostic &x) { return x.severity == Severity::Error; });
}

std::string closest(std::string_view word, const std::vector<std::string> &candidates) {
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const auto &c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    // Close enough to be a typo: up to a third of the word, at least one edit.
    const size_t limit = std::max<size_t>(1, word.size() / 3);
    return best_d <= limit && best_d > 0 ? best : std::string();
}

} // namespace policer::rules
