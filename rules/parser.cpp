// parser.cpp - see parser.h.
#include "rules/parser.h"

#include "rules/field_catalogue.h"
#include "rules/lexer.h"

#include <charconv>
#include <set>

namespace policer::rules {
namespace {

const std::set<std::string> kKeywords = {
    "list",  "macro",       "rule",  "default", "mode",  "when", "action", "priority",
    "audit", "description", "and",   "or",      "not",   "in",   "glob",   "allow",
    "deny",  "reject",      "alert", "limit",   "burst", "per",
};

const std::set<std::string> kStatementStarts = {"list", "macro", "rule", "default", "mode"};
const std::set<std::string> kItemStarts = {"when", "action", "priority", "audit", "description"};

// Deepest nesting of parentheses and "not": a guard against stack exhaustion on hostile input.
constexpr int kMaxDepth = 200;

struct ParseError {}; // unwinds to the statement loop, which recovers

class Parser {
public:
    Parser(const SourcePtr &src, std::vector<Token> toks, Diagnostics &diags)
        : src_(src), toks_(std::move(toks)), diags_(diags) {}

    ParsedFile run() {
        ParsedFile f;
        f.source = src_;
        while (peek().kind != TokKind::End) {
            const size_t start = pos_;
            try {
                const size_t counts[] = {f.rules.size(), f.lists.size(), f.macros.size(),
                                         f.defaults.size(), f.modes.size()};
                statement(f);
                record_item(f, start, counts);
            } catch (const ParseError &) {
                recover();
                if (pos_ == start) next(); // always make progress
            }
            if (diags_.size() > 200) {
                error(peek().loc, "too many errors; stopping");
                break;
            }
        }
        return f;
    }

private:
    size_t offset_of(const SourceLoc &loc) { return line_start(loc.line) + loc.col - 1; }

    // The statement just parsed (tokens [first, pos_)): which kind grew tells what it was.
    void record_item(ParsedFile &f, size_t first, const size_t (&before)[5]) {
        if (pos_ == first) return;
        ItemSpan it;
        if (f.rules.size() > before[0]) {
            it.kind = ItemSpan::Kind::Rule;
            it.name = f.rules.back().name;
        } else if (f.lists.size() > before[1]) {
            it.kind = ItemSpan::Kind::List;
            it.name = f.lists.back().name;
        } else if (f.macros.size() > before[2]) {
            it.kind = ItemSpan::Kind::Macro;
            it.name = f.macros.back().name;
        } else if (f.defaults.size() > before[3]) {
            it.kind = ItemSpan::Kind::Default;
        } else if (f.modes.size() > before[4]) {
            it.kind = ItemSpan::Kind::Mode;
        } else {
            return;
        }
        const Token &last = toks_[pos_ - 1];
        it.begin = offset_of(toks_[first].loc);
        it.end = offset_of(last.loc) + last.loc.len;
        f.items.push_back(std::move(it));
    }

    const Token &peek(size_t ahead = 0) const {
        size_t i = pos_ + ahead;
        return toks_[i < toks_.size() ? i : toks_.size() - 1];
    }
    const Token &next() {
        const Token &t = peek();
        if (pos_ < toks_.size() - 1) ++pos_;
        return t;
    }
    bool is_word(const char *w, size_t ahead = 0) const {
        return peek(ahead).kind == TokKind::Word && peek(ahead).text == w;
    }

    [[noreturn]] void fail(const SourceLoc &loc, std::string msg, std::string suggestion = "") {
        diags_.push_back({Severity::Error, loc, std::move(msg), std::move(suggestion)});
        throw ParseError{};
    }
    void error(const SourceLoc &loc, std::string msg) {
        diags_.push_back({Severity::Error, loc, std::move(msg), ""});
    }

    std::string describe(const Token &t) const {
        if (t.kind == TokKind::Word) return "'" + t.text + "'";
        if (t.kind == TokKind::String) return "string \"" + t.text + "\"";
        return token_kind_name(t.kind);
    }

