// store_commands.cpp - `policer flows`, `policer rule test` and `policer top` (store_commands.h).
#include "cli/store_commands.h"

#include "cli/control_client.h"
#include "cli/store_args.h"
#include "common/timestamp.h"
#include "rules/compiler.h"
#include "rules/evaluate.h"
#include "rules/flow_attrs.h"
#include "rules/rule_set.h"
#include "store/flow_event.h"
#include "store/flow_store.h"
#include "store/schema.h"

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

namespace policer::cli {
namespace {

using Json = nlohmann::ordered_json;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Arguments as cxxopts wants them, after take_where_args() took the conditions out.
struct ArgVector {
    explicit ArgVector(std::vector<std::string> a) : args(std::move(a)) {
        for (const auto &s : args)
            ptrs.push_back(s.c_str());
        ptrs.push_back(nullptr);
    }
    int argc() const { return static_cast<int>(args.size()); }
    const char *const *argv() const { return ptrs.data(); }

    std::vector<std::string> args;
    std::vector<const char *> ptrs;
};

// The store, read-only: errors say what to check.
Result<store::Database> open_read_only(const std::string &path) {
    store::OpenOptions options;
    options.read_only = true;
    auto db = store::open_store(path, options);
    if (db) return db;
    std::string message = db.error().message;
    if (message.find("No such file") != std::string::npos)
        message += " (policerd creates its store when it starts; --db PATH reads another)";
    else if (message.find("ermission denied") != std::string::npos ||
             message.find("unable to open") != std::string::npos)
        message += " (reading the store needs root or membership of the 'policer' group)";
    return Error{message};
}

std::string endpoint(const std::string &ip, int64_t port) {
    if (ip.empty()) return "?";
    const std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
    return host + ":" + std::to_string(port);
}

std::string container_text(const std::string &name, const std::string &id) {
    if (!name.empty()) return name;
    return id.substr(0, 12);
}

// 512, 1.5K, 12K, 3.4M (binary units), for tables; --json has the exact counts.
std::string human_bytes(int64_t n) {
    if (n < 1024) return std::to_string(n);
    static const char *const units[] = {"K", "M", "G", "T", "P"};
    double v = static_cast<double>(n);
    size_t u = 0;
    for (v /= 1024; v >= 1024 && u + 1 < std::size(units); v /= 1024)
        ++u;
    char buf[32];
    if (v < 10)
        std::snprintf(buf, sizeof(buf), "%.1f%s", v, units[u]);
    else
        std::snprintf(buf, sizeof(buf), "%.0f%s", v, units[u]);
    return buf;
}

// Table output: each column as wide as its widest cell, up to `max`; longer cells are cut,
// paths keeping their end (the executable's name).
struct Column {
    const char *title;
    size_t max;
    bool right = false;     // numbers
    bool keep_tail = false; // paths
};

std::string fit(const std::string &s, size_t width, bool keep_tail) {
    if (s.size() <= width) return s;
    if (width <= 3) return s.substr(0, width);
    if (keep_tail) return "..." + s.substr(s.size() - (width - 3));
    return s.substr(0, width - 3) + "...";
}

std::string pad(const std::string &s, size_t width, bool right) {
    if (s.size() >= width) return s;
    return right ? std::string(width - s.size(), ' ') + s : s + std::string(width - s.size(), ' ');
}

// Prints a table as rows come: widths are fitted to the first kFitRows rows (and the titles),
// so a table of any length is printed in bounded memory; later cells are cut to those widths.
class TablePrinter {
public:
    static constexpr size_t kFitRows = 1000;
    explicit TablePrinter(const std::vector<Column> &columns) : columns_(columns) {}
    ~TablePrinter() { finish(); }

    void add(std::vector<std::string> row) {
        if (!width_.empty()) {
            line(row);
            return;
        }
        pending_.push_back(std::move(row));
        if (pending_.size() >= kFitRows) finish();
    }

    // Fixes the widths (if not yet) and prints what is held.
    void finish() {
        if (width_.empty()) {
            width_.resize(columns_.size());
            for (size_t c = 0; c < columns_.size(); ++c) {
                width_[c] = std::string(columns_[c].title).size();
                for (const auto &row : pending_)
                    width_[c] = std::max(width_[c], std::min(row[c].size(), columns_[c].max));
            }
            std::vector<std::string> titles;
            for (const auto &c : columns_)
                titles.emplace_back(c.title);
            line(titles);
        }
        for (const auto &row : pending_)
            line(row);
        pending_.clear();
    }

private:
    void line(const std::vector<std::string> &cells) const {
        std::string out;
        for (size_t c = 0; c < columns_.size(); ++c) {
            std::string cell =
                fit(cells[c].empty() ? "-" : cells[c], width_[c], columns_[c].keep_tail);
            // The last column is not padded: no trailing blanks.
            if (c + 1 < columns_.size() || columns_[c].right)
                cell = pad(cell, width_[c], columns_[c].right);
            out += (c ? "  " : "") + cell;
        }
        out += "\n";
        std::fputs(out.c_str(), stdout);
    }

