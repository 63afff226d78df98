// rule_set.cpp - see rule_set.h.
#include "rules/rule_set.h"

#include "rules/parser.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace policer::rules {
namespace {

constexpr size_t kMaxFileBytes = 16u << 20;
constexpr size_t kMaxListItems = 100000;
// Macros make a condition a graph: a macro using another twice, itself used twice, ... doubles
// the predicates at every level, and a chain of macros nests without bound. Once expanded, a
// rule's condition is evaluated (and put in normal form) as a tree, so both are bounded here:
// a short file must not ask for billions of evaluations or overflow the stack.
constexpr uint64_t kMaxRulePredicates = 10000;
constexpr int kMaxExpandedDepth = 1000;

// Which operators each field type accepts.
bool op_allowed(FieldType t, Op op) {
    switch (t) {
    case FieldType::String: return true;
    case FieldType::Number:
    case FieldType::Port:
    case FieldType::Address:
    case FieldType::Enum:
    case FieldType::StringSet: return op != Op::Glob && op != Op::NotGlob;
    }
    return false;
}

class Linker {
public:
    explicit Linker(Diagnostics &diags) : diags_(diags) {}

    std::optional<RuleSet> link(std::vector<ParsedFile> files) {
        RuleSet set;
        // Names first, across every file: a rule may use a list defined in a later file.
        for (auto &f : files) {
            set.sources.push_back(f.source);
            set.files.push_back(f.source->path);
            for (auto &l : f.lists)
                declare(l.name, l.loc, "list", lists_, l);
            for (auto &m : f.macros)
                declare(m.name, m.loc, "macro", macros_, m);
        }
        for (auto &[name, l] : lists_)
            if (macros_.count(name))
                error(l.loc, "'" + name + "' names both a list and a macro (" +
                                 macros_.at(name).loc.str() + ")");

        std::map<std::string, SourceLoc> rule_names;
        size_t order = 0;
        bool have_default[2] = {false, false};
        std::optional<SourceLoc> mode_at;
        for (auto &f : files) {
            for (auto &d : f.defaults) {
                int i = d.direction == Direction::Egress ? 0 : 1;
                if (have_default[i]) {
                    error(d.loc, std::string("a second default for ") +
                                     (i == 0 ? "egress" : "ingress") +
                                     " (a rule set has one per direction)");
                    continue;
                }
                have_default[i] = true;
                (i == 0 ? set.default_egress : set.default_ingress) = d.action;
            }
            for (auto &m : f.modes) {
                if (mode_at) {
                    error(m.loc, "a second mode (the first is at " + mode_at->str() + ")");
                    continue;
                }
                mode_at = m.loc;
                set.audit_mode = m.audit;
            }
            for (auto &r : f.rules) {
                auto [it, fresh] = rule_names.emplace(r.name, r.loc);
                if (!fresh) {
                    error(r.loc, "a second rule named '" + r.name + "' (the first is at " +
                                     it->second.str() + ")");
                    continue;
                }
                if (!r.when || !r.action) continue; // already reported by the parser
                Rule rule;
                rule.name = r.name;
                rule.loc = r.loc;
                rule.priority = r.priority.value_or(0);
                rule.audit = r.audit;
                rule.description = r.description;
                rule.action = *r.action;
                rule.order = order++;
                rule.when = bind(r.when);
                if (rule.when && expanded_size(rule.when) > kMaxRulePredicates) {
                    error(r.loc, "rule '" + r.name + "' has more than " +
                                     std::to_string(kMaxRulePredicates) +
                                     " predicates once its macros are expanded");
                    continue;
                }
                if (rule.when) set.rules.push_back(std::move(rule));
            }
        }
        for (auto &[name, l] : lists_)
            if (!used_lists_.count(name)) warn(l.loc, "list '" + name + "' is never used");
        for (auto &[name, m] : macros_)
            if (!used_macros_.count(name)) warn(m.loc, "macro '" + name + "' is never used");

        std::stable_sort(set.rules.begin(), set.rules.end(), [](const Rule &a, const Rule &b) {
            return a.priority != b.priority ? a.priority > b.priority : a.order < b.order;
        });
        if (has_errors(diags_)) return std::nullopt;
        return set;
    }

private:
    template <typename Decl>
    void declare(const std::string &name, const SourceLoc &loc, const char *what,
                 std::map<std::string, Decl> &table, const Decl &d) {
        auto [it, fresh] = table.emplace(name, d);
        if (!fresh)
            error(loc, std::string("a second ") + what + " named '" + name + "' (the first is at " +
                           it->second.loc.str() + ")");
    }

