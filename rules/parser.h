// parser.h - rule text into syntax (ast.h). The grammar, which docs/rules.md explains with
// examples:
//
//   file      := { statement }
//   statement := "list" NAME "=" "(" [ value { "," value } [ "," ] ] ")"
//              | "macro" NAME "=" expr
//              | "rule" (NAME | STRING) "{" { item } "}"
//              | "default" ("egress" | "ingress") action
//              | "mode" ("enforce" | "audit")
//   item      := "when" expr | "action" action | "priority" INTEGER | "audit"
//              | "description" STRING
//   action    := "allow" | "deny" | "reject" | "alert"
//              | "limit" N "/s" [ "burst" M ] [ "per" ("process" | "user" | "cgroup") ]
//   expr      := and { "or" and }
//   and       := unary { "and" unary }
//   unary     := "not" unary | "(" expr ")" | predicate | MACRO_NAME
//   predicate := FIELD ("==" | "!=") value
//              | FIELD ["not"] ("in" | "glob") ( value | LIST_NAME | "(" value { "," value } ")" )
//   value     := WORD | STRING        (typed by the field: see field_catalogue.h)
//
// Comments run from '#' to the end of the line. Errors are collected (with recovery at the
// next statement), never thrown.
#pragma once

#include "rules/ast.h"

namespace policer::rules {

ParsedFile parse_file(const SourcePtr &src, Diagnostics &diags);

// Words with a meaning of their own, which cannot name lists, macros or rules.
bool is_keyword(const std::string &word);

} // namespace policer::rules