    void expect(TokKind k, const char *what) {
        if (peek().kind != k)
            fail(peek().loc, std::string("expected ") + what + ", found " + describe(peek()));
        next();
    }

    // Skips to the next token that can start a statement.
    void recover() {
        int depth = 0;
        while (peek().kind != TokKind::End) {
            const Token &t = peek();
            if (depth == 0 && t.kind == TokKind::Word && kStatementStarts.count(t.text) && pos_ > 0)
                return;
            if (t.kind == TokKind::LBrace) ++depth;
            if (t.kind == TokKind::RBrace) {
                next();
                if (--depth <= 0) return;
                continue;
            }
            next();
        }
    }

    std::string name(const char *what) {
        const Token &t = peek();
        if (t.kind != TokKind::Word)
            fail(t.loc, std::string("expected ") + what + ", found " + describe(t));
        if (kKeywords.count(t.text))
            fail(t.loc, "'" + t.text + "' is a keyword and cannot name " + what);
        if (find_field(t.text)) fail(t.loc, "'" + t.text + "' is a field and cannot name " + what);
        next();
        return t.text;
    }

    void statement(ParsedFile &f) {
        const Token &t = peek();
        if (t.kind != TokKind::Word || !kStatementStarts.count(t.text)) {
            std::vector<std::string> starts(kStatementStarts.begin(), kStatementStarts.end());
            std::string s = t.kind == TokKind::Word ? closest(t.text, starts) : "";
            fail(t.loc,
                 "expected a statement (list, macro, rule, default or mode), found " + describe(t),
                 s);
        }
        const std::string kw = next().text;
        if (kw == "list") return list(f, t.loc);
        if (kw == "macro") return macro(f, t.loc);
        if (kw == "rule") return rule(f, t.loc);
        if (kw == "default") return default_decl(f, t.loc);
        return mode(f, t.loc);
    }

    void list(ParsedFile &f, const SourceLoc &loc) {
        ListDecl l;
        l.loc = loc;
        l.name = name("a list");
        expect(TokKind::Assign, "'=' after the list name");
        expect(TokKind::LParen, "'(' to open the list");
        while (peek().kind != TokKind::RParen) {
            l.items.push_back(value());
            if (peek().kind == TokKind::Comma) {
                next();
                continue;
            }
            if (peek().kind != TokKind::RParen)
                fail(peek().loc, "expected ',' or ')' in the list, found " + describe(peek()));
        }
        next();
        f.lists.push_back(std::move(l));
    }

    void macro(ParsedFile &f, const SourceLoc &loc) {
        MacroDecl m;
        m.loc = loc;
        m.name = name("a macro");
        expect(TokKind::Assign, "'=' after the macro name");
        m.body = expr(0);
        f.macros.push_back(std::move(m));
    }

