// flow_attrs.h - what a decision is made about: one value per catalogue field, each known,
// known to be absent, or not known yet. "Not known yet" is what tiers are about: at connect
// time a flow's L7 fields are unknown, and a rule that depends on them cannot be decided.
#pragma once

#include "rules/field_catalogue.h"
#include "rules/value.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace policer::rules {

enum class AttrState : uint8_t {
    Unknown, // not determined yet (e.g. l7.* before dissection)
    Absent,  // determined, and there is none (e.g. container.id of a host process)
    Known,
};

struct Attr {
    AttrState state = AttrState::Unknown;
    std::string str;                // String, Enum
    uint64_t num = 0;               // Number, Port
    uint8_t family = 0;             // Address: 2 or 10
    std::array<uint8_t, 16> addr{}; // Address
    std::vector<std::string> set;   // StringSet
};

// A flow's attributes, indexed like field_catalogue().
struct FlowAttrs {
    std::vector<Attr> attrs = std::vector<Attr>(field_catalogue().size());

    Attr &operator[](const FieldDef &f) { return attrs[index_of(f)]; }
    const Attr &operator[](const FieldDef &f) const { return attrs[index_of(f)]; }
    static size_t index_of(const FieldDef &f) {
        return static_cast<size_t>(&f - field_catalogue().data());
    }

    // Setters by field name (the name must be in the catalogue).
    void set_string(const char *field, std::string v);
    void set_number(const char *field, uint64_t v);
    void set_address(const char *field, const std::string &text);
    void set_absent(const char *field);
};

// A flow as policer's events describe it (ECS JSON: flow-start, flow-classified, flow-end),
// read through each field's ECS path. A field missing from the document is Absent; with
// `l7_pending` (a flow-start, before dissection), missing L7 fields are Unknown instead.
// Malformed values (a port that is not a number) make that field Absent.
FlowAttrs attrs_from_ecs(const nlohmann::json &doc, bool l7_pending = false);
FlowAttrs attrs_from_ecs(const nlohmann::ordered_json &doc, bool l7_pending = false);

// One field's value given as JSON, read as attrs_from_ecs() reads it: null is unknown, a
// malformed value absent.
Attr attr_from_json(const FieldDef &f, const nlohmann::json &v);

} // namespace policer::rules
