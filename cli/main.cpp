// main.cpp - `policer`, the command line of policer: one binary, one subcommand per task.
#include "cli/dissect_command.h"
#include "cli/rule_command.h"
#include "policer/l7/dpi_engine.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr const char *kUsage = R"(usage: policer <command> [options]

Commands:
  rule check PATH...            check rule files; show how each rule is enforced, and why
  rule explain PATH... --flow   which rule decides a flow, predicate by predicate
  fields                        the fields rules can test (name, type, where enforced)
  dissect FILE                  classify the flows of a capture file with nDPI (offline)

Run `policer <command> --help` for a command's options and examples.
Options: --help, --version
)";

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    const std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (cmd == "--version") {
        std::printf("policer %s (nDPI %s)\n", POLICER_VERSION,
                    policer::l7::DpiEngine::version().c_str());
        return 0;
    }
    if (cmd == "dissect") return policer::cli::dissect_command(argc - 1, argv + 1);
    if (cmd == "rule") return policer::cli::rule_command(argc - 1, argv + 1);
    if (cmd == "fields") return policer::cli::fields_command(argc - 1, argv + 1);
    std::fprintf(stderr, "policer: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
}
