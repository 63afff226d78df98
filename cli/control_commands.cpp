// control_commands.cpp - the `policer` commands that ask a running policerd (see
// control_commands.h): one connection to the control socket, one request per change, the answer
// printed as plain text (or JSON with --json), refusals and diagnostics on stderr.
#include "cli/control_commands.h"

#include "cli/control_client.h"
#include "common/result.h"
#include "rules/source.h"

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace policer::cli {
namespace {

using Json = nlohmann::ordered_json; // what we print: keys in the order we put them
using Answer = nlohmann::json;       // what ControlClient returns

constexpr const char *kSocketHelp =
    "policerd's control socket (default: $POLICER_SOCKET, else /run/policer/policer.sock)";

constexpr const char *kExitText = R"(
Exit status: 0 done; 1 policerd refused or failed the request (the reason, and file:line:col
for rule text, on stderr); 2 usage, or an input file that cannot be read; 3 policerd cannot be
reached (not running, another --socket, no permission to use it) or the connection broke.
)";

constexpr const char *kWho = R"(
Only root and members of the 'policer' group may use the control socket; every change is
recorded in the rule history with the user who made it (policer rule history).
)";

// ---- help texts ----

constexpr const char *kAddHelp = R"(
Adds the rules, lists, macros and settings of each FILE (- reads stdin) to the rule set that
policerd manages. The whole rule set after the change is checked first: with any error nothing
changes and every error is printed with file:line:col. A valid change is enforced at once (in
the kernel for kernel-tier rules) and recorded as a new revision. Each FILE is its own change,
in the order given; policer stops at the first one policerd refuses (those before it stay).
An item whose name is already managed is refused unless --replace.

Prints one line per change: "revision N: added NAME...".
)";

constexpr const char *kAddExamples = R"(
Examples:
  policer rule add no-ssh.rules
  echo 'rule no-smtp { when dst.port == 25 action reject }' | policer rule add -
  policer rule add --replace no-ssh.rules       # change a managed rule in place
)";

constexpr const char *kNamesHelp = R"(
NAME is a managed item: a rule, list or macro name, "mode", "default egress" or "default
ingress" (policer rule list). Rules from policerd's --rules files are changed in their files.
The rule set after the change is checked and enforced as a new revision; with any error
nothing changes. Prints "revision N: <done> NAME...".
)";

constexpr const char *kListHelp = R"(
Lists the managed items (NAME, KIND, STATE enabled/disabled, ORIGIN "store"), then the rules of
policerd's --rules files (ORIGIN: the file; read-only here).
)";

constexpr const char *kListExamples = R"(
Examples:
  policer rule list
  policer rule list --json | jq -r '.entries[] | select(.enabled | not) | .name'
)";

constexpr const char *kShowHelp = R"(
Prints the text of the managed item NAME as it is stored; a disabled item has each line
prefixed "#disabled " (as in policer rule export).
)";

constexpr const char *kImportHelp = R"(
Replaces the WHOLE managed rule set with the items of FILE (- reads stdin): items not in FILE
are removed. Lines starting "#disabled " (as policer rule export writes them) come back as
disabled items. Checked as a whole first; recorded as one revision. Needs --yes.
)";

constexpr const char *kImportExamples = R"(
Examples:
  policer rule export -o backup.rules
  policer rule import --yes backup.rules
)";

constexpr const char *kExportHelp = R"(
Prints the managed rule set as one rule file (to stdout, or to FILE with -o); disabled items
are commented out with "#disabled ". policer rule import reads it back exactly.
)";

constexpr const char *kExportExamples = R"(
Examples:
  policer rule export > managed.rules
  policer rule export -o /root/policer-$(date +%F).rules
)";

constexpr const char *kHistoryHelp = R"(
Lists the revisions of the managed rule set, newest first: REV, TIME (UTC), USER (who made the
change), ACTION (add, rm, enable, disable, import, rollback) and SUMMARY. With NAME, only the
revisions that changed that item. With -v, each change is shown as a diff of the item's text
("-" before, "+" after) or its enabled state.
)";

constexpr const char *kHistoryExamples = R"(
Examples:
  policer rule history
  policer rule history no-ssh -v
  policer rule history --json --limit 1 | jq '.revisions[0].actor'
)";

constexpr const char *kRollbackHelp = R"(
Restores the managed rule set exactly as it was at REVISION (policer rule history), checked
and enforced as a new revision; the revisions in between stay in the history.
)";

constexpr const char *kRollbackExamples = R"(
Examples:
  policer rule history --limit 5
  policer rule rollback 12
)";

constexpr const char *kStatusHelp = R"(
What policerd is doing: version and uptime, mode (enforce, audit, report-only or observe when no
rule is loaded), the rule revision and kernel generation, hooks attached, interfaces with TC or
XDP enforcement, table fill, ring-buffer and event drops, enforcement, store and control socket
counters. -v adds every hook and every counter (one "name value" per line).
)";