    const std::vector<Column> &columns_;
    std::vector<size_t> width_; // empty until fixed
    std::vector<std::vector<std::string>> pending_;
};

void print_table(const std::vector<Column> &columns,
                 const std::vector<std::vector<std::string>> &rows) {
    TablePrinter table(columns);
    for (const auto &row : rows)
        table.add(row);
}

// "  FIELD  id start_ms ...", wrapped: the columns --where accepts, from the store's own list.
std::string columns_help() {
    std::string text, row = "  FIELD ";
    for (const store::Column &c : store::flow_columns()) {
        if (row.size() + c.name.size() + 1 > 92) {
            text += row + "\n";
            row = "        ";
        }
        row += " " + std::string(c.name);
    }
    return text + row + "\n";
}

// ---- policer flows ----

constexpr const char *kFlowsHelpHead = R"(
Searches the flow records policerd stores as each flow ends (docs/events.md: the flow-end
event), newest --limit first, shown in time order. The store (--db) is opened read-only:
reading it needs root or membership of the 'policer' group.

Conditions (--where, repeatable; all must hold): FIELD OP VALUE, as three arguments or one.
  OP     ==  !=  <  >  <=  >=  glob (a shell pattern: * ? [...], text fields only)
)";

constexpr const char *kFlowsHelpTail =
    R"(  src is the initiator of a flow, dst the responder; bytes_in/out and packets_in/out are
  received/sent by this host; start_ms and end_ms are unix milliseconds; action is the
  verdict (allow, deny, reject, alert, limit ...) and rule the rule that decided it.
  Numbers compare as numbers. A field not known for a flow matches no condition.

Times (--since, --until): 90s, 15m, 1h, 24h, 7d (that long ago), now, or ISO 8601 such as
2026-11-24, 2026-11-24T13:20, 2026-11-24T13:20:01Z or 2026-11-24T13:20:01+02:00 (local time
when no zone is given). A flow counts at the time it ended.

Output: a table (TIME: when the flow ended, local time; IN/OUT: payload bytes received and
sent by this host), or with --json the stored flow-end events, one ECS JSON object per line.

Exit status: 0 (also when nothing matches), 1 the store cannot be read, 2 usage.

Examples:
  policer flows                                           the 50 newest flows
  policer flows --since 1h --where user_name == nobody
  policer flows --where dst_port == 22 --where action != allow --limit 0
  policer flows --where 'exe glob */python3*' --since 2026-11-24T08:00 --until 2026-11-24T09:00
  policer flows --since 24h --json | jq -r '.destination.domain // empty' | sort | uniq -c
)";

std::vector<std::string> flow_cells(const store::FlowRow &r) {
    std::string flow = endpoint(r.src_ip, r.src_port) + " -> " + endpoint(r.dst_ip, r.dst_port);
    return {local_time_text(r.end_ms),
            r.user_name.empty() && r.uid ? std::to_string(*r.uid) : r.user_name,
            r.exe,
            container_text(r.container_name, r.container_id),
            r.l4_proto,
            flow,
            r.l7_proto,
            r.domain,
            r.action,
            r.rule,
            human_bytes(r.bytes_in),
            human_bytes(r.bytes_out)};
}

} // namespace

