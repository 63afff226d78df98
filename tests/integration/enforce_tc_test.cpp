// enforce_tc_test.cpp - interface enforcement on the real kernel: the TC and XDP programs of
// the enforcement object attached (probes/iface_attach.h) to the host end of a test veth,
// real TCP from the namespace end, and the rtnetlink watcher (policer/iface_watch.h) seeing a
// veth come and go. Only the TC/XDP programs are loaded: the cgroup programs of the object are
// not under test here, and pl_enf_state stays zero.
#include "harness.h"

#include "policer/iface_watch.h"
#include "probes/iface_attach.h"
#include "probes/probe_abi.h"

#include "policer_enforce.skel.h"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

using namespace pltest;
namespace pp = policer::probes;
namespace pd = policer::daemon;

namespace {

using Clock = std::chrono::steady_clock;

// The enforcement object with only the interface programs loaded.
class EnforceObject {
public:
    EnforceObject() {
        skel_ = policer_enforce__open();
        if (!skel_) throw std::runtime_error("policer_enforce__open failed");
        bpf_program *prog;
        bpf_object__for_each_program(prog, skel_->obj) {
            std::string name = bpf_program__name(prog);
            bool ours =
                name == "pl_enf_tc_ingress" || name == "pl_enf_tc_egress" || name == "pl_enf_xdp";
            bpf_program__set_autoload(prog, ours);
        }
        if (int err = policer_enforce__load(skel_); err != 0) {
            policer_enforce__destroy(skel_);
            throw std::runtime_error(std::string("load: ") + std::strerror(-err));
        }
    }
    ~EnforceObject() { policer_enforce__destroy(skel_); }
    EnforceObject(const EnforceObject &) = delete;
    EnforceObject &operator=(const EnforceObject &) = delete;

    int tc_ingress() const { return bpf_program__fd(skel_->progs.pl_enf_tc_ingress); }
    int tc_egress() const { return bpf_program__fd(skel_->progs.pl_enf_tc_egress); }
    int xdp() const { return bpf_program__fd(skel_->progs.pl_enf_xdp); }

    // Summed over CPUs.
    uint64_t counter(uint32_t idx) const {
        std::vector<uint64_t> v(static_cast<size_t>(libbpf_num_possible_cpus()));
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.pl_enf_counters), &idx, v.data()) != 0)
            throw std::runtime_error("read pl_enf_counters");
        uint64_t sum = 0;
        for (uint64_t x : v)
            sum += x;
        return sum;
    }

    void set_verdict(const pl_tuple_key &k, uint8_t action, bool audit = false) {
        pl_flow_verdict v{};
        v.action = action;
        v.audit = audit ? 1 : 0;
        v.origin = PL_VO_DAEMON;
        put_verdict(k, v);
    }
    void put_verdict(const pl_tuple_key &k, const pl_flow_verdict &v) {
        if (bpf_map_update_elem(bpf_map__fd(skel_->maps.pl_tuple_verdicts), &k, &v, BPF_ANY))
            throw std::runtime_error("update pl_tuple_verdicts");
    }
    std::optional<pl_flow_verdict> verdict(const pl_tuple_key &k) const {
        pl_flow_verdict v{};
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.pl_tuple_verdicts), &k, &v) != 0)
            return std::nullopt;
        return v;
    }

    void block(const pl_blocklist_key &k) {
        uint32_t one = 1;
        if (bpf_map_update_elem(bpf_map__fd(skel_->maps.pl_blocklist), &k, &one, BPF_ANY))
            throw std::runtime_error("update pl_blocklist");
    }
    void unblock(const pl_blocklist_key &k) {
        bpf_map_delete_elem(bpf_map__fd(skel_->maps.pl_blocklist), &k);
    }

private:
    policer_enforce *skel_ = nullptr;
};

// The error of a failed result, for assertion messages ("" on success: doctest may evaluate
// the message of a passing assertion too).
template <typename T>
std::string why(const policer::Result<T> &r) {
    return r.ok() ? std::string() : r.error().message;
}

uint32_t prog_id(int fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) throw std::runtime_error("prog info");
    return info.id;
}

// Whatever the test attached to the interface goes, also when it fails half way.
struct DetachGuard {
    int ifindex;
    ~DetachGuard() {
        static_cast<void>(pp::detach_tc(ifindex, true));
        static_cast<void>(pp::detach_tc(ifindex, false));
        static_cast<void>(pp::detach_xdp(ifindex));
    }
};

