// curve_cert.cpp - see curve_cert.h. The layout follows czmq's zcert_save (ZPL, ZeroMQ RFC 4:
// sections at column 0, entries indented by 4 spaces, values in quotes): czmq finds the keys
// at /curve/public-key and /curve/secret-key and ignores comments and metadata.
#include "policer/curve_cert.h"

#include "common/unique_fd.h"

#include <zmq.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

namespace policer::curve {
namespace {

constexpr std::string_view kZ85Chars =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

// Characters a ZPL name may have (RFC 4).
bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("$-_@.&+/").find(c) != std::string_view::npos;
}

std::string header(const char *what, const char *note) {
    char when[32] = "unknown time";
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    if (localtime_r(&now, &tm)) std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    return std::string("#   ****  Generated on ") + when + " by policer keygen  ****\n#   " + what +
           "\n#   " + note + "\n\n";
}

Error line_error(size_t line, const std::string &why) {
    return Error{"line " + std::to_string(line) + ": " + why};
}

// One ZPL line past its indentation: `name`, or `name = value`, and an optional comment.
struct ZplLine {
    std::string name;
    std::optional<std::string> value;
};

Result<ZplLine> parse_line(std::string_view s, size_t lineno) {
    ZplLine out;
    size_t i = 0;
    while (i < s.size() && is_name_char(s[i]))
        ++i;
    if (i == 0) return line_error(lineno, "expected a name");
    out.name = std::string(s.substr(0, i));
    auto skip_blanks = [&] {
        while (i < s.size() && s[i] == ' ')
            ++i;
    };
    skip_blanks();
    if (i < s.size() && s[i] == '=') {
        ++i;
        skip_blanks();
        if (i < s.size() && (s[i] == '"' || s[i] == '\'')) {
            const char quote = s[i];
            size_t end = s.find(quote, i + 1);
            if (end == std::string_view::npos) return line_error(lineno, "unterminated quote");
            out.value = std::string(s.substr(i + 1, end - i - 1));
            i = end + 1;
        } else {
            size_t start = i;
            while (i < s.size() && s[i] != ' ' && s[i] != '#')
                ++i;
            out.value = std::string(s.substr(start, i - start));
        }
        skip_blanks();
    }
    if (i < s.size() && s[i] != '#')
        return line_error(lineno, "unexpected text after '" + out.name + "'");
    return out;
}

Status write_file(const std::string &path, const std::string &text, mode_t mode) {
    // O_EXCL|O_NOFOLLOW: never through a link someone planted, never over an existing file.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) return Error::from_errno("cannot create " + path);
    // The mode asked for, whatever the umask.
    if (::fchmod(fd.get(), mode) != 0) return Error::from_errno("chmod " + path);
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error::from_errno("cannot write " + path);
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return Error::from_errno("cannot sync " + path);
    return Ok{};
}

bool valid_file_name(const std::string &name) {
    if (name.empty() || name.size() > 64 || name[0] == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    });
}

bool ends_with(const std::string &s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

} // namespace

bool is_z85_key(std::string_view text) {
    if (text.size() != 40) return false;
    // Each 5 characters carry 4 bytes: check the alphabet and that no group overflows.
    for (size_t g = 0; g < text.size(); g += 5) {
        uint64_t v = 0;
        for (size_t i = g; i < g + 5; ++i) {
            size_t d = kZ85Chars.find(text[i]);
            if (d == std::string_view::npos) return false;
            v = v * 85 + d;
        }
        if (v > 0xffffffffull) return false;
    }
    uint8_t bin[32];
    std::string copy(text);
    return zmq_z85_decode(bin, copy.c_str()) != nullptr;
}

Result<CurveKeys> generate_keys() {
    char pub[41] = {}, sec[41] = {};
    if (zmq_curve_keypair(pub, sec) != 0)
        return Error::from_errno("zmq_curve_keypair (libzmq built without CURVE?)");
    CurveKeys k{pub, sec};
    // Z85 secret text, on the stack: not left behind.
    std::memset(sec, 0, sizeof(sec));
    return k;
}

