// control_commands.h - the `policer` commands that talk to a running policerd over its control
// socket (docs/control.md): managing the rule set (`policer rule add|rm|enable|disable|list|
// show|import|export|history|rollback`), `policer status` and `policer events --follow`.
#pragma once

#include <string>

namespace policer::cli {

// Exit codes of every control command (the --help texts say the same).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;    // policerd refused or failed the request
inline constexpr int kExitUsage = 2;      // bad arguments, unreadable input file
inline constexpr int kExitConnection = 3; // policerd not reachable, or the connection broke

// Whether `sub` (the word after `policer rule`) is one of the commands handled here.
bool is_control_rule_command(const std::string &sub);

// argv[0] is the subcommand ("add", "list", ...). Returns the process exit code.
int control_rule_command(int argc, const char *const *argv);
// argv[0] is "status".
int status_command(int argc, const char *const *argv);
// argv[0] is "events".
int events_command(int argc, const char *const *argv);

} // namespace policer::cli
