// control_cli_test.cpp - the `policer` commands that manage a running policerd, as an operator
// uses them: a real policerd started without --rules (enforcement starts with the first managed
// rule), real `policer` processes against its control socket, and real traffic as nobody whose
// fate (EPERM or not) shows what the commands changed. Also: who may use the socket, requests
// that break the protocol, history and rollback, status, following events, and the bash
// completion. Each policerd pins its enforcement in a directory of its own, removed at the end.
#include "harness.h"

#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace pltest;

namespace {

const std::string kCompletion = std::string(PL_SOURCE_DIR) + "/packaging/completion/policer.bash";

// policerd with a store and a control socket and no --rules, pinned under a test directory;
// its enforcement is removed at the end.
struct Managed {
    std::string pin;
    std::unique_ptr<Policerd> d;

    explicit Managed(const std::string &name) : pin("/sys/fs/bpf/policer-test-" + name) {
        d = std::make_unique<Policerd>(
            std::vector<std::string>{"--pin-dir", pin, "--stats-interval", "0"});
    }
    ~Managed() {
        if (d) d->stop();
        run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", pin});
    }
    const std::string &socket() const { return d->control_socket(); }

    // `policer ARGS... --socket SOCKET`, as root.
    CommandResult cli(std::vector<std::string> args) const {
        args.insert(args.begin(), Binaries::policer());
        args.insert(args.end(), {"--socket", socket()});
        return run(args);
    }
    json cli_json(const std::vector<std::string> &args) const {
        auto r = cli(args);
        INFO(r.err);
        REQUIRE(r.status == 0);
        auto j = json::parse(r.out, nullptr, false);
        REQUIRE(!j.is_discarded());
        return j;
    }
    // The managed rule set's revision, as `policer status --json` reports it.
    int64_t revision() const { return cli_json({"status", "--json"})["rules"]["revision"]; }
    // The names of the managed items (origin "store"), from `policer rule list --json`.
    std::vector<std::string> managed_names() const {
        std::vector<std::string> out;
        const json list = cli_json({"rule", "list", "--json"});
        for (const auto &e : list["entries"])
            if (e["origin"] == "store") out.push_back(e["name"]);
        return out;
    }
};

void write(const std::string &path, const std::string &text) {
    std::ofstream(path) << text;
}

// "revision 4: added x" -> 4
int64_t revision_of(const std::string &out) {
    REQUIRE(out.rfind("revision ", 0) == 0);
    return std::stoll(out.substr(9));
}

bool contains(const std::string &hay, const std::string &needle) {
    return hay.find(needle) != std::string::npos;
}

// A raw connection to the control socket, for requests the CLI would never send.
class RawClient {
public:
    explicit RawClient(const std::string &path) {
        fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::memcpy(sa.sun_path, path.c_str(), path.size());
        REQUIRE(connect(fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) == 0);
    }
    ~RawClient() { close(fd_); }
    // Sends all of `bytes` (false once policerd has closed the connection).
    bool send_all(const std::string &bytes) {
        size_t off = 0;
        while (off < bytes.size()) {
            ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            off += static_cast<size_t>(n);
        }
        return true;
    }
    // The next line policerd sends, parsed; nullopt on timeout or end of the connection.
    std::optional<json> read_line(std::chrono::milliseconds timeout = 5000ms) {
        auto end = std::chrono::steady_clock::now() + timeout;
        while (true) {
            size_t nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return json::parse(line, nullptr, false);
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
            char tmp[4096];
            ssize_t n = read(fd_, tmp, sizeof(tmp));
            if (n <= 0) {
                eof_ = true;
                return std::nullopt;
            }
            buf_.append(tmp, static_cast<size_t>(n));
        }
    }
    std::optional<json> ask(const std::string &line) {
        if (!send_all(line + "\n")) return std::nullopt;
        return read_line();
    }
    bool eof() const { return eof_; }

private:
    int fd_ = -1;
    std::string buf_;
    bool eof_ = false;
};

// `script` run by bash with the completion loaded; its stdout.
CommandResult bash_with_completion(const std::string &script) {
    return run({"bash", "--norc", "--noprofile", "-c", "source " + kCompletion + "\n" + script});
}

} // namespace

