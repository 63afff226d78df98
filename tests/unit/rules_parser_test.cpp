// rules_parser_test.cpp - the rule language as an author meets it: every statement, operator
// and action parses into what it says; every mistake is reported at its file:line:col with the
// offending text underlined and, for a likely typo, the intended word; and a file with any
// error never becomes a rule set (alone, or among other files of a rules.d directory).
#include "rules/lexer.h"
#include "rules/parser.h"
#include "rules/rule_set.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace policer::rules;

LoadResult load(const std::string &text) {
    return load_rules_text("t.rules", text);
}

std::vector<const Diagnostic *> errors_of(const LoadResult &r) {
    std::vector<const Diagnostic *> out;
    for (const auto &d : r.diags)
        if (d.severity == Severity::Error) out.push_back(&d);
    return out;
}

std::string all_diags(const LoadResult &r) {
    std::string s;
    for (const auto &d : r.diags)
        s += d.format();
    return s;
}

// The text a diagnostic underlines: `len` bytes of its line from `col`.
std::string underlined(const Diagnostic &d) {
    if (!d.loc.file || d.loc.line == 0) return "";
    const std::string &t = d.loc.file->text;
    size_t pos = 0;
    for (uint32_t l = 1; l < d.loc.line; ++l)
        pos = t.find('\n', pos) + 1;
    return t.substr(pos + d.loc.col - 1, d.loc.len);
}

struct Expected {
    std::string where;      // "t.rules:2:8"
    std::string underline;  // the offending text
    std::string message;    // a part of the message
    std::string suggestion; // exact ("" for none)
};

// Loads `text`, which must fail with `e` as its first error (errors are in file order).
void expect_error(const std::string &text, const Expected &e) {
    INFO("rules:\n" << text);
    LoadResult r = load(text);
    INFO("diagnostics:\n" << all_diags(r));
    CHECK_FALSE(r.set.has_value());
    auto errs = errors_of(r);
    REQUIRE_FALSE(errs.empty());
    const Diagnostic &d = *errs.front();
    CHECK(d.loc.str() == e.where);
    CHECK(underlined(d) == e.underline);
    CHECK(d.message.find(e.message) != std::string::npos);
    CHECK(d.suggestion == e.suggestion);
}

const Predicate &only_pred(const RuleSet &set, size_t rule = 0) {
    REQUIRE(set.rules.size() > rule);
    REQUIRE(set.rules[rule].when->kind == Cond::Kind::Pred);
    return *set.rules[rule].when->pred;
}

RuleSet load_ok(const std::string &text) {
    INFO("rules:\n" << text);
    LoadResult r = load(text);
    INFO("diagnostics:\n" << all_diags(r));
    REQUIRE(r.set.has_value());
    CHECK_FALSE(has_errors(r.diags));
    return *r.set;
}

// A temporary directory under /tmp, removed with its files at the end of the test.
struct TempDir {
    std::string path;
    std::vector<std::string> files;
    TempDir() {
        char tmpl[] = "/tmp/policer-rules-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        for (const auto &f : files)
            std::remove(f.c_str());
        ::rmdir(path.c_str());
    }
    std::string write(const std::string &name, const std::string &text) {
        std::string p = path + "/" + name;
        std::ofstream(p) << text;
        files.push_back(p);
        return p;
    }
};

} // namespace

TEST_CASE("rules lexer: token kinds, texts and 1-based positions, comments skipped") {
    auto src = std::make_shared<SourceFile>(SourceFile{
        "lex.rules", "# a comment line\nrule \"a \\\"b\\\\\" { == != = ( ) , } # trailing\n"
                     "  10.0.0.0/8 1000-1999 *.example.com fd00::/8 50/s\n"});
    Diagnostics diags;
    auto toks = tokenize(src, diags);
    CHECK(diags.empty());
    struct Want {
        TokKind kind;
        std::string text;
        uint32_t line, col, len;
    };
    const std::vector<Want> want = {
        {TokKind::Word, "rule", 2, 1, 4},
        {TokKind::String, "a \"b\\", 2, 6, 9}, // unescaped text; the loc covers the quotes
        {TokKind::LBrace, "{", 2, 16, 1},
        {TokKind::Eq, "==", 2, 18, 2},
        {TokKind::Ne, "!=", 2, 21, 2},
        {TokKind::Assign, "=", 2, 24, 1},
        {TokKind::LParen, "(", 2, 26, 1},
        {TokKind::RParen, ")", 2, 28, 1},
        {TokKind::Comma, ",", 2, 30, 1},
        {TokKind::RBrace, "}", 2, 32, 1},
        {TokKind::Word, "10.0.0.0/8", 3, 3, 10},
        {TokKind::Word, "1000-1999", 3, 14, 9},
        {TokKind::Word, "*.example.com", 3, 24, 13},
        {TokKind::Word, "fd00::/8", 3, 38, 8},
        {TokKind::Word, "50/s", 3, 47, 4},
        {TokKind::End, "", 4, 1, 0},
    };
    REQUIRE(toks.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        INFO("token " << i << ": " << toks[i].text);
        CHECK(toks[i].kind == want[i].kind);
        CHECK(toks[i].text == want[i].text);
        CHECK(toks[i].loc.line == want[i].line);
        CHECK(toks[i].loc.col == want[i].col);
        CHECK(toks[i].loc.len == want[i].len);
    }
}

TEST_CASE("rules lexer: a backslash escapes the next character, control characters are refused") {
    auto src = std::make_shared<SourceFile>(SourceFile{"s.rules", "\"C:\\\\x \\\"q\\\" \\n\""});
    Diagnostics diags;
    auto toks = tokenize(src, diags);
    CHECK(diags.empty());
    REQUIRE(toks.size() == 2);
    CHECK(toks[0].kind == TokKind::String);
    CHECK(toks[0].text == "C:\\x \"q\" n");

    // A tab inside quotes: no name, path or pattern holds one.
    auto tab = std::make_shared<SourceFile>(SourceFile{"s.rules", "x == \"a\tb\""});
    Diagnostics tdiags;
    auto ttoks = tokenize(tab, tdiags);
    REQUIRE(tdiags.size() == 1);
    CHECK(tdiags[0].loc.str() == "s.rules:1:6");
    CHECK(tdiags[0].message == "control character in a string");
    CHECK(ttoks[2].kind == TokKind::Invalid);
}

