// main.cpp - policerd: parse options, set up logging, start the daemon, run until signalled.
#include "policer/daemon.h"
#include "policer/options.h"
#include "probes/enforce_set.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

int main(int argc, char **argv) {
    using namespace policer::daemon;

    auto cmd = parse_options(argc, argv);
    if (!cmd) {
        std::fprintf(stderr, "policerd: %s\n", cmd.error().message.c_str());
        return 2;
    }
    if (!cmd->print_and_exit.empty()) {
        std::fputs(cmd->print_and_exit.c_str(), stdout);
        return 0;
    }
    const Options &opts = cmd->options;

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
        auto daemon = Daemon::start(opts);
        if (!daemon) {
            spdlog::error("{}", daemon.error().message);
            return 1;
        }
        if (opts.events_stdout) (*daemon)->add_sink(std::make_unique<LineSink>(stdout));
        return (*daemon)->run();
    } catch (const std::exception &e) {
        spdlog::critical("unexpected error: {}", e.what());
        return 1;
    }
}