constexpr const char *kStatusExamples = R"(
Examples:
  policer status
  policer status -v | grep dropped
  policer status --json | jq .mode
)";

constexpr const char *kEventsHelp = R"(
Follows policerd's events as they happen, one JSON object per line (the same documents as
policerd --events-stdout; docs/events.md), until interrupted (Ctrl-C) or the reader goes away
(| head): both end it with exit status 0. --topic picks what to receive (repeat for more):
  flow.start    a flow began (with its identity and verdict)
  flow.l7       a flow was classified by nDPI (protocol, host, SNI, ...)
  flow.end      a flow ended (bytes, packets, duration)
  flow.verdict  audit mode: a connection that would have been refused
  alert         a refused connection, a live flow cut by an L7 verdict
  agent         policerd started, stopped, statistics
  rule.change   the rule set changed (who, what, revision)
Without --topic every event is received. A follower that does not keep up loses events
(counted in policer status); it never slows policerd down.
)";

constexpr const char *kEventsExamples = R"(
Examples:
  policer events --follow
  policer events --follow --topic rule.change
  policer events --follow --topic flow.start | jq -r '.user.name + " " + .destination.ip'
)";

const std::vector<std::string> kTopics = {"flow.start", "flow.l7", "flow.end",   "flow.verdict",
                                          "alert",      "agent",   "rule.change"};

// ---- argument parsing ----

std::string default_socket() {
    const char *env = std::getenv("POLICER_SOCKET");
    return env && *env ? env : kDefaultSocket;
}

// Adds --socket and --help, parses, and handles --help and usage errors: the exit code to leave
// with then, nothing when the command should run.
std::optional<int> parse(cxxopts::Options &spec, const std::string &name, int argc,
                         const char *const *argv, const std::string &details,
                         cxxopts::ParseResult &out) {
    spec.positional_help(""); // the usage line is the command's custom_help
    spec.add_options()("socket", kSocketHelp, cxxopts::value<std::string>(),
                       "PATH")("h,help", "Print this help");
    try {
        out = spec.parse(argc, argv);
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "%s: %s (see --help)\n", name.c_str(), e.what());
        return kExitUsage;
    }
    if (out.count("help")) {
        std::cout << spec.help() << details << kExitText;
        return kExitOk;
    }
    if (!out.unmatched().empty()) {
        std::fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", name.c_str(),
                     out.unmatched().front().c_str());
        return kExitUsage;
    }
    return std::nullopt;
}

std::string socket_of(const cxxopts::ParseResult &r) {
    return r.count("socket") ? r["socket"].as<std::string>() : default_socket();
}

std::vector<std::string> strings_of(const cxxopts::ParseResult &r, const char *name) {
    return r.count(name) ? r[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::optional<uint64_t> parse_number(const std::string &s) {
    if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), ::isdigit))
        return std::nullopt;
    return std::stoull(s);
}

int usage_error(const std::string &name, const std::string &what) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name.c_str(), what.c_str());
    return kExitUsage;
}

// ---- talking to policerd ----

void print_error(const std::string &msg) {
    std::fprintf(stderr, "policer: %s\n", msg.c_str());
}

void print_diagnostics(const Answer &body) {
    auto it = body.find("diagnostics");
    if (it == body.end() || !it->is_array()) return;
    for (const auto &d : *it) {
        if (!d.is_string()) continue;
        std::string s = d.get<std::string>();
        if (s.empty() || s.back() != '\n') s += '\n';
        std::fputs(s.c_str(), stderr);
    }
}

// An answer with ok:true (code 0), or the exit code after the failure was reported.
struct Reply {
    int code = kExitOk;
    Answer body;
    explicit operator bool() const { return code == kExitOk; }
};

// A connection to policerd, or the exit code after the failure was reported.
struct Connection {
    std::optional<ControlClient> client;
    int code = kExitOk;
};

Connection connect_to(const std::string &socket) {
    auto c = ControlClient::connect(socket);
    if (!c) {
        print_error(c.error().message);
        return {std::nullopt, kExitConnection};
    }
    return {std::move(*c), kExitOk};
}

Reply ask(ControlClient &client, const Answer &request) {
    auto a = client.call(request);
    Answer body;
    if (a) {
        body = std::move(*a);
    } else {
        // policerd answers a peer it refuses with one line and closes, which can make our send
        // fail: that line, if it came, says more than the broken pipe.
        auto pending = client.next(std::chrono::milliseconds(200));
        if (!pending || !*pending) {
            print_error(a.error().message);
            return {kExitConnection, {}};
        }
        body = std::move(**pending);
    }
    auto ok = body.find("ok");
    if (ok == body.end() || !ok->is_boolean() || !ok->get<bool>()) {
        auto err = body.find("error");
        print_error(err != body.end() && err->is_string() ? err->get<std::string>()
                                                          : "policerd refused the request");
        print_diagnostics(body);
        return {kExitRefused, std::move(body)};
    }
    print_diagnostics(body); // warnings of an accepted change
    return {kExitOk, std::move(body)};
}