TEST_CASE("rules lexer: unterminated strings and stray characters are errors at their place") {
    auto src =
        std::make_shared<SourceFile>(SourceFile{"e.rules", "a $ b\n! c\n\"open string\nx \x01"});
    Diagnostics diags;
    auto toks = tokenize(src, diags);
    REQUIRE(diags.size() == 4);
    CHECK(diags[0].loc.str() == "e.rules:1:3");
    CHECK(diags[0].message == "unexpected character '$'");
    CHECK(diags[1].loc.str() == "e.rules:2:1");
    CHECK(diags[1].message.find("use 'not' to negate") != std::string::npos);
    CHECK(diags[2].loc.str() == "e.rules:3:1");
    CHECK(diags[2].message == "unterminated string");
    CHECK(diags[2].loc.len == 12); // the quote and the rest of the line
    // A control byte is shown in hex, as its \x prefix promises.
    CHECK(diags[3].loc.str() == "e.rules:4:3");
    CHECK(diags[3].message == "unexpected character '\\x01'");
    // The bad text becomes Invalid tokens, so the parser can report and recover.
    int invalid = 0;
    for (const auto &t : toks)
        invalid += t.kind == TokKind::Invalid;
    CHECK(invalid == 4);
}

TEST_CASE("rules lexer: a string must be UTF-8 text") {
    // Names and values reach JSON output (rule check --json, explain, events), which cannot
    // carry other bytes: such a string once made `policer rule check --json` abort.
    const char *good[] = {"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x94\x92", "plain"};
    for (const char *g : good) {
        INFO(g);
        RuleSet set = load_ok(std::string("rule \"") + g + "\" { when process.name == \"" + g +
                              "\" action deny }\n");
        CHECK(set.rules[0].name == g);
    }
    const char *bad[] = {
        "caf\xe9",          // Latin-1
        "\xe2\x82",         // cut short
        "\xc0\xaf",         // overlong '/'
        "\xed\xa0\x80",     // a UTF-16 surrogate
        "\xf4\x90\x80\x80", // past U+10FFFF
        "\x80",             // a continuation byte alone
    };
    for (const char *b : bad) {
        INFO(b);
        expect_error(
            std::string("rule r { when process.name == \"") + b + "\" action deny }\n",
            {"t.rules:1:31", std::string("\"") + b + "\"", "a string must be UTF-8 text", ""});
    }
}

