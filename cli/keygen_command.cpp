// keygen_command.cpp - `policer keygen [--dir DIR] [--force] NAME`: writes a CURVE key pair as
// czmq certificates, NAME.cert (public, 0644) and NAME.cert_secret (0600), for policerd's
// --zmq-curve-secret and --zmq-curve-clients and for czmq subscribers (rsyslog's imczmq).
#include "cli/keygen_command.h"

#include "policer/curve_cert.h"

#include <cxxopts.hpp>

#include <cstdio>
#include <iostream>
#include <string>

namespace policer::cli {
namespace {

constexpr const char *kHelp = R"(
Writes a new CURVE key pair, in czmq's certificate format (zcert), as two files:
  DIR/NAME.cert          the public certificate (mode 0644): give it to the other side
  DIR/NAME.cert_secret   the secret certificate (mode 0600): keep it where it is
Existing files are never overwritten, unless --force; the files are created anew (never
through a symbolic link).

The server's pair: policerd --zmq-curve-secret DIR/NAME.cert_secret; subscribers connect with
its public key. Each subscriber's pair: its NAME.cert goes into policerd's
--zmq-curve-clients directory; the subscriber uses its NAME.cert_secret (czmq's zcert_load of
NAME.cert reads NAME.cert_secret too).

Exit status: 0 written, 1 the files could not be written, 2 usage.

Examples:
  policer keygen --dir /etc/policer/curve server
  policer keygen --dir /etc/policer/curve rsyslog
  install -m 0644 /etc/policer/curve/rsyslog.cert /etc/policer/curve/clients/
)";

} // namespace

int keygen_command(int argc, const char *const *argv) {
    cxxopts::Options spec("policer keygen", "Write a CURVE key pair for the event stream");
    spec.custom_help("[--dir DIR] [--force] NAME");
    spec.positional_help("");
    // clang-format off
    spec.add_options()
        ("dir", "Directory to write the certificates to", cxxopts::value<std::string>()->default_value("."), "DIR")
        ("force", "Replace existing certificates of that name")
        ("name", "", cxxopts::value<std::vector<std::string>>())
        ("h,help", "Print this help");
    // clang-format on
    spec.parse_positional({"name"});
    cxxopts::ParseResult r;
    try {
        r = spec.parse(argc, argv);
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer keygen: %s (see --help)\n", e.what());
        return 2;
    }
    if (r.count("help")) {
        std::cout << spec.help() << kHelp;
        return 0;
    }
    if (!r.count("name") || r["name"].as<std::vector<std::string>>().size() != 1) {
        std::fprintf(stderr, "policer keygen: give one NAME (see --help)\n");
        return 2;
    }
    const std::string name = r["name"].as<std::vector<std::string>>().front();
    const std::string dir = r["dir"].as<std::string>();
    auto keys = curve::generate_keys();
    if (!keys) {
        std::fprintf(stderr, "policer keygen: %s\n", keys.error().message.c_str());
        return 1;
    }
    if (auto st = curve::write_cert_pair(dir, name, *keys, r.count("force") > 0); !st) {
        std::fprintf(stderr, "policer keygen: %s\n", st.error().message.c_str());
        return 1;
    }
    std::printf("%s/%s.cert\n%s/%s.cert_secret\npublic key %s\n", dir.c_str(), name.c_str(),
                dir.c_str(), name.c_str(), keys->public_z85.c_str());
    return 0;
}

} // namespace policer::cli