    void rule(ParsedFile &f, const SourceLoc &loc) {
        RuleDecl r;
        r.loc = loc;
        if (peek().kind == TokKind::String) {
            r.name = next().text;
            if (r.name.empty()) fail(loc, "a rule name cannot be empty");
        } else {
            r.name = name("a rule");
        }
        expect(TokKind::LBrace, "'{' to open the rule");
        while (peek().kind != TokKind::RBrace) {
            const Token &t = peek();
            if (t.kind == TokKind::End) fail(t.loc, "rule '" + r.name + "' is not closed with '}'");
            if (t.kind != TokKind::Word || !kItemStarts.count(t.text)) {
                std::vector<std::string> items(kItemStarts.begin(), kItemStarts.end());
                fail(t.loc,
                     "expected when, action, priority, audit or description, found " + describe(t),
                     t.kind == TokKind::Word ? closest(t.text, items) : "");
            }
            const std::string item = next().text;
            if (item == "when") {
                if (r.when)
                    fail(t.loc, "rule '" + r.name +
                                    "' has two 'when' conditions (combine them with 'and')");
                r.when = expr(0);
            } else if (item == "action") {
                if (r.action) fail(t.loc, "rule '" + r.name + "' has two actions");
                r.action = action();
            } else if (item == "priority") {
                if (r.priority) fail(t.loc, "rule '" + r.name + "' has two priorities");
                const Token &n = next();
                int64_t v = 0;
                auto res = std::from_chars(n.text.data(), n.text.data() + n.text.size(), v);
                if (n.kind != TokKind::Word || res.ec != std::errc() ||
                    res.ptr != n.text.data() + n.text.size() || v < -1000000 || v > 1000000)
                    fail(n.loc, "priority must be an integer from -1000000 to 1000000, found " +
                                    describe(n));
                r.priority = v;
            } else if (item == "audit") {
                r.audit = true;
            } else {
                const Token &s = next();
                if (s.kind != TokKind::String)
                    fail(s.loc, "expected a quoted description, found " + describe(s));
                r.description = s.text;
            }
        }
        next();
        if (!r.when) error(loc, "rule '" + r.name + "' has no 'when' condition");
        if (!r.action) error(loc, "rule '" + r.name + "' has no action");
        f.rules.push_back(std::move(r));
    }

    Action action() {
        Action a;
        const Token &t = peek();
        a.loc = t.loc;
        static const std::vector<std::string> kActions = {"allow", "deny", "reject", "alert",
                                                          "limit"};
        if (t.kind != TokKind::Word)
            fail(t.loc,
                 "expected an action (allow, deny, reject, alert, limit), found " + describe(t));
        next();
        if (t.text == "allow")
            a.kind = ActionKind::Allow;
        else if (t.text == "deny")
            a.kind = ActionKind::Deny;
        else if (t.text == "reject")
            a.kind = ActionKind::Reject;
        else if (t.text == "alert")
            a.kind = ActionKind::Alert;
        else if (t.text == "limit") {
            a.kind = ActionKind::Limit;
            const Token &r = next();
            a.rate = rate(r);
            a.burst = a.rate;
            if (is_word("burst")) {
                next();
                const Token &b = next();
                a.burst = count(b, "burst");
                if (a.burst < a.rate)
                    fail(b.loc,
                         "burst " + b.text +
                             " is below the rate: a bucket holds at least one second of tokens");
            }
            if (is_word("per")) {
                next();
                const Token &p = next();
                if (p.text == "process")
                    a.per = LimitPer::Process;
                else if (p.text == "user")
                    a.per = LimitPer::User;
                else if (p.text == "cgroup")
                    a.per = LimitPer::Cgroup;
                else
                    fail(p.loc, "limit is per process, user or cgroup, not " + describe(p),
                         closest(p.text, {"process", "user", "cgroup"}));
            }
        } else {
            fail(t.loc, "unknown action " + describe(t), closest(t.text, kActions));
        }
        return a;
    }

    uint32_t count(const Token &t, const char *what) {
        uint64_t v = 0;
        auto res = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (t.kind != TokKind::Word || res.ec != std::errc() ||
            res.ptr != t.text.data() + t.text.size() || v == 0 || v > 10000000)
            fail(t.loc, std::string(what) + " must be a whole number from 1 to 10000000, found " +
                            describe(t));
        return static_cast<uint32_t>(v);
    }

    uint32_t rate(const Token &t) {
        const std::string &s = t.text;
        size_t slash = s.find('/');
        if (t.kind != TokKind::Word || slash == std::string::npos || s.substr(slash) != "/s")
            fail(t.loc, "a limit is written N/s (events per second), found " + describe(t));
        Token n = t;
        n.text = s.substr(0, slash);
        return count(n, "a rate");
    }