int ifindex_of(const std::string &name) {
    int idx = static_cast<int>(if_nametoindex(name.c_str()));
    if (idx == 0) throw std::runtime_error("no interface " + name);
    return idx;
}

// Runs `f` on a thread that has entered network namespace `ns`: sockets it makes stay there.
template <typename F>
auto in_netns(const std::string &ns, F f) -> decltype(f()) {
    decltype(f()) result{};
    std::string error;
    std::thread t([&] {
        int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            error = "enter netns " + ns + ": " + std::strerror(errno);
            if (fd >= 0) close(fd);
            return;
        }
        close(fd);
        try {
            result = f();
        } catch (const std::exception &e) {
            error = e.what();
        }
    });
    t.join();
    if (!error.empty()) throw std::runtime_error(error);
    return result;
}

struct Addr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = 0;
};

Addr make_addr(const std::string &ip, uint16_t port) {
    Addr a;
    auto *v4 = reinterpret_cast<sockaddr_in *>(&a.ss);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&a.ss);
    if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.len = sizeof(*v4);
        a.family = AF_INET;
    } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.len = sizeof(*v6);
        a.family = AF_INET6;
    } else {
        throw std::runtime_error("bad address " + ip);
    }
    return a;
}

// A TCP socket bound to src:sport, in the caller's network namespace (call it in_netns).
int bound_tcp_socket(const std::string &src, uint16_t sport) {
    Addr a = make_addr(src, sport);
    int fd = socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, reinterpret_cast<sockaddr *>(&a.ss), a.len) != 0) {
        int err = errno;
        close(fd);
        throw std::runtime_error("bind " + src + ":" + std::to_string(sport) + ": " +
                                 std::strerror(err));
    }
    return fd;
}

struct ConnectOutcome {
    int err = 0; // 0: connected; ETIMEDOUT: no answer within the timeout (our own); else errno
    std::chrono::milliseconds took{};
};

// Connects the non-blocking socket `fd` to dst:dport, waiting at most `timeout`.
ConnectOutcome connect_wait(int fd, const std::string &dst, uint16_t dport,
                            std::chrono::milliseconds timeout) {
    Addr a = make_addr(dst, dport);
    auto start = Clock::now();
    ConnectOutcome out;
    if (connect(fd, reinterpret_cast<sockaddr *>(&a.ss), a.len) != 0 && errno != EINPROGRESS) {
        out.err = errno;
    } else {
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
            out.err = ETIMEDOUT;
        } else {
            socklen_t len = sizeof(out.err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &out.err, &len);
        }
    }
    out.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return out;
}

// A client socket made inside `ns`, connecting from src:sport; the fd is the caller's.
ConnectOutcome connect_from_ns(const std::string &ns, const std::string &src, uint16_t sport,
                               const std::string &dst, uint16_t dport,
                               std::chrono::milliseconds timeout, int *keep_fd = nullptr) {
    int fd = in_netns(ns, [&] { return bound_tcp_socket(src, sport); });
    ConnectOutcome out = connect_wait(fd, dst, dport, timeout);
    if (keep_fd)
        *keep_fd = fd;
    else
        close(fd);
    return out;
}

pl_tuple_key tuple(const std::string &saddr, uint16_t sport, const std::string &daddr,
                   uint16_t dport, uint8_t proto = PL_IPPROTO_TCP) {
    pl_tuple_key k{};
    Addr s = make_addr(saddr, 0);
    k.family = s.family == AF_INET ? PL_AF_INET : PL_AF_INET6;
    int fam = s.family;
    if (inet_pton(fam, saddr.c_str(), k.saddr) != 1 || inet_pton(fam, daddr.c_str(), k.daddr) != 1)
        throw std::runtime_error("bad tuple address");
    k.sport = sport;
    k.dport = dport;
    k.proto = proto;
    return k;
}

pl_blocklist_key prefix(const std::string &ip, uint32_t bits) {
    pl_blocklist_key k{};
    Addr a = make_addr(ip, 0);
    k.family = a.family == AF_INET ? PL_AF_INET : PL_AF_INET6;
    if (inet_pton(a.family, ip.c_str(), k.addr) != 1) throw std::runtime_error("bad prefix");
    k.prefixlen = 8 + bits;
    return k;
}