TEST_CASE("rules parser: every statement kind and every rule item") {
    auto src = std::make_shared<SourceFile>(SourceFile{"all.rules", R"(# lists, macros, rules
list ssh_ports = (22, 2222, 8022,)   # a trailing comma is fine
list empty = ()
macro is_ssh = dst.port in ssh_ports and l4.proto == tcp
rule "block ssh" {
    description "no outbound ssh except from the jump host"
    priority -5
    audit
    when is_ssh and not process.exe == /usr/bin/jump
    action reject
}
rule plain { action allow when dst.port == 53 }
default egress deny
default ingress alert
mode audit
)"});
    Diagnostics diags;
    ParsedFile f = parse_file(src, diags);
    CHECK(diags.empty());

    REQUIRE(f.lists.size() == 2);
    CHECK(f.lists[0].name == "ssh_ports");
    CHECK(f.lists[0].loc.str() == "all.rules:2:1");
    REQUIRE(f.lists[0].items.size() == 3);
    CHECK(f.lists[0].items[2].text == "8022");
    CHECK(f.lists[0].items[2].loc.str() == "all.rules:2:29");
    CHECK(f.lists[1].items.empty());

    REQUIRE(f.macros.size() == 1);
    CHECK(f.macros[0].name == "is_ssh");
    CHECK(f.macros[0].body->kind == ExprNode::Kind::And);

    REQUIRE(f.rules.size() == 2);
    const RuleDecl &r = f.rules[0];
    CHECK(r.name == "block ssh");
    CHECK(r.loc.str() == "all.rules:5:1");
    CHECK(r.description == "no outbound ssh except from the jump host");
    REQUIRE(r.priority.has_value());
    CHECK(*r.priority == -5);
    CHECK(r.audit);
    REQUIRE(r.action.has_value());
    CHECK(r.action->kind == ActionKind::Reject);
    REQUIRE(r.when);
    REQUIRE(r.when->kind == ExprNode::Kind::And);
    REQUIRE(r.when->kids.size() == 2);
    CHECK(r.when->kids[0]->kind == ExprNode::Kind::MacroRef);
    CHECK(r.when->kids[0]->name == "is_ssh");
    CHECK(r.when->kids[1]->kind == ExprNode::Kind::Not);
    // Items may come in any order.
    CHECK(f.rules[1].name == "plain");
    CHECK_FALSE(f.rules[1].priority.has_value());
    CHECK_FALSE(f.rules[1].audit);

    REQUIRE(f.defaults.size() == 2);
    CHECK(f.defaults[0].direction == Direction::Egress);
    CHECK(f.defaults[0].action.kind == ActionKind::Deny);
    CHECK(f.defaults[1].direction == Direction::Ingress);
    CHECK(f.defaults[1].action.kind == ActionKind::Alert);
    REQUIRE(f.modes.size() == 1);
    CHECK(f.modes[0].audit);

    // Checked, the same file is a rule set with the defaults and mode it declares.
    LoadResult lr = load_sources({src});
    INFO(all_diags(lr));
    REQUIRE(lr.set.has_value());
    CHECK(lr.set->default_egress.kind == ActionKind::Deny);
    CHECK(lr.set->default_ingress.kind == ActionKind::Alert);
    CHECK(lr.set->audit_mode);
    // The list nobody uses is reported, as a warning only.
    bool warned = false;
    for (const auto &d : lr.diags)
        warned =
            warned || (d.severity == Severity::Warning &&
                       d.message == "list 'empty' is never used" && d.loc.str() == "all.rules:3:1");
    CHECK(warned);
}

TEST_CASE("rules parser: and binds tighter than or, not tighter than and, parentheses group") {
    auto src = std::make_shared<SourceFile>(
        SourceFile{"p.rules", "macro a = dst.port == 1 or dst.port == 2 and not dst.port == 3\n"
                              "macro b = (dst.port == 1 or dst.port == 2) and dst.port == 3\n"
                              "macro c = not not dst.port == 1\n"});
    Diagnostics diags;
    ParsedFile f = parse_file(src, diags);
    CHECK(diags.empty());
    REQUIRE(f.macros.size() == 3);

    const ExprNode &a = *f.macros[0].body; // 1 or (2 and (not 3))
    REQUIRE(a.kind == ExprNode::Kind::Or);
    REQUIRE(a.kids.size() == 2);
    CHECK(a.kids[0]->kind == ExprNode::Kind::Pred);
    REQUIRE(a.kids[1]->kind == ExprNode::Kind::And);
    CHECK(a.kids[1]->kids[1]->kind == ExprNode::Kind::Not);
    CHECK(a.kids[1]->kids[1]->kids[0]->text == "dst.port == 3");

    const ExprNode &b = *f.macros[1].body; // (1 or 2) and 3
    REQUIRE(b.kind == ExprNode::Kind::And);
    CHECK(b.kids[0]->kind == ExprNode::Kind::Or);
    CHECK(b.kids[1]->text == "dst.port == 3");

    const ExprNode &c = *f.macros[2].body;
    REQUIRE(c.kind == ExprNode::Kind::Not);
    CHECK(c.kids[0]->kind == ExprNode::Kind::Not);
}

TEST_CASE("rules parser: every operator, with values, value lists and list names") {
    auto src = std::make_shared<SourceFile>(SourceFile{"ops.rules", R"(macro m =
    user.name == alice or user.name != "bob smith" or
    dst.port in (22, 1000-1999,) or dst.port not in web_ports or
    process.exe glob /usr/* or process.exe not glob ("/tmp/*", /dev/shm/*) or
    dst.port in 443
)"});
    Diagnostics diags;
    ParsedFile f = parse_file(src, diags);
    CHECK(diags.empty());
    REQUIRE(f.macros.size() == 1);
    const auto &k = f.macros[0].body->kids;
    REQUIRE(k.size() == 7);

    CHECK(k[0]->op == Op::Eq);
    CHECK(k[0]->field == "user.name");
    CHECK(k[0]->field_loc.str() == "ops.rules:2:5");
    REQUIRE(k[0]->values.size() == 1);
    CHECK(k[0]->values[0].text == "alice");
    CHECK_FALSE(k[0]->values[0].quoted);

    CHECK(k[1]->op == Op::Ne);
    CHECK(k[1]->values[0].text == "bob smith");
    CHECK(k[1]->values[0].quoted);
    CHECK(k[1]->text == "user.name != \"bob smith\"");

    CHECK(k[2]->op == Op::In);
    REQUIRE(k[2]->values.size() == 2);
    CHECK(k[2]->values[1].text == "1000-1999");
    CHECK(k[2]->list.empty());
    CHECK(k[2]->text == "dst.port in (22, 1000-1999,)");

    CHECK(k[3]->op == Op::NotIn);
    CHECK(k[3]->list == "web_ports"); // an unquoted single operand may name a list
    CHECK(k[3]->op_loc.str() == "ops.rules:3:46");
    CHECK(k[3]->op_loc.len == 6); // "not in" underlined as one operator

    CHECK(k[4]->op == Op::Glob);
    CHECK(k[4]->values[0].text == "/usr/*");
    CHECK(k[5]->op == Op::NotGlob);
    CHECK(k[5]->values.size() == 2);
    CHECK(k[5]->list.empty());
    CHECK(k[6]->op == Op::In);
    CHECK(k[6]->values[0].text == "443");

    CHECK(std::string(op_text(Op::NotGlob)) == "not glob");
    CHECK(std::string(op_text(Op::NotIn)) == "not in");
}

TEST_CASE("rules parser: every action, with limit rates, bursts and what they count per") {
    struct Case {
        const char *text;
        ActionKind kind;
        uint32_t rate, burst;
        LimitPer per;
        const char *shown;
    };
    const Case cases[] = {
        {"allow", ActionKind::Allow, 0, 0, LimitPer::Cgroup, "allow"},
        {"deny", ActionKind::Deny, 0, 0, LimitPer::Cgroup, "deny"},
        {"reject", ActionKind::Reject, 0, 0, LimitPer::Cgroup, "reject"},
        {"alert", ActionKind::Alert, 0, 0, LimitPer::Cgroup, "alert"},
        {"limit 50/s", ActionKind::Limit, 50, 50, LimitPer::Cgroup,
         "limit 50/s burst 50 per cgroup"},
        {"limit 50/s burst 200", ActionKind::Limit, 50, 200, LimitPer::Cgroup,
         "limit 50/s burst 200 per cgroup"},
        {"limit 1/s per process", ActionKind::Limit, 1, 1, LimitPer::Process,
         "limit 1/s burst 1 per process"},
        {"limit 10/s burst 10 per user", ActionKind::Limit, 10, 10, LimitPer::User,
         "limit 10/s burst 10 per user"},
        {"limit 10000000/s per cgroup", ActionKind::Limit, 10000000, 10000000, LimitPer::Cgroup,
         "limit 10000000/s burst 10000000 per cgroup"},
    };
    for (const Case &c : cases) {
        INFO(c.text);
        RuleSet set =
            load_ok(std::string("rule r { when dst.port == 80 action ") + c.text + " }\n");
        REQUIRE(set.rules.size() == 1);
        const Action &a = set.rules[0].action;
        CHECK(a.kind == c.kind);
        CHECK(a.rate == c.rate);
        CHECK(a.burst == c.burst);
        if (c.kind == ActionKind::Limit) CHECK(a.per == c.per);
        CHECK(action_text(a) == c.shown);
        CHECK(a.loc.str() == "t.rules:1:37");
    }
}

TEST_CASE("rules check: values are typed by their field") {
    RuleSet set = load_ok(R"(list nets = (10.0.0.0/8, fd00::/8, ::ffff:192.168.1.1, 2001:db8::1)
rule ports { when dst.port in (22, 1000-1999, 65535) action deny }
rule uid { when user.id in (0, 1000-1999, 4294967295) action deny }
rule nets { when dst.ip in nets action deny }
rule proto { when l4.proto in (tcp, udp) action deny }
rule risk { when l7.risk == known_proto_on_non_std_port action deny }
rule pattern { when process.exe glob "/usr/*/python?" action deny }
rule quoted { when process.name == "and" action deny }
)");
    REQUIRE(set.rules.size() == 7);

    const Predicate &ports = only_pred(set, 0);
    CHECK(ports.field->type == FieldType::Port);
    REQUIRE(ports.values.size() == 3);
    CHECK(ports.values[0].lo == 22);
    CHECK(ports.values[0].hi == 22);
    CHECK(ports.values[1].lo == 1000);
    CHECK(ports.values[1].hi == 1999);
    CHECK(ports.values[2].lo == 65535);

    const Predicate &uid = only_pred(set, 1);
    CHECK(uid.field->type == FieldType::Number);
    CHECK(uid.values[2].lo == 4294967295ull);

    const Predicate &nets = only_pred(set, 2);
    REQUIRE(nets.values.size() == 4);
    CHECK(nets.values[0].ip.family == 2);
    CHECK(nets.values[0].ip.len == 8);
    CHECK(nets.values[0].ip.str() == "10.0.0.0/8");
    CHECK(nets.values[1].ip.family == 10);
    CHECK(nets.values[1].ip.str() == "fd00::/8");
    // An IPv4-mapped IPv6 address is the IPv4 address it carries.
    CHECK(nets.values[2].ip.family == 2);
    CHECK(nets.values[2].ip.str() == "192.168.1.1");
    CHECK(nets.values[3].ip.len == 128);
    // Values from a list point at the list, where they are written.
    CHECK(nets.values[0].loc.str() == "t.rules:1:14");

    const Predicate &proto = only_pred(set, 3);
    CHECK(proto.values[1].str == "udp");
    const Predicate &risk = only_pred(set, 4);
    CHECK(risk.field->type == FieldType::StringSet);
    CHECK(risk.values[0].str == "known_proto_on_non_std_port");
    const Predicate &pattern = only_pred(set, 5);
    CHECK(pattern.is_glob());
    CHECK(pattern.values[0].str == "/usr/*/python?");
    CHECK(pattern.tier() == Tier::UserSpace); // a pattern cannot be resolved to exe ids
    CHECK(only_pred(set, 6).values[0].str == "and");
}

TEST_CASE("rules check: decision order is priority first, then file order") {
    RuleSet set = load_ok(R"(rule a { when dst.port == 1 action allow }
rule b { priority 10 when dst.port == 2 action deny }
rule c { when dst.port == 3 action alert }
rule d { priority -1 when dst.port == 4 action reject }
rule e { priority 10 when dst.port == 5 action allow }
)");
    std::vector<std::string> names;
    for (const auto &r : set.rules)
        names.push_back(r.name);
    CHECK(names == std::vector<std::string>{"b", "e", "a", "c", "d"});
    CHECK(set.rules[0].priority == 10);
    CHECK(set.rules[4].priority == -1);
    CHECK(set.rules[2].order == 0); // a: first in the file
    CHECK(set.rules[1].order == 4);
}

TEST_CASE("rules check: defaults are allow and mode is enforce unless a file says otherwise") {
    RuleSet set = load_ok("rule r { when dst.port == 1 action deny }\n");
    CHECK(set.default_egress.kind == ActionKind::Allow);
    CHECK(set.default_ingress.kind == ActionKind::Allow);
    CHECK_FALSE(set.audit_mode);
    CHECK_FALSE(set.rules[0].audit);
    CHECK(set.files == std::vector<std::string>{"t.rules"});

    RuleSet enforce = load_ok("mode enforce\ndefault ingress reject\n");
    CHECK_FALSE(enforce.audit_mode);
    CHECK(enforce.rules.empty());
    CHECK(enforce.default_ingress.kind == ActionKind::Reject);
    CHECK(enforce.default_egress.kind == ActionKind::Allow);
}

TEST_CASE("rules check: a macro is expanded where it is used and shared, not copied") {
    RuleSet set = load_ok(R"(macro web = dst.port in (80, 443)
rule a { when web and user.name == alice action deny }
rule b { when not web action allow }
)");
    REQUIRE(set.rules.size() == 2);
    const Cond &a = *set.rules[0].when;
    REQUIRE(a.kind == Cond::Kind::And);
    const Cond &b = *set.rules[1].when;
    REQUIRE(b.kind == Cond::Kind::Not);
    CHECK(a.kids[0].get() == b.kids[0].get());
    REQUIRE(a.kids[0]->kind == Cond::Kind::Pred);
    CHECK(a.kids[0]->pred->text == "dst.port in (80, 443)");
}

TEST_CASE("rules errors: unknown field, at its place, with the field it resembles") {
    expect_error("rule r {\n    when usr.name == alice\n    action deny\n}\n",
                 {"t.rules:2:10", "usr.name", "unknown field 'usr.name'", "user.name"});
    // Nothing resembles it: no suggestion.
    expect_error("rule r { when colour == red action deny }\n",
                 {"t.rules:1:15", "colour", "unknown field 'colour'", ""});
    // A bare word is a macro - or a misspelt one.
    expect_error("rule r { when colour action deny }\n",
                 {"t.rules:1:15", "colour", "unknown field or macro 'colour'", ""});
}

TEST_CASE("rules errors: enum value not among the field's words") {
    expect_error("rule r { when l4.proto == tpc action deny }\n",
                 {"t.rules:1:27", "tpc", "'tpc' is not a value of l4.proto (tcp, udp)", "tcp"});
    expect_error("rule r { when direction in (egress, ingres) action deny }\n",
                 {"t.rules:1:37", "ingres", "'ingres' is not a value of direction", "ingress"});
}

TEST_CASE("rules errors: misspelt list and macro names") {
    // A list name on a number field: no value either, so an error naming the list meant.
    expect_error("list ssh_ports = (22, 2222)\n"
                 "rule r { when dst.port in ssh_prots action deny }\n",
                 {"t.rules:2:27", "ssh_prots",
                  "'ssh_prots' is neither a list nor a value of dst.port", "ssh_ports"});
    expect_error("macro is_ssh = dst.port == 22\nrule r { when is_shh action deny }\n",
                 {"t.rules:2:15", "is_shh", "unknown field or macro 'is_shh'", "is_ssh"});
    // A list name on a text field is a valid value: the set loads, but with a warning that
    // names the list meant (the rule would otherwise quietly compare with the misspelling).
    LoadResult r = load("list admins = (alice, bob)\n"
                        "rule r { when user.name in admnis action deny }\n");
    REQUIRE(r.set.has_value());
    const Diagnostic *w = nullptr;
    for (const auto &d : r.diags)
        if (d.loc.line == 2) w = &d;
    REQUIRE(w != nullptr);
    CHECK(w->severity == Severity::Warning);
    CHECK(w->loc.str() == "t.rules:2:28");
    CHECK(underlined(*w) == "admnis");
    CHECK(w->message.find("'admnis' is no list") != std::string::npos);
    CHECK(w->suggestion == "admins");
    // Quoted, the value is what the author means: no warning about it.
    LoadResult q =
        load("list admins = (alice, bob)\n"
             "rule r { when user.name in \"admnis\" or user.name in admins action deny }\n");
    REQUIRE(q.set.has_value());
    CHECK(q.diags.empty());
}

TEST_CASE("rules errors: addresses and CIDR prefixes") {
    expect_error("rule r { when dst.ip in 10.0.0.1/8 action deny }\n",
                 {"t.rules:1:25", "10.0.0.1/8", "'10.0.0.1/8' has host bits set", "10.0.0.0/8"});
    expect_error("rule r { when src.ip == fd00::1/64 action deny }\n",
                 {"t.rules:1:25", "fd00::1/64", "'fd00::1/64' has host bits set", "fd00::/64"});
    expect_error("rule r { when dst.ip == 10.0.0.300 action deny }\n",
                 {"t.rules:1:25", "10.0.0.300", "'10.0.0.300' is not an IPv4 or IPv6 address", ""});
    expect_error(
        "rule r { when dst.ip in (10.0.0.0/33) action deny }\n",
        {"t.rules:1:26", "10.0.0.0/33", "prefix length in '10.0.0.0/33' must be 0 to 32", ""});
    expect_error("rule r { when dst.ip in (fd00::/129) action deny }\n",
                 {"t.rules:1:26", "fd00::/129", "must be 0 to 128", ""});
}

TEST_CASE("rules errors: ports and numbers out of range, empty ranges") {
    expect_error("rule r { when dst.port == 70000 action deny }\n",
                 {"t.rules:1:27", "70000", "'70000' is not a port (0-65535)", ""});
    expect_error("rule r { when src.port in (1-65536) action deny }\n",
                 {"t.rules:1:28", "1-65536", "'1-65536' is not a port", ""});
    expect_error("rule r { when dst.port in 2000-1000 action deny }\n",
                 {"t.rules:1:27", "2000-1000", "range 2000-1000 is empty", ""});
    expect_error("rule r { when user.id == 4294967296 action deny }\n",
                 {"t.rules:1:26", "4294967296", "'4294967296' is not a number", ""});
    expect_error("rule r { when user.id == -1 action deny }\n",
                 {"t.rules:1:26", "-1", "'-1' is not a number", ""});
    expect_error("rule r { when process.pid == ssh action deny }\n",
                 {"t.rules:1:30", "ssh", "'ssh' is not a number or a range", ""});
}

TEST_CASE("rules errors: actions") {
    expect_error("rule r { when dst.port == 22 action denny }\n",
                 {"t.rules:1:37", "denny", "unknown action 'denny'", "deny"});
    expect_error(
        "rule r { when dst.port == 22 action limit 5/s per usr }\n",
        {"t.rules:1:51", "usr", "limit is per process, user or cgroup, not 'usr'", "user"});
    expect_error("rule r { when dst.port == 22 action limit 50/s burst 10 }\n",
                 {"t.rules:1:54", "10", "burst 10 is below the rate", ""});
    expect_error("rule r { when dst.port == 22 action limit 50 }\n",
                 {"t.rules:1:43", "50", "a limit is written N/s", ""});
    expect_error("rule r { when dst.port == 22 action limit 0/s }\n",
                 {"t.rules:1:43", "0/s", "a rate must be a whole number from 1 to 10000000", ""});
    expect_error("default egress limit 5/s\n",
                 {"t.rules:1:16", "limit", "a default cannot be a limit", ""});
    expect_error("default egres allow\n",
                 {"t.rules:1:9", "egres", "expected egress or ingress after 'default'", "egress"});
}

TEST_CASE("rules errors: a second rule of the same name points at the first") {
    expect_error(
        "rule a { when dst.port == 1 action deny }\n"
        "rule b { when dst.port == 2 action deny }\n"
        "rule a { when dst.port == 3 action allow }\n",
        {"t.rules:3:1", "rule", "a second rule named 'a' (the first is at t.rules:1:1)", ""});
    expect_error("rule \"x y\" { when dst.port == 1 action deny }\n"
                 "rule \"x y\" { when dst.port == 2 action deny }\n",
                 {"t.rules:2:1", "rule", "a second rule named 'x y'", ""});
    expect_error(
        "list l = (1)\nlist l = (2)\nrule r { when dst.port in l action deny }\n",
        {"t.rules:2:1", "list", "a second list named 'l' (the first is at t.rules:1:1)", ""});
    expect_error("list l = (1)\nmacro l = dst.port == 1\nrule r { when l action deny }\n",
                 {"t.rules:1:1", "list", "'l' names both a list and a macro (t.rules:2:1)", ""});
    expect_error("default egress deny\ndefault egress allow\n",
                 {"t.rules:2:1", "default", "a second default for egress", ""});
    expect_error("mode audit\nmode enforce\n",
                 {"t.rules:2:1", "mode", "a second mode (the first is at t.rules:1:1)", ""});
}

TEST_CASE("rules errors: macro cycles name the cycle") {
    expect_error("macro a = b or dst.port == 1\n"
                 "macro b = l4.proto == tcp and a\n"
                 "rule r { when a action deny }\n",
                 {"t.rules:2:31", "a", "macro 'a' refers to itself: a -> b -> a", ""});
    expect_error("macro m = not m\nrule r { when m action deny }\n",
                 {"t.rules:1:15", "m", "macro 'm' refers to itself: m -> m", ""});
}

TEST_CASE("rules errors: unterminated string") {
    expect_error("rule r { when process.name == \"curl action deny }\n",
                 {"t.rules:1:31", "\"curl action deny }", "unterminated string", ""});
}

TEST_CASE("rules errors: operators a field's type does not take") {
    expect_error("rule r { when dst.port glob 2* action deny }\n",
                 {"t.rules:1:24", "glob", "'glob' does not apply to dst.port (a port)", ""});
    expect_error(
        "rule r { when dst.ip not glob 10.* action deny }\n",
        {"t.rules:1:22", "not glob", "'not glob' does not apply to dst.ip (an address)", ""});
    expect_error("rule r { when dst.port 22 action deny }\n",
                 {"t.rules:1:24", "22",
                  "expected an operator (==, !=, in, not in, glob, not glob) after 'dst.port'",
                  ""});
    expect_error("rule r { when process.name == \"\" action deny }\n",
                 {"t.rules:1:31", "\"\"", "an empty value never matches process.name", ""});
    expect_error("rule r { when process.name == or action deny }\n",
                 {"t.rules:1:31", "or", "found the keyword 'or' (quote it", ""});
}

TEST_CASE("rules errors: statements and rule items") {
    expect_error("rul r { when dst.port == 1 action deny }\n",
                 {"t.rules:1:1", "rul", "expected a statement", "rule"});
    expect_error(
        "rule r { whn dst.port == 1 action deny }\n",
        {"t.rules:1:10", "whn", "expected when, action, priority, audit or description", "when"});
    expect_error("rule r { action deny }\n",
                 {"t.rules:1:1", "rule", "rule 'r' has no 'when' condition", ""});
    expect_error("rule r { when dst.port == 1 }\n",
                 {"t.rules:1:1", "rule", "rule 'r' has no action", ""});
    expect_error("rule r { when dst.port == 1 when dst.port == 2 action deny }\n",
                 {"t.rules:1:29", "when", "rule 'r' has two 'when' conditions", ""});
    expect_error("rule r { when dst.port == 1 action deny action allow }\n",
                 {"t.rules:1:41", "action", "rule 'r' has two actions", ""});
    expect_error("rule r { priority 2000000 when dst.port == 1 action deny }\n",
                 {"t.rules:1:19", "2000000", "priority must be an integer from -1000000", ""});
    expect_error("rule r { priority high when dst.port == 1 action deny }\n",
                 {"t.rules:1:19", "high", "priority must be an integer", ""});
    expect_error("rule r { description plain when dst.port == 1 action deny }\n",
                 {"t.rules:1:22", "plain", "expected a quoted description", ""});
    expect_error("rule r { when dst.port == 1 action deny\n",
                 {"t.rules:2:1", "", "rule 'r' is not closed with '}'", ""});
    expect_error("rule \"\" { when dst.port == 1 action deny }\n",
                 {"t.rules:1:1", "rule", "a rule name cannot be empty", ""});
    expect_error("list and = (1)\n",
                 {"t.rules:1:6", "and", "'and' is a keyword and cannot name a list", ""});
    expect_error("macro dst.port = l4.proto == tcp\n",
                 {"t.rules:1:7", "dst.port", "'dst.port' is a field and cannot name a macro", ""});
    expect_error("mode audti\n",
                 {"t.rules:1:6", "audti", "expected enforce or audit after 'mode'", "audit"});
    expect_error("list l = (1 2)\n", {"t.rules:1:13", "2", "expected ',' or ')' in the list", ""});
}

TEST_CASE("rules errors: a bad value in a list is reported where it is written and used") {
    expect_error("list ports = (22, http)\nrule r { when dst.port in ports action deny }\n",
                 {"t.rules:1:19", "http",
                  "'http' is not a port (0-65535) or a range of them (like 1000-1999) for "
                  "dst.port (in list 'ports', used at t.rules:2:15)",
                  ""});
}

TEST_CASE("rules errors: nesting and macro expansion are bounded") {
    // Parentheses beyond the parser's depth.
    std::string deep = "rule r { when " + std::string(300, '(') + "dst.port == 1" +
                       std::string(300, ')') + " action deny }\n";
    LoadResult r = load(deep);
    CHECK_FALSE(r.set.has_value());
    REQUIRE_FALSE(errors_of(r).empty());
    CHECK(errors_of(r)[0]->message == "expression nested too deeply");

    // Each macro doubles the one before: 2^30 predicates from a few hundred bytes. Loading
    // must refuse it (quickly) rather than hand the engine an exponential condition.
    std::string doubling = "macro m0 = dst.port == 1\n";
    for (int i = 1; i <= 30; ++i)
        doubling += "macro m" + std::to_string(i) + " = m" + std::to_string(i - 1) + " and m" +
                    std::to_string(i - 1) + "\n";
    doubling += "rule big { when m30 action deny }\nrule fine { when m13 action deny }\n";
    expect_error(doubling, {"t.rules:32:1", "rule",
                            "rule 'big' has more than 10000 predicates once its macros", ""});
    LoadResult d = load(doubling);
    CHECK(errors_of(d).size() == 1); // m13 (8192 predicates) is within bounds

    // A chain of macros nests without bound though each is shallow: it must not exhaust the
    // stack (it once did, at some 100000 macros).
    std::string chain = "macro m0 = dst.port == 1\n";
    const int n = 20000;
    for (int i = 1; i < n; ++i)
        chain += "macro m" + std::to_string(i) + " = not m" + std::to_string(i - 1) + "\n";
    chain += "rule r { when m" + std::to_string(n - 1) + " action deny }\n";
    LoadResult c = load(chain);
    CHECK_FALSE(c.set.has_value());
    bool nested = false;
    for (const auto *e : errors_of(c))
        nested = nested || e->message == "condition nested more than 1000 deep once macros are "
                                         "expanded";
    CHECK(nested);
}

TEST_CASE("rules errors: a file with any error yields no rule set") {
    const std::string good = "list p = (22)\nmacro m = dst.port in p\n"
                             "rule ok { when m action deny }\ndefault egress allow\n";
    REQUIRE(load(good).set.has_value());
    const char *broken[] = {
        "rule bad { when usr.name == x action deny }\n",
        "rule bad { when dst.port == 99999 action deny }\n",
        "rule bad { when dst.ip == 10.0.0.1/24 action deny }\n",
        "rule bad { when l4.proto == icmp action deny }\n",
        "rule bad { when dst.port == 1 action explode }\n",
        "rule ok { when dst.port == 1 action deny }\n",
        "macro a = a\nrule bad { when a action deny }\n",
        "rule bad { when process.name == \"x action deny }\n",
        "rule bad { when dst.port == 1 action deny\n",
        "rule bad { when nosuchmacro action deny }\n",
        "rule bad { when dst.port == 1 action deny } }\n",
        "default egress limit 1/s\n",
        "mode audit\nmode audit\n",
        "@\n",
    };
    for (const char *b : broken) {
        INFO("appended: " << b);
        LoadResult r = load(good + b);
        CHECK_FALSE(r.set.has_value());
        CHECK(has_errors(r.diags));
        // Prepended too: an error before valid rules is no different.
        CHECK_FALSE(load(std::string(b) + good).set.has_value());
    }
}

TEST_CASE("rules errors: every error is reported at once, in file order") {
    LoadResult r = load("rule a { when usr.name == x action deny }\n"
                        "rule b { when dst.port == 1 action denny }\n"
                        "rule c { when l4.proto == icmp action deny }\n");
    auto errs = errors_of(r);
    REQUIRE(errs.size() == 3);
    CHECK(errs[0]->loc.line == 1);
    CHECK(errs[1]->loc.line == 2);
    CHECK(errs[2]->loc.line == 3);
}

TEST_CASE("rules diagnostics: format shows file:line:col, the line and a caret under the text") {
    LoadResult r = load("# policy\nrule r { when usr.name == alice action deny }\n");
    auto errs = errors_of(r);
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]->format() ==
          "t.rules:2:15: error: unknown field 'usr.name' (did you mean 'user.name'?)\n"
          "  rule r { when usr.name == alice action deny }\n"
          "                ^~~~~~~~\n");

    // Tabs stay tabs in the caret line, so the caret sits under the text in any terminal.
    LoadResult t = load("rule r {\n\twhen\tdst.port == 99999 action deny }\n");
    auto terrs = errors_of(t);
    REQUIRE(terrs.size() == 1);
    CHECK(terrs[0]->format() ==
          "t.rules:2:19: error: '99999' is not a port (0-65535) or a range of them (like "
          "1000-1999) for dst.port\n"
          "  \twhen\tdst.port == 99999 action deny }\n"
          "  \t    \t            ^~~~~\n");

    // Warnings say so; a diagnostic without a place in a file has no source line.
    LoadResult w = load("list unused = (1)\n");
    REQUIRE(w.set.has_value());
    REQUIRE(w.diags.size() == 1);
    CHECK(w.diags[0].format() == "t.rules:1:1: warning: list 'unused' is never used\n"
                                 "  list unused = (1)\n"
                                 "  ^~~~\n");
    Diagnostic bare{Severity::Error, SourceLoc{}, "cannot read", ""};
    CHECK(bare.format() == "error: cannot read\n");
}

