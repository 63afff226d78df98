// agent_id.cpp - see agent_id.h. HMAC-SHA256 keyed with the 16-byte machine id over the
// 16-byte application id, first 16 bytes, marked as a version 4 UUID (as systemd does).
#include "policer/agent_id.h"

#include <sodium.h>

#include <cctype>
#include <cstdio>
#include <fstream>

namespace policer::daemon {
namespace {

bool hex_to_bytes(const std::string &hex, unsigned char *out, size_t n) {
    if (hex.size() != 2 * n) return false;
    for (size_t i = 0; i < n; ++i) {
        unsigned v = 0;
        for (size_t j = 0; j < 2; ++j) {
            const char c =
                static_cast<char>(std::tolower(static_cast<unsigned char>(hex[2 * i + j])));
            if (c >= '0' && c <= '9')
                v = v * 16 + static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v = v * 16 + static_cast<unsigned>(c - 'a' + 10);
            else
                return false;
        }
        out[i] = static_cast<unsigned char>(v);
    }
    return true;
}

} // namespace

Result<std::string> agent_id_from_machine_id(const std::string &machine_id_path) {
    std::ifstream in(machine_id_path);
    std::string line;
    if (!in || !std::getline(in, line))
        return Error{"cannot read " + machine_id_path + " (agent.id is derived from it)"};
    unsigned char machine[16], app[16];
    if (!hex_to_bytes(line, machine, sizeof(machine)) || !hex_to_bytes(kAgentAppId, app, 16))
        return Error{machine_id_path + " does not hold a machine id (32 hex digits)"};
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, machine, sizeof(machine));
    crypto_auth_hmacsha256_update(&st, app, sizeof(app));
    crypto_auth_hmacsha256_final(&st, mac);
    mac[6] = static_cast<unsigned char>((mac[6] & 0x0f) | 0x40); // version 4
    mac[8] = static_cast<unsigned char>((mac[8] & 0x3f) | 0x80); // RFC 4122 variant
    char out[37];
    std::snprintf(out, sizeof(out),
                  "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", mac[0],
                  mac[1], mac[2], mac[3], mac[4], mac[5], mac[6], mac[7], mac[8], mac[9], mac[10],
                  mac[11], mac[12], mac[13], mac[14], mac[15]);
    return std::string(out);
}

} // namespace policer::daemon
