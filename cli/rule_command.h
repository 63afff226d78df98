// rule_command.h - `policer rule ...` and `policer fields`.
#pragma once

namespace policer::cli {

// argv[0] is "rule". Returns the process exit code.
int rule_command(int argc, const char *const *argv);
// argv[0] is "fields".
int fields_command(int argc, const char *const *argv);

} // namespace policer::cli