std::string public_cert_text(const CurveKeys &keys, const std::string &name) {
    return header("ZeroMQ CURVE Public Certificate",
                  "Exchange securely, or verify its contents after the exchange.") +
           "metadata\n    name = \"" + name + "\"\ncurve\n    public-key = \"" + keys.public_z85 +
           "\"\n";
}

std::string secret_cert_text(const CurveKeys &keys, const std::string &name) {
    return header("ZeroMQ CURVE **Secret** Certificate",
                  "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.") +
           "metadata\n    name = \"" + name + "\"\ncurve\n    public-key = \"" + keys.public_z85 +
           "\"\n    secret-key = \"" + keys.secret_z85 + "\"\n";
}

Result<CurveKeys> parse_cert(std::string_view text, bool need_secret) {
    if (text.size() > kMaxCertBytes) return Error{"larger than a certificate can be"};
    if (text.find('\0') != std::string_view::npos) return Error{"not a text file"};
    CurveKeys keys;
    bool have_public = false, have_secret = false;
    std::string section;
    size_t lineno = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++lineno;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        size_t indent = 0;
        while (indent < line.size() && line[indent] == ' ')
            ++indent;
        if (indent == line.size() || line[indent] == '#') continue; // blank or comment
        if (line.find('\t') != std::string_view::npos)
            return line_error(lineno, "tab character (ZPL indents with 4 spaces)");
        if (indent % 4 != 0 || indent > 4)
            return line_error(lineno, "indentation must be 0 or 4 spaces");
        auto parsed = parse_line(line.substr(indent), lineno);
        if (!parsed) return parsed.error();
        if (indent == 0) {
            section = parsed->name;
            continue;
        }
        if (section.empty()) return line_error(lineno, "entry outside a section");
        if (!parsed->value) return line_error(lineno, "'" + parsed->name + "' has no value");
        if (section != "curve") continue; // metadata and other sections: not ours to judge
        if (parsed->name == "public-key") {
            if (have_public) return line_error(lineno, "second curve/public-key");
            if (!is_z85_key(*parsed->value))
                return line_error(lineno, "curve/public-key is not a 40-character Z85 key");
            keys.public_z85 = *parsed->value;
            have_public = true;
        } else if (parsed->name == "secret-key") {
            if (have_secret) return line_error(lineno, "second curve/secret-key");
            if (!is_z85_key(*parsed->value))
                return line_error(lineno, "curve/secret-key is not a 40-character Z85 key");
            keys.secret_z85 = *parsed->value;
            have_secret = true;
        } else {
            return line_error(lineno, "unknown key curve/" + parsed->name);
        }
    }
    if (!have_public) return Error{"no curve/public-key"};
    if (need_secret && !have_secret) return Error{"no curve/secret-key (not a secret certificate)"};
    if (have_secret) {
        char derived[41] = {};
        if (zmq_curve_public(derived, keys.secret_z85.c_str()) != 0 || keys.public_z85 != derived)
            return Error{"curve/public-key does not belong to curve/secret-key"};
    }
    return keys;
}

// Whoever may write a certificate or the allow-list decides who receives every event: they
// must be root's (or the user running policerd's) and writable by their owner only, as the
// config file must.
namespace {
Status check_trusted(const struct stat &st, const std::string &path) {
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return Error{path + ": owned by uid " + std::to_string(st.st_uid) +
                     "; it must be root's (chown root)"};
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return Error{path + ": writable by group or others; only its owner may write it " +
                     "(chmod go-w)"};
    return Ok{};
}
} // namespace