    void default_decl(ParsedFile &f, const SourceLoc &loc) {
        DefaultDecl d;
        d.loc = loc;
        const Token &t = next();
        if (t.text == "egress")
            d.direction = Direction::Egress;
        else if (t.text == "ingress")
            d.direction = Direction::Ingress;
        else
            fail(t.loc, "expected egress or ingress after 'default', found " + describe(t),
                 closest(t.text, {"egress", "ingress"}));
        d.action = action();
        if (d.action.kind == ActionKind::Limit)
            fail(d.action.loc, "a default cannot be a limit: use a rule that matches everything");
        f.defaults.push_back(d);
    }

    void mode(ParsedFile &f, const SourceLoc &loc) {
        const Token &t = next();
        ModeDecl m;
        m.loc = loc;
        if (t.text == "audit")
            m.audit = true;
        else if (t.text != "enforce")
            fail(t.loc, "expected enforce or audit after 'mode', found " + describe(t),
                 closest(t.text, {"enforce", "audit"}));
        f.modes.push_back(m);
    }

    // ---- expressions ----

    ExprPtr expr(int depth) {
        if (depth > kMaxDepth) fail(peek().loc, "expression nested too deeply");
        ExprPtr left = conj(depth);
        if (!is_word("or")) return left;
        auto node = std::make_shared<ExprNode>();
        node->kind = ExprNode::Kind::Or;
        node->loc = left->loc;
        node->kids.push_back(left);
        while (is_word("or")) {
            next();
            node->kids.push_back(conj(depth));
        }
        return node;
    }

    ExprPtr conj(int depth) {
        ExprPtr left = unary(depth);
        if (!is_word("and")) return left;
        auto node = std::make_shared<ExprNode>();
        node->kind = ExprNode::Kind::And;
        node->loc = left->loc;
        node->kids.push_back(left);
        while (is_word("and")) {
            next();
            node->kids.push_back(unary(depth));
        }
        return node;
    }

    bool at_operator() const {
        const Token &t = peek();
        if (t.kind == TokKind::Eq || t.kind == TokKind::Ne) return true;
        if (t.kind != TokKind::Word) return false;
        if (t.text == "in" || t.text == "glob") return true;
        return t.text == "not" && (is_word("in", 1) || is_word("glob", 1));
    }

    ExprPtr unary(int depth) {
        if (depth > kMaxDepth) fail(peek().loc, "expression nested too deeply");
        const Token &t = peek();
        if (is_word("not")) {
            next();
            auto node = std::make_shared<ExprNode>();
            node->kind = ExprNode::Kind::Not;
            node->loc = t.loc;
            node->kids.push_back(unary(depth + 1));
            return node;
        }
        if (t.kind == TokKind::LParen) {
            next();
            ExprPtr inner = expr(depth + 1);
            expect(TokKind::RParen, "')' to close the parenthesis");
            return inner;
        }
        if (t.kind != TokKind::Word || kKeywords.count(t.text))
            fail(t.loc,
                 "expected a condition (a field, a macro, 'not' or '('), found " + describe(t));
        next();
        if (!at_operator()) {
            // A macro - or a field without its operator, a mistake worth naming.
            if (find_field(t.text))
                fail(peek().loc,
                     "expected an operator (==, !=, in, not in, glob, not glob) after '" + t.text +
                         "', found " + describe(peek()));
            auto node = std::make_shared<ExprNode>();
            node->kind = ExprNode::Kind::MacroRef;
            node->loc = t.loc;
            node->name = t.text;
            return node;
        }
        return predicate(t);
    }

