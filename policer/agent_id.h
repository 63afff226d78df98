// agent_id.h - agent.id of policerd's stream events: stable for a host, derived from its
// machine id the way systemd derives application-specific ids (sd_id128_get_machine_app_specific),
// so that it survives reinstalls and database resets and does not reveal the machine id itself.
// `systemd-id128 machine-id --app-specific=24066519f4f2fa8552b13c73f4f0b40c` prints the same id.
#pragma once

#include "common/result.h"

#include <string>

namespace policer::daemon {

// policer's application id (random, fixed forever: changing it changes every host's agent.id).
inline constexpr const char *kAgentAppId = "24066519f4f2fa8552b13c73f4f0b40c";

// The agent id for the machine id in `machine_id_path` (32 hex digits), as a UUID
// ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
Result<std::string>
agent_id_from_machine_id(const std::string &machine_id_path = "/etc/machine-id");

} // namespace policer::daemon