int flows_command(int argc, const char *const *argv) {
    std::vector<std::string> args(argv, argv + argc);
    auto filters = take_where_args(args);
    if (!filters) {
        std::fprintf(stderr, "policer flows: %s\n", filters.error().message.c_str());
        return 2;
    }
    ArgVector rest(std::move(args));

    cxxopts::Options spec("policer flows", "Search the stored flow records");
    // clang-format off
    spec.add_options()
        ("db", "The store policerd writes",
         cxxopts::value<std::string>()->default_value(kDefaultDb), "PATH")
        ("since", "Flows that ended at or after TIME", cxxopts::value<std::string>(), "TIME")
        ("until", "Flows that ended before TIME", cxxopts::value<std::string>(), "TIME")
        ("limit", "At most N flows, the newest (0: all)",
         cxxopts::value<size_t>()->default_value("50"), "N")
        ("where", "A condition on the flows (repeatable; see below)",
         cxxopts::value<std::string>(), "FIELD OP VALUE")
        ("json", "The stored flow-end events, one JSON object per line")
        ("h,help", "Print this help");
    // clang-format on
    store::FlowQuery query;
    query.filters = std::move(*filters);
    std::string db_path;
    bool json = false;
    try {
        auto r = spec.parse(rest.argc(), rest.argv());
        if (r.count("help")) {
            std::cout << spec.help() << kFlowsHelpHead << columns_help() << kFlowsHelpTail;
            return 0;
        }
        if (!r.unmatched().empty()) {
            std::fprintf(stderr, "policer flows: unexpected argument '%s' (see --help)\n",
                         r.unmatched()[0].c_str());
            return 2;
        }
        const int64_t now = now_ms();
        for (const char *name : {"since", "until"}) {
            if (!r.count(name)) continue;
            auto t = parse_time(r[name].as<std::string>(), now);
            if (!t) {
                std::fprintf(stderr, "policer flows: --%s: %s\n", name, t.error().message.c_str());
                return 2;
            }
            (std::string(name) == "since" ? query.since : query.until) = *t;
        }
        if (query.since && query.until && *query.since >= *query.until) {
            std::fputs("policer flows: --since must be before --until\n", stderr);
            return 2;
        }
        query.limit = r["limit"].as<size_t>();
        db_path = r["db"].as<std::string>();
        json = r.count("json") > 0;
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer flows: %s (see --help)\n", e.what());
        return 2;
    }

    auto db = open_read_only(db_path);
    if (!db) {
        std::fprintf(stderr, "policer flows: %s\n", db.error().message.c_str());
        return 1;
    }
    store::FlowStore flows(*db);
    static const std::vector<Column> columns = {
        {"TIME", 19},      {"USER", 16},    {"PROCESS", 40, false, true},
        {"CONTAINER", 20}, {"PROTO", 5},    {"FLOW", 56},
        {"L7", 12},        {"DOMAIN", 32},  {"VERDICT", 24},
        {"RULE", 24},      {"IN", 7, true}, {"OUT", 7, true},
    };
    std::optional<TablePrinter> table;
    size_t shown = 0;
    auto show = [&](const store::StoredFlow &f) {
        ++shown;
        if (json) {
            std::fwrite(f.row.event_json.data(), 1, f.row.event_json.size(), stdout);
            std::fputc('\n', stdout);
            return;
        }
        if (!table) table.emplace(columns);
        table->add(flow_cells(f.row));
    };

    if (query.limit == 0) {
        // Every match, oldest first, one row at a time: any number of flows in bounded memory.
        Status read = flows.for_each(query, [&](const store::StoredFlow &f) {
            show(f);
            return true;
        });
        if (!read) {
            if (table) table->finish();
            std::fprintf(stderr, "policer flows: %s\n", read.error().message.c_str());
            return 1;
        }
    } else {
        auto found = flows.query(query); // the newest --limit, at most
        if (!found) {
            std::fprintf(stderr, "policer flows: %s\n", found.error().message.c_str());
            return 1;
        }
        std::reverse(found->begin(), found->end()); // the newest last, as in a log
        for (const store::StoredFlow &f : *found)
            show(f);
    }
    if (table) table->finish();
    if (shown == 0 && !json) std::fputs("policer flows: no stored flow matches\n", stderr);
    return 0;
}

// ---- policer rule test ----