TEST_CASE("control: policer rule add, disable, enable and rm change what real traffic as nobody "
          "meets, at once") {
    TestNetns n(87);
    Managed m("cli-traffic");
    TempDir dir;
    const std::string ip = n.ns_ip4(), port = "7851";
    // Nothing listens there and no rule is loaded: the peer refuses.
    CHECK(client(as_nobody(), {"tcp", ip, port}) == "error ECONNREFUSED");

    write(dir.file("nobody.rules"), "rule nobody-7851 {\n"
                                    "    when user.id == 65534 and dst.port == 7851\n"
                                    "    action reject\n"
                                    "}\n");
    auto r = m.cli({"rule", "add", dir.file("nobody.rules")});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "revision 1: added nobody-7851\n");
    CHECK(client(as_nobody(), {"tcp", ip, port}) == "error EPERM");
    CHECK(client(as_nobody(), {"udp", ip, port}) == "error EPERM");
    CHECK(client({}, {"tcp", ip, port}) == "error ECONNREFUSED"); // root is not nobody
    CHECK(client(as_nobody(), {"tcp", ip, "7852"}) == "error ECONNREFUSED");

    r = m.cli({"rule", "list"});
    REQUIRE(r.status == 0);
    CHECK(r.out == "NAME         KIND  STATE    ORIGIN\n"
                   "nobody-7851  rule  enabled  store\n");
    r = m.cli({"rule", "show", "nobody-7851"});
    CHECK(r.out == "rule nobody-7851 {\n"
                   "    when user.id == 65534 and dst.port == 7851\n"
                   "    action reject\n"
                   "}\n");

    r = m.cli({"rule", "disable", "nobody-7851"});
    REQUIRE(r.status == 0);
    CHECK(r.out == "revision 2: disabled nobody-7851\n");
    CHECK(client(as_nobody(), {"tcp", ip, port}) == "error ECONNREFUSED");
    auto list = m.cli_json({"rule", "list", "--json"});
    REQUIRE(list["entries"].size() == 1);
    CHECK(list["entries"][0]["enabled"] == false);

    r = m.cli({"rule", "enable", "nobody-7851"});
    REQUIRE(r.status == 0);
    CHECK(r.out == "revision 3: enabled nobody-7851\n");
    CHECK(client(as_nobody(), {"tcp", ip, port}) == "error EPERM");

    r = m.cli({"rule", "rm", "nobody-7851"});
    REQUIRE(r.status == 0);
    CHECK(r.out == "revision 4: removed nobody-7851\n");
    CHECK(client(as_nobody(), {"tcp", ip, port}) == "error ECONNREFUSED");
    CHECK(m.managed_names().empty());

    // Removing what is not there is policerd's refusal: exit 1, the reason on stderr.
    r = m.cli({"rule", "rm", "nobody-7851"});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(contains(r.err, "policer: not managed: nobody-7851"));
    CHECK(m.revision() == 4);

    // A rule from stdin.
    r = run({"bash", "-c",
             "echo 'rule nobody-7852 { when user.id == 65534 and dst.port == 7852 action deny }'"
             " | " +
                 std::string(Binaries::policer()) + " rule add - --socket " + m.socket()});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "revision 5: added nobody-7852\n");
    CHECK(client(as_nobody(), {"tcp", ip, "7852"}) == "error EPERM");

    // policerd reported each refusal, naming the managed rule.
    CHECK(m.d->wait_for([](const json &j) {
        return is_action(j, "connection-refused") && at(j, "rule.name") == "nobody-7851";
    }));
}