// Connects and asks one thing.
Reply ask(const std::string &socket, const Answer &request) {
    auto conn = connect_to(socket);
    if (!conn.client) return {conn.code, {}};
    return ask(*conn.client, request);
}

// The answer for --json: what policerd said, without the protocol's fields.
void print_json(const Answer &body) {
    Json j = body;
    j.erase("ok");
    j.erase("id");
    std::cout << j.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
}

std::string str(const Answer &j, const char *key, const std::string &fallback = "") {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// The value at a dotted path ("policer.flows.active") as text, or `fallback`.
std::string at(const Answer &j, const std::string &dotted, const std::string &fallback = "-") {
    const Answer *cur = &j;
    size_t start = 0;
    while (start <= dotted.size()) {
        size_t dot = dotted.find('.', start);
        std::string key = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
        if (!cur->is_object()) return fallback;
        auto it = cur->find(key);
        if (it == cur->end()) return fallback;
        cur = &*it;
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    if (cur->is_null()) return fallback;
    return cur->is_string() ? cur->get<std::string>() : cur->dump();
}

std::string joined(const Answer &list, const char *sep = ", ") {
    std::string s;
    if (!list.is_array()) return s;
    for (const auto &v : list)
        s += (s.empty() ? "" : sep) + (v.is_string() ? v.get<std::string>() : v.dump());
    return s;
}

// "revision 4: added a, b"
int report_change(const Reply &r, const std::string &done, bool json) {
    if (json) {
        print_json(r.body);
        return kExitOk;
    }
    std::string names = joined(r.body.value("changed", Answer::array()));
    std::printf("revision %s: %s%s%s\n", str(r.body, "revision", "?").c_str(), done.c_str(),
                names.empty() ? "" : " ", names.c_str());
    return kExitOk;
}

Result<std::string> read_input(const std::string &path) {
    if (path == "-") {
        std::string text((std::istreambuf_iterator<char>(std::cin)),
                         std::istreambuf_iterator<char>());
        if (std::cin.bad()) return Error{"cannot read stdin"};
        return text;
    }
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return Error::from_errno("cannot read " + path);
    if (S_ISDIR(st.st_mode))
        return Error{path + " is a directory: give rule files (e.g. " + path + "/*.rules)"};
    std::ifstream f(path, std::ios::binary);
    if (!f) return Error::from_errno("cannot read " + path);
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) return Error::from_errno("cannot read " + path);
    return ss.str();
}

std::string source_name(const std::string &path) {
    return path == "-" ? "<stdin>" : path;
}

std::string pad(std::string s, size_t n) {
    if (s.size() < n) s.append(n - s.size(), ' ');
    return s;
}

// Prints rows as columns two spaces apart (the last column unpadded).
void print_table(const std::vector<std::vector<std::string>> &rows) {
    std::vector<size_t> width;
    for (const auto &r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    for (const auto &r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i)
            line += i + 1 == r.size() ? r[i] : pad(r[i], width[i]) + "  ";
        std::printf("%s\n", line.c_str());
    }
}

// ---- rule subcommands ----

int rule_add(int argc, const char *const *argv) {
    const std::string name = "policer rule add";
    cxxopts::Options spec(name, "Add rules to the rule set policerd manages");
    spec.custom_help("[OPTION...] FILE...|-");
    spec.add_options()("replace", "Replace managed items of the same name")(
        "json", "Print policerd's answer as JSON")("files", "Rule files",
                                                   cxxopts::value<std::vector<std::string>>());
    spec.parse_positional({"files"});
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kAddHelp) + kWho + kAddExamples, r))
        return *code;
    const auto files = strings_of(r, "files");
    if (files.empty()) return usage_error(name, "give a rule file, or - for stdin");
    // Every file read before anything changes: a typo in the last name changes nothing.
    std::vector<std::string> texts;
    for (const auto &f : files) {
        auto text = read_input(f);
        if (!text) {
            print_error(text.error().message);
            return kExitUsage;
        }
        texts.push_back(std::move(*text));
    }
    auto conn = connect_to(socket_of(r));
    if (!conn.client) return conn.code;
    for (size_t i = 0; i < files.size(); ++i) {
        Answer req = {{"op", "rule.add"},
                      {"text", texts[i]},
                      {"source", source_name(files[i])},
                      {"replace", r.count("replace") > 0}};
        auto reply = ask(*conn.client, req);
        if (!reply) return reply.code;
        report_change(reply, r.count("replace") ? "added/replaced" : "added", r.count("json") > 0);
    }
    return kExitOk;
}

