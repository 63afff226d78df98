// l7_ecs.h - L7 results as Elastic Common Schema fields, added to a flow document. Shared by
// policerd's events and `policer dissect --json`.
#pragma once

#include "policer/l7/l7_info.h"

#include <nlohmann/json.hpp>

namespace policer::l7 {

// Adds network.protocol, url.*, http.*, user_agent.*, tls.*, dns.* and policer.l7.* to `doc`.
void add_l7_fields(nlohmann::ordered_json &doc, const L7Info &info);

} // namespace policer::l7
