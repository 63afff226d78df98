// config_file.h - policerd's configuration file (--config FILE): one `key = value` per line,
// the keys being policerd's long option names. The file only supplies arguments: the option
// table in options.cpp stays the one catalogue, and every value is checked exactly as it
// would be on the command line. The command line overrides the file.
//
// Format (docs/packaging.md):
//   # a comment; blank lines are ignored
//   rules = /etc/policer/rules.d        an option with a value
//   rules = /etc/policer/extra.rules    a repeatable option may repeat
//   report-only = true                  a flag: true or false (false: as if absent)
//   max-flows = 65536  # a comment after white space
//
// The file is root's: policerd refuses one that is not a regular file, is larger than
// kMaxConfigBytes, is writable by anyone but its owner, or whose owner is neither root nor
// the user running policerd (anyone who can write it can make a root daemon do anything).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <string>
#include <vector>

namespace policer::daemon {

inline constexpr size_t kMaxConfigBytes = 64 * 1024;

// What the file may set: an option's long name, whether it is a flag (takes no value on the
// command line) and whether it may be given more than once.
struct ConfigKey {
    std::string name;
    bool flag = false;
    bool repeatable = false;
};

// One `key = value` line.
struct ConfigSetting {
    std::string key;
    std::string value; // for a flag, "true" or "false"
    bool flag = false;
    std::string file;
    size_t line = 0;

    std::string where() const { return file + ":" + std::to_string(line); }
};

// Parses the text of a config file named `file` (in messages). Errors name file:line: a
// line that is not `key = value`, an unknown key (with the closest known one), a key that
// may not repeat given twice, a flag whose value is not true/false, a control character.
Result<std::vector<ConfigSetting>> parse_config(const std::string &text, const std::string &file,
                                                const std::vector<ConfigKey> &keys);

// Reads `path` (with the checks above) and parses it.
Result<std::vector<ConfigSetting>> read_config(const std::string &path,
                                               const std::vector<ConfigKey> &keys);

// The arguments policerd parses: the file's settings as `--key=value` (or `--key` for a true
// flag) for every key the command line does not give, then the command line's own. Options
// that appear both ways are taken from the command line only, repeatable ones included: the
// command line's --rules replaces the file's rather than adding to it.
class ConfigArgs {
public:
    ConfigArgs(int argc, const char *const *argv);

    // Adds the file's settings for keys not in `given` (the command line's option names).
    void add(const std::vector<ConfigSetting> &settings, const std::vector<std::string> &given);

    int argc() const { return static_cast<int>(ptrs_.size()); }
    const char *const *argv() const { return ptrs_.data(); }

    // `message` about an option ("--db must be ...") prefixed with the file:line that set it,
    // when the file did.
    std::string locate(const std::string &message) const;

private:
    void rebuild();

    std::vector<std::string> args_; // argv[0], the file's arguments, the command line's
    size_t cli_begin_ = 1;          // where the command line's arguments start in args_
    std::vector<const char *> ptrs_;
    std::vector<ConfigSetting> from_file_;
};

} // namespace policer::daemon
