// main.cpp - `policer`, the command line of policer: one binary, one subcommand per task.
#include "cli/control_commands.h"
#include "cli/dissect_command.h"
#include "cli/keygen_command.h"
#include "cli/rule_command.h"
#include "cli/store_commands.h"
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
  keygen [--dir DIR] NAME       write a CURVE key pair for the ZeroMQ event stream

Commands that read policerd's store (--db PATH, else /var/lib/policer/policer.db; read-only):
  flows [--since 1h] [--where FIELD OP VALUE]...   search the stored flow records
  rule test PATH... [--since 24h]                  replay stored flows through candidate
                                                   rules: which verdicts would change

Commands that ask a running policerd (its control socket: --socket PATH, or $POLICER_SOCKET,
else /run/policer/policer.sock; root and the 'policer' group may use it):
  rule add|rm|enable|disable    change the rule set policerd manages (checked, enforced, recorded)
  rule list|show|export         what it manages
  rule import|history|rollback  replace the set; who changed what, when; go back to a revision
  status                        mode, rules revision, hooks, interfaces, drops and counters
  events --follow               its events as they happen, one JSON object per line
  top [--once]                  live flows and bytes by process and container (also the store)

Run `policer <command> --help` for a command's options and examples.
Options: --help, --version
Exit status of the policerd commands: 0 done, 1 policerd refused (why on stderr), 2 usage,
3 policerd not reachable.
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
    if (cmd == "keygen") return policer::cli::keygen_command(argc - 1, argv + 1);
    if (cmd == "rule") return policer::cli::rule_command(argc - 1, argv + 1);
    if (cmd == "fields") return policer::cli::fields_command(argc - 1, argv + 1);
    if (cmd == "flows") return policer::cli::flows_command(argc - 1, argv + 1);
    if (cmd == "top") return policer::cli::top_command(argc - 1, argv + 1);
    if (cmd == "status") return policer::cli::status_command(argc - 1, argv + 1);
    if (cmd == "events") return policer::cli::events_command(argc - 1, argv + 1);
    std::fprintf(stderr, "policer: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
}
