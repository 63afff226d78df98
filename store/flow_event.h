// flow_event.h - the searchable columns of a stored flow, read from the flow-end event itself
// (docs/events.md), so that the row and the stored event can never disagree.
#pragma once

#include "common/result.h"
#include "store/alert_store.h"
#include "store/flow_store.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace policer::store {

// "2026-11-24T13:20:01.123456Z" (policer's @timestamp) to unix ms; nullopt if malformed.
std::optional<int64_t> parse_timestamp_ms(std::string_view text);

// A FlowRow for a flow-end event; `event_text` is the event serialized (the daemon already
// has it, for its outputs) and becomes event_json. Needs a valid @timestamp. The domain is
// the L7 host (HTTP Host, TLS SNI, DNS query) when known, else the remote address's name.
Result<FlowRow> flow_row_from_event(const nlohmann::json &event, std::string event_text);

// An AlertRow for an alert event (a refusal, a flow cut, a flow an `alert` rule matched);
// needs a valid @timestamp.
Result<AlertRow> alert_row_from_event(const nlohmann::json &event, std::string event_text);

} // namespace policer::store
