// ast.h - rule files as parsed, before names are resolved and values typed (rule_set.h does
// that). Values stay raw text here because their meaning depends on the field they are
// compared with: "22" is a port, a uid or a name depending on where it stands.
#pragma once

#include "rules/source.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace policer::rules {

enum class Op { Eq, Ne, In, NotIn, Glob, NotGlob };
const char *op_text(Op op);

struct RawValue {
    std::string text;
    SourceLoc loc;
    bool quoted = false;
};

struct ExprNode;
using ExprPtr = std::shared_ptr<const ExprNode>;

struct ExprNode {
    enum class Kind { And, Or, Not, Pred, MacroRef };
    Kind kind = Kind::Pred;
    SourceLoc loc; // the whole expression's first token
    std::vector<ExprPtr> kids;

    // Pred: FIELD OP VALUE | FIELD OP (VALUE, ...) | FIELD OP LIST_NAME
    std::string field;
    SourceLoc field_loc;
    Op op = Op::Eq;
    SourceLoc op_loc;
    std::vector<RawValue> values;
    std::string list; // operand was a list name (values empty)
    SourceLoc list_loc;
    std::string text; // the predicate as written, for explain

    // MacroRef
    std::string name;
};

enum class ActionKind { Allow, Deny, Reject, Alert, Limit };
enum class LimitPer { Process, User, Cgroup };

struct Action {
    ActionKind kind = ActionKind::Allow;
    uint32_t rate = 0;  // Limit: tokens per second
    uint32_t burst = 0; // Limit: bucket size (default: rate)
    LimitPer per = LimitPer::Cgroup;
    SourceLoc loc;
};
const char *action_name(ActionKind k);
const char *limit_per_name(LimitPer p);
std::string action_text(const Action &a); // "limit 50/s burst 100 per cgroup"

struct ListDecl {
    std::string name;
    SourceLoc loc;
    std::vector<RawValue> items;
};

struct MacroDecl {
    std::string name;
    SourceLoc loc;
    ExprPtr body;
};

struct RuleDecl {
    std::string name;
    SourceLoc loc;
    std::optional<int64_t> priority;
    bool audit = false;
    std::string description;
    ExprPtr when;
    std::optional<Action> action;
};

enum class Direction { Egress, Ingress };

struct DefaultDecl {
    Direction direction = Direction::Egress;
    Action action;
    SourceLoc loc;
};

struct ModeDecl {
    bool audit = false;
    SourceLoc loc;
};

// One top-level statement as written: where it is in the source text, for tools that store or
// edit rule files item by item (the managed rule set of policerd).
struct ItemSpan {
    enum class Kind { Rule, List, Macro, Default, Mode };
    Kind kind = Kind::Rule;
    std::string name; // rules, lists and macros; "" for default and mode
    size_t begin = 0; // byte offsets into the source text: [begin, end)
    size_t end = 0;
};

struct ParsedFile {
    SourcePtr source;
    std::vector<ItemSpan> items; // statements that parsed, in source order
    std::vector<ListDecl> lists;
    std::vector<MacroDecl> macros;
    std::vector<RuleDecl> rules;
    std::vector<DefaultDecl> defaults;
    std::vector<ModeDecl> modes;
};

} // namespace policer::rules
