// store_cli_test.cpp - the CLI's read-only views of the store, as an operator uses them:
// `policer flows` finds a real flow policerd just stored, `policer rule test` replays a stored
// day of flows through a candidate rule set and reports exactly the verdicts that change, and
// `policer top` shows the process behind a live connection.
#include "harness.h"

#include "common/timestamp.h"
#include "store/flow_event.h"
#include "store/flow_store.h"
#include "store/schema.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace pltest;

namespace {

constexpr int64_t kHourMs = 3600 * 1000;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::vector<json> json_lines(const std::string &text) {
    std::vector<json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(json::parse(line));
    return out;
}

// curl, as nobody, fetching from `server`; returns curl's pid once it has finished.
pid_t curl_as_nobody(const TcpServer &server) {
    Child curl({Binaries::run_in(), "--uid", std::to_string(kNobody), "--gid",
                std::to_string(kNogroup), "--", "/usr/bin/curl", "-s", "-o", "/dev/null",
                "http://127.0.0.1:" + std::to_string(server.port()) + "/"},
               false);
    const pid_t pid = curl.pid();
    REQUIRE(curl.wait() == 0);
    return pid;
}

// The stored flows `policer flows ARGS --json` returns, polled until `want` holds for one of
// them (the daemon commits its batch about once a second) or 10 s have passed.
std::optional<json> poll_flows(const std::vector<std::string> &args,
                               const std::function<bool(const json &)> &want) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
        std::vector<std::string> argv{Binaries::policer(), "flows"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.emplace_back("--json");
        auto r = run(argv);
        INFO(r.err);
        REQUIRE(r.status == 0);
        for (const json &j : json_lines(r.out))
            if (want(j)) return j;
        std::this_thread::sleep_for(200ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
}

// A real flow-end event from a real policerd (curl as nobody to a loopback server): the
// template of the synthetic day of flows.
json real_flow_end() {
    Policerd d;
    TcpServer server("127.0.0.1", /*http=*/true);
    const pid_t pid = curl_as_nobody(server);
    auto end = d.wait_for(flow_of("flow-end", pid, "tcp"));
    REQUIRE(end);
    return *end;
}

// `tmpl` as the flow-end event of another flow: when it ended, who, what, where to, and the
// verdict the rules in force gave it ("" = policerd ran without rules).
json vary(const json &tmpl, int64_t end_ms, uint32_t uid, const std::string &user,
          const std::string &exe, int64_t src_port, int64_t dst_port, const std::string &action,
          const std::string &rule) {
    json e = tmpl;
    e["@timestamp"] = policer::format_timestamp(static_cast<uint64_t>(end_ms) * 1000000ull);
    e["event"]["duration"] = 1500000000; // 1.5 s
    e["user"]["id"] = std::to_string(uid);
    e["user"]["name"] = user;
    e["process"]["executable"] = exe;
    e["process"]["name"] = exe.substr(exe.rfind('/') + 1);
    e["process"]["pid"] = 20000 + src_port % 10000;
    e["source"]["port"] = src_port;
    e["destination"]["port"] = dst_port;
    e.erase("rule");
    e["policer"].erase("verdict");
    if (!action.empty()) {
        e["policer"]["verdict"] = {{"by", rule.empty() ? "default" : "rule"},
                                   {"action", action},
                                   {"audit", false},
                                   {"enforced", true}};
        if (!rule.empty()) e["rule"] = {{"name", rule}, {"ruleset", "policer"}};
    }
    return e;
}

// A TCP listener on 127.0.0.1 that never accepts: connections complete in its backlog and stay
// open as long as their client keeps them.
struct Listener {
    Listener() {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(sa);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr *>(&sa), len) == 0);
        REQUIRE(listen(fd, 16) == 0);
        REQUIRE(getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len) == 0);
        port = ntohs(sa.sin_port);
    }
    ~Listener() { close(fd); }
    int fd = -1;
    uint16_t port = 0;
};

} // namespace