TEST_CASE("rules diagnostics: closest suggests only near misses") {
    const std::vector<std::string> words = {"user.name", "user.id", "group.name"};
    CHECK(closest("usr.name", words) == "user.name");
    CHECK(closest("user.nmae", words) == "user.name"); // a swapped pair is one edit
    CHECK(closest("user.name", words) == "");          // exact: nothing to suggest
    CHECK(closest("colour", words) == "");
    CHECK(closest("x", {}) == "");
}

TEST_CASE("rules load: a directory's *.rules files, in name order, names across files") {
    TempDir dir;
    // 10-lists defines what 20-policy uses; 30-late has a higher priority than 20's rules.
    dir.write("20-policy.rules", "rule p1 { when dst.port in web action deny }\n"
                                 "rule p2 { when dst.port == 22 action reject }\n");
    dir.write("10-lists.rules", "list web = (80, 443)\ndefault egress deny\n");
    dir.write("30-late.rules", "rule late { priority 5 when l4.proto == udp action alert }\n"
                               "rule last { when l4.proto == tcp action allow }\n");
    dir.write("README", "not a rule file\n");
    dir.write(".hidden.rules", "this is not loaded {\n");
    dir.write("notes.rules.bak", "nor is this {\n");

    LoadResult r = load_rules({dir.path});
    INFO(all_diags(r));
    REQUIRE(r.set.has_value());
    CHECK(r.diags.empty());
    CHECK(r.set->files == std::vector<std::string>{dir.path + "/10-lists.rules",
                                                   dir.path + "/20-policy.rules",
                                                   dir.path + "/30-late.rules"});
    std::vector<std::string> names;
    for (const auto &rule : r.set->rules)
        names.push_back(rule.name);
    CHECK(names == std::vector<std::string>{"late", "p1", "p2", "last"});
    CHECK(r.set->default_egress.kind == ActionKind::Deny);
    CHECK(r.set->rules[1].loc.str() == dir.path + "/20-policy.rules:1:1");

    // A trailing slash names the same files.
    LoadResult slash = load_rules({dir.path + "/"});
    REQUIRE(slash.set.has_value());
    CHECK(slash.set->files.front() == dir.path + "/10-lists.rules");

    // One broken file among several: no rule set at all, and the error names that file.
    dir.write("25-broken.rules", "rule b {\n  when dst.port == 22 and usr.name == x\n"
                                 "  action deny\n}\n");
    LoadResult broken = load_rules({dir.path});
    CHECK_FALSE(broken.set.has_value());
    auto errs = errors_of(broken);
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]->loc.str() == dir.path + "/25-broken.rules:2:27");
    CHECK(errs[0]->suggestion == "user.name");
}

