// enforce_dns_test.cpp - a dst.domain rule enforced in the kernel on a name policerd learned
// from a real DNS answer. A server network namespace holds a small DNS responder written here
// (UDP port 53, A and AAAA for a fixed zone) and TCP listeners on the addresses it answers with.
// A client in a test cgroup sends a real query from a real socket; policerd sees the answer in
// its payload samples and pushes the address -> name entry into the kernel's name table; a
// later connect() to the forbidden name's address fails with EPERM at the connect hook, while
// the allowed name's address, and the forbidden address before any answer named it, pass.
// Further tests ask A and AAAA on one socket, as getaddrinfo() does (both answers must name
// their addresses), and check that learned names survive a SIGHUP reload and a reinstall of
// full rule tables (forced by a flood of answers naming thousands of addresses).
// Everything (namespace, cgroup, pins, threads) is removed by destructors, also on failure.
#include "harness.h"
#include "sockaddr_text.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>

using namespace pltest;

namespace {

const char *kConnect = PL_CONNECT;
constexpr uint16_t kTypeA = 1, kTypeAAAA = 28;
constexpr uint32_t kTtl = 60;
constexpr size_t kMaxUdpDns = 512; // what a client without EDNS accepts

const std::string kForbidden = "api.forbidden.test";
const std::string kAllowed = "ok.allowed.test";
const std::string kRule = "no-forbidden";

// ---- the server namespace ----

// Runs f() on a thread that has entered network namespace `ns` (setns moves only the calling
// thread): the sockets f() makes belong to that namespace and keep working from any thread.
template <class F>
auto in_namespace(const std::string &ns, F f) -> decltype(f()) {
    std::optional<decltype(f())> out;
    std::exception_ptr err;
    std::thread t([&] {
        try {
            int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) throw std::runtime_error("open /run/netns/" + ns + ": " + strerror(errno));
            int r = setns(fd, CLONE_NEWNET);
            int saved = errno;
            close(fd);
            if (r != 0) throw std::runtime_error("setns " + ns + ": " + strerror(saved));
            out.emplace(f());
        } catch (...) {
            err = std::current_exception();
        }
    });
    t.join();
    if (err) std::rethrow_exception(err);
    return std::move(*out);
}

// The veth end inside a TestNetns (the only veth there).
std::string ns_veth(const TestNetns &n) {
    std::string out = must_run({"ip", "-n", n.name(), "-o", "link", "show", "type", "veth"});
    // "2: plc67@if12: <BROADCAST,..."
    size_t a = out.find(": ");
    if (a == std::string::npos) throw std::runtime_error("no veth in " + n.name() + ": " + out);
    size_t b = out.find_first_of("@:", a + 2);
    if (b == std::string::npos) throw std::runtime_error("cannot read veth name: " + out);
    return out.substr(a + 2, b - a - 2);
}

// The server side: the test's namespace n gets two more addresses per family on its veth, one
// the forbidden name resolves to and one the allowed name resolves to.
struct ServerNet {
    TestNetns net;
    std::string forbidden4, allowed4, forbidden6, allowed6;

    explicit ServerNet(int n)
        : net(n), forbidden4("10.231." + std::to_string(n) + ".10"),
          allowed4("10.231." + std::to_string(n) + ".11"),
          forbidden6("fd31:" + std::to_string(n) + "::10"),
          allowed6("fd31:" + std::to_string(n) + "::11") {
        const std::string dev = ns_veth(net);
        for (const auto &ip : {forbidden4, allowed4})
            must_run({"ip", "-n", net.name(), "addr", "add", ip + "/24", "dev", dev});
        for (const auto &ip : {forbidden6, allowed6})
            must_run(
                {"ip", "-n", net.name(), "-6", "addr", "add", ip + "/64", "dev", dev, "nodad"});
    }
};

// A TCP listener (TcpServer) on `ip` inside the namespace.
std::unique_ptr<TcpServer> listen_in(const TestNetns &n, const std::string &ip) {
    return in_namespace(n.name(), [&] { return std::make_unique<TcpServer>(ip, false); });
}

// ---- DNS wire format ----

