// store_args.h - the arguments the store commands (`policer flows`, `policer rule test`,
// `policer top`) share: points in time (--since 24h, --until 2026-11-24T10:00) and conditions
// on stored flows (--where dst_port == 22). Kept apart from the commands so they can be tested.
#pragma once

#include "common/result.h"
#include "store/filter.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace policer::cli {

// A point in time as unix milliseconds:
//   a duration before `now_ms`: "90s", "15m", "1h", "24h", "7d", "2w", "1h30m"; "now"
//   an ISO 8601 date or time: "2026-11-24" (midnight), "2026-11-24T13:20", "2026-11-24 13:20:01",
//   "2026-11-24T13:20:01.250Z", "2026-11-24T13:20:01+02:00". Without "Z" or an offset it is
//   local time, as `date` shows it.
Result<int64_t> parse_time(std::string_view text, int64_t now_ms);

// A duration as in parse_time ("2s", "1h30m") in milliseconds.
Result<int64_t> parse_duration_ms(std::string_view text);

// Takes every --where condition out of `args` (the arguments after the command's name), in
// order. A condition is three arguments, "--where FIELD OP VALUE" (`--where dst_port == 22`),
// or one, "--where 'FIELD OP VALUE'" or "--where=FIELD OP VALUE" (`--where 'exe glob *ssh*'`).
// OP is one of ==, !=, <, >, <=, >=, glob. Each condition is checked against the flow columns
// (store::flow_columns()): a misspelt column gets a suggestion, a number column needs an integer.
Result<std::vector<store::Filter>> take_where_args(std::vector<std::string> &args);

// The checks take_where_args() makes, for filters built otherwise.
Status check_flow_filters(const std::vector<store::Filter> &filters);

// Unix milliseconds as local time, "2026-11-24 13:20:01".
std::string local_time_text(int64_t unix_ms);

} // namespace policer::cli