// rm, enable, disable: NAME...
int rule_names(const std::string &sub, int argc, const char *const *argv) {
    const std::string name = "policer rule " + sub;
    const char *what = sub == "rm"       ? "Remove managed items"
                       : sub == "enable" ? "Enable managed items (enforced again)"
                                         : "Disable managed items (kept, not enforced)";
    cxxopts::Options spec(name, what);
    spec.custom_help("[OPTION...] NAME...");
    spec.add_options()("json", "Print policerd's answer as JSON")(
        "names", "Item names", cxxopts::value<std::vector<std::string>>());
    spec.parse_positional({"names"});
    const std::string examples = "\nExamples:\n  policer rule list\n  policer rule " + sub +
                                 " no-ssh\n  policer rule " + sub + " no-ssh no-smtp\n";
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kNamesHelp) + kWho + examples, r))
        return *code;
    const auto names = strings_of(r, "names");
    if (names.empty()) return usage_error(name, "name at least one managed item");
    auto reply = ask(socket_of(r), Answer{{"op", "rule." + sub}, {"names", names}});
    if (!reply) return reply.code;
    const std::string done = sub == "rm" ? "removed" : sub == "enable" ? "enabled" : "disabled";
    return report_change(reply, done, r.count("json") > 0);
}

int rule_list(int argc, const char *const *argv) {
    const std::string name = "policer rule list";
    cxxopts::Options spec(name, "List the rules policerd enforces");
    spec.add_options()("json", "{\"revision\", \"entries\": [{name, kind, enabled, origin}]}");
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kListHelp) + kListExamples, r))
        return *code;
    auto reply = ask(socket_of(r), Answer{{"op", "rule.list"}});
    if (!reply) return reply.code;
    // A rule set never holds two items of one name, so a file rule named like a managed item
    // is the managed item itself, reported under the source it was added from by a policerd
    // that lists it twice: shown once.
    Answer entries = Answer::array();
    std::vector<std::string> managed;
    for (const auto &e : reply.body.value("entries", Answer::array()))
        if (str(e, "origin") == "store") managed.push_back(str(e, "name"));
    for (const auto &e : reply.body.value("entries", Answer::array()))
        if (str(e, "origin") == "store" ||
            std::find(managed.begin(), managed.end(), str(e, "name")) == managed.end())
            entries.push_back(e);
    if (r.count("json")) {
        // Built in a fixed key order (scripts and the shell completion read it).
        Json out = {{"revision", reply.body.value("revision", Answer())}};
        Json list = Json::array();
        for (const auto &e : entries)
            list.push_back({{"name", str(e, "name")},
                            {"kind", str(e, "kind")},
                            {"enabled", e.value("enabled", false)},
                            {"origin", str(e, "origin")}});
        out["entries"] = list;
        std::cout << out.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    std::vector<std::vector<std::string>> rows = {{"NAME", "KIND", "STATE", "ORIGIN"}};
    for (const auto &e : entries)
        rows.push_back({str(e, "name"), str(e, "kind"),
                        e.value("enabled", false) ? "enabled" : "disabled", str(e, "origin")});
    if (entries.empty())
        std::fprintf(stderr, "policer: no rules (revision %s); add some with policer rule add\n",
                     str(reply.body, "revision", "0").c_str());
    else
        print_table(rows);
    return kExitOk;
}

// `text` with every line prefixed "#disabled " (as export writes a disabled item).
std::string disabled_text(const std::string &text) {
    std::string out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t nl = text.find('\n', start);
        out += "#disabled " + text.substr(start, nl == std::string::npos ? nl : nl - start) + "\n";
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    return out;
}

int rule_show(int argc, const char *const *argv) {
    const std::string name = "policer rule show";
    cxxopts::Options spec(name, "Print a managed rule");
    spec.custom_help("[OPTION...] NAME");
    spec.add_options()("json", "{name, kind, enabled, origin, text}")(
        "name", "Item name", cxxopts::value<std::vector<std::string>>());
    spec.parse_positional({"name"});
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv,
                          std::string(kShowHelp) +
                              "\nExamples:\n  policer rule show no-ssh\n"
                              "  policer rule show no-ssh > no-ssh.rules   # edit, then:\n"
                              "  policer rule add --replace no-ssh.rules\n",
                          r))
        return *code;
    const auto names = strings_of(r, "name");
    if (names.size() != 1) return usage_error(name, "name one managed item");
    auto reply = ask(socket_of(r), Answer{{"op", "rule.show"}, {"name", names[0]}});
    if (!reply) return reply.code;
    const Answer entry = reply.body.value("entry", Answer::object());
    if (r.count("json")) {
        std::cout << Json(entry).dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    const std::string text = str(entry, "text");
    if (entry.value("enabled", true))
        std::cout << text << (text.empty() || text.back() != '\n' ? "\n" : "");
    else
        std::cout << disabled_text(text);
    return kExitOk;
}

