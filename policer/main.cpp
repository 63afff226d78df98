// main.cpp - policerd: parse options, set up logging, start the daemon, run until signalled.
#include "policer/agent_id.h"
#include "policer/curve_cert.h"
#include "policer/daemon.h"
#include "policer/options.h"
#include "policer/rule_manager.h"
#include "policer/sd_notify.h"
#include "store/policy_store.h"
#include "store/schema.h"
#include "probes/enforce_set.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <csignal>

#include <cstdio>
#include <exception>
#include <string_view>

namespace {

// --check-config: the options and config file are parsed already; the rule files are loaded
// and checked as policerd loads them at start (with the store's managed rules, when the store
// exists and is readable), and nothing touches the kernel.
int check_config(const policer::daemon::Command &cmd) {
    using namespace policer;
    const daemon::Options &opts = cmd.options;
    std::vector<store::PolicyEntry> managed;
    struct stat st {};
    if (!opts.db_path.empty() && ::stat(opts.db_path.c_str(), &st) == 0) {
        store::OpenOptions ro;
        ro.read_only = true;
        auto db = store::open_store(opts.db_path, ro);
        auto current = db ? store::PolicyStore(*db).current() : Result<store::Policy>(db.error());
        if (current)
            managed = std::move(current->entries);
        else
            std::fprintf(stderr, "policerd: note: managed rules not checked: %s\n",
                         current.error().message.c_str());
    }
    // The event stream needs the host's agent id (from /etc/machine-id).
    if (!opts.zmq.endpoints.empty())
        if (auto id = daemon::agent_id_from_machine_id(); !id) {
            std::fprintf(stderr, "policerd: zmq-endpoint: %s\n", id.error().message.c_str());
            return 1;
        }
    // The event stream's CURVE files, checked as policerd reads them at start: it would refuse
    // to start (fail closed) on any of these.
    if (!opts.zmq.curve_secret.empty()) {
        if (auto keys = curve::read_cert_file(opts.zmq.curve_secret, true); !keys) {
            std::fprintf(stderr, "policerd: zmq-curve-secret: %s\n", keys.error().message.c_str());
            return 1;
        }
        auto clients = curve::read_client_dir(opts.zmq.curve_clients);
        if (!clients) {
            std::fprintf(stderr, "policerd: zmq-curve-clients: %s\n",
                         clients.error().message.c_str());
            return 1;
        }
    }
    size_t rules = 0;
    if (!opts.rules.empty() || !managed.empty()) {
        daemon::RulePlan plan = daemon::RuleManager(opts.rules).compile(managed);
        for (const auto &d : plan.diagnostics)
            std::fputs(d.c_str(), stderr);
        if (!plan.ok) {
            std::fprintf(stderr, "policerd: the rules have errors; policerd would not start\n");
            return 1;
        }
        rules = plan.compiled->set().rules.size();
    }
    std::printf("OK: %s%s; %zu rule(s) from %zu rule path(s) and %zu managed item(s)\n",
                cmd.config_file.empty() ? "command line" : "config ", cmd.config_file.c_str(),
                rules, opts.rules.size(), managed.size());
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    using namespace policer::daemon;

    auto cmd = parse_options(argc, argv);
    if (!cmd) {
        std::fprintf(stderr, "policerd: %s\n", cmd.error().message.c_str());
        // --check-config answers 0 or 1 (a bad config file is its "no"); else 2, a usage error.
        for (int i = 1; i < argc; ++i)
            if (std::string_view(argv[i]) == "--check-config") return 1;
        return 2;
    }
    if (!cmd->print_and_exit.empty()) {
        std::fputs(cmd->print_and_exit.c_str(), stdout);
        return 0;
    }
    const Options &opts = cmd->options;
    if (cmd->check_config) return check_config(*cmd);

    // Logs go to stderr; stdout is reserved for events.
    auto logger = spdlog::stderr_color_mt("policerd");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(opts.log_level));

    if (opts.remove_enforcement) {
        if (auto st = policer::probes::EnforceSet::remove(opts.pin_dir); !st) {
            spdlog::error("{}", st.error().message);
            return 1;
        }
        spdlog::info("enforcement removed from {}", opts.pin_dir);
        return 0;
    }

    try {
        // The event stream first: a CURVE set-up that cannot fail closed stops policerd before
        // anything is loaded into the kernel.
        // Stop and reload signals are taken by the daemon's signalfd: blocked before any thread
        // starts (the stream's ZAP handler, libzmq's), so none of them inherits them unblocked
        // and dies of one. A signal that comes while the probes load waits for the event loop.
        sigset_t stop_signals;
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGINT);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

        std::unique_ptr<ZmqSink> stream;
        if (!opts.zmq.endpoints.empty()) {
            auto id = agent_id_from_machine_id();
            if (!id) {
                spdlog::error("event stream: {}", id.error().message);
                return 1;
            }
            auto s = ZmqSink::open(opts.zmq, *id);
            if (!s) {
                spdlog::error("event stream: {}", s.error().message);
                return 1;
            }
            stream = std::move(*s);
        }
        auto daemon = Daemon::start(opts);
        if (!daemon) {
            spdlog::error("{}", daemon.error().message);
            return 1;
        }
        if (opts.events_stdout) (*daemon)->add_sink(std::make_unique<LineSink>(stdout));
        if (stream) (*daemon)->add_stream(std::move(stream));
        int rc = (*daemon)->run();
        // The probes are detached as the daemon is destroyed, after this.
        if (auto st = sd_notify("STOPPING=1"); !st) spdlog::warn("{}", st.error().message);
        return rc;
    } catch (const std::exception &e) {
        spdlog::critical("unexpected error: {}", e.what());
        return 1;
    }
}
