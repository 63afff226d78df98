// alert_store.cpp - the alerts table.
#include "store/alert_store.h"

namespace policer::store {

const std::vector<Column> &alert_columns() {
    using T = ColumnType;
    static const std::vector<Column> columns = {
        {"id", T::Integer},   {"time_ms", T::Integer},  {"rule", T::Text},
        {"action", T::Text},  {"severity", T::Integer}, {"outcome", T::Text},
        {"summary", T::Text},
    };
    return columns;
}

Status AlertStore::insert(const AlertRow &row) {
    if (!insert_) {
        auto stmt = db_.prepare("INSERT INTO alerts (time_ms, rule, action, severity, outcome, "
                                "summary, event) VALUES (?, ?, ?, ?, ?, ?, ?)");
        if (!stmt) return stmt.error();
        insert_ = std::move(*stmt);
    }
    insert_.reset();
    std::optional<std::string_view> outcome;
    if (!row.outcome.empty()) outcome = row.outcome;
    if (auto bound = insert_.bind_all(row.time_ms, row.rule, row.action, row.severity, outcome,
                                      row.summary, row.event_json);
        !bound)
        return bound;
    return insert_.run();
}

Result<std::vector<StoredAlert>> AlertStore::query(const AlertQuery &query) {
    std::vector<Filter> filters = query.filters;
    if (query.rule) filters.push_back(Filter{"rule", FilterOp::Eq, *query.rule});
    auto where = build_where(filters, alert_columns(), "time_ms", query.since, query.until);
    if (!where) return where.error();
    auto stmt = prepare_where(
        db_, "SELECT id, time_ms, rule, action, severity, outcome, summary, event FROM alerts",
        *where, "ORDER BY time_ms DESC, id DESC", query.limit);
    if (!stmt) return stmt.error();
    std::vector<StoredAlert> alerts;
    Status read = stmt->each_row([&alerts](Statement &s) {
        StoredAlert a;
        a.id = s.column_int(0);
        a.row.time_ms = s.column_int(1);
        a.row.rule = s.column_text(2);
        a.row.action = s.column_text(3);
        a.row.severity = s.column_optional_int(4);
        a.row.outcome = s.column_text(5);
        a.row.summary = s.column_text(6);
        a.row.event_json = s.column_text(7);
        alerts.push_back(std::move(a));
        return true;
    });
    if (!read) return read.error();
    return alerts;
}

Result<int64_t> AlertStore::count() {
    return db_.query_int("SELECT count(*) FROM alerts");
}

} // namespace policer::store