TEST_CASE("policer flows: a real flow is in the store within seconds, found with --where") {
    Policerd d;
    TcpServer server("127.0.0.1", /*http=*/true);
    const pid_t pid = curl_as_nobody(server);
    REQUIRE(d.wait_for(flow_of("flow-end", pid, "tcp")));
    const std::string port = std::to_string(server.port());
    const std::string curl = real_path("/usr/bin/curl");

    // dst_port matches both ends of the loopback connection: curl's egress flow and the
    // test's own accepted (ingress) one.
    auto is_curl = [&](const json &j) {
        return at(j, "process.executable") == curl && at(j, "process.pid") == pid;
    };
    auto flow = poll_flows({"--db", d.db_path(), "--where", "dst_port", "==", port}, is_curl);
    REQUIRE_MESSAGE(flow, "policer flows did not return curl's flow within 10 s");
    CHECK(at(*flow, "event.action") == "flow-end");
    CHECK(at(*flow, "user.name") == user_name(kNobody));
    CHECK(at(*flow, "user.id") == std::to_string(kNobody));
    CHECK(at(*flow, "destination.port") == server.port());
    CHECK(at(*flow, "destination.ip") == "127.0.0.1");
    CHECK(at(*flow, "network.direction") == "egress");
    CHECK(at(*flow, "destination.bytes").get<int64_t>() > 0);

    // Every condition must hold; the one-argument form is the same condition.
    auto r = run({Binaries::policer(), "flows", "--db", d.db_path(), "--json", "--where",
                  "dst_port==" + port, "--where", "user_name", "==", user_name(kNobody), "--where",
                  "exe glob */curl", "--since", "5m"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    auto lines = json_lines(r.out);
    REQUIRE(lines.size() == 1);
    CHECK(is_curl(lines[0]));
    auto none = run({Binaries::policer(), "flows", "--db", d.db_path(), "--json", "--where",
                     "dst_port", "==", port, "--until", "1h"});
    REQUIRE(none.status == 0);
    CHECK(none.out.empty());

    // The table, for people.
    auto table = run({Binaries::policer(), "flows", "--db", d.db_path(), "--where", "dst_port",
                      "==", port, "--where", "direction", "==", "egress"});
    INFO(table.err);
    REQUIRE(table.status == 0);
    CHECK(table.out.find("PROCESS") != std::string::npos);
    CHECK(table.out.find(curl) != std::string::npos);
    CHECK(table.out.find(user_name(kNobody)) != std::string::npos);
    CHECK(table.out.find("127.0.0.1:" + port) != std::string::npos);

    // Mistakes are usage errors that say what to write instead; the store is untouched.
    auto typo =
        run({Binaries::policer(), "flows", "--db", d.db_path(), "--where", "dst_prot", "==", "22"});
    CHECK(typo.status == 2);
    CHECK(typo.err.find("did you mean \"dst_port\"") != std::string::npos);
    auto text_port = run(
        {Binaries::policer(), "flows", "--db", d.db_path(), "--where", "dst_port", "==", "ssh"});
    CHECK(text_port.status == 2);
    CHECK(text_port.err.find("not an integer") != std::string::npos);
    auto missing = run({Binaries::policer(), "flows", "--db", "/nonexistent/policer.db"});
    CHECK(missing.status == 1);
    CHECK(missing.err.find("/nonexistent/policer.db") != std::string::npos);
}

TEST_CASE("policer rule test: a stored day of flows replayed - exactly the changed verdicts") {
    const json tmpl = real_flow_end();
    TempDir dir;
    const std::string db_path = dir.file("policer.db");

    // 26 hours of flows, one every ~30 s: three users, three programs, four ports. The rules
    // in force allowed everything but some of nobody's SSH flows (old-no-ssh denied those),
    // and policerd ran without rules for a while (no verdict stored).
    struct Users {
        uint32_t uid;
        const char *name;
    };
    const Users users[] = {{1000, "alice"}, {kNobody, "nobody"}, {0, "root"}};
    const char *const exes[] = {"/usr/bin/ssh", "/usr/bin/curl", "/usr/bin/python3"};
    const int64_t ports[] = {22, 443, 80, 53};
    const int64_t now = now_ms();
    const int64_t day_ago = now - 24 * kHourMs;
    std::set<int64_t> expected; // source ports of the flows whose verdict changes
    size_t in_window = 0, old_matching = 0, stored = 0;
    {
        auto db = policer::store::open_store(db_path);
        REQUIRE_MESSAGE(db.ok(), db.error().message);
        policer::store::FlowStore flows(*db);
        auto tx = policer::store::Transaction::begin(*db);
        REQUIRE(tx.ok());
        const int kFlows = 3200;
        for (int i = 0; i < kFlows; ++i) {
            const int64_t end = now - 26 * kHourMs + i * (26 * kHourMs - 60000) / kFlows;
            // Nothing within ten minutes of the window's edge: the test's clock and the CLI's
            // differ by the time it takes to get there.
            if (end > day_ago - 600000 && end < day_ago + 600000) continue;
            const Users &u = users[i % 3];
            const std::string exe = exes[(i / 3) % 3];
            const int64_t dst_port = ports[(i / 2) % 4];
            const int64_t src_port = 20000 + i;
            std::string action = i % 11 == 0 ? "" : "allow", rule;
            const bool nobody_ssh = u.uid == kNobody && dst_port == 22;
            if (nobody_ssh && i % 5 == 0) {
                action = "deny";
                rule = "old-no-ssh";
            }
            json e = vary(tmpl, end, u.uid, u.name, exe, src_port, dst_port, action, rule);
            // As policerd stores a flow-end event (policer/control_ops.cpp).
            auto row = policer::store::flow_row_from_event(e, e.dump());
            REQUIRE_MESSAGE(row.ok(), row.error().message);
            REQUIRE(flows.insert(*row).ok());
            ++stored;
            if (end >= day_ago) {
                ++in_window;
                if (nobody_ssh && action != "deny") expected.insert(src_port);
            } else if (nobody_ssh) {
                ++old_matching;
            }
        }
        REQUIRE(tx->commit().ok());
    }
    REQUIRE(expected.size() > 50);
    REQUIRE(old_matching > 5);

    std::ofstream(dir.file("candidate.rules")) << R"(# candidate.rules
rule no-nobody-ssh {
    when user.name == nobody and dst.port == 22
    action deny
    description "nobody has no business with SSH"
}
)";
    auto r = run({Binaries::policer(), "rule", "test", dir.file("candidate.rules"), "--since",
                  "24h", "--db", db_path, "--json"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    json doc = json::parse(r.out);
    CHECK(doc["replayed"] == in_window);
    CHECK(doc["changed"] == expected.size());
    CHECK(doc["unreadable"] == 0);
    std::set<int64_t> reported;
    for (const json &f : doc["flows"]) {
        reported.insert(f["src_port"].get<int64_t>());
        CHECK(f["changed"] == true);
        CHECK(f["from"] == "allow");
        CHECK(f["to"] == "deny");
        CHECK(f["rule"] == "no-nobody-ssh");
        CHECK(f["user"] == "nobody");
        CHECK(f["dst_port"] == 22);
    }
    CHECK(reported == expected);
    REQUIRE(doc["by_rule"].size() == 1);
    CHECK(doc["by_rule"][0]["rule"] == "no-nobody-ssh");
    CHECK(doc["by_rule"][0]["flows"] == expected.size());
    CHECK(doc["by_rule"][0]["changes"]["allow -> deny"] == expected.size());

    // --all lists every flow replayed, changed or not; the older ones are never replayed.
    auto all = run({Binaries::policer(), "rule", "test", dir.file("candidate.rules"), "--db",
                    db_path, "--json", "--all"});
    REQUIRE(all.status == 0);
    json every = json::parse(all.out);
    CHECK(every["flows"].size() == in_window);
    CHECK(every["replayed"] == in_window);
    size_t changed = 0;
    for (const json &f : every["flows"])
        changed += f["changed"] == true;
    CHECK(changed == expected.size());

    // A wider window takes the older flows in too.
    auto wide = run({Binaries::policer(), "rule", "test", dir.file("candidate.rules"), "--since",
                     "2d", "--db", db_path, "--json"});
    REQUIRE(wide.status == 0);
    json wider = json::parse(wide.out);
    CHECK(wider["replayed"] == stored);
    CHECK(wider["changed"].get<size_t>() > expected.size());

    // The summary for people.
    auto text =
        run({Binaries::policer(), "rule", "test", dir.file("candidate.rules"), "--db", db_path});
    REQUIRE(text.status == 0);
    CHECK(text.out.find("Replayed " + std::to_string(in_window) + " flows") != std::string::npos);
    CHECK(text.out.find(std::to_string(expected.size()) + " verdicts would change") !=
          std::string::npos);
    CHECK(text.out.find("no-nobody-ssh") != std::string::npos);
    CHECK(text.out.find("allow -> deny") != std::string::npos);

    // A candidate with an error replays nothing and says where the error is.
    std::ofstream(dir.file("broken.rules")) << "rule x { when user.nme == nobody action deny }\n";
    auto broken =
        run({Binaries::policer(), "rule", "test", dir.file("broken.rules"), "--db", db_path});
    CHECK(broken.status == 1);
    CHECK(broken.err.find(dir.file("broken.rules") + ":1:") != std::string::npos);
    CHECK(broken.out.empty());

    // Nothing was written: the rows are as they were.
    auto db = policer::store::open_store(db_path);
    REQUIRE(db.ok());
    CHECK(policer::store::FlowStore(*db).count().value() == static_cast<int64_t>(stored));
}

TEST_CASE("policer top --once --json: the process and bytes of a live connection, and bytes of "
          "ended ones") {
    Policerd d;
    // An ended flow, within the window: curl's bytes come from the store.
    TcpServer server("127.0.0.1", /*http=*/true);
    const pid_t curl_pid = curl_as_nobody(server);
    REQUIRE(d.wait_for(flow_of("flow-end", curl_pid, "tcp")));
    // A live one: bash holding a connection open after sending 50000 bytes (they sit in the
    // never-accepted socket's receive queue), waiting in its own `read` (no child process that
    // would outlive it).
    Listener listener;
    Child holder({Binaries::run_in(), "--uid", std::to_string(kNobody), "--gid",
                  std::to_string(kNogroup), "--", "/bin/bash", "-c",
                  "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(listener.port) +
                      " && printf '%050000d' 0 >&3 && read -r -t 30 line <&3; exit 0"},
                 false);
    REQUIRE(d.wait_for(flow_of("flow-start", holder.pid(), "tcp")));
    const std::string bash = real_path("/bin/bash");
    const std::string curl = real_path("/usr/bin/curl");

    std::optional<json> bash_row, curl_row;
    json snapshot;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline && !(bash_row && curl_row)) {
        auto r = run({Binaries::policer(), "top", "--once", "--json", "--interval", "60",
                      "--socket", d.control_socket(), "--db", d.db_path()});
        INFO(r.err);
        REQUIRE(r.status == 0);
        auto lines = json_lines(r.out);
        REQUIRE(lines.size() == 1);
        snapshot = lines[0];
        CHECK_FALSE(snapshot["store"].contains("error"));
        bash_row.reset();
        curl_row.reset();
        for (const json &row : snapshot["rows"]) {
            if (row["exe"] == bash && row["live"].get<int>() >= 1 &&
                row["bytes_out"].get<int64_t>() >= 50000)
                bash_row = row;
            if (row["exe"] == curl && row["ended"].get<int>() >= 1) curl_row = row;
        }
        if (!(bash_row && curl_row)) std::this_thread::sleep_for(300ms);
    }
    INFO(snapshot.dump(2));
    REQUIRE(bash_row);
    CHECK((*bash_row)["container"].is_null());
    CHECK(snapshot["live_flows"].get<int>() >= 1);
    REQUIRE(curl_row);
    CHECK((*curl_row)["bytes_in"].get<int64_t>() > 0);  // the HTTP response
    CHECK((*curl_row)["bytes_out"].get<int64_t>() > 0); // the request
    CHECK((*curl_row)["live"] == 0);
    // The live flow's bytes so far come from the kernel's socket, before it has ended.
    CHECK((*bash_row)["bytes_out"].get<int64_t>() < 60000);

    // Refreshing: the first snapshot counts the live flow's 50000 bytes, the next ones only
    // what it sent since (nothing: it waits in read).
    auto refreshing =
        run({"/usr/bin/timeout", "2.5", Binaries::policer(), "top", "--json", "--interval", "0.5",
             "--socket", d.control_socket(), "--db", d.db_path()});
    auto snapshots = json_lines(refreshing.out);
    REQUIRE(snapshots.size() >= 3);
    auto bash_out = [&bash](const json &snap) -> int64_t {
        for (const json &row : snap["rows"])
            if (row["exe"] == bash && row["live"].get<int>() >= 1)
                return row["bytes_out"].get<int64_t>();
        return -1;
    };
    CHECK(bash_out(snapshots[0]) >= 50000);
    CHECK(bash_out(snapshots[1]) == 0);
    CHECK(bash_out(snapshots.back()) == 0);

    // The text view, as a pipe sees it: no screen control codes.
    auto text = run({Binaries::policer(), "top", "--once", "--socket", d.control_socket(), "--db",
                     d.db_path()});
    INFO(text.err);
    REQUIRE(text.status == 0);
    CHECK(text.out.find(bash) != std::string::npos);
    CHECK(text.out.find("LIVE") != std::string::npos);
    CHECK(text.out.find('\x1b') == std::string::npos);

    // No policerd there: exit 3, and what to check.
    auto gone = run({Binaries::policer(), "top", "--once", "--socket", "/nonexistent.sock"});
    CHECK(gone.status == 3);
    CHECK(gone.err.find("is it running?") != std::string::npos);
    holder.signal(SIGKILL);
}
