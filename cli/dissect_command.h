// dissect_command.h - `policer dissect`.
#pragma once

namespace policer::cli {

// argv[0] is "dissect". Returns the process exit code.
int dissect_command(int argc, const char *const *argv);

} // namespace policer::cli