TEST_CASE("control: two CLIs adding rules at once both get every change applied, each as a "
          "revision of its own") {
    Managed m("cli-concurrent");
    TempDir dir;
    std::set<std::string> expected;
    for (int w = 0; w < 2; ++w)
        for (int i = 0; i < 10; ++i) {
            const std::string name = "c-" + std::to_string(w) + "-" + std::to_string(i);
            expected.insert(name);
            write(dir.file(name + ".rules"),
                  "rule " + name + " { when user.id == 65534 and dst.port == " +
                      std::to_string(7860 + w * 10 + i) + " action deny }\n");
        }
    std::vector<CommandResult> results(20);
    auto writer = [&](int w) {
        for (int i = 0; i < 10; ++i) {
            const std::string name = "c-" + std::to_string(w) + "-" + std::to_string(i);
            results[static_cast<size_t>(w * 10 + i)] =
                m.cli({"rule", "add", dir.file(name + ".rules")});
        }
    };
    std::thread a(writer, 0), b(writer, 1);
    a.join();
    b.join();
    std::set<int64_t> answered;
    for (const auto &r : results) {
        INFO(r.err);
        CHECK(r.status == 0);
        if (r.status == 0) answered.insert(revision_of(r.out));
    }
    CHECK(answered.size() == 20);

    auto names = m.managed_names();
    CHECK(std::set<std::string>(names.begin(), names.end()) == expected);
    CHECK(names.size() == 20);

    auto hist = m.cli_json({"rule", "history", "--json", "--limit", "100"});
    std::set<int64_t> revisions;
    std::set<std::string> added;
    for (const auto &h : hist["revisions"]) {
        CHECK(h["action"] == "add");
        CHECK(h["actor"]["user"] == "root");
        revisions.insert(h["revision"].get<int64_t>());
        for (const auto &c : h["changes"])
            added.insert(c["name"].get<std::string>());
    }
    CHECK(hist["revisions"].size() == 20);
    CHECK(revisions.size() == 20);
    CHECK(revisions == answered);
    CHECK(added == expected);
    CHECK(m.revision() == 20);
}

TEST_CASE("control: a user that is neither root nor in the policer group is refused by policerd "
          "and changes nothing") {
    Managed m("cli-peer");
    TempDir dir;
    write(dir.file("a.rules"),
          "rule a { when user.id == 65534 and dst.port == 7890 action deny }\n");
    REQUIRE(m.cli({"rule", "add", dir.file("a.rules")}).status == 0);
    write(dir.file("b.rules"),
          "rule b { when user.id == 65534 and dst.port == 7891 action deny }\n");
    chmod(dir.file("b.rules").c_str(), 0644);
    // The file system lets nobody reach the socket, so that what refuses is policerd's own
    // check of the peer's credentials.
    const std::string sock = m.socket();
    REQUIRE(chmod(sock.substr(0, sock.rfind('/')).c_str(), 0755) == 0);
    REQUIRE(chmod(sock.c_str(), 0666) == 0);

    auto as_nobody_cli = [&](std::vector<std::string> args) {
        std::vector<std::string> argv = as_nobody();
        argv.push_back(Binaries::policer());
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--socket", sock});
        return run(argv);
    };
    for (const auto &args :
         std::vector<std::vector<std::string>>{{"rule", "add", dir.file("b.rules")},
                                               {"rule", "rm", "a"},
                                               {"rule", "disable", "a"},
                                               {"rule", "rollback", "0"},
                                               {"rule", "list"},
                                               {"status"}}) {
        auto r = as_nobody_cli(args);
        CAPTURE(args[1]);
        INFO(r.err);
        CHECK(r.status == 1);
        CHECK(r.out.empty());
        CHECK(contains(r.err, "policer: permission denied: policer is controlled by root"));
    }
    CHECK(m.revision() == 1);
    CHECK(m.managed_names() == std::vector<std::string>{"a"});
    auto st = m.cli_json({"status", "--json"});
    CHECK(st["control"]["refused_peers"].get<int>() >= 6);
    // Only root's change is in the history.
    auto hist = m.cli_json({"rule", "history", "--json"});
    REQUIRE(hist["revisions"].size() == 1);
    CHECK(hist["revisions"][0]["actor"]["uid"] == 0);
}

