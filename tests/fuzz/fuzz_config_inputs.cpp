// fuzz_config_inputs.cpp - the files an administrator (or a subscriber's administrator) hands
// policerd: CURVE certificates (a subscriber's public certificate is copied in from another
// host) and policer.conf. Any bytes must give a result or an error with a line, never a crash,
// and a certificate that parses must hold well-formed keys.
#include "policer/config_file.h"
#include "policer/curve_cert.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the parser, so one corpus reaches all three.
    const uint8_t which = data[0] % 3;
    const std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
    if (which < 2) {
        auto keys = policer::curve::parse_cert(text, /*need_secret=*/which == 1);
        if (keys) {
            if (!policer::curve::is_z85_key(keys->public_z85)) std::abort();
            if (which == 1 && !policer::curve::is_z85_key(keys->secret_z85)) std::abort();
        }
        return 0;
    }
    static const std::vector<policer::daemon::ConfigKey> kKeys = {
        {"rules", false, true},       {"db", false, false},          {"report-only", true, false},
        {"tc-iface", false, true},    {"max-flows", false, false},   {"zmq-endpoint", false, true},
        {"zmq-rate", false, true},    {"events-stdout", true, false}, {"log-level", false, false},
    };
    auto settings = policer::daemon::parse_config(text, "fuzz.conf", kKeys);
    if (settings)
        for (const auto &s : *settings)
            if (s.line == 0) std::abort(); // every setting says where it came from
    return 0;
}
