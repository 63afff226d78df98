// keygen_command.h - `policer keygen`: CURVE key pairs for the ZeroMQ event stream.
#pragma once

namespace policer::cli {

// argv[0] is "keygen". Returns the process exit code.
int keygen_command(int argc, const char *const *argv);

} // namespace policer::cli