TEST_CASE("control: malformed requests and malformed rule text are refused and change nothing") {
    Managed m("cli-malformed");
    TempDir dir;
    write(dir.file("a.rules"),
          "rule a { when user.id == 65534 and dst.port == 7895 action deny }\n");
    REQUIRE(m.cli({"rule", "add", dir.file("a.rules")}).status == 0);
    const std::string before = m.cli({"rule", "export"}).out;

    {
        RawClient c(m.socket());
        for (const std::string line : {
                 "this is not json",
                 "[1, 2, 3]",
                 "\"rule.add\"",
                 "{\"id\": 1}",
                 "{\"op\": 7}",
                 "{\"op\": \"rule.explode\"}",
                 "{\"op\": \"rule.add\", \"text\": 42}",
                 "{\"op\": \"rule.add\", \"text\": \"rule x { when dst.port == 1 action deny }\", "
                 "\"replace\": \"yes\"}",
                 "{\"op\": \"rule.add\", \"text\": \"rule x { when dst.port == 1 action deny }\", "
                 "\"source\": [\"x.rules\"]}",
                 "{\"op\": \"rule.rm\", \"names\": \"a\"}",
                 "{\"op\": \"rule.disable\", \"names\": [\"a\", 3]}",
                 "{\"op\": \"rule.history\", \"limit\": \"ten\"}",
                 "{\"op\": \"rule.rollback\", \"revision\": -1}",
                 "{\"op\": \"rule.rollback\", \"revision\": \"1\"}",
                 "{\"op\": \"rule.show\", \"name\": null}",
                 "{\"op\": \"events.follow\", \"topics\": \"rule.change\"}",
                 "{\"op\": \"rule.import\"}",
             }) {
            CAPTURE(line);
            auto a = c.ask(line);
            REQUIRE(a);
            REQUIRE(a->is_object());
            CHECK((*a)["ok"] == false);
            CHECK((*a)["error"].is_string());
        }
        // The connection still serves a good request.
        auto a = c.ask("{\"op\": \"status\", \"id\": \"after\"}");
        REQUIRE(a);
        CHECK((*a)["ok"] == true);
        CHECK((*a)["id"] == "after");
    }
    {
        // A line longer than 1 MiB: refused, and the connection closed.
        RawClient c(m.socket());
        std::string huge = "{\"op\": \"rule.add\", \"text\": \"" + std::string(1536 * 1024, ' ') +
                           "rule y { when dst.port == 2 action deny }\"}\n";
        c.send_all(huge); // may fail part way: policerd closes once it has seen 1 MiB
        auto a = c.read_line();
        REQUIRE(a);
        CHECK((*a)["ok"] == false);
        CHECK(contains((*a)["error"].get<std::string>(), "longer than"));
        CHECK(!c.read_line(2000ms));
        CHECK(c.eof());
    }
    CHECK(m.revision() == 1);
    CHECK(m.cli({"rule", "export"}).out == before);
    CHECK(m.cli_json({"status", "--json"})["control"]["bad_requests"].get<int>() >= 18);

    // Rule text with errors: file:line:col diagnostics on stderr, exit 1, nothing changed.
    write(dir.file("bad.rules"), "rule bad {\n"
                                 "    when user.id == 65534 and dst.port = 7896\n"
                                 "    action reject\n"
                                 "}\n");
    auto r = m.cli({"rule", "add", dir.file("bad.rules")});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    INFO(r.err);
    CHECK(contains(r.err, "policer: the rule text has errors"));
    CHECK(contains(r.err, dir.file("bad.rules") + ":2:40: error:"));
    // A valid file whose rule uses a list nobody defined: refused by the check of the whole set.
    write(dir.file("unknown.rules"), "rule z { when dst.ip in no_such_list action deny }\n");
    r = m.cli({"rule", "add", dir.file("unknown.rules")});
    CHECK(r.status == 1);
    CHECK(contains(r.err, dir.file("unknown.rules") + ":1:"));
    // A name that is managed already.
    r = m.cli({"rule", "add", dir.file("a.rules")});
    CHECK(r.status == 1);
    CHECK(contains(r.err, "already managed: a"));
    // Usage errors exit 2 and send nothing.
    CHECK(m.cli({"rule", "add"}).status == 2);
    CHECK(m.cli({"rule", "add", dir.file("missing.rules")}).status == 2);
    CHECK(m.cli({"rule", "import", dir.file("a.rules")}).status == 2); // no --yes
    CHECK(m.cli({"rule", "rollback", "one"}).status == 2);
    CHECK(m.cli({"rule", "list", "--no-such-option"}).status == 2);
    CHECK(m.revision() == 1);
    CHECK(m.cli({"rule", "export"}).out == before);
    // No policerd there: exit 3.
    r = run({Binaries::policer(), "status", "--socket", dir.file("none.sock")});
    CHECK(r.status == 3);
    CHECK(contains(r.err, "cannot reach policerd"));
}

