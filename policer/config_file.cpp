// config_file.cpp - see config_file.h.
#include "policer/config_file.h"

#include "common/text.h"
#include "common/unique_fd.h"
#include "rules/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace policer::daemon {
namespace {

bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// The line without its comment: '#' at the start or after white space begins one, so that
// a value may still hold a '#' (a glob, a path).
std::string_view strip_comment(std::string_view line) {
    for (size_t i = 0; i < line.size(); ++i)
        if (line[i] == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1]))))
            return line.substr(0, i);
    return line;
}

} // namespace

Result<std::vector<ConfigSetting>> parse_config(const std::string &text, const std::string &file,
                                                const std::vector<ConfigKey> &keys) {
    std::vector<ConfigSetting> out;
    std::map<std::string, size_t> first_line; // key -> line that set it first
    std::vector<std::string> names;
    for (const auto &k : keys)
        names.push_back(k.name);
    std::string error;
    size_t lineno = 0;
    for_each_line(text, [&](std::string_view raw) {
        ++lineno;
        const std::string where = file + ":" + std::to_string(lineno) + ": ";
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        // Control characters (a NUL, an escape sequence) have no place in a setting, and
        // would travel into logs; tabs are white space.
        if (std::any_of(raw.begin(), raw.end(), [](char c) {
                return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
            })) {
            error = where + "control character in the line";
            return true;
        }
        std::string_view line = trim(strip_comment(raw));
        if (line.empty()) return false;
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) {
            error = where + "expected 'key = value' (keys are policerd's long option names, "
                            "without '--')";
            return true;
        }
        std::string key(trim(line.substr(0, eq)));
        std::string value(trim(line.substr(eq + 1)));
        if (key.size() > 2 && key.compare(0, 2, "--") == 0) key.erase(0, 2);
        if (key.empty() || !std::all_of(key.begin(), key.end(), is_key_char)) {
            error = where + "'" + key + "' is not an option name";
            return true;
        }
        auto k = std::find_if(keys.begin(), keys.end(),
                              [&](const ConfigKey &c) { return c.name == key; });
        if (k == keys.end()) {
            std::string near = rules::closest(key, names);
            error = where + "unknown key '" + key + "'" +
                    (near.empty() ? "" : " (did you mean '" + near + "'?)");
            return true;
        }
        if (value.empty()) {
            error = where + key + ": no value" + (k->flag ? " (true or false)" : "");
            return true;
        }
        if (k->flag && value != "true" && value != "false") {
            error = where + key + ": '" + value + "' is not true or false";
            return true;
        }
        auto [it, fresh] = first_line.emplace(key, lineno);
        if (!fresh && !k->repeatable) {
            error = where + key + " is already set on line " + std::to_string(it->second) +
                    " (only repeatable options such as rules may repeat)";
            return true;
        }
        out.push_back({key, value, k->flag, file, lineno});
        return false;
    });
    if (!error.empty()) return Error{error};
    return out;
}

Result<std::vector<ConfigSetting>> read_config(const std::string &path,
                                               const std::vector<ConfigKey> &keys) {
    // O_NONBLOCK: a FIFO put in its place must not hang start-up; it is refused below.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) return Error::from_errno("cannot open the config file " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error::from_errno("cannot stat " + path);
    if (!S_ISREG(st.st_mode)) return Error{path + ": not a regular file"};
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return Error{path + ": owned by uid " + std::to_string(st.st_uid) +
                     ", neither root nor the user running policerd; refusing it"};
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return Error{path + ": writable by its group or by others; refusing it (chmod go-w " +
                     path + ")"};
    if (st.st_size > static_cast<off_t>(kMaxConfigBytes))
        return Error{path + ": larger than " + std::to_string(kMaxConfigBytes) +
                     " bytes; not a policerd config file"};
    // Read up to one byte past the bound: the file may grow between fstat and read.
    std::string text(kMaxConfigBytes + 1, '\0');
    size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("cannot read " + path);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got > kMaxConfigBytes)
        return Error{path + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes"};
    text.resize(got);
    return parse_config(text, path, keys);
}

ConfigArgs::ConfigArgs(int argc, const char *const *argv) {
    for (int i = 0; i < argc; ++i)
        args_.emplace_back(argv[i]);
    if (args_.empty()) args_.emplace_back("policerd");
    rebuild();
}

void ConfigArgs::add(const std::vector<ConfigSetting> &settings,
                     const std::vector<std::string> &given) {
    std::vector<std::string> file_args;
    for (const auto &s : settings) {
        if (std::find(given.begin(), given.end(), s.key) != given.end()) continue;
        // A flag set to false is as if absent; parse_config allows only true and false.
        if (s.flag && s.value == "false") continue;
        file_args.push_back("--" + s.key + (s.flag ? "" : "=" + s.value));
        from_file_.push_back(s);
    }
    args_.insert(args_.begin() + static_cast<std::ptrdiff_t>(cli_begin_), file_args.begin(),
                 file_args.end());
    cli_begin_ += file_args.size();
    rebuild();
}

std::string ConfigArgs::locate(const std::string &message) const {
    if (message.compare(0, 2, "--") != 0) return message;
    size_t end = 2;
    while (end < message.size() && is_key_char(message[end]))
        ++end;
    const std::string key = message.substr(2, end - 2);
    for (const auto &s : from_file_)
        if (s.key == key) return s.where() + ": " + message;
    return message;
}

void ConfigArgs::rebuild() {
    ptrs_.clear();
    for (const auto &a : args_)
        ptrs_.push_back(a.c_str());
}

} // namespace policer::daemon