// Turns transmit checksum offload off on the namespace's veth end: its stack then sends
// complete checksums (CHECKSUM_NONE), and checks the ones it receives in software.
void tx_csum_off(const std::string &ns) {
    in_netns(ns, [] {
        struct if_nameindex *names = if_nameindex();
        if (!names) throw std::runtime_error("if_nameindex");
        int done = 0;
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        for (auto *n = names; fd >= 0 && n->if_index != 0; ++n) {
            if (std::string(n->if_name) == "lo") continue;
            ethtool_value ev{};
            ev.cmd = ETHTOOL_STXCSUM;
            ev.data = 0;
            ifreq ifr{};
            std::strncpy(ifr.ifr_name, n->if_name, IFNAMSIZ - 1);
            ifr.ifr_data = reinterpret_cast<char *>(&ev);
            if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) ++done;
        }
        if (fd >= 0) close(fd);
        if_freenameindex(names);
        if (done == 0) throw std::runtime_error("could not turn tx checksumming off");
        return done;
    });
}

constexpr auto kDropWait = 1500ms; // a dropped SYN: no answer (the first retransmit is at 1 s)
constexpr auto kPassWait = 3000ms;

} // namespace

TEST_CASE("enforcement tc: a deny verdict drops one TCP tuple in both directions and only it") {
    TestNetns net(70);
    EnforceObject obj;
    TcpServer server(net.host_ip4(), /*http=*/false);
    const int ifindex = ifindex_of(net.host_iface());
    DetachGuard guard{ifindex};

    auto st = pp::attach_tc(ifindex, true, obj.tc_ingress());
    REQUIRE_MESSAGE(st.ok(), why(st));
    st = pp::attach_tc(ifindex, false, obj.tc_egress());
    REQUIRE_MESSAGE(st.ok(), why(st));
    CHECK(pp::tc_prog_id(ifindex, true) == prog_id(obj.tc_ingress()));
    CHECK(pp::tc_prog_id(ifindex, false) == prog_id(obj.tc_egress()));
    // A restarted daemon attaches over its predecessor: replace, not a second filter.
    st = pp::attach_tc(ifindex, true, obj.tc_ingress());
    REQUIRE_MESSAGE(st.ok(), why(st));
    CHECK(pp::tc_prog_id(ifindex, true) == prog_id(obj.tc_ingress()));
    auto filters = must_run({"tc", "filter", "show", "dev", net.host_iface(), "ingress"});
    size_t n_filters = 0;
    for (size_t pos = 0; (pos = filters.find("handle 0x504c", pos)) != std::string::npos; ++pos)
        ++n_filters;
    CHECK_MESSAGE(n_filters == 1, filters);

    // Namespace -> host: the SYN is dropped at ingress.
    const auto denied = tuple(net.ns_ip4(), 47001, net.host_ip4(), server.port());
    obj.set_verdict(denied, PL_RA_DENY);
    const uint64_t drops0 = obj.counter(PL_ECNT_TC_DROPS);
    auto out =
        connect_from_ns(net.name(), net.ns_ip4(), 47001, net.host_ip4(), server.port(), kDropWait);
    CHECK(out.err == ETIMEDOUT);
    CHECK(obj.counter(PL_ECNT_TC_DROPS) > drops0);
    auto v = obj.verdict(denied);
    REQUIRE(v);
    CHECK(v->packets_dropped >= 1);
    CHECK(v->bytes_dropped >= 54);

    // Another source port of the same peer is not that tuple.
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47002, net.host_ip4(), server.port(), kPassWait);
    CHECK(out.err == 0);
    CHECK(obj.counter(PL_ECNT_TC_RESETS) == 0);

    // Host -> namespace: the key is the tuple as the peer sends it (saddr = the namespace),
    // so the host's SYN (egress) is the reply direction of that entry and is dropped.
    int listener = in_netns(net.name(), [&] {
        int fd = bound_tcp_socket(net.ns_ip4(), 47080);
        if (listen(fd, 16) != 0) throw std::runtime_error("listen");
        return fd;
    });
    obj.set_verdict(tuple(net.ns_ip4(), 47080, net.host_ip4(), 47003), PL_RA_DENY);
    const uint64_t drops1 = obj.counter(PL_ECNT_TC_DROPS);
    int fd = bound_tcp_socket(net.host_ip4(), 47003);
    out = connect_wait(fd, net.ns_ip4(), 47080, kDropWait);
    close(fd);
    CHECK(out.err == ETIMEDOUT);
    CHECK(obj.counter(PL_ECNT_TC_DROPS) > drops1);
    fd = bound_tcp_socket(net.host_ip4(), 47004);
    out = connect_wait(fd, net.ns_ip4(), 47080, kPassWait);
    close(fd);
    CHECK(out.err == 0);
    close(listener);

    // Detached: the denied tuple passes again.
    st = pp::detach_tc(ifindex, true);
    REQUIRE_MESSAGE(st.ok(), why(st));
    st = pp::detach_tc(ifindex, false);
    REQUIRE_MESSAGE(st.ok(), why(st));
    CHECK_FALSE(pp::tc_prog_id(ifindex, true));
    CHECK(pp::detach_tc(ifindex, true).ok()); // nothing there: still fine
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47001, net.host_ip4(), server.port(), kPassWait);
    CHECK(out.err == 0);
}