    void error(const SourceLoc &loc, std::string msg, std::string suggestion = "") {
        diags_.push_back({Severity::Error, loc, std::move(msg), std::move(suggestion)});
    }
    void warn(const SourceLoc &loc, std::string msg) {
        diags_.push_back({Severity::Warning, loc, std::move(msg), ""});
    }

    // Expands macros and types values. nullptr on error (reported).
    CondPtr bind(const ExprPtr &e) {
        if (depth_ >= kMaxExpandedDepth) {
            error(e->loc, "condition nested more than " + std::to_string(kMaxExpandedDepth) +
                              " deep once macros are expanded");
            return nullptr;
        }
        ++depth_;
        CondPtr c = bind_node(e);
        --depth_;
        return c;
    }

    // Predicates in `c` once expanded, up to just above the limit. Memoized by node: macros
    // are shared, and counting them anew at every use would itself take exponential time.
    // (Keyed by owning pointer, so a node freed meanwhile cannot lend its address to another.)
    uint64_t expanded_size(const CondPtr &c) {
        if (c->kind == Cond::Kind::Pred) return 1;
        if (auto it = sizes_.find(c); it != sizes_.end()) return it->second;
        uint64_t n = 0;
        for (const auto &k : c->kids)
            n = std::min(n + expanded_size(k), kMaxRulePredicates + 1);
        sizes_[c] = n;
        return n;
    }

    CondPtr bind_node(const ExprPtr &e) {
        switch (e->kind) {
        case ExprNode::Kind::And:
        case ExprNode::Kind::Or:
        case ExprNode::Kind::Not: {
            auto c = std::make_shared<Cond>();
            c->kind = e->kind == ExprNode::Kind::And  ? Cond::Kind::And
                      : e->kind == ExprNode::Kind::Or ? Cond::Kind::Or
                                                      : Cond::Kind::Not;
            bool ok = true;
            for (const auto &k : e->kids) {
                CondPtr b = bind(k);
                ok = ok && b;
                c->kids.push_back(b);
            }
            return ok ? c : nullptr;
        }
        case ExprNode::Kind::MacroRef: return macro(e);
        case ExprNode::Kind::Pred: return predicate(e);
        }
        return nullptr;
    }

    CondPtr macro(const ExprPtr &e) {
        auto it = macros_.find(e->name);
        if (it == macros_.end()) {
            std::vector<std::string> names = field_names();
            for (const auto &[n, m] : macros_)
                names.push_back(n);
            error(e->loc, "unknown field or macro '" + e->name + "'", closest(e->name, names));
            return nullptr;
        }
        used_macros_.insert(e->name);
        if (auto done = bound_macros_.find(e->name); done != bound_macros_.end())
            return done->second;
        if (std::find(expanding_.begin(), expanding_.end(), e->name) != expanding_.end()) {
            std::string cycle;
            for (const auto &n : expanding_)
                cycle += n + " -> ";
            error(e->loc, "macro '" + e->name + "' refers to itself: " + cycle + e->name);
            return nullptr;
        }
        expanding_.push_back(e->name);
        CondPtr body = bind(it->second.body);
        expanding_.pop_back();
        bound_macros_[e->name] = body;
        return body;
    }

