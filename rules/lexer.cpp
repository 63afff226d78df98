// lexer.cpp - see lexer.h.
#include "rules/lexer.h"

#include <algorithm>
#include <cctype>

namespace policer::rules {
namespace {

bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
           c == '/' || c == '*' || c == '?' || c == '@' || c == '+' || c == '-' || c == '%' ||
           c == '~';
}

// Longest text a single token may have: a guard against pathological input.
constexpr size_t kMaxToken = 4096;

// Whether `s` is well-formed UTF-8 (no stray bytes, overlong forms, surrogates or code points
// past U+10FFFF). Strings become rule names, values and messages that reach JSON output
// (`policer rule check --json`, explain, events), which cannot carry anything else.
bool valid_utf8(const std::string &s) {
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000}; // shortest form per length
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        uint32_t cp = c;
        if (c >= 0x80) {
            if ((c & 0xe0) == 0xc0)
                n = 1, cp = c & 0x1f;
            else if ((c & 0xf0) == 0xe0)
                n = 2, cp = c & 0x0f;
            else if ((c & 0xf8) == 0xf0)
                n = 3, cp = c & 0x07;
            else
                return false;
            if (s.size() - i <= n) return false;
            for (size_t k = 1; k <= n; ++k) {
                const unsigned char b = static_cast<unsigned char>(s[i + k]);
                if ((b & 0xc0) != 0x80) return false;
                cp = cp << 6 | (b & 0x3f);
            }
            if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        }
        i += n + 1;
    }
    return true;
}

} // namespace

const char *token_kind_name(TokKind k) {
    switch (k) {
    case TokKind::Word: return "word";
    case TokKind::String: return "string";
    case TokKind::LParen: return "'('";
    case TokKind::RParen: return "')'";
    case TokKind::LBrace: return "'{'";
    case TokKind::RBrace: return "'}'";
    case TokKind::Comma: return "','";
    case TokKind::Assign: return "'='";
    case TokKind::Eq: return "'=='";
    case TokKind::Ne: return "'!='";
    case TokKind::End: return "end of file";
    case TokKind::Invalid: return "invalid text";
    }
    return "?";
}

std::vector<Token> tokenize(const SourcePtr &src, Diagnostics &diags) {
    std::vector<Token> toks;
    const std::string &t = src->text;
    uint32_t line = 1, col = 1;
    size_t i = 0;
    auto loc = [&](uint32_t len) { return SourceLoc{src, line, col, len}; };
    auto advance = [&](size_t n) {
        for (size_t k = 0; k < n && i < t.size(); ++k, ++i) {
            if (t[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
    };

    while (i < t.size()) {
        char c = t[i];
        if (c == '#') { // comment to end of line
            while (i < t.size() && t[i] != '\n')
                advance(1);
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c))) {
            advance(1);
            continue;
        }
        Token tok;
        if (c == '"') {
            tok.kind = TokKind::String;
            SourceLoc start = loc(1);
            size_t j = i + 1;
            std::string s;
            bool closed = false;
            while (j < t.size() && t[j] != '\n') {
                if (t[j] == '"') {
                    closed = true;
                    break;
                }
                if (t[j] == '\\' && j + 1 < t.size()) {
                    s += t[j + 1];
                    j += 2;
                    continue;
                }
                s += t[j++];
            }
            // No name, path or pattern holds control characters; refusing them also keeps
            // one byte free for "a value no rule names" (kernel_tables.cpp).
            const bool control = std::any_of(s.begin(), s.end(), [](char ch) {
                return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
            });
            start.len = static_cast<uint32_t>(j - i + (closed ? 1 : 0));
            if (!closed) {
                diags.push_back({Severity::Error, start, "unterminated string", ""});
                tok.kind = TokKind::Invalid;
            } else if (control) {
                diags.push_back({Severity::Error, start, "control character in a string", ""});
                tok.kind = TokKind::Invalid;
            } else if (!valid_utf8(s)) {
                diags.push_back({Severity::Error, start, "a string must be UTF-8 text", ""});
                tok.kind = TokKind::Invalid;
            } else if (s.size() > kMaxToken) {
                diags.push_back({Severity::Error, start, "string longer than 4096 bytes", ""});
                tok.kind = TokKind::Invalid;
            }
            tok.text = std::move(s);
            tok.loc = start;
            advance(j - i + (closed ? 1 : 0));
            toks.push_back(std::move(tok));
            continue;
        }
        if (word_char(c)) {
            size_t j = i;
            while (j < t.size() && word_char(t[j]))
                ++j;
            tok.kind = TokKind::Word;
            tok.text = t.substr(i, j - i);
            tok.loc = loc(static_cast<uint32_t>(j - i));
            if (tok.text.size() > kMaxToken) {
                diags.push_back({Severity::Error, tok.loc, "word longer than 4096 bytes", ""});
                tok.kind = TokKind::Invalid;
            }
            advance(j - i);
            toks.push_back(std::move(tok));
            continue;
        }
        size_t n = 1;
        switch (c) {
        case '(': tok.kind = TokKind::LParen; break;
        case ')': tok.kind = TokKind::RParen; break;
        case '{': tok.kind = TokKind::LBrace; break;
        case '}': tok.kind = TokKind::RBrace; break;
        case ',': tok.kind = TokKind::Comma; break;
        case '=':
            if (i + 1 < t.size() && t[i + 1] == '=') {
                tok.kind = TokKind::Eq;
                n = 2;
            } else {
                tok.kind = TokKind::Assign;
            }
            break;
        case '!':
            if (i + 1 < t.size() && t[i + 1] == '=') {
                tok.kind = TokKind::Ne;
                n = 2;
                break;
            }
            [[fallthrough]];
        default: {
            tok.kind = TokKind::Invalid;
            static const char kHex[] = "0123456789abcdef";
            const unsigned char u = static_cast<unsigned char>(c);
            std::string shown = std::isprint(u) ? std::string(1, c)
                                                : std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
            diags.push_back({Severity::Error, loc(1),
                             "unexpected character '" + shown + "'" +
                                 (c == '!' ? " (use 'not' to negate, '!=' to compare)" : ""),
                             ""});
        }
        }
        tok.text = t.substr(i, n);
        tok.loc = loc(static_cast<uint32_t>(n));
        advance(n);
        toks.push_back(std::move(tok));
    }
    Token end;
    end.kind = TokKind::End;
    end.loc = loc(0);
    toks.push_back(std::move(end));
    return toks;
}

} // namespace policer::rules