TEST_CASE("enforcement tc: a reject verdict answers the peer with a RST, IPv4 and IPv6") {
    TestNetns net(71);
    EnforceObject obj;
    TcpServer server4(net.host_ip4(), /*http=*/false);
    TcpServer server6(net.host_ip6(), /*http=*/false);
    const int ifindex = ifindex_of(net.host_iface());
    DetachGuard guard{ifindex};
    for (bool ingress : {true, false}) {
        auto st = pp::attach_tc(ifindex, ingress, ingress ? obj.tc_ingress() : obj.tc_egress());
        REQUIRE_MESSAGE(st.ok(), why(st));
    }

    // A SYN answered with RST|ACK: connect() fails at once with ECONNREFUSED (a listener is
    // there, so the refusal can only come from the program).
    obj.set_verdict(tuple(net.ns_ip4(), 47011, net.host_ip4(), server4.port()), PL_RA_REJECT);
    uint64_t resets0 = obj.counter(PL_ECNT_TC_RESETS);
    auto out =
        connect_from_ns(net.name(), net.ns_ip4(), 47011, net.host_ip4(), server4.port(), kPassWait);
    CHECK(out.err == ECONNREFUSED);
    CHECK(out.took < 900ms);
    CHECK(obj.counter(PL_ECNT_TC_RESETS) == resets0 + 1);

    obj.set_verdict(tuple(net.ns_ip6(), 47011, net.host_ip6(), server6.port()), PL_RA_REJECT);
    out =
        connect_from_ns(net.name(), net.ns_ip6(), 47011, net.host_ip6(), server6.port(), kPassWait);
    CHECK(out.err == ECONNREFUSED);
    CHECK(out.took < 900ms);
    CHECK(obj.counter(PL_ECNT_TC_RESETS) == resets0 + 2);

    // An established flow refused later: its next data segment is answered with a RST whose
    // sequence number the client accepts (seq = the segment's ack).
    int fd = -1;
    out = connect_from_ns(net.name(), net.ns_ip4(), 47012, net.host_ip4(), server4.port(),
                          kPassWait, &fd);
    REQUIRE(out.err == 0);
    obj.set_verdict(tuple(net.ns_ip4(), 47012, net.host_ip4(), server4.port()), PL_RA_REJECT);
    REQUIRE(send(fd, "x", 1, MSG_NOSIGNAL) == 1);
    pollfd p{fd, POLLIN, 0};
    CHECK(poll(&p, 1, 2000) == 1);
    char c;
    ssize_t got = recv(fd, &c, 1, MSG_DONTWAIT);
    const int recv_err = errno; // before any assertion's output can change errno
    CHECK(got == -1);
    CHECK(recv_err == ECONNRESET);
    close(fd);
    CHECK(obj.counter(PL_ECNT_TC_RESETS) == resets0 + 3);

    // Without checksum offload the namespace verifies every checksum itself: the RST's must
    // be complete and right, or the SYN is retransmitted and connect() times out.
    tx_csum_off(net.name());
    obj.set_verdict(tuple(net.ns_ip4(), 47013, net.host_ip4(), server4.port()), PL_RA_REJECT);
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47013, net.host_ip4(), server4.port(), kPassWait);
    CHECK(out.err == ECONNREFUSED);
    CHECK(out.took < 900ms);
    obj.set_verdict(tuple(net.ns_ip6(), 47013, net.host_ip6(), server6.port()), PL_RA_REJECT);
    out =
        connect_from_ns(net.name(), net.ns_ip6(), 47013, net.host_ip6(), server6.port(), kPassWait);
    CHECK(out.err == ECONNREFUSED);
    CHECK(out.took < 900ms);

    // Audit: would refuse, so it passes.
    obj.set_verdict(tuple(net.ns_ip4(), 47014, net.host_ip4(), server4.port()), PL_RA_REJECT,
                    /*audit=*/true);
    const uint64_t drops = obj.counter(PL_ECNT_TC_DROPS);
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47014, net.host_ip4(), server4.port(), kPassWait);
    CHECK(out.err == 0);
    CHECK(obj.counter(PL_ECNT_TC_DROPS) == drops);
}