Result<CurveKeys> read_cert_file(const std::string &path, bool need_secret) {
    // O_NONBLOCK: a FIFO planted under a certificate's name must not hang the start.
    UniqueFd fd(
        ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (need_secret ? O_NOFOLLOW : 0)));
    if (!fd) return Error::from_errno("cannot open " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error::from_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
    if (auto trusted = check_trusted(st, path); !trusted) return trusted.error();
    if (static_cast<uint64_t>(st.st_size) > kMaxCertBytes)
        return Error{path + ": " + std::to_string(st.st_size) + " bytes, more than a certificate"};
    if (need_secret && (st.st_mode & 077))
        return Error{path + ": a secret certificate must not be readable by group or others " +
                     "(chmod 600)"};
    std::string text;
    char buf[4096];
    while (text.size() <= kMaxCertBytes) {
        ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("cannot read " + path);
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    auto keys = parse_cert(text, need_secret);
    std::fill(text.begin(), text.end(), '\0');
    if (!keys) return Error{path + ": " + keys.error().message};
    return keys;
}

Status write_cert_pair(const std::string &dir, const std::string &name, const CurveKeys &keys,
                       bool force) {
    if (!valid_file_name(name))
        return Error{"'" + name + "' is not a certificate name (letters, digits, '.', '_', '-'; " +
                     "not starting with '.'; at most 64 characters)"};
    if (!is_z85_key(keys.public_z85) || !is_z85_key(keys.secret_z85))
        return Error{"not a CURVE key pair"};
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return Error::from_errno("directory " + dir);
    if (!S_ISDIR(st.st_mode)) return Error{dir + " is not a directory"};
    const std::string pub = dir + "/" + name + ".cert", sec = pub + "_secret";
    if (!force) {
        for (const auto &p : {pub, sec})
            if (::lstat(p.c_str(), &st) == 0) return Error{p + " exists (--force replaces it)"};
        if (auto s = write_file(sec, secret_cert_text(keys, name), 0600); !s) return s;
        if (auto s = write_file(pub, public_cert_text(keys, name), 0644); !s) {
            ::unlink(sec.c_str()); // half a pair is of no use
            return s;
        }
        return Ok{};
    }
    // Replacing: the new pair is written under temporary names and renamed over the old one,
    // so a failed write (a full disk) leaves the old pair working. rename() replaces a link
    // itself, never what it points to; a stale temporary file (or link) is removed first.
    const std::string tmp_sec = dir + "/." + name + ".cert_secret.new",
                      tmp_pub = dir + "/." + name + ".cert.new";
    for (const auto &p : {tmp_sec, tmp_pub})
        if (::lstat(p.c_str(), &st) == 0 && ::unlink(p.c_str()) != 0)
            return Error::from_errno("cannot remove " + p);
    if (auto s = write_file(tmp_sec, secret_cert_text(keys, name), 0600); !s) return s;
    if (auto s = write_file(tmp_pub, public_cert_text(keys, name), 0644); !s) {
        ::unlink(tmp_sec.c_str());
        return s;
    }
    if (::rename(tmp_sec.c_str(), sec.c_str()) != 0 ||
        ::rename(tmp_pub.c_str(), pub.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp_sec.c_str());
        ::unlink(tmp_pub.c_str());
        return Error::from_errno("cannot replace the certificates in " + dir, err);
    }
    return Ok{};
}

Result<std::vector<ClientKey>> read_client_dir(const std::string &dir) {
    DIR *d = ::opendir(dir.c_str());
    if (!d) return Error::from_errno("cannot read the clients directory " + dir);
    struct stat st {};
    if (::fstat(::dirfd(d), &st) != 0 || !S_ISDIR(st.st_mode)) {
        ::closedir(d);
        return Error{dir + ": not a directory"};
    }
    if (auto trusted = check_trusted(st, dir); !trusted) {
        ::closedir(d);
        return trusted.error();
    }
    std::vector<std::string> names;
    bool too_many = false;
    while (dirent *e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n[0] == '.' || !ends_with(n, ".cert")) continue;
        if (names.size() == kMaxClientCerts) {
            too_many = true;
            break;
        }
        names.push_back(std::move(n));
    }
    ::closedir(d);
    if (too_many)
        return Error{dir + ": more than " + std::to_string(kMaxClientCerts) + " certificates"};
    if (names.empty())
        return Error{dir + " holds no client certificate (*.cert): nobody could subscribe"};
    std::sort(names.begin(), names.end());
    std::vector<ClientKey> out;
    for (const auto &n : names) {
        auto keys = read_cert_file(dir + "/" + n, false);
        if (!keys) return keys.error();
        out.push_back({dir + "/" + n, keys->public_z85});
    }
    return out;
}

} // namespace policer::curve