namespace {

constexpr const char *kRuleTestHelp = R"(
Replays the flows policerd stored (each flow's own flow-end event) through a candidate rule
set and reports every flow whose verdict would change: the action stored with the flow (what
the rules in force decided then) against what the candidate rules decide. It answers "what
would this rule set have blocked, or let through, over the last day?" before it is enforced.

Nothing is enforced and nothing is written: the store (--db) is opened read-only and policerd
is not involved. Flows are read one at a time, so a long --since takes time, not memory.
Each flow is judged with what was known when it ended (identity, L7 protocol, domain). A flow
stored without a verdict (policerd ran without rules) counts as allowed.

Rule files with errors are reported (file:line:col) and nothing is replayed.

Output: one line per changed flow (TIME it ended, local time; FROM -> TO verdict; the
candidate RULE that decides it, or (default); who and where), then a summary: flows replayed,
verdicts changed, changes by rule. With --json, one JSON document: "flows" (the changed flows;
every flow with --all, each with "changed"), "replayed", "changed", "by_rule".

Times (--since, --until): 90s, 15m, 1h, 24h, 7d (that long ago), now, or ISO 8601 such as
2026-11-24, 2026-11-24T13:20 or 2026-11-24T13:20:01Z (local time when no zone is given).

Exit status: 0 replayed (whether or not verdicts change), 1 the rules have errors or the store
cannot be read, 2 usage.

Examples:
  policer rule test /etc/policer/rules.d.new                 the last 24 hours
  policer rule test no-ssh.rules --since 7d
  policer rule test rules.d --since 2026-11-24 --until 2026-11-25 --json | jq '.by_rule'
  policer rule test rules.d --json --all | jq -r '.flows[] | select(.to == "deny") | .exe'
)";

struct Replay {
    size_t replayed = 0, changed = 0, unreadable = 0;
    // Changed flows by deciding candidate rule, then by "from -> to".
    std::map<std::string, std::map<std::string, size_t>> by_rule;
};

const std::string *text_at(const nlohmann::json &doc, std::initializer_list<const char *> path) {
    const nlohmann::json *node = &doc;
    for (const char *key : path) {
        if (!node->is_object()) return nullptr;
        auto it = node->find(key);
        if (it == node->end()) return nullptr;
        node = &*it;
    }
    return node->is_string() ? &node->get_ref<const std::string &>() : nullptr;
}

Json nullable(const std::string &s) {
    return s.empty() ? Json() : Json(s);
}

Json replay_record(const store::StoredFlow &f, const nlohmann::json &doc, const std::string &from,
                   const std::string &to, const std::string &rule, const rules::Decision &d,
                   bool changed) {
    const store::FlowRow &r = f.row;
    const std::string *ts = text_at(doc, {"@timestamp"});
    Json j;
    j["id"] = f.id;
    j["time"] = ts ? *ts : format_timestamp(static_cast<uint64_t>(r.end_ms) * 1000000ull);
    j["changed"] = changed;
    j["from"] = from;
    j["from_rule"] = nullable(r.rule);
    j["to"] = to;
    j["rule"] = nullable(rule);
    j["by"] = d.kind == rules::Decision::Kind::Rule      ? "rule"
              : d.kind == rules::Decision::Kind::Default ? "default"
                                                         : "pending";
    j["audit"] = d.audit;
    j["user"] = nullable(r.user_name);
    j["uid"] = r.uid ? Json(*r.uid) : Json();
    j["pid"] = r.pid ? Json(*r.pid) : Json();
    j["exe"] = nullable(r.exe);
    j["container"] = nullable(container_text(r.container_name, r.container_id));
    j["l4_proto"] = nullable(r.l4_proto);
    j["direction"] = nullable(r.direction);
    j["src_ip"] = nullable(r.src_ip);
    j["src_port"] = r.src_port;
    j["dst_ip"] = nullable(r.dst_ip);
    j["dst_port"] = r.dst_port;
    j["domain"] = nullable(r.domain);
    j["l7_proto"] = nullable(r.l7_proto);
    return j;
}

void print_replay_line(const store::FlowRow &r, const std::string &from, const std::string &to,
                       const std::string &rule, bool audit, bool changed, bool all) {
    std::string verdict = from + " -> " + to + (audit ? " (audit)" : "");
    if (all && !changed) verdict = "= " + to + (audit ? " (audit)" : "");
    std::string who = r.user_name.empty() && r.uid ? std::to_string(*r.uid) : r.user_name;
    std::string where = endpoint(r.dst_ip, r.dst_port);
    if (!r.domain.empty()) where += " " + r.domain;
    if (r.direction == "ingress") where += " (inbound from " + r.src_ip + ")";
    std::string container = container_text(r.container_name, r.container_id);
    std::printf("%s  %s  %s  %s  %s  %s  %s  %s\n", local_time_text(r.end_ms).c_str(),
                pad(fit(verdict, 28, false), 28, false).c_str(),
                pad(fit(rule.empty() ? "(default)" : rule, 24, false), 24, false).c_str(),
                pad(fit(who.empty() ? "-" : who, 12, false), 12, false).c_str(),
                pad(fit(r.exe.empty() ? "-" : r.exe, 32, true), 32, false).c_str(),
                pad(fit(container.empty() ? "-" : container, 14, false), 14, false).c_str(),
                pad(r.l4_proto.empty() ? "-" : r.l4_proto, 4, false).c_str(), where.c_str());
}

} // namespace