TEST_CASE("control: policer rule history and rollback restore the exact earlier rule set") {
    Managed m("cli-rollback");
    TempDir dir;
    write(dir.file("a.rules"), "list ports-a = (7901, 7902)\n"
                               "rule a {\n"
                               "    when user.id == 65534 and dst.port in ports-a\n"
                               "    action reject\n"
                               "}\n");
    write(dir.file("b.rules"),
          "rule b { when user.id == 65534 and dst.port == 7903 action deny }\n");
    auto r = m.cli({"rule", "add", dir.file("a.rules")});
    REQUIRE(r.status == 0);
    CHECK(r.out == "revision 1: added ports-a, a\n");
    const int64_t after_a = revision_of(r.out);
    const std::string export_a = m.cli({"rule", "export"}).out;
    CHECK(contains(export_a, "list ports-a = (7901, 7902)\n"));

    REQUIRE(m.cli({"rule", "add", dir.file("b.rules")}).status == 0);
    REQUIRE(m.cli({"rule", "disable", "a"}).status == 0);
    const std::string export_now = m.cli({"rule", "export"}).out;
    CHECK(export_now != export_a);
    CHECK(contains(export_now, "#disabled rule a {\n"));

    r = m.cli({"rule", "rollback", std::to_string(after_a)});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out == "revision 4: rolled back to revision 1; changed a, b\n");
    CHECK(m.cli({"rule", "export"}).out == export_a);
    r = m.cli({"rule", "export", "-o", dir.file("out.rules")});
    CHECK(r.status == 0);
    std::stringstream written;
    written << std::ifstream(dir.file("out.rules")).rdbuf();
    CHECK(written.str() == export_a);

    auto hist = m.cli_json({"rule", "history", "--json"});
    REQUIRE(hist["revisions"].size() == 4);
    const auto &last = hist["revisions"][0];
    CHECK(last["revision"] == 4);
    CHECK(last["action"] == "rollback");
    CHECK(last["actor"]["user"] == "root");
    CHECK(last["actor"]["uid"] == 0);
    CHECK(last["summary"] == "rollback to revision 1");

    r = m.cli({"rule", "history"});
    REQUIRE(r.status == 0);
    std::istringstream lines(r.out);
    std::string header, newest;
    std::getline(lines, header);
    std::getline(lines, newest);
    CHECK(header.rfind("REV  TIME", 0) == 0);
    CHECK(newest.rfind("4  ", 0) == 0);
    CHECK(contains(newest, "  root  rollback  rollback to revision 1"));

    // -v: each change as a diff.
    r = m.cli({"rule", "history", "a", "-v"});
    REQUIRE(r.status == 0);
    CHECK(contains(r.out, "    a: enabled -> disabled\n"));
    CHECK(contains(r.out, "    a: added\n      + rule a {\n"));
    CHECK(!contains(r.out, "\n2  ")); // only the revisions that changed a: not "add b"
    CHECK(contains(r.out, "\n4  "));
    r = m.cli({"rule", "history", "b", "-v"});
    CHECK(contains(r.out, "    b: removed\n      - rule b { when user.id == 65534"));

    // import puts back what export wrote, disabled items included.
    REQUIRE(m.cli({"rule", "add", dir.file("b.rules")}).status == 0);
    REQUIRE(m.cli({"rule", "disable", "b"}).status == 0);
    const std::string exported = m.cli({"rule", "export"}).out;
    write(dir.file("exported.rules"), exported);
    REQUIRE(m.cli({"rule", "rm", "a", "ports-a"}).status == 0);
    r = m.cli({"rule", "import", "--yes", dir.file("exported.rules")});
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(m.cli({"rule", "export"}).out == exported);
    CHECK(m.cli_json({"rule", "history", "--json", "--limit", "1"})["revisions"][0]["action"] ==
          "import");
}

