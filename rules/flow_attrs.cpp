// flow_attrs.cpp - see flow_attrs.h.
#include "rules/flow_attrs.h"

#include <charconv>
#include <stdexcept>

namespace policer::rules {
namespace {

const FieldDef &field(const char *name) {
    const FieldDef *f = find_field(name);
    if (!f) throw std::logic_error(std::string("no rule field ") + name);
    return *f;
}

// The value at a dotted path ("destination.ip"), or nullptr.
template <typename J>
const J *at(const J &doc, const std::string &dotted) {
    const J *cur = &doc;
    size_t pos = 0;
    while (pos <= dotted.size()) {
        size_t dot = dotted.find('.', pos);
        if (dot == std::string::npos) dot = dotted.size();
        std::string key = dotted.substr(pos, dot - pos);
        if (!cur->is_object()) return nullptr;
        auto it = cur->find(key);
        if (it == cur->end()) return nullptr;
        cur = &*it;
        pos = dot + 1;
    }
    return cur;
}

template <typename J>
bool to_number(const J &v, uint64_t max, uint64_t &out) {
    if (v.is_number_unsigned()) {
        out = v.template get<uint64_t>();
        return out <= max;
    }
    if (v.is_number_integer()) {
        int64_t s = v.template get<int64_t>();
        out = static_cast<uint64_t>(s);
        return s >= 0 && out <= max;
    }
    if (v.is_string()) { // ECS keeps ids as strings ("user.id": "1000")
        const std::string &s = v.template get_ref<const std::string &>();
        auto r = std::from_chars(s.data(), s.data() + s.size(), out);
        return r.ec == std::errc() && r.ptr == s.data() + s.size() && out <= max;
    }
    return false;
}

// One field's value as JSON gives it (null: unknown); a malformed value is absent.
template <typename J>
Attr attr_from(const FieldDef &f, const J &v) {
    Attr a;
    if (v.is_null()) return a;
    a.state = AttrState::Known;
    switch (f.type) {
    case FieldType::String:
    case FieldType::Enum:
        if (v.is_string())
            a.str = v.template get<std::string>();
        else if (v.is_number())
            a.str = v.dump();
        else
            a.state = AttrState::Absent;
        break;
    case FieldType::Number:
        if (!to_number(v, 4294967295ull, a.num)) a.state = AttrState::Absent;
        break;
    case FieldType::Port:
        if (!to_number(v, 65535, a.num)) a.state = AttrState::Absent;
        break;
    case FieldType::Address: {
        auto ip = v.is_string() ? parse_address(v.template get<std::string>()) : std::nullopt;
        if (!ip) {
            a.state = AttrState::Absent;
            break;
        }
        a.family = ip->family;
        a.addr = ip->addr;
        break;
    }
    case FieldType::StringSet:
        if (v.is_array()) {
            for (const auto &x : v)
                if (x.is_string()) a.set.push_back(x.template get<std::string>());
        } else if (v.is_string()) {
            a.set.push_back(v.template get<std::string>());
        } else {
            a.state = AttrState::Absent;
        }
        break;
    }
    return a;
}

// policerd's documents keep their key order (ordered_json); tools parse plain json.
template <typename J>
FlowAttrs from_ecs(const J &doc, bool l7_pending) {
    FlowAttrs fa;
    for (const FieldDef &f : field_catalogue()) {
        const J *v = at(doc, f.ecs);
        if (!v || v->is_null()) {
            fa[f].state = l7_pending && f.tier == Tier::L7 ? AttrState::Unknown : AttrState::Absent;
            continue;
        }
        fa[f] = attr_from(f, *v);
    }
    return fa;
}

} // namespace

void FlowAttrs::set_string(const char *name, std::string v) {
    Attr &a = (*this)[field(name)];
    a.state = AttrState::Known;
    a.str = std::move(v);
}

void FlowAttrs::set_number(const char *name, uint64_t v) {
    Attr &a = (*this)[field(name)];
    a.state = AttrState::Known;
    a.num = v;
}

void FlowAttrs::set_address(const char *name, const std::string &text) {
    Attr &a = (*this)[field(name)];
    auto ip = parse_address(text);
    if (!ip) {
        a.state = AttrState::Absent;
        return;
    }
    a.state = AttrState::Known;
    a.family = ip->family;
    a.addr = ip->addr;
}

void FlowAttrs::set_absent(const char *name) {
    (*this)[field(name)].state = AttrState::Absent;
}

FlowAttrs attrs_from_ecs(const nlohmann::json &doc, bool l7_pending) {
    return from_ecs(doc, l7_pending);
}

FlowAttrs attrs_from_ecs(const nlohmann::ordered_json &doc, bool l7_pending) {
    return from_ecs(doc, l7_pending);
}

Attr attr_from_json(const FieldDef &f, const nlohmann::json &v) {
    return attr_from(f, v);
}

} // namespace policer::rules