TEST_CASE("rules load: files and directories given together, missing paths, empty directories") {
    TempDir dir;
    TempDir empty;
    std::string one = dir.write("one.rules", "rule a { when dst.port == 1 action deny }\n");
    std::string two = dir.write("two.rules", "rule b { when dst.port == 2 action deny }\n");
    // Explicit files load in the order given, not name order.
    LoadResult r = load_rules({two, one});
    REQUIRE(r.set.has_value());
    CHECK(r.set->rules[0].name == "b");

    LoadResult missing = load_rules({dir.path + "/nope.rules"});
    CHECK_FALSE(missing.set.has_value());
    REQUIRE(missing.diags.size() == 1);
    CHECK(missing.diags[0].loc.str() == dir.path + "/nope.rules");
    CHECK(missing.diags[0].message.find("cannot read") != std::string::npos);

    // An empty directory is worth a warning, not a failure: the set is just the defaults.
    LoadResult none = load_rules({empty.path});
    REQUIRE(none.set.has_value());
    REQUIRE(none.diags.size() == 1);
    CHECK(none.diags[0].severity == Severity::Warning);
    CHECK(none.diags[0].message == "no *.rules files in this directory");
    CHECK(none.set->rules.empty());

    // A rule in one file may not share its name with a rule in another.
    std::string dup = dir.write("three.rules", "rule a { when dst.port == 3 action deny }\n");
    LoadResult d = load_rules({dir.path});
    CHECK_FALSE(d.set.has_value());
    auto errs = errors_of(d);
    REQUIRE(errs.size() == 1);
    CHECK(errs[0]->loc.str() == dup + ":1:1");
    CHECK(errs[0]->message == "a second rule named 'a' (the first is at " + one + ":1:1)");
}

