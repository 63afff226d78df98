// filter.cpp - filters to WHERE clauses (see filter.h).
#include "store/filter.h"

#include "common/text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace policer::store {
namespace {

struct OpSpelling {
    FilterOp op;
    std::string_view text;
    std::string_view sql;
};

// Two-character operators before their one-character prefixes, for parse_filter.
constexpr std::array<OpSpelling, 7> kOps{{
    {FilterOp::Eq, "==", " = "},
    {FilterOp::Ne, "!=", " != "},
    {FilterOp::Le, "<=", " <= "},
    {FilterOp::Ge, ">=", " >= "},
    {FilterOp::Lt, "<", " < "},
    {FilterOp::Gt, ">", " > "},
    {FilterOp::Glob, "glob", " GLOB "},
}};

const OpSpelling &spelling(FilterOp op) {
    return *std::find_if(kOps.begin(), kOps.end(), [op](const auto &s) { return s.op == op; });
}

std::optional<int64_t> parse_int(std::string_view s) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

std::string known_columns(const std::vector<Column> &columns) {
    std::string names;
    for (const Column &c : columns) {
        if (!names.empty()) names += ", ";
        names += c.name;
    }
    return names;
}

} // namespace

std::string_view op_text(FilterOp op) {
    return spelling(op).text;
}

Result<FilterOp> parse_op(std::string_view text) {
    for (const auto &s : kOps)
        if (s.text == text) return s.op;
    return Error{"unknown operator \"" + std::string(text) +
                 "\" (expected ==, !=, <, >, <=, >= or glob)"};
}

Result<Filter> parse_filter(std::string_view text) {
    // The first operator found, scanning left to right; column names contain none of them.
    for (size_t i = 0; i < text.size(); ++i) {
        for (const auto &s : kOps) {
            if (text.substr(i, s.text.size()) != s.text) continue;
            if (s.op == FilterOp::Glob) {
                // A word: surrounded by spaces.
                bool before = i > 0 && std::isspace(static_cast<unsigned char>(text[i - 1]));
                bool after =
                    i + 4 < text.size() && std::isspace(static_cast<unsigned char>(text[i + 4]));
                if (!before || !after) continue;
            }
            std::string_view column = trim(text.substr(0, i));
            std::string_view value = trim(text.substr(i + s.text.size()));
            if (column.empty()) return Error{"filter \"" + std::string(text) + "\": no column"};
            return Filter{std::string(column), s.op, std::string(value)};
        }
    }
    return Error{"filter \"" + std::string(text) +
                 "\": expected COLUMN OP VALUE with OP one of ==, !=, <, >, <=, >=, glob"};
}

Result<WhereClause> build_where(const std::vector<Filter> &filters,
                                const std::vector<Column> &columns, std::string_view time_column,
                                std::optional<int64_t> since, std::optional<int64_t> until) {
    WhereClause where;
    auto add = [&where](std::string_view column, std::string_view sql_op, BindValue value) {
        where.sql += where.sql.empty() ? " WHERE " : " AND ";
        where.sql += column;
        where.sql += sql_op;
        where.sql += '?';
        where.values.push_back(std::move(value));
    };

    for (const Filter &f : filters) {
        auto column = std::find_if(columns.begin(), columns.end(),
                                   [&f](const Column &c) { return c.name == f.column; });
        if (column == columns.end())
            return Error{"unknown column \"" + f.column + "\" (known: " + known_columns(columns) +
                         ")"};
        std::string_view sql_op = spelling(f.op).sql;
        if (column->type == ColumnType::Text) {
            add(column->name, sql_op, f.value);
            continue;
        }
        if (f.op == FilterOp::Glob)
            return Error{"column \"" + f.column + "\" is a number: glob needs a text column"};
        auto number = parse_int(f.value);
        if (!number)
            return Error{"column \"" + f.column + "\" is a number; \"" + f.value +
                         "\" is not an integer"};
        add(column->name, sql_op, *number);
    }
    if (since) add(time_column, " >= ", *since);
    if (until) add(time_column, " < ", *until);
    return where;
}

Result<Statement> prepare_where(Database &db, std::string_view select, const WhereClause &where,
                                std::string_view order, size_t limit) {
    auto stmt = db.prepare(std::string(select) + where.sql + " " + std::string(order) + " LIMIT ?");
    if (!stmt) return stmt.error();
    if (auto bound = bind_where(*stmt, where); !bound) return bound.error();
    // LIMIT -1: no limit.
    const int64_t n = limit == 0 ? -1 : static_cast<int64_t>(limit);
    if (auto bound = stmt->bind(static_cast<int>(where.values.size()) + 1, n); !bound)
        return bound.error();
    return stmt;
}

Status bind_where(Statement &stmt, const WhereClause &where) {
    int index = 1;
    for (const BindValue &value : where.values) {
        Status bound = std::visit([&](const auto &v) { return stmt.bind(index, v); }, value);
        if (!bound) return bound;
        ++index;
    }
    return Ok{};
}

} // namespace policer::store