void put16(std::vector<uint8_t> &b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

uint16_t get16(const uint8_t *p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// A standard query (RD set, one question, nothing else) for `name` of `type`.
std::vector<uint8_t> make_query(uint16_t id, const std::string &name, uint16_t type) {
    std::vector<uint8_t> q;
    put16(q, id);
    put16(q, 0x0100); // QUERY, RD
    put16(q, 1);      // QDCOUNT
    put16(q, 0);
    put16(q, 0);
    put16(q, 0);
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        const size_t len = dot - start;
        if (len == 0 || len > 63) throw std::invalid_argument("bad DNS name " + name);
        q.push_back(static_cast<uint8_t>(len));
        q.insert(q.end(), name.begin() + static_cast<long>(start),
                 name.begin() + static_cast<long>(dot));
        start = dot + 1;
    }
    q.push_back(0);
    put16(q, type);
    put16(q, 1); // IN
    return q;
}

// The question of a query as the responder reads it.
struct Question {
    std::string name; // lower case, dotted
    uint16_t type = 0;
    size_t end = 0; // offset just past the question
};

// A standard query with exactly one IN question whose name is plain hostname labels; anything
// else (responses, other opcodes, compression, truncated or oversized input) is nullopt.
std::optional<Question> parse_query(const uint8_t *p, size_t len) {
    if (len < 12 || len > kMaxUdpDns) return std::nullopt;
    if (p[2] & 0x80) return std::nullopt;        // a response
    if ((p[2] >> 3) & 0x0f) return std::nullopt; // not opcode QUERY
    if (get16(p + 4) != 1) return std::nullopt;  // QDCOUNT
    if (get16(p + 6) != 0) return std::nullopt;  // ANCOUNT
    Question q;
    size_t off = 12;
    for (;;) {
        if (off >= len) return std::nullopt;
        const uint8_t l = p[off++];
        if (l == 0) break;
        if (l > 63 || l > len - off) return std::nullopt; // pointers (0xc0) included
        if (q.name.size() + 1 + l > 253) return std::nullopt;
        if (!q.name.empty()) q.name += '.';
        for (size_t i = 0; i < l; ++i) {
            char c = static_cast<char>(p[off + i]);
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            const bool ok =
                (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok) return std::nullopt;
            q.name += c;
        }
        off += l;
    }
    if (q.name.empty() || len - off < 4) return std::nullopt;
    q.type = get16(p + off);
    if (get16(p + off + 2) != 1) return std::nullopt; // class IN
    q.end = off + 4;
    return q;
}

// A name of the responder's zone and its addresses (empty: none of that family). A name with
// `bulk` > 0 is answered, for an A question, with that many A records of addresses no other
// answer gave (bulk_address(1), (2), ... in the order given out).
struct ZoneEntry {
    std::string name, a, aaaa;
    int bulk = 0;
};

// The i-th (from 1) address bulk answers give out: 198.18.0.0/15 (reserved for benchmarks).
std::string bulk_address(uint32_t i) {
    const uint32_t a = 0xc6120000u + (i & 0x1ffffu);
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
           std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

// The answer to `query` (already parsed as `q`): header and question echoed, AA set, RD
// copied; one A or AAAA record when the zone has that address, none (NOERROR) when the name is
// known without one, NXDOMAIN for other names; `bulk` records for an A question of a bulk name,
// counting the addresses given out in `bulk_given`. Additional records of the query (EDNS) are
// not echoed.
std::vector<uint8_t> make_answer(const uint8_t *query, const Question &q,
                                 const std::vector<ZoneEntry> &zone, uint32_t &bulk_given) {
    std::vector<uint8_t> r(query, query + q.end);
    r[2] = static_cast<uint8_t>(0x84 | (query[2] & 0x01)); // QR, AA, RD as asked
    r[3] = 0;                                              // RA 0, NOERROR
    for (size_t i = 6; i < 12; ++i)
        r[i] = 0; // ANCOUNT, NSCOUNT, ARCOUNT
    const ZoneEntry *entry = nullptr;
    for (const auto &z : zone)
        if (z.name == q.name) entry = &z;
    if (!entry) {
        r[3] = 3; // NXDOMAIN
        return r;
    }
    auto put_record = [&](uint16_t type, const uint8_t *addr, uint16_t rdlen) {
        put16(r, 0xc00c); // the question's name
        put16(r, type);
        put16(r, 1); // IN
        put16(r, static_cast<uint16_t>(kTtl >> 16));
        put16(r, static_cast<uint16_t>(kTtl & 0xffff));
        put16(r, rdlen);
        r.insert(r.end(), addr, addr + rdlen);
    };
    if (entry->bulk > 0 && q.type == kTypeA) {
        r[6] = static_cast<uint8_t>(entry->bulk >> 8); // ANCOUNT
        r[7] = static_cast<uint8_t>(entry->bulk);
        for (int i = 0; i < entry->bulk; ++i) {
            uint8_t addr[4];
            inet_pton(AF_INET, bulk_address(++bulk_given).c_str(), addr);
            put_record(kTypeA, addr, 4);
        }
        return r;
    }
    const std::string &text = q.type == kTypeA ? entry->a : q.type == kTypeAAAA ? entry->aaaa : "";
    uint8_t addr[16];
    const int af = q.type == kTypeA ? AF_INET : AF_INET6;
    if (text.empty() || inet_pton(af, text.c_str(), addr) != 1) return r; // NODATA
    const uint16_t rdlen = q.type == kTypeA ? 4 : 16;
    r[7] = 1; // ANCOUNT
    put_record(q.type, addr, rdlen);
    return r;
}

// A DNS server on UDP port 53 of `ips` inside a namespace, answering from `zone` on a thread of
// the test process until destroyed.
class DnsResponder {
public:
    DnsResponder(const TestNetns &n, const std::vector<std::string> &ips,
                 std::vector<ZoneEntry> zone)
        : zone_(std::move(zone)) {
        for (const auto &ip : ips) {
            int fd = in_namespace(n.name(), [&] {
                sockaddr_storage ss{};
                socklen_t len = sockaddr_from_text(ip.c_str(), 53, ss);
                if (len == 0) throw std::runtime_error("bad address " + ip);
                int s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (s < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
                if (bind(s, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
                    std::string why = strerror(errno);
                    close(s);
                    throw std::runtime_error("bind " + ip + ":53: " + why);
                }
                return s;
            });
            fds_.push_back(fd);
        }
        thread_ = std::thread([this] { loop(); });
    }
    ~DnsResponder() {
        stop_ = true;
        thread_.join();
        for (int fd : fds_)
            close(fd);
    }
    DnsResponder(const DnsResponder &) = delete;
    DnsResponder &operator=(const DnsResponder &) = delete;

    int answered() const { return answered_; }
    int ignored() const { return ignored_; }

private:
    void loop() {
        std::vector<pollfd> pfds;
        for (int fd : fds_)
            pfds.push_back({fd, POLLIN, 0});
        uint8_t buf[1500];
        while (!stop_) {
            if (poll(pfds.data(), pfds.size(), 100) <= 0) continue;
            for (const auto &p : pfds) {
                if (!(p.revents & POLLIN)) continue;
                sockaddr_storage from{};
                socklen_t flen = sizeof(from);
                ssize_t n = recvfrom(p.fd, buf, sizeof(buf), MSG_DONTWAIT,
                                     reinterpret_cast<sockaddr *>(&from), &flen);
                if (n <= 0) continue;
                auto q = parse_query(buf, static_cast<size_t>(n));
                if (!q) {
                    ++ignored_;
                    continue;
                }
                auto r = make_answer(buf, *q, zone_, bulk_given_);
                if (sendto(p.fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr *>(&from),
                           flen) == static_cast<ssize_t>(r.size()))
                    ++answered_;
            }
        }
    }

    std::vector<ZoneEntry> zone_;
    uint32_t bulk_given_ = 0; // the responder thread's own
    std::vector<int> fds_;
    std::atomic<bool> stop_{false};
    std::atomic<int> answered_{0}, ignored_{0};
    std::thread thread_;
};

// ---- the client side ----

// A cgroup of the test's own for its clients. Whatever still runs in it is killed, and it is
// removed, by the destructor.
struct TestCgroup {
    std::string rel, dir;
    explicit TestCgroup(const std::string &name)
        : rel("/policer-test-" + name + "-" + std::to_string(getpid())),
          dir(cgroup2_mount() + rel) {
        if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot make cgroup " + dir + ": " + strerror(errno));
    }
    ~TestCgroup() {
        std::ofstream(dir + "/cgroup.kill") << "1";
        for (int i = 0; i < 200 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i)
            std::this_thread::sleep_for(10ms);
    }
    TestCgroup(const TestCgroup &) = delete;
    TestCgroup &operator=(const TestCgroup &) = delete;
};

// The questions one client socket asked and the answers it got: the child's pid (the owner of
// the DNS flow), and per question its query and the response with its id (empty: none came).
struct Exchange {
    pid_t pid = -1;
    std::vector<uint16_t> types;
    std::vector<std::vector<uint8_t>> queries, answers;
    std::string error; // the child failed (no answer to some question after three tries, ...)
};

// What the resolving client got: its pid (the owner of the DNS flow) and, per question, the
// address of its one answer record as text ("" when the answer was not what was asked for;
// `error` says why). `addr` is the first question's.
struct Resolved {
    pid_t pid = -1;
    std::string addr, error;
    std::vector<std::string> addrs;
};

// The address in `r`, a response to `query` carrying one A/AAAA record; "" with `why` set
// otherwise. Every length is checked against what arrived.
std::string answer_address(const std::vector<uint8_t> &query, const std::vector<uint8_t> &r,
                           uint16_t type, std::string &why) {
    auto fail = [&](const std::string &what) {
        why = what + " (" + std::to_string(r.size()) + " bytes)";
        return std::string();
    };
    const size_t rr = query.size(); // the question is echoed: the record follows it
    if (r.size() < rr + 12) return fail("short answer");
    if (get16(r.data()) != get16(query.data())) return fail("wrong id");
    if (!(r[2] & 0x80) || (r[3] & 0x0f) != 0) return fail("not a NOERROR response");
    if (get16(r.data() + 4) != 1 || get16(r.data() + 6) != 1) return fail("not one answer");
    if (!std::equal(query.begin() + 12, query.end(), r.begin() + 12))
        return fail("question not echoed");
    const uint16_t rdlen = get16(&r[rr + 10]);
    if (get16(&r[rr + 2]) != type || rdlen != (type == kTypeA ? 4 : 16) ||
        r.size() < rr + 12 + rdlen)
        return fail("bad answer record");
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(type == kTypeA ? AF_INET : AF_INET6, &r[rr + 12], text, sizeof(text));
    return std::string(text);
}

constexpr size_t kMaxQuestions = 8; // per socket: the kernel samples 8 packets per direction

// Asks `server`:53 one question about `name` per entry of `types`, all from one UDP socket of a
// child process put into `cg` first, as glibc's getaddrinfo() does for A and AAAA: every
// question goes out before any answer is read, and the answers are matched to the questions by
// id. Questions still without an answer after a second are sent again, twice at most; the
// child then exits, closing its socket (which ends the flow). The child makes no allocation
// after fork (the test process has threads): only system calls.
Exchange ask_in(const TestCgroup &cg, const std::string &server, const std::string &name,
                const std::vector<uint16_t> &types) {
    static uint16_t next_id = 0x5a00;
    REQUIRE(!types.empty());
    REQUIRE(types.size() <= kMaxQuestions);
    Exchange x;
    x.types = types;
    for (uint16_t t : types)
        x.queries.push_back(make_query(++next_id, name, t));
    x.answers.resize(types.size());
    const size_t count = x.queries.size();
    const std::vector<std::vector<uint8_t>> &queries = x.queries;
    sockaddr_storage to{};
    const socklen_t tolen = sockaddr_from_text(server.c_str(), 53, to);
    REQUIRE(tolen != 0);
    const std::string procs = cg.dir + "/cgroup.procs";
    int pipefd[2];
    REQUIRE(pipe2(pipefd, O_CLOEXEC) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        int cfd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
        if (cfd < 0 || write(cfd, "0", 1) != 1) _exit(90); // "0": the writing process
        close(cfd);
        int s = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) _exit(91);
        bool answered[kMaxQuestions] = {};
        size_t left = count;
        // To the pipe: each answer as a 2-byte length and its bytes, in one write (atomic).
        uint8_t frame[2 + kMaxUdpDns];
        for (int attempt = 0; attempt < 3 && left > 0; ++attempt) {
            for (size_t i = 0; i < count; ++i)
                if (!answered[i] && sendto(s, queries[i].data(), queries[i].size(), 0,
                                           reinterpret_cast<const sockaddr *>(&to),
                                           tolen) != static_cast<ssize_t>(queries[i].size()))
                    _exit(92);
            pollfd p{s, POLLIN, 0};
            while (left > 0 && poll(&p, 1, 1000) == 1) {
                ssize_t n = recv(s, frame + 2, kMaxUdpDns, 0);
                if (n <= 0) _exit(93);
                if (n < 2) continue;
                for (size_t i = 0; i < count; ++i) {
                    if (answered[i] || get16(frame + 2) != get16(queries[i].data())) continue;
                    answered[i] = true;
                    --left;
                    frame[0] = static_cast<uint8_t>(n >> 8);
                    frame[1] = static_cast<uint8_t>(n);
                    if (write(pipefd[1], frame, static_cast<size_t>(n) + 2) != n + 2) _exit(94);
                    break;
                }
            }
        }
        _exit(left == 0 ? 0 : 95); // 95: some question got no answer
    }
    close(pipefd[1]);
    std::vector<uint8_t> got;
    uint8_t buf[4096];
    for (;;) {
        pollfd p{pipefd[0], POLLIN, 0};
        if (poll(&p, 1, 10000) != 1) {
            kill(pid, SIGKILL); // it gives up after 3 s without answers: something is wrong
            break;
        }
        ssize_t n = read(pipefd[0], buf, sizeof(buf));
        if (n <= 0) break; // end of file: the child exited
        got.insert(got.end(), buf, buf + n);
    }
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    x.pid = pid;
    for (size_t off = 0; off + 2 <= got.size();) {
        const size_t len = get16(&got[off]);
        off += 2;
        if (len > got.size() - off) break;
        for (size_t i = 0; i < count; ++i)
            if (len >= 2 && get16(&got[off]) == get16(x.queries[i].data()))
                x.answers[i].assign(got.begin() + static_cast<long>(off),
                                    got.begin() + static_cast<long>(off + len));
        off += len;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        x.error = "resolver child failed, status " + std::to_string(status);
    return x;
}

// Resolves `name` for each of `types` (A, AAAA) on one socket (ask_in); the addresses are in
// the order of `types`.
Resolved resolve_in(const TestCgroup &cg, const std::string &server, const std::string &name,
                    const std::vector<uint16_t> &types) {
    Exchange x = ask_in(cg, server, name, types);
    Resolved res;
    res.pid = x.pid;
    res.error = x.error;
    for (size_t i = 0; i < x.queries.size(); ++i) {
        std::string why;
        res.addrs.push_back(answer_address(x.queries[i], x.answers[i], x.types[i], why));
        if (!why.empty() && res.error.empty())
            res.error = std::string(x.types[i] == kTypeA ? "A" : "AAAA") + ": " + why;
    }
    res.addr = res.addrs.empty() ? "" : res.addrs[0];
    return res;
}

// Resolves `name` (A or AAAA) with one query from a socket of its own: a real UDP query from a
// real socket, retried twice after a second without answer.
Resolved resolve_in(const TestCgroup &cg, const std::string &server, const std::string &name,
                    uint16_t type) {
    return resolve_in(cg, server, name, std::vector<uint16_t>{type});
}

// What pl-connect printed (first line), run in `cg`.
std::string connect_from(const TestCgroup &cg, const std::string &proto, const std::string &ip,
                         uint16_t port) {
    auto r = run({Binaries::run_in(), "--cgroup", cg.dir, "--", kConnect, proto, ip,
                  std::to_string(port), "--timeout-ms", "3000"},
                 20s);
    return r.out.substr(0, r.out.find('\n'));
}

// ---- the daemon ----

// policerd enforcing `rules` with its state pinned under a directory of this test; stale pins
// of an earlier, killed run are removed first, and the pins again at the end.
struct Enforcing {
    TempDir dir;
    std::string pin;
    std::unique_ptr<Policerd> d;

    Enforcing(const std::string &rules, const std::string &name)
        : pin("/sys/fs/bpf/policer-test-" + name) {
        const std::string file = dir.file("test.rules");
        std::ofstream(file) << rules;
        run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", pin});
        d = std::make_unique<Policerd>(std::vector<std::string>{"--rules", file, "--pin-dir", pin});
    }
    ~Enforcing() {
        if (d) d->stop();
        run({Binaries::policerd(), "--remove-enforcement", "--pin-dir", pin});
    }
    Enforcing(const Enforcing &) = delete;
    Enforcing &operator=(const Enforcing &) = delete;
};

const std::string kRules = "# Nothing may open a TCP connection to a host of forbidden.test.\n"
                           "rule no-forbidden {\n"
                           "    when direction == egress and l4.proto == tcp\n"
                           "         and dst.domain glob \"*.forbidden.test\"\n"
                           "    action reject\n"
                           "}\n";

// Waits until policerd reports the DNS flow of `r.pid` with `r.addr` among its answers.
// policerd learns a name from the payload sample of the answer, which it reads after the kernel
// has delivered the answer to the client: a client connecting at once can be judged before the
// name is known (docs/enforcement.md). Both events that carry the answers are published after
// it was learned, and learning writes the name into the kernel before returning, so once one is
// seen the kernel knows the name: flow-classified when dissection ends while the flow lives, or
// flow-end when the client closed its socket first (the flow's samples are read before its end
// is reported, and no flow-classified follows then).
bool wait_learned(Policerd &d, const Resolved &r) {
    auto ev = d.wait_for(
        [&](const json &j) {
            if (!(is_action(j, "flow-classified") || is_action(j, "flow-end")) ||
                at(j, "process.pid") != r.pid)
                return false;
            for (const auto &ip : at(j, "dns.resolved_ip"))
                if (ip == r.addr) return true;
            return false;
        },
        10000ms);
    if (!ev) {
        for (const auto &j : d.events())
            if (at(j, "process.pid") == r.pid || is_action(j, "agent-stats")) MESSAGE(j.dump());
        MESSAGE("policerd stderr:\n" << d.stderr_text());
    }
    return ev.has_value();
}

Policerd::Pred refused_to(const std::string &ip) {
    return [ip](const json &j) {
        return is_action(j, "connection-refused") && at(j, "rule.name") == kRule &&
               at(j, "destination.ip") == ip;
    };
}

// The whole scenario for one family: `type` A (IPv4) or AAAA (IPv6), the resolver reached over
// the same family.
void run_scenario(int n, uint16_t type) {
    const bool v6 = type == kTypeAAAA;
    ServerNet s(n);
    const std::string forbidden = v6 ? s.forbidden6 : s.forbidden4;
    const std::string allowed = v6 ? s.allowed6 : s.allowed4;
    const std::string resolver = v6 ? s.net.ns_ip6() : s.net.ns_ip4();
    CAPTURE(forbidden);
    CAPTURE(allowed);
    DnsResponder dns(
        s.net, {s.net.ns_ip4(), s.net.ns_ip6()},
        {{kForbidden, s.forbidden4, s.forbidden6}, {kAllowed, s.allowed4, s.allowed6}});
    auto forbidden_srv = listen_in(s.net, forbidden);
    auto allowed_srv = listen_in(s.net, allowed);
    TestCgroup cg(std::string("dns") + (v6 ? "6" : "4"));
    Enforcing e(kRules, std::string("dns") + (v6 ? "6" : "4"));

    // No answer has named the address yet: the rule is about the name, so it passes.
    CHECK(connect_from(cg, "tcp", forbidden, forbidden_srv->port()) == "ok");
    CHECK(connect_from(cg, "tcp", allowed, allowed_srv->port()) == "ok");

    // The client asks the namespace's resolver, over the wire.
    Resolved bad = resolve_in(cg, resolver, kForbidden, type);
    REQUIRE_MESSAGE(bad.addr == forbidden, "resolving " << kForbidden << ": " << bad.error);
    Resolved good = resolve_in(cg, resolver, kAllowed, type);
    REQUIRE_MESSAGE(good.addr == allowed, "resolving " << kAllowed << ": " << good.error);
    // The responder counts an answer once sendto() returned, which can be after the client
    // read it.
    for (int i = 0; i < 100 && dns.answered() < 2; ++i)
        std::this_thread::sleep_for(10ms);
    CHECK(dns.answered() >= 2);
    CHECK(dns.ignored() == 0);
    REQUIRE_MESSAGE(wait_learned(*e.d, bad), "policerd did not learn " << kForbidden);
    REQUIRE_MESSAGE(wait_learned(*e.d, good), "policerd did not learn " << kAllowed);

    // The kernel now knows the forbidden address by its name: connect() fails at the hook.
    CHECK(connect_from(cg, "tcp", forbidden, forbidden_srv->port()) == "error EPERM");
    if (!v6) // an IPv4-mapped destination on an IPv6 socket is the same IPv4 address
        CHECK(connect_from(cg, "tcp", "::ffff:" + forbidden, forbidden_srv->port()) ==
              "error EPERM");
    // The rule is on TCP: a datagram to the same address passes.
    CHECK(connect_from(cg, "udp", forbidden, 9) == "sent 1 refused 0");
    // The allowed name is known too, and it is not forbidden.
    CHECK(connect_from(cg, "tcp", allowed, allowed_srv->port()) == "ok");

    auto ev = e.d->wait_for(refused_to(forbidden));
    REQUIRE_MESSAGE(ev, "no connection-refused event for " << forbidden);
    CHECK(at(*ev, "policer.verdict.hook") == "connect");
    CHECK(at(*ev, "policer.verdict.action") == "reject");
    CHECK(at(*ev, "policer.verdict.enforced") == true);
    CHECK(at(*ev, "process.name") == "pl-connect");
    CHECK(at(*ev, "destination.port") == forbidden_srv->port());
    CHECK(at(*ev, "cgroup.path") == cg.rel);
    // policerd knew the allowed address's name when it judged that flow: it passed as a name
    // no rule refuses, not as an address no answer named. (The kernel needs no entry for it:
    // only names that change a rule's outcome are written there.)
    auto ok = e.d->wait_for([&](const json &j) {
        return is_action(j, "flow-start") && at(j, "destination.ip") == allowed &&
               at(j, "destination.domain") == kAllowed;
    });
    CHECK_MESSAGE(ok, "no flow-start to " << allowed << " named " << kAllowed);
    if (ok) { // no rule decided it: the default allows
        CHECK(at(*ok, "policer.verdict.by") == "default");
        CHECK(at(*ok, "policer.verdict.action") == "allow");
    }

    // What the servers saw: the connection before the answer only, for the forbidden one.
    std::this_thread::sleep_for(200ms);
    CHECK(forbidden_srv->connection_count() == 1);
    CHECK(allowed_srv->connection_count() == 2);
}

// ---- several answers on one socket (getaddrinfo()), reloads and reinstalls ----

const std::string kBulk = "bulk.forbidden.test";
constexpr int kBulkRecords = 28;  // A records per bulk answer: 485 bytes, within 512
constexpr int kFloodSockets = 20; // x 8 answers x 28 = 4,480 addresses, each named kBulk
constexpr uint32_t kFloodAddresses = kFloodSockets * kMaxQuestions * kBulkRecords;

// Waits until policerd has read every answer the socket of `pid` got. Its flow events do not
// say so: they carry the answer that classified the flow (dns.resolved_ip), not the ones it
// learned from later. The flow's end does: the child exits, closing its socket, only once it
// has all its answers, and policerd reads a flow's last samples before it reports the flow-end
// (and learning writes the name into the kernel before returning).
bool wait_all_read(Policerd &d, pid_t pid) {
    auto ev = d.wait_for(flow_of("flow-end", pid, "udp"), 10000ms);
    if (!ev) {
        for (const auto &j : d.events())
            if (at(j, "process.pid") == pid || is_action(j, "agent-stats")) MESSAGE(j.dump());
        MESSAGE("policerd stderr:\n" << d.stderr_text());
    }
    return ev.has_value();
}

// A server namespace answering for both families (and the bulk name), TCP listeners on the four
// addresses, a client cgroup and policerd enforcing kRules.
struct BothFamilies {
    ServerNet s;
    DnsResponder dns;
    std::unique_ptr<TcpServer> forbidden4, forbidden6, allowed4, allowed6;
    TestCgroup cg;
    Enforcing e;

    BothFamilies(int n, const std::string &tag)
        : s(n), dns(s.net, {s.net.ns_ip4(), s.net.ns_ip6()},
                    {{kForbidden, s.forbidden4, s.forbidden6},
                     {kAllowed, s.allowed4, s.allowed6},
                     {kBulk, "", "", kBulkRecords}}),
          forbidden4(listen_in(s.net, s.forbidden4)), forbidden6(listen_in(s.net, s.forbidden6)),
          allowed4(listen_in(s.net, s.allowed4)), allowed6(listen_in(s.net, s.allowed6)), cg(tag),
          e(kRules, tag) {}

    // connect() from the client cgroup to each of the four addresses.
    void check_connects(const std::string &forbidden_outcome) {
        CHECK(connect_from(cg, "tcp", s.forbidden4, forbidden4->port()) == forbidden_outcome);
        CHECK(connect_from(cg, "tcp", s.forbidden6, forbidden6->port()) == forbidden_outcome);
        CHECK(connect_from(cg, "tcp", s.allowed4, allowed4->port()) == "ok");
        CHECK(connect_from(cg, "tcp", s.allowed6, allowed6->port()) == "ok");
    }

    // Both names resolved the way getaddrinfo() does (A and AAAA on one socket; the forbidden
    // one over IPv4, the allowed one over IPv6), and both answers of each read by policerd.
    void resolve_both() {
        Resolved bad = resolve_in(cg, s.net.ns_ip4(), kForbidden, {kTypeA, kTypeAAAA});
        REQUIRE_MESSAGE(bad.error.empty(), "resolving " << kForbidden << ": " << bad.error);
        REQUIRE(bad.addrs == std::vector<std::string>{s.forbidden4, s.forbidden6});
        Resolved good = resolve_in(cg, s.net.ns_ip6(), kAllowed, {kTypeA, kTypeAAAA});
        REQUIRE_MESSAGE(good.error.empty(), "resolving " << kAllowed << ": " << good.error);
        REQUIRE(good.addrs == std::vector<std::string>{s.allowed4, s.allowed6});
        CHECK(dns.ignored() == 0);
        REQUIRE_MESSAGE(wait_all_read(*e.d, bad.pid),
                        "no flow-end for the lookup of " << kForbidden);
        REQUIRE_MESSAGE(wait_all_read(*e.d, good.pid),
                        "no flow-end for the lookup of " << kAllowed);
    }

    // The generation of the rule tables policerd started with.
    json start_generation() {
        auto start = e.d->wait_for([](const json &j) { return is_action(j, "agent-start"); });
        REQUIRE(start);
        return at(*start, "policer.enforcement.generation");
    }
};

// Every connection-refused event of kRule for `ip` (waiting up to 5 s for `count` of them).
size_t refusals(Policerd &d, const std::string &ip, size_t count) {
    return d.wait_for_count(refused_to(ip), count, 5000ms).size();
}

} // namespace

TEST_CASE("enforce dns: a dst.domain rule refuses connect() to an address a real DNS answer (A) "
          "named, and only after the answer, while the other name passes") {
    run_scenario(67, kTypeA);
}

TEST_CASE("enforce dns: a dst.domain rule refuses connect() to an address a real DNS answer "
          "(AAAA) named, and only after the answer, while the other name passes") {
    run_scenario(68, kTypeAAAA);
}

TEST_CASE("enforce dns: A and AAAA answers on one socket (as getaddrinfo() asks) both name "
          "their addresses, and the names survive a SIGHUP reload") {
    BothFamilies b(69, "dnsboth");
    const json gen0 = b.start_generation();
    CAPTURE(gen0);

    // No answer has named the addresses yet.
    b.check_connects("ok");
    b.resolve_both();
    // The second answer on the socket (AAAA) names its address as well as the first (A).
    b.check_connects("error EPERM");

    // A reload installs new rule tables; the addresses learned so far are written into them.
    b.e.d->signal_hup();
    auto reloaded = b.e.d->wait_for([](const json &j) { return is_action(j, "rules-reloaded"); });
    REQUIRE_MESSAGE(reloaded, "no rules-reloaded event; stderr:\n" << b.e.d->stderr_text());
    REQUIRE(at(*reloaded, "event.outcome") == "success");
    CHECK(at(*reloaded, "policer.rules.generation") != gen0); // new tables, not the same ones
    b.check_connects("error EPERM");

    // Each refusal was the kernel's, at connect(), by the rule.
    CHECK(refusals(*b.e.d, b.s.forbidden4, 2) == 2);
    CHECK(refusals(*b.e.d, b.s.forbidden6, 2) == 2);
    std::this_thread::sleep_for(200ms);
    CHECK(b.forbidden4->connection_count() == 1); // before the answers only
    CHECK(b.forbidden6->connection_count() == 1);
    CHECK(b.allowed4->connection_count() == 3);
    CHECK(b.allowed6->connection_count() == 3);
}

TEST_CASE("enforce dns: learned names survive a reinstall of full rule tables") {
    BothFamilies b(79, "dnsfull");
    const json gen0 = b.start_generation();
    CAPTURE(gen0);
    b.resolve_both();
    b.check_connects("error EPERM");

    // More addresses named by forbidden answers than the name table has room for (4,096
    // beyond the names resolved at install): 8 answers (the sample budget) on each of 20
    // sockets, every answer with 28 addresses no other answer gave.
    std::vector<pid_t> pids;
    for (int i = 0; i < kFloodSockets; ++i) {
        Exchange x =
            ask_in(b.cg, b.s.net.ns_ip4(), kBulk, std::vector<uint16_t>(kMaxQuestions, kTypeA));
        REQUIRE_MESSAGE(x.error.empty(), "flood socket " << i << ": " << x.error);
        pids.push_back(x.pid);
    }
    for (pid_t pid : pids)
        REQUIRE_MESSAGE(b.e.d->wait_for(flow_of("flow-end", pid, "udp")),
                        "no flow-end for the DNS flow of " << pid);
    // The table overflowed: policerd installed new tables (a new generation).
    auto stats = b.e.d->wait_for(
        [&](const json &j) {
            return is_action(j, "agent-stats") && at(j, "policer.enforcement.generation") != gen0;
        },
        5000ms);
    if (!stats) {
        for (const auto &j : b.e.d->events())
            if (is_action(j, "agent-stats")) MESSAGE(j.dump());
        MESSAGE("policerd stderr:\n" << b.e.d->stderr_text());
    }
    REQUIRE_MESSAGE(stats, "the rule tables were not reinstalled");

    // What was learned before the reinstall (the test's four addresses, the first flood
    // address) still names its address in the new tables, as does what came after (the last).
    b.check_connects("error EPERM");
    CHECK(connect_from(b.cg, "tcp", bulk_address(1), 80) == "error EPERM");
    CHECK(connect_from(b.cg, "tcp", bulk_address(kFloodAddresses), 80) == "error EPERM");
    CHECK(refusals(*b.e.d, b.s.forbidden4, 2) == 2);
    CHECK(refusals(*b.e.d, b.s.forbidden6, 2) == 2);
}
