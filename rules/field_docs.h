// field_docs.h - the field catalogue as people read it: `policer fields` (text, JSON,
// Markdown) and the table in docs/rules.md, which a test keeps equal to fields_markdown().
#pragma once

#include "rules/field_catalogue.h"

#include <string>

namespace policer::rules {

// "==, !=, in, not in, glob, not glob" and so on, by type.
const char *operators_text(FieldType t);
// "kernel", or "kernel (glob: user space)" when a pattern moves the field to a later tier.
std::string tier_text(const FieldDef &f);
// "enum: egress|ingress" (separator between an enum's words given).
std::string type_text(const FieldDef &f, const char *sep = "|");
// The Markdown table of every field.
std::string fields_markdown();

} // namespace policer::rules