TEST_CASE("rules parser: recovery reports the next statement's errors after a broken one") {
    LoadResult r = load("rule a { when dst.port == == 1 action deny }\n"
                        "rule b { when l4.proto == tpc action deny }\n");
    auto errs = errors_of(r);
    REQUIRE(errs.size() == 2);
    CHECK(errs[0]->loc.str() == "t.rules:1:27");
    CHECK(errs[0]->message == "expected a value, found '=='");
    CHECK(errs[1]->loc.str() == "t.rules:2:27");
    CHECK(errs[1]->suggestion == "tcp");
}

TEST_CASE("rules parser: is_keyword covers the words with a meaning of their own") {
    for (const char *w :
         {"list",  "macro",       "rule",  "default", "mode",  "when", "action", "priority",
          "audit", "description", "and",   "or",      "not",   "in",   "glob",   "allow",
          "deny",  "reject",      "alert", "limit",   "burst", "per"})
        CHECK(is_keyword(w));
    CHECK_FALSE(is_keyword("egress"));
    CHECK_FALSE(is_keyword("web"));
}

TEST_CASE("rules parser: each statement's source text is located, for item-by-item storage") {
    const std::string text = "# comment\n"
                             "mode audit\n"
                             "list admins = (alice, \"bob\")\n"
                             "rule no-ssh {\n  when dst.port == 22\n  action deny\n}\n"
                             "default egress allow\n"
                             "rule broken { when action deny }\n"
                             "macro web = dst.port in (80, 443)\n";
    auto src = std::make_shared<SourceFile>(SourceFile{"items.rules", text});
    Diagnostics diags;
    ParsedFile f = parse_file(src, diags);
    CHECK(has_errors(diags)); // the broken rule is reported and left out of the items
    REQUIRE(f.items.size() == 5);
    auto item_text = [&](size_t i) {
        return text.substr(f.items[i].begin, f.items[i].end - f.items[i].begin);
    };
    CHECK(f.items[0].kind == ItemSpan::Kind::Mode);
    CHECK(item_text(0) == "mode audit");
    CHECK(f.items[1].kind == ItemSpan::Kind::List);
    CHECK(f.items[1].name == "admins");
    CHECK(item_text(1) == "list admins = (alice, \"bob\")");
    CHECK(f.items[2].kind == ItemSpan::Kind::Rule);
    CHECK(f.items[2].name == "no-ssh");
    CHECK(item_text(2) == "rule no-ssh {\n  when dst.port == 22\n  action deny\n}");
    CHECK(f.items[3].kind == ItemSpan::Kind::Default);
    CHECK(item_text(3) == "default egress allow");
    CHECK(f.items[4].kind == ItemSpan::Kind::Macro);
    CHECK(f.items[4].name == "web");
    CHECK(item_text(4) == "macro web = dst.port in (80, 443)");
}