int rule_import(int argc, const char *const *argv) {
    const std::string name = "policer rule import";
    cxxopts::Options spec(name, "Replace the managed rule set with a rule file");
    spec.custom_help("[OPTION...] --yes FILE|-");
    spec.add_options()("y,yes", "Yes, replace every managed item")(
        "json", "Print policerd's answer as JSON")("file", "Rule file",
                                                   cxxopts::value<std::vector<std::string>>());
    spec.parse_positional({"file"});
    cxxopts::ParseResult r;
    if (auto code =
            parse(spec, name, argc, argv, std::string(kImportHelp) + kWho + kImportExamples, r))
        return *code;
    const auto files = strings_of(r, "file");
    if (files.size() != 1) return usage_error(name, "give one rule file, or - for stdin");
    if (!r.count("yes"))
        return usage_error(name, "this replaces every managed item with those of " + files[0] +
                                     " (items not in it are removed); add --yes to do it");
    auto text = read_input(files[0]);
    if (!text) {
        print_error(text.error().message);
        return kExitUsage;
    }
    auto reply =
        ask(socket_of(r),
            Answer{{"op", "rule.import"}, {"text", *text}, {"source", source_name(files[0])}});
    if (!reply) return reply.code;
    return report_change(reply, "imported", r.count("json") > 0);
}

int rule_export(int argc, const char *const *argv) {
    const std::string name = "policer rule export";
    cxxopts::Options spec(name, "Print the managed rule set as a rule file");
    spec.add_options()("o,output", "Write to FILE instead of stdout", cxxopts::value<std::string>(),
                       "FILE");
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kExportHelp) + kExportExamples, r))
        return *code;
    auto reply = ask(socket_of(r), Answer{{"op", "rule.export"}});
    if (!reply) return reply.code;
    const std::string text = str(reply.body, "text");
    if (!r.count("output")) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        if (std::fflush(stdout) != 0) {
            print_error(std::string("cannot write the export: ") + std::strerror(errno));
            return kExitRefused;
        }
        return kExitOk;
    }
    const std::string out = r["output"].as<std::string>();
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    if (f) f << text;
    if (f) f.close();
    if (!f) {
        print_error(Error::from_errno("cannot write " + out).message);
        return kExitRefused;
    }
    std::fprintf(stderr, "policer: revision %s written to %s\n",
                 str(reply.body, "revision", "?").c_str(), out.c_str());
    return kExitOk;
}

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t nl = text.find('\n', start);
        if (nl == std::string::npos) nl = text.size();
        out.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