int rule_test_command(int argc, const char *const *argv) {
    cxxopts::Options spec("policer rule test",
                          "Replay stored flows through candidate rules: which verdicts change");
    spec.custom_help("[OPTION...]");
    spec.positional_help("PATH...");
    // clang-format off
    spec.add_options()
        ("since", "Replay the flows that ended at or after TIME",
         cxxopts::value<std::string>()->default_value("24h"), "TIME")
        ("until", "... and before TIME", cxxopts::value<std::string>(), "TIME")
        ("db", "The store policerd writes",
         cxxopts::value<std::string>()->default_value(kDefaultDb), "PATH")
        ("all", "List every flow replayed, not only those whose verdict changes")
        ("json", "One JSON document on stdout")
        ("paths", "Candidate rule files or directories", cxxopts::value<std::vector<std::string>>())
        ("h,help", "Print this help");
    // clang-format on
    spec.parse_positional({"paths"});
    std::vector<std::string> paths;
    std::string db_path;
    int64_t since = 0;
    std::optional<int64_t> until;
    bool json = false, all = false;
    try {
        auto r = spec.parse(argc, argv);
        if (r.count("help")) {
            std::cout << spec.help() << kRuleTestHelp;
            return 0;
        }
        if (!r.count("paths")) {
            std::fputs("policer rule test: no rule file or directory given (see --help)\n", stderr);
            return 2;
        }
        paths = r["paths"].as<std::vector<std::string>>();
        const int64_t now = now_ms();
        auto s = parse_time(r["since"].as<std::string>(), now);
        if (!s) {
            std::fprintf(stderr, "policer rule test: --since: %s\n", s.error().message.c_str());
            return 2;
        }
        since = *s;
        if (r.count("until")) {
            auto u = parse_time(r["until"].as<std::string>(), now);
            if (!u) {
                std::fprintf(stderr, "policer rule test: --until: %s\n", u.error().message.c_str());
                return 2;
            }
            if (*u <= since) {
                std::fputs("policer rule test: --since must be before --until\n", stderr);
                return 2;
            }
            until = *u;
        }
        db_path = r["db"].as<std::string>();
        json = r.count("json") > 0;
        all = r.count("all") > 0;
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer rule test: %s (see --help)\n", e.what());
        return 2;
    }

    rules::LoadResult loaded = rules::load_rules(paths);
    for (const auto &d : loaded.diags)
        std::fputs(d.format().c_str(), stderr);
    if (!loaded.set) {
        std::fputs("policer rule test: the rules have errors; nothing was replayed\n", stderr);
        return 1;
    }
    auto set = std::make_shared<rules::RuleSet>(std::move(*loaded.set));
    auto compiled = rules::CompiledRules::compile(set);

    auto db = open_read_only(db_path);
    if (!db) {
        std::fprintf(stderr, "policer rule test: %s\n", db.error().message.c_str());
        return 1;
    }

    Replay stats;
    bool first = true;
    if (json) {
        std::fputs("{\"flows\": [", stdout);
    } else {
        std::printf("%s  %s  %s  %s  %s  %s  %s  %s\n", pad("TIME", 19, false).c_str(),
                    pad("FROM -> TO", 28, false).c_str(), pad("RULE", 24, false).c_str(),
                    pad("USER", 12, false).c_str(), pad("PROCESS", 32, false).c_str(),
                    pad("CONTAINER", 14, false).c_str(), "L4  ", "DESTINATION");
    }
    store::FlowStore flows(*db);
    // Rows arrive oldest first, one at a time.
    Status scanned = flows.for_each_since(since, [&](const store::StoredFlow &f) {
        const store::FlowRow &r = f.row;
        if (until && r.end_ms >= *until) return false;
        ++stats.replayed;
        nlohmann::json doc = nlohmann::json::parse(r.event_json, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
            ++stats.unreadable;
            return true;
        }
        const rules::Decision d = compiled->decide(rules::attrs_from_ecs(doc));
        const std::string to =
            d.kind == rules::Decision::Kind::Pending ? "pending" : rules::action_text(d.action);
        const std::string from = r.action.empty() ? "allow" : r.action;
        const std::string rule = d.rule < set->rules.size() ? set->rules[d.rule].name : "";
        const bool changed = from != to;
        if (changed) {
            ++stats.changed;
            ++stats.by_rule[rule.empty() ? "(default)" : rule][from + " -> " + to];
        }
        if (!changed && !all) return true;
        if (json) {
            std::printf("%s\n  %s", first ? "" : ",",
                        replay_record(f, doc, from, to, rule, d, changed).dump().c_str());
            first = false;
        } else {
            print_replay_line(r, from, to, rule, d.audit, changed, all);
        }
        return true;
    });
    if (!scanned) {
        if (json) std::fputs("\n]}\n", stdout);
        std::fprintf(stderr, "policer rule test: %s\n", scanned.error().message.c_str());
        return 1;
    }

    // The rules with the most changed flows first.
    std::vector<std::pair<std::string, size_t>> order;
    for (const auto &[rule, changes] : stats.by_rule) {
        size_t n = 0;
        for (const auto &c : changes)
            n += c.second;
        order.emplace_back(rule, n);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });

    if (json) {
        Json summary;
        summary["replayed"] = stats.replayed;
        summary["changed"] = stats.changed;
        summary["unreadable"] = stats.unreadable;
        summary["since"] = format_timestamp(static_cast<uint64_t>(since) * 1000000ull);
        summary["until"] =
            until ? Json(format_timestamp(static_cast<uint64_t>(*until) * 1000000ull)) : Json();
        summary["files"] = set->files;
        Json by_rule = Json::array();
        for (const auto &[rule, n] : order) {
            Json changes = Json::object();
            for (const auto &[change, count] : stats.by_rule[rule])
                changes[change] = count;
            by_rule.push_back({{"rule", rule}, {"flows", n}, {"changes", changes}});
        }
        summary["by_rule"] = by_rule;
        // The summary's members follow "flows" in the same object.
        std::printf("\n], %s\n", summary.dump().substr(1).c_str());
        return 0;
    }

    std::string files;
    for (const auto &f : set->files)
        files += (files.empty() ? "" : ", ") + f;
    std::printf("\nReplayed %zu flow%s that ended since %s%s through %s: ", stats.replayed,
                stats.replayed == 1 ? "" : "s", local_time_text(since).c_str(),
                until ? (" and before " + local_time_text(*until)).c_str() : "",
                files.empty() ? "(no files)" : files.c_str());
    if (stats.changed == 0) {
        std::printf("no verdict would change.\n");
    } else {
        std::printf("%zu verdict%s would change.\n", stats.changed, stats.changed == 1 ? "" : "s");
        std::printf("  %s %7s  %s\n", pad("RULE", 32, false).c_str(), "FLOWS", "CHANGE");
        for (const auto &[rule, n] : order) {
            std::string changes;
            for (const auto &[change, count] : stats.by_rule[rule])
                changes +=
                    (changes.empty() ? "" : ", ") + change +
                    (stats.by_rule[rule].size() > 1 ? " (" + std::to_string(count) + ")" : "");
            std::printf("  %s %7zu  %s\n", pad(rule, 32, false).c_str(), n, changes.c_str());
        }
    }
    if (stats.unreadable)
        std::printf("%zu stored flow%s could not be read (the stored event is not JSON) and %s "
                    "skipped.\n",
                    stats.unreadable, stats.unreadable == 1 ? "" : "s",
                    stats.unreadable == 1 ? "was" : "were");
    std::printf("Nothing was enforced or written.\n");
    return 0;
}

