// store_commands.h - the CLI's read-only views of what policerd recorded and sees:
// `policer flows` (search stored flow records), `policer rule test` (replay stored flows
// through a candidate rule set: what would change) and `policer top` (live flows and bytes by
// process and container). The store is opened read-only: nothing is migrated or written.
#pragma once

namespace policer::cli {

// The database policerd writes unless told otherwise (policerd --db).
inline constexpr const char *kDefaultDb = "/var/lib/policer/policer.db";

// argv[0] is "flows". Returns the process exit code.
int flows_command(int argc, const char *const *argv);
// argv[0] is "test" (from `policer rule test`).
int rule_test_command(int argc, const char *const *argv);
// argv[0] is "top".
int top_command(int argc, const char *const *argv);

} // namespace policer::cli