// A line diff of `a` to `b` (longest common subsequence): " " kept, "-" removed, "+" added.
void print_diff(const std::string &before, const std::string &after, const std::string &indent) {
    const auto a = lines_of(before), b = lines_of(after);
    const size_t n = a.size(), m = b.size();
    auto line = [&](char mark, const std::string &text) {
        std::printf("%s%c %s\n", indent.c_str(), mark, text.c_str());
    };
    if (n * m > 4000000) { // too long to align: all of one, then all of the other
        for (const auto &l : a)
            line('-', l);
        for (const auto &l : b)
            line('+', l);
        return;
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto L = [&](size_t i, size_t j) -> uint32_t & { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            L(i, j) = a[i] == b[j] ? L(i + 1, j + 1) + 1 : std::max(L(i + 1, j), L(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && a[i] == b[j]) {
            line(' ', a[i]);
            ++i, ++j;
        } else if (j == m || (i < n && L(i + 1, j) >= L(i, j + 1))) {
            line('-', a[i++]);
        } else {
            line('+', b[j++]);
        }
    }
}

void print_change(const Answer &c) {
    const std::string name = str(c, "name");
    const bool had = c.contains("before") && c["before"].is_string();
    const bool has = c.contains("after") && c["after"].is_string();
    const std::string before = had ? c["before"].get<std::string>() : "";
    const std::string after = has ? c["after"].get<std::string>() : "";
    auto enabled = [&](const char *key) {
        return c.contains(key) && c[key].is_boolean() ? c[key].get<bool>() : true;
    };
    if (!had && has) {
        std::printf("    %s: added%s\n", name.c_str(),
                    enabled("enabled_after") ? "" : " (disabled)");
        print_diff("", after, "      ");
    } else if (had && !has) {
        std::printf("    %s: removed\n", name.c_str());
        print_diff(before, "", "      ");
    } else if (had && has) {
        if (before != after) {
            std::printf("    %s: changed\n", name.c_str());
            print_diff(before, after, "      ");
        }
        if (enabled("enabled_before") != enabled("enabled_after"))
            std::printf("    %s: %s\n", name.c_str(),
                        enabled("enabled_after") ? "disabled -> enabled" : "enabled -> disabled");
    }
}

// "2026-11-24T20:16:14.845000Z" -> "2026-11-24T20:16:14Z"
std::string short_time(std::string t) {
    size_t dot = t.find('.');
    if (dot != std::string::npos) t = t.substr(0, dot) + "Z";
    return t;
}

int rule_history(int argc, const char *const *argv) {
    const std::string name = "policer rule history";
    cxxopts::Options spec(name, "Who changed the managed rules, when, and how");
    spec.custom_help("[OPTION...] [NAME]");
    spec.add_options()("limit", "Show at most N revisions", cxxopts::value<std::string>(),
                       "N")("v,verbose", "Show each change (a diff of the item's text)")(
        "json", "{\"revision\", \"revisions\": [{revision, time, actor, action, summary, "
                "changes}]}")("name", "Item name", cxxopts::value<std::vector<std::string>>());
    spec.parse_positional({"name"});
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kHistoryHelp) + kHistoryExamples, r))
        return *code;
    const auto names = strings_of(r, "name");
    if (names.size() > 1) return usage_error(name, "name at most one item");
    Answer req = {{"op", "rule.history"}};
    if (r.count("limit")) {
        auto n = parse_number(r["limit"].as<std::string>());
        if (!n || *n > 100000) return usage_error(name, "--limit takes a number from 0 to 100000");
        req["limit"] = *n;
    }
    if (!names.empty()) req["name"] = names[0];
    auto reply = ask(socket_of(r), req);
    if (!reply) return reply.code;
    if (r.count("json")) {
        print_json(reply.body);
        return kExitOk;
    }
    const Answer revs = reply.body.value("revisions", Answer::array());
    if (revs.empty()) {
        std::fprintf(stderr, "policer: no revisions%s\n",
                     names.empty() ? "" : (" changed '" + names[0] + "'").c_str());
        return kExitOk;
    }
    const bool verbose = r.count("verbose") > 0;
    std::vector<std::vector<std::string>> rows = {{"REV", "TIME", "USER", "ACTION", "SUMMARY"}};
    for (const auto &h : revs)
        rows.push_back({str(h, "revision"), short_time(str(h, "time")),
                        at(h, "actor.user", "uid " + at(h, "actor.uid", "?")), str(h, "action"),
                        str(h, "summary")});
    if (!verbose) {
        print_table(rows);
        return kExitOk;
    }
    // With the changes under each row: print row by row with the table's widths.
    std::vector<size_t> width(5, 0);
    for (const auto &row : rows)
        for (size_t i = 0; i < row.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    for (size_t k = 0; k < rows.size(); ++k) {
        std::string line;
        for (size_t i = 0; i < rows[k].size(); ++i)
            line += i + 1 == rows[k].size() ? rows[k][i] : pad(rows[k][i], width[i]) + "  ";
        std::printf("%s\n", line.c_str());
        if (k == 0) continue;
        for (const auto &c : revs[k - 1].value("changes", Answer::array()))
            print_change(c);
    }
    return kExitOk;
}

int rule_rollback(int argc, const char *const *argv) {
    const std::string name = "policer rule rollback";
    cxxopts::Options spec(name, "Restore the managed rule set of an earlier revision");
    spec.custom_help("[OPTION...] REVISION");
    spec.add_options()("json", "Print policerd's answer as JSON")(
        "revision", "Revision", cxxopts::value<std::vector<std::string>>());
    spec.parse_positional({"revision"});
    cxxopts::ParseResult r;
    if (auto code =
            parse(spec, name, argc, argv, std::string(kRollbackHelp) + kWho + kRollbackExamples, r))
        return *code;
    const auto revs = strings_of(r, "revision");
    if (revs.size() != 1) return usage_error(name, "give one revision number");
    auto rev = parse_number(revs[0]);
    if (!rev) return usage_error(name, "'" + revs[0] + "' is not a revision number");
    auto reply = ask(socket_of(r), Answer{{"op", "rule.rollback"}, {"revision", *rev}});
    if (!reply) return reply.code;
    if (r.count("json")) return report_change(reply, "", true);
    std::string names = joined(reply.body.value("changed", Answer::array()));
    std::printf("revision %s: rolled back to revision %llu%s%s\n",
                str(reply.body, "revision", "?").c_str(), static_cast<unsigned long long>(*rev),
                names.empty() ? " (nothing differed)" : "; changed ", names.c_str());
    return kExitOk;
}

// ---- status ----

// Every scalar under `j`, as "prefix.key value" lines.
void flatten(const Answer &j, const std::string &prefix, std::vector<std::string> &out) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it)
            flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    } else if (j.is_array()) {
        if (j.empty()) out.push_back(prefix + " -");
        for (size_t i = 0; i < j.size(); ++i)
            flatten(j[i], prefix + "." + std::to_string(i), out);
    } else {
        out.push_back(prefix + " " + (j.is_string() ? j.get<std::string>() : j.dump()));
    }
}