TEST_CASE("enforcement tc: a limit verdict passes a burst of UDP datagrams and drops the rest") {
    TestNetns net(73);
    EnforceObject obj;
    const int ifindex = ifindex_of(net.host_iface());
    DetachGuard guard{ifindex};
    auto st = pp::attach_tc(ifindex, true, obj.tc_ingress());
    REQUIRE_MESSAGE(st.ok(), why(st));

    // The receiver on the host.
    Addr host = make_addr(net.host_ip4(), 47090);
    int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    REQUIRE(rx >= 0);
    REQUIRE_MESSAGE(bind(rx, reinterpret_cast<sockaddr *>(&host.ss), host.len) == 0,
                    std::strerror(errno));

    pl_flow_verdict v{};
    v.action = PL_RA_LIMIT;
    v.origin = PL_VO_DAEMON;
    v.rule = 7;
    v.rate = 1; // per second: nothing refills within the test
    v.burst = 5;
    v.limit_id = 1;
    obj.put_verdict(tuple(net.ns_ip4(), 47031, net.host_ip4(), 47090, PL_IPPROTO_UDP), v);
    const uint64_t limit0 = obj.counter(PL_ECNT_LIMIT_DROPS);

    constexpr int kSent = 20;
    int sent = in_netns(net.name(), [&] {
        Addr src = make_addr(net.ns_ip4(), 47031);
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&src.ss), src.len) != 0)
            throw std::runtime_error("udp client");
        int n = 0;
        for (int i = 0; i < kSent; ++i)
            if (sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr *>(&host.ss), host.len) == 1) ++n;
        close(fd);
        return n;
    });
    REQUIRE(sent == kSent);
    int received = 0;
    auto end = Clock::now() + 1000ms;
    while (Clock::now() < end) {
        char c;
        if (recv(rx, &c, 1, 0) == 1)
            ++received;
        else
            std::this_thread::sleep_for(10ms);
    }
    close(rx);
    // A new bucket starts full: `burst` pass (one more if a second's credit accrued).
    CHECK(received >= 5);
    CHECK(received <= 6);
    CHECK(obj.counter(PL_ECNT_LIMIT_DROPS) - limit0 == static_cast<uint64_t>(kSent - received));
    CHECK(obj.counter(PL_ECNT_TC_DROPS) == static_cast<uint64_t>(kSent - received));
}

