// flow_store.cpp - the flows table: insert, filtered queries, streaming for replay.
#include "store/flow_store.h"

namespace policer::store {
namespace {

// The SELECT list and INSERT list of the flows table. bind_row() and read_row() follow the
// same order.
constexpr std::string_view kColumns =
    "start_ms, end_ms, uid, user_name, pid, exe, container_id, container_name, cgroup_path, "
    "l4_proto, src_ip, src_port, dst_ip, dst_port, direction, l7_proto, domain, action, rule, "
    "bytes_in, bytes_out, packets_in, packets_out, event";
constexpr int kColumnCount = 24;

// Empty text is unknown: NULL, so that "unknown" is one thing in queries.
std::optional<std::string_view> text_or_null(const std::string &s) {
    if (s.empty()) return std::nullopt;
    return std::string_view(s);
}

Status bind_row(Statement &stmt, const FlowRow &r) {
    return stmt.bind_all(
        r.start_ms, r.end_ms, r.uid, text_or_null(r.user_name), r.pid, text_or_null(r.exe),
        text_or_null(r.container_id), text_or_null(r.container_name), text_or_null(r.cgroup_path),
        text_or_null(r.l4_proto), text_or_null(r.src_ip), r.src_port, text_or_null(r.dst_ip),
        r.dst_port, text_or_null(r.direction), text_or_null(r.l7_proto), text_or_null(r.domain),
        text_or_null(r.action), text_or_null(r.rule), r.bytes_in, r.bytes_out, r.packets_in,
        r.packets_out, r.event_json);
}

// Reads the id (column 0) and kColumns (from column 1).
StoredFlow read_row(const Statement &s) {
    StoredFlow f;
    f.id = s.column_int(0);
    FlowRow &r = f.row;
    int c = 1;
    r.start_ms = s.column_optional_int(c++);
    r.end_ms = s.column_int(c++);
    r.uid = s.column_optional_int(c++);
    r.user_name = s.column_text(c++);
    r.pid = s.column_optional_int(c++);
    r.exe = s.column_text(c++);
    r.container_id = s.column_text(c++);
    r.container_name = s.column_text(c++);
    r.cgroup_path = s.column_text(c++);
    r.l4_proto = s.column_text(c++);
    r.src_ip = s.column_text(c++);
    r.src_port = s.column_int(c++);
    r.dst_ip = s.column_text(c++);
    r.dst_port = s.column_int(c++);
    r.direction = s.column_text(c++);
    r.l7_proto = s.column_text(c++);
    r.domain = s.column_text(c++);
    r.action = s.column_text(c++);
    r.rule = s.column_text(c++);
    r.bytes_in = s.column_int(c++);
    r.bytes_out = s.column_int(c++);
    r.packets_in = s.column_int(c++);
    r.packets_out = s.column_int(c++);
    r.event_json = s.column_text(c++);
    return f;
}

std::string placeholders(int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += i ? ", ?" : "?";
    return s;
}

} // namespace

const std::vector<Column> &flow_columns() {
    using T = ColumnType;
    static const std::vector<Column> columns = {
        {"id", T::Integer},        {"start_ms", T::Integer},   {"end_ms", T::Integer},
        {"uid", T::Integer},       {"user_name", T::Text},     {"pid", T::Integer},
        {"exe", T::Text},          {"container_id", T::Text},  {"container_name", T::Text},
        {"cgroup_path", T::Text},  {"l4_proto", T::Text},      {"src_ip", T::Text},
        {"src_port", T::Integer},  {"dst_ip", T::Text},        {"dst_port", T::Integer},
        {"direction", T::Text},    {"l7_proto", T::Text},      {"domain", T::Text},
        {"action", T::Text},       {"rule", T::Text},          {"bytes_in", T::Integer},
        {"bytes_out", T::Integer}, {"packets_in", T::Integer}, {"packets_out", T::Integer},
    };
    return columns;
}

Status FlowStore::insert(const FlowRow &row) {
    if (!insert_) {
        auto stmt = db_.prepare("INSERT INTO flows (" + std::string(kColumns) + ") VALUES (" +
                                placeholders(kColumnCount) + ")");
        if (!stmt) return stmt.error();
        insert_ = std::move(*stmt);
    }
    insert_.reset();
    if (auto bound = bind_row(insert_, row); !bound) return bound;
    return insert_.run();
}

Result<std::vector<StoredFlow>> FlowStore::query(const FlowQuery &query) {
    auto where = build_where(query.filters, flow_columns(), "end_ms", query.since, query.until);
    if (!where) return where.error();
    auto stmt = prepare_where(db_, "SELECT id, " + std::string(kColumns) + " FROM flows", *where,
                              "ORDER BY end_ms DESC, id DESC", query.limit);
    if (!stmt) return stmt.error();
    std::vector<StoredFlow> flows;
    Status read = stmt->each_row([&flows](Statement &s) {
        flows.push_back(read_row(s));
        return true;
    });
    if (!read) return read.error();
    return flows;
}

Status FlowStore::for_each(const FlowQuery &query,
                           const std::function<bool(const StoredFlow &)> &visit) {
    auto where = build_where(query.filters, flow_columns(), "end_ms", query.since, query.until);
    if (!where) return where.error();
    auto stmt = prepare_where(db_, "SELECT id, " + std::string(kColumns) + " FROM flows", *where,
                              "ORDER BY end_ms, id", 0);
    if (!stmt) return stmt.error();
    return stmt->each_row([&visit](Statement &s) { return visit(read_row(s)); });
}

Status FlowStore::for_each_since(int64_t since_ms,
                                 const std::function<bool(const StoredFlow &)> &visit) {
    FlowQuery all;
    all.since = since_ms;
    return for_each(all, visit);
}

Result<int64_t> FlowStore::count() {
    return db_.query_int("SELECT count(*) FROM flows");
}

} // namespace policer::store