// ---- policer top ----

namespace {

constexpr const char *kTopHelp = R"(
A live view of the host's network activity by process (executable) and container, refreshed
every --interval seconds:
  LIVE    flows open now (policerd's flow table, over the control socket: flows.live)
  ENDED   flows that ended in the last interval (the store: flow records)
  IN/OUT  payload bytes received/sent in the last interval: what live flows' counters grew
          by since the previous refresh, and the rest of the flows that ended (a flow first
          seen counts all of its bytes so far; with --once, live flows count since they began)
Rows are sorted by bytes (IN + OUT), then live flows. On a terminal the screen is redrawn
(Ctrl-C quits); otherwise each snapshot is printed after the last. --once prints one
snapshot and exits. With --json, one JSON object per snapshot and line.

Needs policerd running (--socket) and read access to its store (--db): root or membership of
the 'policer' group. Without the store, top shows live flows only and says why.

Exit status: 0; 1 policerd refused the request; 2 usage; 3 policerd cannot be reached (not
running, another --socket, no permission) or the connection broke.

Examples:
  policer top
  policer top --interval 10
  policer top --once --json | jq -r '.rows[] | select(.live > 0) | .exe'
)";

struct TopRow {
    std::string exe, container_id, container_name;
    size_t live = 0, ended = 0;
    int64_t bytes_in = 0, bytes_out = 0;
};

struct Snapshot {
    int64_t time_ms = 0;
    size_t live = 0, ended = 0;
    int64_t bytes_in = 0, bytes_out = 0;
    std::vector<TopRow> rows;
    std::string store_error;
};

class Top {
public:
    Top(ControlClient client, std::string db_path, int64_t interval_ms)
        : client_(std::move(client)), db_path_(std::move(db_path)), interval_ms_(interval_ms) {}