TEST_CASE("enforcement xdp: blocklisted sources and denied tuples are dropped until detached") {
    TestNetns net(72);
    EnforceObject obj;
    TcpServer server4(net.host_ip4(), /*http=*/false);
    TcpServer server6(net.host_ip6(), /*http=*/false);
    const int ifindex = ifindex_of(net.host_iface());
    DetachGuard guard{ifindex};

    auto mode = pp::attach_xdp(ifindex, obj.xdp());
    REQUIRE_MESSAGE(mode.ok(), why(mode));
    const std::string mode_name = *mode == pp::XdpMode::Native ? "native" : "generic";
    MESSAGE("xdp mode on veth: " << mode_name);
    CHECK(pp::xdp_prog_id(ifindex) == prog_id(obj.xdp()));
    // Attaching again replaces atomically, in the same mode.
    auto again = pp::attach_xdp(ifindex, obj.xdp());
    REQUIRE_MESSAGE(again.ok(), why(again));
    CHECK(*again == *mode);
    CHECK(pp::xdp_prog_id(ifindex) == prog_id(obj.xdp()));

    // The namespace's address as a /32: everything from it is dropped.
    const auto v4 = prefix(net.ns_ip4(), 32);
    obj.block(v4);
    const uint64_t drops0 = obj.counter(PL_ECNT_XDP_DROPS);
    auto out =
        connect_from_ns(net.name(), net.ns_ip4(), 47021, net.host_ip4(), server4.port(), kDropWait);
    CHECK(out.err == ETIMEDOUT);
    const uint64_t drops1 = obj.counter(PL_ECNT_XDP_DROPS);
    CHECK(drops1 > drops0);
    obj.unblock(v4);
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47022, net.host_ip4(), server4.port(), kPassWait);
    CHECK(out.err == 0);

    // IPv6 by a /64 prefix (the LPM key: family byte, then the address bits).
    const auto v6 = prefix("fd31:72::", 64);
    obj.block(v6);
    out =
        connect_from_ns(net.name(), net.ns_ip6(), 47023, net.host_ip6(), server6.port(), kDropWait);
    CHECK(out.err == ETIMEDOUT);
    CHECK(obj.counter(PL_ECNT_XDP_DROPS) > drops1);
    obj.unblock(v6);

    // A deny verdict for one tuple: that tuple only.
    const auto denied = tuple(net.ns_ip4(), 47024, net.host_ip4(), server4.port());
    obj.set_verdict(denied, PL_RA_DENY);
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47024, net.host_ip4(), server4.port(), kDropWait);
    CHECK(out.err == ETIMEDOUT);
    auto v = obj.verdict(denied);
    REQUIRE(v);
    CHECK(v->packets_dropped >= 1);
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47025, net.host_ip4(), server4.port(), kPassWait);
    CHECK(out.err == 0);

    // Detached: even a blocklisted source gets through.
    obj.block(v4);
    auto st = pp::detach_xdp(ifindex);
    REQUIRE_MESSAGE(st.ok(), why(st));
    CHECK_FALSE(pp::xdp_prog_id(ifindex));
    CHECK(pp::detach_xdp(ifindex).ok()); // nothing there: still fine
    out =
        connect_from_ns(net.name(), net.ns_ip4(), 47026, net.host_ip4(), server4.port(), kPassWait);
    CHECK(out.err == 0);
}

namespace {

// A veth pair made by the test, removed by the destructor if the test did not.
struct TestVeth {
    std::string a, b;
    TestVeth()
        : a("plwa" + std::to_string(getpid() % 100000)),
          b("plwb" + std::to_string(getpid() % 100000)) {}
    ~TestVeth() { run({"ip", "link", "del", a}); }
};

// Drains `w` until `pred` holds for a change, for at most `timeout`.
template <typename Pred>
std::optional<pd::LinkChange> wait_change(pd::IfaceWatch &w, Pred pred,
                                          std::chrono::milliseconds timeout = 5000ms) {
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
        for (auto &c : w.drain())
            if (pred(c)) return c;
        pollfd p{w.fd(), POLLIN, 0};
        poll(&p, 1, 100);
    }
    return std::nullopt;
}

} // namespace

TEST_CASE("iface watch: sees a veth pair appear, come up and go, and lists it") {
    auto opened = pd::IfaceWatch::open();
    REQUIRE_MESSAGE(opened.ok(), why(opened));
    pd::IfaceWatch w = std::move(*opened);
    REQUIRE(w.fd() >= 0);
    w.drain(); // whatever happened before

    TestVeth veth;
    must_run({"ip", "link", "add", veth.a, "type", "veth", "peer", "name", veth.b});
    using Type = pd::LinkChange::Type;
    auto added = wait_change(
        w, [&](const pd::LinkChange &c) { return c.type == Type::Present && c.name == veth.a; });
    REQUIRE(added);
    CHECK(added->kind == "veth");
    CHECK(added->ifindex == ifindex_of(veth.a));
    CHECK_FALSE(added->up());

    auto links = pd::IfaceWatch::list_links();
    REQUIRE_MESSAGE(links.ok(), why(links));
    bool listed = false, lo = false;
    for (const auto &l : *links) {
        if (l.name == veth.a) listed = l.ifindex == added->ifindex && l.kind == "veth";
        if (l.name == "lo") lo = l.up();
        CHECK(l.type == Type::Present);
    }
    CHECK(listed);
    CHECK(lo);

    must_run({"ip", "link", "set", veth.a, "up"});
    auto up = wait_change(w, [&](const pd::LinkChange &c) {
        return c.type == Type::Present && c.ifindex == added->ifindex && c.up();
    });
    CHECK(up);

    must_run({"ip", "link", "del", veth.a});
    auto removed = wait_change(w, [&](const pd::LinkChange &c) {
        return c.type == Type::Removed && c.ifindex == added->ifindex;
    });
    REQUIRE(removed);
    CHECK(removed->name == veth.a);
    CHECK_FALSE(w.take_lost_events());
}