    CondPtr predicate(const ExprPtr &e) {
        const FieldDef *field = find_field(e->field);
        if (!field) {
            std::vector<std::string> names = field_names();
            for (const auto &[n, m] : macros_)
                names.push_back(n);
            error(e->field_loc, "unknown field '" + e->field + "'", closest(e->field, names));
            return nullptr;
        }
        if (!op_allowed(field->type, e->op)) {
            error(e->op_loc, std::string("'") + op_text(e->op) + "' does not apply to " +
                                 field->name + " (" +
                                 (field->type == FieldType::Address ? "an " : "a ") +
                                 type_name(field->type) + ")");
            return nullptr;
        }
        auto p = std::make_shared<Predicate>();
        p->field = field;
        p->op = e->op;
        p->loc = e->loc;
        p->text = e->text;

        // The operand: a list by name, or the values written.
        std::vector<RawValue> raw = e->values;
        bool from_list = false;
        if (!e->list.empty()) {
            if (auto it = lists_.find(e->list); it != lists_.end()) {
                used_lists_.insert(e->list);
                raw = it->second.items;
                from_list = true;
                if (raw.empty())
                    warn(e->list_loc, "list '" + e->list + "' is empty: this never matches");
            }
        }
        if (raw.size() > kMaxListItems) {
            error(e->loc, "more than 100000 values");
            return nullptr;
        }
        bool ok = true;
        for (const auto &r : raw) {
            std::string err, suggestion;
            auto v = parse_value(*field, p->is_glob(), r.text, r.loc, err, suggestion);
            if (!v) {
                // An unquoted word that is no value may be a misspelt list name.
                if (!from_list && !e->list.empty() && suggestion.empty()) {
                    std::vector<std::string> lists;
                    for (const auto &[n, l] : lists_)
                        lists.push_back(n);
                    std::string near = closest(e->list, lists);
                    if (!near.empty()) {
                        err = "'" + e->list + "' is neither a list nor a value of " + field->name;
                        suggestion = near;
                    }
                }
                error(r.loc,
                      err + (from_list
                                 ? " (in list '" + e->list + "', used at " + e->loc.str() + ")"
                                 : ""),
                      suggestion);
                ok = false;
                continue;
            }
            p->values.push_back(std::move(*v));
        }
        if (!ok) return nullptr;
        // A misspelt list name on a text field is a valid value, so nothing above objects: say
        // so, or the rule would quietly compare with the misspelling.
        if (!from_list && !e->list.empty()) {
            std::vector<std::string> lists;
            for (const auto &[n, l] : lists_)
                lists.push_back(n);
            std::string near = closest(e->list, lists);
            if (!near.empty())
                diags_.push_back({Severity::Warning, e->list_loc,
                                  "'" + e->list + "' is no list: it is matched as a value of " +
                                      field->name + " (quote it if that is meant)",
                                  near});
        }
        auto c = std::make_shared<Cond>();
        c->kind = Cond::Kind::Pred;
        c->pred = p;
        return c;
    }

    Diagnostics &diags_;
    std::map<std::string, ListDecl> lists_;
    std::map<std::string, MacroDecl> macros_;
    std::set<std::string> used_lists_, used_macros_;
    std::map<std::string, CondPtr> bound_macros_;
    std::vector<std::string> expanding_;
    int depth_ = 0;
    std::map<CondPtr, uint64_t> sizes_;
};

bool read_file(const std::string &path, std::string &out, std::string &err) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = std::string("cannot read: ") + std::strerror(errno);
        return false;
    }
    out.clear();
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > kMaxFileBytes) {
            ::close(fd);
            err = "larger than 16 MiB";
            return false;
        }
    }
    ::close(fd);
    if (n < 0) {
        err = std::string("cannot read: ") + std::strerror(errno);
        return false;
    }
    return true;
}

SourceLoc file_loc(const std::string &path) {
    auto f = std::make_shared<SourceFile>();
    f->path = path;
    return SourceLoc{f, 0, 0, 0};
}

} // namespace

