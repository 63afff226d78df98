// alert_store.h - alerts raised by rules (action alert, or any verdict a rule asks to report),
// with the event that raised them.
#pragma once

#include "common/result.h"
#include "store/database.h"
#include "store/schema.h" // open_store(): the Database this store works on
#include "store/filter.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace policer::store {

struct AlertRow {
    int64_t time_ms = 0; // wall clock, unix ms
    std::string rule;
    std::string action;
    std::optional<int64_t> severity; // ECS event.severity, when the rule gives one
    std::string outcome;             // ECS event.outcome: "success" (let through), "failure"
    std::string summary;             // one line for people
    std::string event_json;          // the event (ECS JSON object), as text
};

struct StoredAlert {
    int64_t id = 0;
    AlertRow row;
};

struct AlertQuery {
    std::optional<std::string> rule; // exact rule name
    std::vector<Filter> filters;     // ANDed; columns from alert_columns()
    std::optional<int64_t> since;    // time_ms >= since
    std::optional<int64_t> until;    // time_ms < until
    size_t limit = 100;              // 0: no limit
};

// id, time_ms, rule, action, severity, outcome, summary.
const std::vector<Column> &alert_columns();

class AlertStore {
public:
    explicit AlertStore(Database &db) : db_(db) {}

    Status insert(const AlertRow &row);
    // The newest first.
    Result<std::vector<StoredAlert>> query(const AlertQuery &query);
    Result<int64_t> count();

private:
    Database &db_;
    Statement insert_;
};

} // namespace policer::store
