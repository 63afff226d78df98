// filter.h - user-given conditions on stored rows ("dst_port >= 443", "exe glob /usr/*") turned
// into SQL safely: a column name is looked up in the table's fixed list and the SQL gets the
// list's spelling, never the user's; every value is a bound parameter.
#pragma once

#include "common/result.h"
#include "store/database.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace policer::store {

enum class FilterOp { Eq, Ne, Lt, Gt, Le, Ge, Glob };

struct Filter {
    std::string column;
    FilterOp op = FilterOp::Eq;
    std::string value;
};

// "==", "!=", "<", ">", "<=", ">=", "glob".
std::string_view op_text(FilterOp op);
Result<FilterOp> parse_op(std::string_view text);
// "column OP value", spaces around OP optional for the symbolic ones: "dst_port>=443",
// "exe glob /usr/bin/*", "user_name == root".
Result<Filter> parse_filter(std::string_view text);

enum class ColumnType { Integer, Text };

struct Column {
    std::string_view name; // also the SQL identifier
    ColumnType type;
};

using BindValue = std::variant<int64_t, std::string>;

// " WHERE ..." (empty when there is no condition) with '?' placeholders, and the values to
// bind to them in order.
struct WhereClause {
    std::string sql;
    std::vector<BindValue> values;
};

// ANDs `filters`, each checked against `columns`, and `time_column` in [since, until) when
// given. A value compared with an integer column must be an integer; glob needs a text
// column. A NULL (unknown) column matches no condition.
Result<WhereClause> build_where(const std::vector<Filter> &filters,
                                const std::vector<Column> &columns, std::string_view time_column,
                                std::optional<int64_t> since, std::optional<int64_t> until);

// Binds where.values to parameters 1..N of `stmt`.
Status bind_where(Statement &stmt, const WhereClause &where);

// `select` (columns and FROM), the WHERE clause, `order` (ORDER BY ...) and LIMIT `limit` (0: no
// limit), prepared and bound: the query of every store's search.
Result<Statement> prepare_where(Database &db, std::string_view select, const WhereClause &where,
                                std::string_view order, size_t limit);

} // namespace policer::store