LoadResult load_sources(std::vector<SourcePtr> sources, Diagnostics diags) {
    LoadResult r;
    r.diags = std::move(diags);
    std::vector<ParsedFile> parsed;
    for (const auto &s : sources)
        parsed.push_back(parse_file(s, r.diags));
    // Links even after parse errors, to report every error at once; but then no set results.
    const bool parse_ok = !has_errors(r.diags);
    auto set = Linker(r.diags).link(std::move(parsed));
    if (parse_ok && set) r.set = std::move(*set);
    std::stable_sort(r.diags.begin(), r.diags.end(), [](const Diagnostic &a, const Diagnostic &b) {
        std::string fa = a.loc.file ? a.loc.file->path : "",
                    fb = b.loc.file ? b.loc.file->path : "";
        return std::tie(fa, a.loc.line, a.loc.col) < std::tie(fb, b.loc.line, b.loc.col);
    });
    // A generated or hostile file can hold errors without end: the first ones say enough, and
    // each costs a scan of its file to format.
    constexpr size_t kMaxDiagnostics = 200;
    if (r.diags.size() > kMaxDiagnostics) {
        // Errors first: they are why nothing loads (warnings fill what room is left).
        size_t errors = 0;
        for (const auto &d : r.diags)
            errors += d.severity == Severity::Error;
        const size_t warn_room = errors < kMaxDiagnostics ? kMaxDiagnostics - errors : 0;
        Diagnostics keep;
        size_t kept_errors = 0, kept_warnings = 0;
        for (auto &d : r.diags)
            if (d.severity == Severity::Error ? kept_errors++ < kMaxDiagnostics
                                              : kept_warnings++ < warn_room)
                keep.push_back(std::move(d));
        const size_t more = r.diags.size() - keep.size();
        r.diags = std::move(keep);
        r.diags.push_back({Severity::Warning, SourceLoc{},
                           std::to_string(more) + " more diagnostics not shown", ""});
    }
    return r;
}

LoadResult load_rules_text(const std::string &name, const std::string &text) {
    auto f = std::make_shared<SourceFile>();
    f->path = name;
    f->text = text;
    return load_sources({f});
}

LoadResult load_rules(const std::vector<std::string> &paths, std::vector<SourcePtr> extra) {
    Diagnostics diags;
    std::vector<SourcePtr> sources;
    auto add_file = [&](const std::string &path) {
        auto f = std::make_shared<SourceFile>();
        f->path = path;
        std::string err;
        if (!read_file(path, f->text, err)) {
            diags.push_back({Severity::Error, file_loc(path), err, ""});
            return;
        }
        sources.push_back(f);
    };
    for (const auto &path : paths) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            diags.push_back({Severity::Error, file_loc(path),
                             std::string("cannot read: ") + std::strerror(errno), ""});
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            add_file(path);
            continue;
        }
        // A rules.d directory: its *.rules files, in name order (10-x.rules before 20-y.rules).
        std::vector<std::string> names;
        if (DIR *d = ::opendir(path.c_str())) {
            while (dirent *e = ::readdir(d)) {
                std::string n = e->d_name;
                if (n.size() > 6 && n.compare(n.size() - 6, 6, ".rules") == 0 && n[0] != '.')
                    names.push_back(n);
            }
            ::closedir(d);
        } else {
            diags.push_back({Severity::Error, file_loc(path),
                             std::string("cannot read: ") + std::strerror(errno), ""});
            continue;
        }
        std::sort(names.begin(), names.end());
        if (names.empty())
            diags.push_back(
                {Severity::Warning, file_loc(path), "no *.rules files in this directory", ""});
        for (const auto &n : names)
            add_file(path + (path.back() == '/' ? "" : "/") + n);
    }
    for (auto &e : extra)
        sources.push_back(std::move(e));
    LoadResult r = load_sources(std::move(sources), std::move(diags));
    return r;
}

} // namespace policer::rules