    ExprPtr predicate(const Token &field) {
        auto node = std::make_shared<ExprNode>();
        node->kind = ExprNode::Kind::Pred;
        node->loc = field.loc;
        node->field = field.text;
        node->field_loc = field.loc;
        const Token &o = next();
        node->op_loc = o.loc;
        if (o.kind == TokKind::Eq)
            node->op = Op::Eq;
        else if (o.kind == TokKind::Ne)
            node->op = Op::Ne;
        else if (o.text == "in")
            node->op = Op::In;
        else if (o.text == "glob")
            node->op = Op::Glob;
        else {
            const Token &o2 = next(); // "not in" / "not glob"
            node->op = o2.text == "in" ? Op::NotIn : Op::NotGlob;
            node->op_loc.len = o2.loc.col + o2.loc.len - o.loc.col;
        }
        SourceLoc end = o.loc;
        if (node->op == Op::Eq || node->op == Op::Ne) {
            node->values.push_back(value());
            end = node->values.back().loc;
        } else if (peek().kind == TokKind::LParen) {
            next();
            while (true) {
                node->values.push_back(value());
                if (peek().kind == TokKind::Comma) {
                    next();
                    if (peek().kind == TokKind::RParen) break; // trailing comma
                    continue;
                }
                break;
            }
            end = peek().loc;
            expect(TokKind::RParen, "',' or ')' in the value list");
        } else {
            RawValue v = value();
            // An unquoted word may be a list's name; rule_set.cpp decides.
            if (!v.quoted) {
                node->list = v.text;
                node->list_loc = v.loc;
            }
            node->values.push_back(v);
            end = v.loc;
        }
        // The predicate as written, from its field to its last token (for explain).
        if (field.loc.file && field.loc.line == end.line && end.col >= field.loc.col) {
            const std::string &text = field.loc.file->text;
            node->text = text.substr(line_start(field.loc.line) + field.loc.col - 1,
                                     end.col + end.len - field.loc.col);
        } else {
            node->text = field.text + " " + op_text(node->op) + " ...";
        }
        return node;
    }

    RawValue value() {
        const Token &t = peek();
        if (t.kind != TokKind::Word && t.kind != TokKind::String)
            fail(t.loc, "expected a value, found " + describe(t));
        if (t.kind == TokKind::Word && (t.text == "and" || t.text == "or" || t.text == "not"))
            fail(t.loc, "expected a value, found the keyword '" + t.text +
                            "' (quote it to use it as a value)");
        next();
        return RawValue{t.text, t.loc, t.kind == TokKind::String};
    }

    // Offset of a line of the file being parsed (the table is made once: rescanning the text
    // for every predicate made loading quadratic in the file's size).
    size_t line_start(uint32_t line) {
        if (line_starts_.empty()) {
            line_starts_.push_back(0);
            const std::string &t = src_->text;
            for (size_t i = 0; i < t.size(); ++i)
                if (t[i] == '\n') line_starts_.push_back(i + 1);
        }
        return line_starts_[line - 1];
    }

    SourcePtr src_;
    std::vector<Token> toks_;
    size_t pos_ = 0;
    std::vector<size_t> line_starts_;
    Diagnostics &diags_;
};

} // namespace

const char *op_text(Op op) {
    switch (op) {
    case Op::Eq: return "==";
    case Op::Ne: return "!=";
    case Op::In: return "in";
    case Op::NotIn: return "not in";
    case Op::Glob: return "glob";
    case Op::NotGlob: return "not glob";
    }
    return "?";
}

const char *action_name(ActionKind k) {
    switch (k) {
    case ActionKind::Allow: return "allow";
    case ActionKind::Deny: return "deny";
    case ActionKind::Reject: return "reject";
    case ActionKind::Alert: return "alert";
    case ActionKind::Limit: return "limit";
    }
    return "?";
}

const char *limit_per_name(LimitPer p) {
    switch (p) {
    case LimitPer::Process: return "process";
    case LimitPer::User: return "user";
    case LimitPer::Cgroup: return "cgroup";
    }
    return "?";
}

std::string action_text(const Action &a) {
    if (a.kind != ActionKind::Limit) return action_name(a.kind);
    return "limit " + std::to_string(a.rate) + "/s burst " + std::to_string(a.burst) + " per " +
           limit_per_name(a.per);
}

bool is_keyword(const std::string &word) {
    return kKeywords.count(word) > 0;
}

ParsedFile parse_file(const SourcePtr &src, Diagnostics &diags) {
    auto toks = tokenize(src, diags);
    return Parser(src, std::move(toks), diags).run();
}

} // namespace policer::rules