TEST_CASE("iface watch: malformed rtnetlink messages are skipped, never read past") {
    // A well-formed RTM_NEWLINK: ifinfomsg, IFLA_IFNAME "pl0", IFLA_LINKINFO{IFLA_INFO_KIND
    // "veth"}.
    std::vector<uint8_t> msg(NLMSG_LENGTH(sizeof(ifinfomsg)));
    auto put_attr = [](std::vector<uint8_t> &m, uint16_t type, const void *data, size_t len) {
        size_t off = m.size();
        m.resize(off + RTA_SPACE(len));
        rtattr rta{};
        rta.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        rta.rta_type = type;
        std::memcpy(&m[off], &rta, sizeof(rta));
        std::memcpy(&m[off + RTA_LENGTH(0)], data, len);
    };
    auto finish = [](std::vector<uint8_t> &m, uint16_t type) {
        nlmsghdr nh{};
        nh.nlmsg_len = static_cast<uint32_t>(m.size());
        nh.nlmsg_type = type;
        std::memcpy(m.data(), &nh, sizeof(nh));
        ifinfomsg ifi{};
        ifi.ifi_index = 42;
        ifi.ifi_flags = IFF_UP;
        std::memcpy(&m[NLMSG_HDRLEN], &ifi, sizeof(ifi));
    };
    put_attr(msg, IFLA_IFNAME, "pl0", 4);
    std::vector<uint8_t> kind;
    put_attr(kind, IFLA_INFO_KIND, "veth", 5);
    put_attr(msg, IFLA_LINKINFO | NLA_F_NESTED, kind.data(), kind.size());
    finish(msg, RTM_NEWLINK);

    auto ok = pd::parse_link_messages(msg.data(), msg.size());
    REQUIRE(ok.size() == 1);
    CHECK(ok[0].ifindex == 42);
    CHECK(ok[0].name == "pl0");
    CHECK(ok[0].kind == "veth");
    CHECK(ok[0].up());

    // Every truncation of the buffer: the message claims more than there is, so nothing.
    for (size_t n = 0; n < msg.size(); ++n)
        CHECK(pd::parse_link_messages(msg.data(), n).empty());

    // The name without its NUL inside the attribute: the message is dropped.
    auto bad = msg;
    bad[NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_LENGTH(0) + 3] = 'x';
    CHECK(pd::parse_link_messages(bad.data(), bad.size()).empty());

    // An attribute longer than the message: the walk stops; the message still counts, nameless.
    bad = msg;
    rtattr huge{};
    huge.rta_len = 0xfff0;
    huge.rta_type = IFLA_IFNAME;
    std::memcpy(&bad[NLMSG_LENGTH(sizeof(ifinfomsg))], &huge, sizeof(huge));
    auto r = pd::parse_link_messages(bad.data(), bad.size());
    REQUIRE(r.size() == 1);
    CHECK(r[0].name.empty());

    // A message too short for its ifinfomsg, followed by a good one: only the good one.
    std::vector<uint8_t> two(NLMSG_LENGTH(4));
    nlmsghdr shortmsg{};
    shortmsg.nlmsg_len = static_cast<uint32_t>(two.size());
    shortmsg.nlmsg_type = RTM_NEWLINK;
    std::memcpy(two.data(), &shortmsg, sizeof(shortmsg));
    two.insert(two.end(), msg.begin(), msg.end());
    auto r2 = pd::parse_link_messages(two.data(), two.size());
    REQUIRE(r2.size() == 1);
    CHECK(r2[0].name == "pl0");
}