    Result<Snapshot> take() {
        Snapshot s;
        s.time_ms = now_ms();
        std::unordered_map<std::string, TopRow> rows;
        auto row = [&rows](const std::string &exe, const std::string &id,
                           const std::string &name) -> TopRow & {
            TopRow &r = rows[exe + '\n' + id];
            r.exe = exe;
            r.container_id = id;
            if (!name.empty()) r.container_name = name;
            return r;
        };

        // Bytes moved in this interval: what live flows' counters grew by since the last
        // snapshot (all of it for a flow not seen before), plus, for flows that ended since,
        // their final counters less what was already counted while they were live.
        std::unordered_map<std::string, Moved> seen;
        auto count = [&s](TopRow &t, const Moved &m) {
            t.bytes_in += m.in;
            t.bytes_out += m.out;
            s.bytes_in += m.in;
            s.bytes_out += m.out;
        };
        auto live = client_.call({{"op", "flows.live"}, {"limit", 100000}});
        if (!live) return live.error();
        if (!live->value("ok", false))
            return Error{"policerd refused flows.live: " + live->value("error", std::string())};
        const auto flows = live->find("flows");
        if (flows != live->end() && flows->is_array()) {
            for (const auto &f : *flows) {
                auto r = store::flow_row_from_event(f, std::string());
                if (!r) continue; // no valid @timestamp: not a flow policerd would send
                TopRow &t = row(r->exe, r->container_id, r->container_name);
                ++t.live;
                ++s.live;
                const Moved now{r->bytes_in, r->bytes_out};
                const std::string key = flow_key(*r);
                count(t, now.minus(seen_by_key(key)));
                seen[key] = now;
            }
        }

        if (!db_) {
            auto db = open_read_only(db_path_);
            if (db)
                db_ = std::make_unique<store::Database>(std::move(*db));
            else
                s.store_error = db.error().message;
        }
        if (db_) {
            store::FlowStore store(*db_);
            // The first snapshot counts the flows that ended in the last interval; later ones,
            // every flow stored since the previous snapshot (by row id, so none twice).
            const bool first = !store_read_;
            const int64_t since = first ? s.time_ms - interval_ms_ : last_time_ms_ - interval_ms_;
            int64_t max_id = last_id_;
            Status read = store.for_each_since(since, [&](const store::StoredFlow &f) {
                if (!first && f.id <= last_id_) return true;
                max_id = std::max(max_id, f.id);
                const store::FlowRow &r = f.row;
                TopRow &t = row(r.exe, r.container_id, r.container_name);
                ++t.ended;
                ++s.ended;
                count(t, Moved{r.bytes_in, r.bytes_out}.minus(seen_by_key(flow_key(r))));
                return true;
            });
            if (!read) s.store_error = read.error().message;
            if (read) {
                last_id_ = max_id;
                store_read_ = true;
            }
        }
        last_time_ms_ = s.time_ms;
        seen_ = std::move(seen);

        for (auto &[key, r] : rows)
            s.rows.push_back(std::move(r));
        std::sort(s.rows.begin(), s.rows.end(), [](const TopRow &a, const TopRow &b) {
            if (a.bytes_in + a.bytes_out != b.bytes_in + b.bytes_out)
                return a.bytes_in + a.bytes_out > b.bytes_in + b.bytes_out;
            if (a.live != b.live) return a.live > b.live;
            if (a.ended != b.ended) return a.ended > b.ended;
            if (a.exe != b.exe) return a.exe < b.exe;
            return a.container_id < b.container_id;
        });
        return s;
    }

    int64_t interval_ms() const { return interval_ms_; }
    const std::string &db_path() const { return db_path_; }

private:
    struct Moved {
        int64_t in = 0, out = 0;
        // Counters only grow; a flow key reused by a new flow starts from zero again.
        Moved minus(const Moved &before) const {
            if (in < before.in || out < before.out) return *this;
            return {in - before.in, out - before.out};
        }
    };

    // A flow by its 5-tuple: the same for its live entry and its stored record.
    static std::string flow_key(const store::FlowRow &r) {
        return r.l4_proto + ' ' + r.src_ip + ' ' + std::to_string(r.src_port) + ' ' + r.dst_ip +
               ' ' + std::to_string(r.dst_port);
    }
    Moved seen_by_key(const std::string &key) const {
        auto it = seen_.find(key);
        return it == seen_.end() ? Moved{} : it->second;
    }

    ControlClient client_;
    std::string db_path_;
    int64_t interval_ms_;
    std::unique_ptr<store::Database> db_;
    std::unordered_map<std::string, Moved> seen_; // live flows' counters at the last snapshot
    int64_t last_id_ = 0;                         // newest stored flow counted so far
    bool store_read_ = false;                     // last_id_ is known
    int64_t last_time_ms_ = 0;
};

std::string seconds_text(int64_t ms) {
    char buf[32];
    if (ms % 1000 == 0)
        std::snprintf(buf, sizeof(buf), "%llds", static_cast<long long>(ms / 1000));
    else
        std::snprintf(buf, sizeof(buf), "%.1fs", static_cast<double>(ms) / 1000);
    return buf;
}

void print_top_json(const Snapshot &s, const Top &top) {
    Json j;
    j["time"] = format_timestamp(static_cast<uint64_t>(s.time_ms) * 1000000ull);
    j["interval_s"] = static_cast<double>(top.interval_ms()) / 1000;
    j["live_flows"] = s.live;
    j["ended"] = s.ended;
    j["bytes_in"] = s.bytes_in;
    j["bytes_out"] = s.bytes_out;
    Json rows = Json::array();
    for (const TopRow &r : s.rows)
        rows.push_back({{"exe", nullable(r.exe)},
                        {"container", nullable(container_text(r.container_name, r.container_id))},
                        {"container_id", nullable(r.container_id)},
                        {"live", r.live},
                        {"ended", r.ended},
                        {"bytes_in", r.bytes_in},
                        {"bytes_out", r.bytes_out}});
    j["rows"] = rows;
    Json store = {{"path", top.db_path()}};
    if (!s.store_error.empty()) store["error"] = s.store_error;
    j["store"] = store;
    std::printf("%s\n", j.dump().c_str());
}

void print_top_text(const Snapshot &s, const Top &top, size_t max_rows) {
    const std::string window = seconds_text(top.interval_ms());
    std::printf("policer top  %s  every %s  live flows: %zu  ended in the last %s: %zu (%s in, %s "
                "out)\n",
                local_time_text(s.time_ms).c_str(), window.c_str(), s.live, window.c_str(), s.ended,
                human_bytes(s.bytes_in).c_str(), human_bytes(s.bytes_out).c_str());
    if (!s.store_error.empty()) std::printf("store: %s (live flows only)\n", s.store_error.c_str());
    std::printf("\n");
    static const std::vector<Column> columns = {
        {"PROCESS", 48, false, true}, {"CONTAINER", 20}, {"LIVE", 6, true},
        {"ENDED", 6, true},           {"IN", 7, true},   {"OUT", 7, true},
    };
    std::vector<std::vector<std::string>> rows;
    for (const TopRow &r : s.rows) {
        if (rows.size() >= max_rows) break;
        rows.push_back({r.exe.empty() ? "(unknown)" : r.exe,
                        container_text(r.container_name, r.container_id), std::to_string(r.live),
                        std::to_string(r.ended), human_bytes(r.bytes_in),
                        human_bytes(r.bytes_out)});
    }
    print_table(columns, rows);
    if (s.rows.empty())
        std::printf("(no live flow, and none ended in the last %s)\n", window.c_str());
    if (s.rows.size() > rows.size()) std::printf("(%zu more)\n", s.rows.size() - rows.size());
}

} // namespace

