// flow_store.h - ended flows: the columns people search by, and the whole flow-end event as
// JSON for replaying stored traffic against a rule set ("what would this have blocked?").
#pragma once

#include "common/result.h"
#include "store/database.h"
#include "store/schema.h" // open_store(): the Database this store works on
#include "store/filter.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace policer::store {

// One flow. Empty strings and empty optionals are stored as NULL (unknown).
struct FlowRow {
    std::optional<int64_t> start_ms; // wall clock, unix ms; unknown if the start was lost
    int64_t end_ms = 0;
    std::optional<int64_t> uid;
    std::string user_name;
    std::optional<int64_t> pid;
    std::string exe;
    std::string container_id;
    std::string container_name;
    std::string cgroup_path;
    std::string l4_proto; // "tcp", "udp"
    std::string src_ip;   // the initiator
    int64_t src_port = 0;
    std::string dst_ip; // the responder
    int64_t dst_port = 0;
    std::string direction; // "egress", "ingress"
    std::string l7_proto;
    std::string domain;
    std::string action; // the verdict
    std::string rule;
    int64_t bytes_in = 0; // received by this host
    int64_t bytes_out = 0;
    int64_t packets_in = 0;
    int64_t packets_out = 0;
    std::string event_json; // the flow-end event (ECS JSON object), as text
};

struct StoredFlow {
    int64_t id = 0; // increases with insertion
    FlowRow row;
};

struct FlowQuery {
    std::vector<Filter> filters;  // ANDed; columns from flow_columns()
    std::optional<int64_t> since; // end_ms >= since
    std::optional<int64_t> until; // end_ms < until
    size_t limit = 100;           // 0: no limit
};

// The columns filters may name: every FlowRow field but event_json, by the same name.
const std::vector<Column> &flow_columns();

class FlowStore {
public:
    explicit FlowStore(Database &db) : db_(db) {}

    // One row; inside the caller's transaction if there is one (BatchWriter's batches).
    Status insert(const FlowRow &row);

    // The newest matches first (end_ms descending).
    Result<std::vector<StoredFlow>> query(const FlowQuery &query);

    // Every flow with end_ms >= since_ms, oldest first, one row in memory at a time; stops
    // early when `visit` returns false. The rows are those of one read snapshot.
    // Every flow the query matches (its limit is ignored), oldest first, one row at a time;
    // `visit` returns false to stop.
    Status for_each(const FlowQuery &query, const std::function<bool(const StoredFlow &)> &visit);
    Status for_each_since(int64_t since_ms, const std::function<bool(const StoredFlow &)> &visit);

    Result<int64_t> count();

private:
    Database &db_;
    Statement insert_; // prepared on first use
};

} // namespace policer::store