std::string percent(const std::string &part, const std::string &whole) {
    auto p = parse_number(part), w = parse_number(whole);
    if (!p || !w || *w == 0) return "";
    char buf[32];
    std::snprintf(buf, sizeof(buf), " (%.1f%%)",
                  100.0 * static_cast<double>(*p) / static_cast<double>(*w));
    return buf;
}

std::string interfaces_text(const Answer &list) {
    if (!list.is_array() || list.empty()) return "none";
    std::string s;
    for (const auto &i : list) {
        std::string what;
        if (i.value("tc", false)) what = "tc";
        if (i.contains("xdp") && !i["xdp"].is_null() &&
            !(i["xdp"].is_boolean() && !i["xdp"].get<bool>()))
            what += std::string(what.empty() ? "" : ", ") + "xdp" +
                    (i["xdp"].is_string() ? " " + i["xdp"].get<std::string>() : "");
        s += (s.empty() ? "" : ", ") + str(i, "iface", "?") + " (" +
             (what.empty() ? "nothing attached" : what) + ")";
    }
    return s;
}

int status_cmd(int argc, const char *const *argv) {
    const std::string name = "policer status";
    cxxopts::Options spec(name, "What policerd is doing");
    spec.add_options()("json", "policerd's whole status answer (docs/control.md)")(
        "v,verbose", "Every hook and every counter");
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kStatusHelp) + kStatusExamples, r))
        return *code;
    auto reply = ask(socket_of(r), Answer{{"op", "status"}});
    if (!reply) return reply.code;
    const Answer &s = reply.body;
    if (r.count("json")) {
        print_json(s);
        return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"policerd", at(s, "version") + " (pid " + at(s, "pid") + ", up " +
                                    at(s, "uptime_s") + "s)"});
    rows.push_back({"mode", at(s, "mode")});
    std::string files =
        joined(s.contains("rules") ? s["rules"].value("files", Answer::array()) : Answer::array());
    rows.push_back({"rules", "revision " + at(s, "rules.revision", "0") + ", generation " +
                                 at(s, "rules.generation", "0") + "; " + at(s, "rules.rules", "0") +
                                 " rules in force; files: " + (files.empty() ? "none" : files)});
    const Answer hooks = s.value("hooks", Answer::array());
    size_t observe = 0, enforce = 0;
    for (const auto &h : hooks)
        (str(h, "kind") == "enforce" ? enforce : observe)++;
    rows.push_back({"hooks", std::to_string(hooks.size()) + " attached (" +
                                 std::to_string(observe) + " observe, " + std::to_string(enforce) +
                                 " enforce)"});
    rows.push_back({"interfaces", interfaces_text(s.value("interfaces", Answer::array()))});
    const std::string active = at(s, "policer.flows.active"),
                      capacity = at(s, "policer.flows.capacity");
    rows.push_back({"flows", active + " active of " + capacity + percent(active, capacity) + "; " +
                                 at(s, "policer.flows.evicted") + " evicted"});
    rows.push_back({"processes", at(s, "policer.processes.live") + " live, " +
                                     at(s, "policer.processes.exited_remembered") +
                                     " exited remembered; " + at(s, "policer.processes.evicted") +
                                     " evicted"});
    if (s.contains("maps") && s["maps"].is_object())
        for (auto it = s["maps"].begin(); it != s["maps"].end(); ++it) {
            const std::string e = at(it.value(), "entries"), m = at(it.value(), "max_entries");
            rows.push_back({"map " + it.key(), e + " of " + m + percent(e, m)});
        }
    rows.push_back({"ring buffer", at(s, "policer.ringbuf.dropped") + " events dropped"});
    rows.push_back({"events", at(s, "policer.events.received") + " received, " +
                                  at(s, "policer.events.invalid") + " invalid"});
    if (s.contains("policer") && s["policer"].contains("enforcement"))
        rows.push_back({"enforcement",
                        at(s, "policer.enforcement.connect_refused") + " connect refused, " +
                            at(s, "policer.enforcement.sendmsg_refused") + " sendmsg refused, " +
                            at(s, "policer.enforcement.inbound_dropped") + " inbound dropped, " +
                            at(s, "policer.enforcement.refusal_reports_lost") + " reports lost"});
    if (s.contains("store"))
        rows.push_back({"store", at(s, "store.path") + ": " + at(s, "store.written") +
                                     " written, " + at(s, "store.dropped") + " dropped, " +
                                     at(s, "store.write_errors") + " write errors"});
    if (s.contains("control"))
        rows.push_back({"control", at(s, "control.connections") + " connections, " +
                                       at(s, "control.refused_peers") + " refused, " +
                                       at(s, "control.requests") + " requests, " +
                                       at(s, "control.bad_requests") + " bad, " +
                                       at(s, "control.follow_events_dropped") +
                                       " follow events dropped"});
    if (s.contains("policer") && s["policer"].contains("zmq")) {
        // The ZeroMQ stream, as policerd sees it: what it published and what it lost for every
        // subscriber (rate limit, send errors). A slow subscriber's own drops (its full queue)
        // happen inside libzmq and show only to it, as gaps in event.sequence.
        std::string z = at(s, "policer.zmq.published") + " published, " +
                        at(s, "policer.zmq.rate_limited") + " rate-limited, " +
                        at(s, "policer.zmq.send_errors") +
                        " send errors (a slow subscriber's drops: gaps in its event.sequence)";
        if (s["policer"]["zmq"].contains("subscribers"))
            z += "; CURVE: " + at(s, "policer.zmq.subscribers.accepted") + " subscribers in, " +
                 at(s, "policer.zmq.subscribers.refused") + " refused";
        rows.push_back({"event stream", z});
    }
    print_table(rows);
    if (r.count("verbose")) {
        std::printf("\nhooks:\n");
        std::vector<std::vector<std::string>> hrows = {{"  KIND", "PROGRAM", "HOOK", "TARGET"}};
        for (const auto &h : hooks)
            hrows.push_back(
                {"  " + str(h, "kind"), str(h, "program"), str(h, "hook"), str(h, "target")});
        print_table(hrows);
        std::printf("\ncounters:\n");
        std::vector<std::string> lines;
        for (const char *section : {"policer", "store", "control"})
            if (s.contains(section)) flatten(s[section], section, lines);
        for (const auto &l : lines)
            std::printf("  %s\n", l.c_str());
    }
    return kExitOk;
}