TEST_CASE("control: policer status shows mode and hooks, and policer events --follow receives "
          "the rule change another CLI makes") {
    Managed m("cli-status");
    TempDir dir;
    auto st = m.cli_json({"status", "--json"});
    CHECK(st["mode"] == "observe"); // no rule loaded yet
    CHECK(st["rules"]["revision"] == 0);
    REQUIRE(st["hooks"].is_array());
    CHECK(st["hooks"].size() > 5);
    for (const auto &h : st["hooks"])
        CHECK(h["kind"] == "observe");
    CHECK(st["policer"]["ringbuf"]["dropped"].is_number());
    CHECK(st["store"]["path"] == m.d->db_path());

    Child follower({Binaries::policer(), "events", "--follow", "--topic", "rule.change", "--socket",
                    m.socket()});
    // The follower subscribes as it starts: a change made before may go unseen, so changes are
    // made until one arrives.
    std::optional<std::string> line;
    std::set<std::string> added;
    for (int i = 0; i < 10 && !line; ++i) {
        const std::string name = "ev-" + std::to_string(i);
        write(dir.file(name + ".rules"), "rule " + name +
                                             " { when user.id == 65534 and dst.port == " +
                                             std::to_string(7910 + i) + " action deny }\n");
        REQUIRE(m.cli({"rule", "add", dir.file(name + ".rules")}).status == 0);
        added.insert(name);
        line = follower.read_line(2000ms);
    }
    REQUIRE(line);
    auto ev = json::parse(*line, nullptr, false);
    REQUIRE(!ev.is_discarded());
    CHECK(at(ev, "event.action") == "rule-change");
    CHECK(at(ev, "user.name") == "root");
    CHECK(at(ev, "policer.rules.action") == "add");
    REQUIRE(at(ev, "policer.rules.changed").size() == 1);
    CHECK(added.count(at(ev, "policer.rules.changed")[0].get<std::string>()) == 1);
    // Ctrl-C ends it cleanly.
    follower.signal(SIGINT);
    CHECK(follower.wait() == 0);

    st = m.cli_json({"status", "--json"});
    CHECK(st["mode"] == "enforce");
    CHECK(st["rules"]["revision"] == static_cast<int64_t>(added.size()));
    bool enforce_hook = false;
    for (const auto &h : st["hooks"])
        enforce_hook |= h["kind"] == "enforce";
    CHECK(enforce_hook);
    // Map fill: the kernel's process map holds at least the processes of this test, the
    // enforcement maps are listed with their limits.
    REQUIRE(st["maps"].contains("pl_procs"));
    CHECK(st["maps"]["pl_procs"]["entries"].get<int64_t>() > 0);
    CHECK(st["maps"]["pl_procs"]["entries"] <= st["maps"]["pl_procs"]["max_entries"]);
    REQUIRE(st["maps"].contains("pl_flow_verdicts"));
    CHECK(st["maps"]["pl_flow_verdicts"]["object"] == "enforce");
    CHECK(st["maps"]["pl_flow_verdicts"]["max_entries"].get<int64_t>() > 0);
    auto r = m.cli({"status"});
    REQUIRE(r.status == 0);
    INFO(r.out);
    CHECK(std::regex_search(r.out, std::regex("\nmode +enforce\n")));
    CHECK(std::regex_search(r.out, std::regex("\nhooks +[0-9]+ attached")));
    CHECK(std::regex_search(r.out, std::regex("\nmap pl_procs +[1-9][0-9]* of [0-9]+")));
    r = m.cli({"status", "-v"});
    CHECK(contains(r.out, "pl_enf_connect4"));

    // The completion offers the managed names, from this policerd.
    r = bash_with_completion("COMP_WORDS=(" + std::string(Binaries::policer()) +
                             " rule disable --socket " + m.socket() +
                             " ev-); COMP_CWORD=5; _policer; printf '%s\\n' \"${COMPREPLY[@]}\"");
    INFO(r.err);
    CHECK(r.status == 0);
    std::set<std::string> offered;
    std::istringstream words(r.out);
    for (std::string w; std::getline(words, w);)
        offered.insert(w);
    CHECK(offered == added);
}

TEST_CASE("control: the bash completion registers for policer and completes commands, "
          "subcommands and options") {
    auto r = bash_with_completion("complete -p policer");
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "complete -F _policer policer\n");
    auto complete = [](const std::string &words, int cword) {
        auto r =
            bash_with_completion("COMP_WORDS=(" + words + "); COMP_CWORD=" + std::to_string(cword) +
                                 "; _policer; echo \"${COMPREPLY[*]}\"");
        return r.out;
    };
    CHECK(complete("policer st", 1) == "status\n");
    CHECK(complete("policer rule ro", 2) == "rollback\n");
    CHECK(complete("policer rule add --re", 3) == "--replace\n");
    CHECK(complete("policer events --topic rule", 3) == "rule.change\n");
    CHECK(complete("policer status --j", 2) == "--json\n");
    // No policerd at that socket: no names, no error.
    CHECK(complete("policer rule rm --socket /nonexistent/policer.sock ''", 4) == "\n");
}
