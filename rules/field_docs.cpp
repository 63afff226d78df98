// field_docs.cpp - see field_docs.h.
#include "rules/field_docs.h"

namespace policer::rules {

const char *operators_text(FieldType t) {
    switch (t) {
    case FieldType::String: return "==, !=, in, not in, glob, not glob";
    case FieldType::Number:
    case FieldType::Port: return "==, !=, in, not in (values and ranges a-b)";
    case FieldType::Address: return "==, !=, in, not in (addresses and CIDR prefixes)";
    case FieldType::Enum: return "==, !=, in, not in";
    case FieldType::StringSet: return "== (has), != (has not), in (has any), not in (has none)";
    }
    return "";
}

std::string tier_text(const FieldDef &f) {
    std::string t = tier_name(f.tier);
    if (f.glob_tier != f.tier) t += std::string(" (glob: ") + tier_name(f.glob_tier) + ")";
    return t;
}

std::string type_text(const FieldDef &f, const char *sep) {
    std::string type = type_name(f.type);
    for (size_t i = 0; i < f.values.size(); ++i)
        type += (i ? sep : ":") + std::string(f.values[i]);
    return type;
}

std::string fields_markdown() {
    std::string out = "| Field | Type | Enforced in | Event field | Meaning |\n"
                      "| --- | --- | --- | --- | --- |\n";
    for (const FieldDef &f : field_catalogue()) {
        std::string type = type_name(f.type);
        for (size_t i = 0; i < f.values.size(); ++i) // '|' would end the table cell
            type += (i ? ", `" : ": `") + std::string(f.values[i]) + "`";
        out += "| `" + std::string(f.name) + "` | " + type + " | " + tier_text(f) + " | `" + f.ecs +
               "` | " + f.doc + " |\n";
    }
    return out;
}

} // namespace policer::rules