// ---- events ----

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) {
    g_stop = 1;
}

int events_cmd(int argc, const char *const *argv) {
    const std::string name = "policer events";
    cxxopts::Options spec(name, "Follow policerd's events as they happen");
    spec.custom_help("--follow [--topic TOPIC]...");
    spec.add_options()("f,follow", "Follow the events (required: events are streamed)")(
        "topic", "Only this topic (repeat for more)", cxxopts::value<std::vector<std::string>>(),
        "TOPIC")("json", "One JSON object per line (the only format)");
    cxxopts::ParseResult r;
    if (auto code = parse(spec, name, argc, argv, std::string(kEventsHelp) + kEventsExamples, r))
        return *code;
    if (!r.count("follow"))
        return usage_error(name, "give --follow (events are followed as they happen)");
    const auto topics = strings_of(r, "topic");
    for (const auto &t : topics)
        if (std::find(kTopics.begin(), kTopics.end(), t) == kTopics.end()) {
            std::string near = rules::closest(t, kTopics);
            return usage_error(name, "unknown topic '" + t + "'" +
                                         (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                                         "; topics: flow.start, flow.l7, flow.end, "
                                         "flow.verdict, alert, agent, rule.change");
        }

    // Ctrl-C and a reader that goes away (| head) end the stream cleanly.
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);

    auto conn = connect_to(socket_of(r));
    if (!conn.client) return conn.code;
    Answer req = {{"op", "events.follow"}};
    if (!topics.empty()) req["topics"] = topics;
    auto reply = ask(*conn.client, req);
    if (!reply) return reply.code;
    while (!g_stop) {
        auto line = conn.client->next(std::chrono::milliseconds(250));
        if (!line) {
            if (g_stop) break;
            print_error(line.error().message);
            return kExitConnection;
        }
        if (!*line) continue;
        const Answer &doc = **line;
        auto ev = doc.find("event");
        if (ev == doc.end()) {
            if (doc.contains("ok") && doc["ok"] == false) {
                print_error(str(doc, "error", "policerd ended the stream"));
                return kExitRefused;
            }
            continue;
        }
        const std::string out = ev->dump(-1, ' ', false, Answer::error_handler_t::replace) + "\n";
        if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() ||
            std::fflush(stdout) != 0)
            return kExitOk; // the reader went away
    }
    return kExitOk;
}

} // namespace

bool is_control_rule_command(const std::string &sub) {
    for (const char *c : {"add", "rm", "enable", "disable", "list", "show", "import", "export",
                          "history", "rollback"})
        if (sub == c) return true;
    return false;
}

int control_rule_command(int argc, const char *const *argv) {
    const std::string sub = argv[0];
    if (sub == "add") return rule_add(argc, argv);
    if (sub == "rm" || sub == "enable" || sub == "disable") return rule_names(sub, argc, argv);
    if (sub == "list") return rule_list(argc, argv);
    if (sub == "show") return rule_show(argc, argv);
    if (sub == "import") return rule_import(argc, argv);
    if (sub == "export") return rule_export(argc, argv);
    if (sub == "history") return rule_history(argc, argv);
    if (sub == "rollback") return rule_rollback(argc, argv);
    std::fprintf(stderr, "policer rule: unknown command '%s'\n", sub.c_str());
    return kExitUsage;
}

int status_command(int argc, const char *const *argv) {
    return status_cmd(argc, argv);
}

int events_command(int argc, const char *const *argv) {
    return events_cmd(argc, argv);
}

} // namespace policer::cli
