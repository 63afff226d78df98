// lexer.h - rule text into tokens. Words are broad (field names, values, addresses, CIDRs,
// port ranges, globs are all words) because what a word means depends on where it stands;
// the parser and the type checker decide.
#pragma once

#include "rules/source.h"

#include <string>
#include <vector>

namespace policer::rules {

enum class TokKind {
    Word,   // user.name, 10.0.0.0/8, 1000-2000, *.example.com, tcp, rule, ...
    String, // "quoted text" (escapes \" and \\; no control characters)
    LParen, // (
    RParen, // )
    LBrace, // {
    RBrace, // }
    Comma,  // ,
    Assign, // =
    Eq,     // ==
    Ne,     // !=
    End,
    Invalid, // a character that starts no token
};

struct Token {
    TokKind kind = TokKind::End;
    std::string text; // Word: as written; String: unescaped contents
    SourceLoc loc;
};

// Tokenizes a whole file. Lexical errors (stray characters, unterminated strings) are added
// to `diags`; the bad text becomes an Invalid token so parsing can report and recover.
std::vector<Token> tokenize(const SourcePtr &src, Diagnostics &diags);

const char *token_kind_name(TokKind k);

} // namespace policer::rules
