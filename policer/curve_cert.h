// curve_cert.h - CURVE key pairs in czmq's certificate files (zcert, ZPL text), so that what
// `policer keygen` writes is what czmq programs (rsyslog's imczmq) load, and what policerd reads
// for its event stream (docs/events.md, "ZeroMQ"). Shared by policerd and the policer CLI.
//
// A public certificate NAME.cert holds `curve/public-key`; the secret one NAME.cert_secret holds
// `curve/public-key` and `curve/secret-key`, keys as 40-character Z85 text.
#pragma once

#include "common/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace policer::curve {

// A certificate's keys as Z85 text (40 characters each); secret_z85 is empty for a public one.
struct CurveKeys {
    std::string public_z85;
    std::string secret_z85;
};

// Certificates larger than this are refused unread (they hold two keys and a few comments).
inline constexpr size_t kMaxCertBytes = 64 * 1024;
// A clients directory with more certificates than this is refused.
inline constexpr size_t kMaxClientCerts = 4096;

// A new key pair from libzmq (zmq_curve_keypair).
Result<CurveKeys> generate_keys();

// Whether `text` is a 40-character Z85 key (decodes to 32 bytes).
bool is_z85_key(std::string_view text);

// The files' text, in czmq's layout: comment header, `metadata` section (`name`), `curve` section.
std::string public_cert_text(const CurveKeys &keys, const std::string &name);
std::string secret_cert_text(const CurveKeys &keys, const std::string &name);

// Parses certificate text strictly. With `need_secret`, curve/secret-key must be there and
// must belong to curve/public-key. Errors give the line number.
Result<CurveKeys> parse_cert(std::string_view text, bool need_secret);

// Reads and parses a certificate file (at most kMaxCertBytes; symlinks followed only for public
// ones). A secret certificate that group or others may read is refused, as ssh does.
Result<CurveKeys> read_cert_file(const std::string &path, bool need_secret);

// Writes DIR/NAME.cert (0644) and DIR/NAME.cert_secret (0600), each created with
// O_EXCL|O_NOFOLLOW. Existing files are an error unless `force` (then they are replaced).
// NAME: letters, digits, '.', '_', '-', not starting with '.', at most 64 characters.
Status write_cert_pair(const std::string &dir, const std::string &name, const CurveKeys &keys,
                       bool force);

// The public keys of every *.cert file in `dir` (other files are ignored). An unreadable
// directory, a broken certificate or no certificate at all is an error: the caller fails closed.
struct ClientKey {
    std::string path;
    std::string public_z85;
};
Result<std::vector<ClientKey>> read_client_dir(const std::string &dir);

} // namespace policer::curve