int top_command(int argc, const char *const *argv) {
    cxxopts::Options spec("policer top", "Live flows and bytes by process and container");
    // clang-format off
    spec.add_options()
        ("socket", "policerd's control socket (default: $POLICER_SOCKET, else "
         "/run/policer/policer.sock)", cxxopts::value<std::string>(), "PATH")
        ("db", "The store policerd writes",
         cxxopts::value<std::string>()->default_value(kDefaultDb), "PATH")
        ("interval", "Seconds between refreshes, also the window of ENDED/IN/OUT",
         cxxopts::value<double>()->default_value("2"), "SECONDS")
        ("once", "Print one snapshot and exit")
        ("json", "One JSON object per snapshot and line")
        ("h,help", "Print this help");
    // clang-format on
    std::string socket, db_path;
    double interval = 2;
    bool once = false, json = false;
    try {
        auto r = spec.parse(argc, argv);
        if (r.count("help")) {
            std::cout << spec.help() << kTopHelp;
            return 0;
        }
        if (!r.unmatched().empty()) {
            std::fprintf(stderr, "policer top: unexpected argument '%s' (see --help)\n",
                         r.unmatched()[0].c_str());
            return 2;
        }
        const char *env = std::getenv("POLICER_SOCKET");
        socket = r.count("socket") ? r["socket"].as<std::string>()
                 : env && *env     ? env
                                   : kDefaultSocket;
        db_path = r["db"].as<std::string>();
        interval = r["interval"].as<double>();
        once = r.count("once") > 0;
        json = r.count("json") > 0;
    } catch (const cxxopts::exceptions::exception &e) {
        std::fprintf(stderr, "policer top: %s (see --help)\n", e.what());
        return 2;
    }
    if (!(interval >= 0.2 && interval <= 3600)) {
        std::fputs("policer top: --interval is seconds from 0.2 to 3600\n", stderr);
        return 2;
    }

    auto client = ControlClient::connect(socket);
    if (!client) {
        std::fprintf(stderr, "policer top: %s\n", client.error().message.c_str());
        return 3;
    }
    const auto interval_ms = static_cast<int64_t>(interval * 1000);
    Top top(std::move(*client), db_path, interval_ms);
    const bool tty = isatty(STDOUT_FILENO) != 0;
    auto next = std::chrono::steady_clock::now();
    for (bool first = true;; first = false) {
        auto snapshot = top.take();
        if (!snapshot) {
            std::fprintf(stderr, "policer top: %s\n", snapshot.error().message.c_str());
            return snapshot.error().message.rfind("policerd refused", 0) == 0 ? 1 : 3;
        }
        if (json) {
            print_top_json(*snapshot, top);
        } else {
            size_t max_rows = SIZE_MAX;
            winsize ws{};
            if (tty && !once && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 6)
                max_rows = ws.ws_row - 6u; // the header, the table's title, "(n more)"
            if (tty && !once)
                std::fputs("\x1b[H\x1b[2J", stdout); // home, clear screen
            else if (!first)
                std::fputs("\n", stdout);
            print_top_text(*snapshot, top, max_rows);
        }
        std::fflush(stdout);
        if (once) return 0;
        next += std::chrono::milliseconds(interval_ms);
        std::this_thread::sleep_until(next);
    }
}

} // namespace policer::cli
