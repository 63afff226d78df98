// options.cpp - see options.h.
#include "policer/options.h"

#include "policer/config_file.h"
#include "common/text.h"
#include "policer/version.h"
#include "policer/zmq_sink.h"

#include <cxxopts.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace policer::daemon {
namespace {

constexpr const char *kEpilog = R"(
What it does:
  policerd loads policer's eBPF probes (cgroup socket hooks, sock_ops, process and cgroup
  tracepoints) and attributes every TCP and UDP flow on the host, IPv4 and IPv6, outbound and
  inbound, to a user, group, process (pid, executable, command line, parent), cgroup and
  container. It must run as root (or with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN); it mounts
  bpffs and tracefs where they are missing.

  With --rules it enforces them in the kernel: a refused connect() or sendmsg() fails with
  EPERM before any packet leaves, inbound flows are judged on their first packet with the
  identity of the receiving socket, and verdicts that need enrichment or L7 dissection cut
  live flows (packets dropped, TCP reset). Enforcement is pinned in bpffs: it stays in force
  when policerd stops or dies, and a restarted policerd adopts it without a gap.

Examples:
  policerd --rules /etc/policer/rules.d           enforce a rule set
  policerd --rules my.rules --report-only         only report what the rules would do
  kill -HUP $(pidof policerd)                     re-read the rule files (a broken set is
                                                  refused; the one in force stays)
  policerd --rules rules.d --xdp-iface eth0       also drop refused sources at the uplink
  policerd --remove-enforcement                   stop enforcing (detach the pinned programs)
  policerd --events-stdout                       print every flow start and end as JSON
  policerd --events-stdout | jq -c 'select(.user.name=="www-data")'
  policerd --events-stdout --stats-interval 10   also report drops and table fill every 10 s
  policerd --zmq-endpoint ipc:///run/policer/events.sock
                                                 publish events to ZeroMQ subscribers
                                                 ('<topic> <json>' frames; docs/events.md)

Output (--events-stdout): one JSON object per line, Elastic Common Schema field names:
  event.action      flow-start | flow-end | agent-start | agent-stats | agent-stop |
                    connection-refused | connection-would-be-refused | rules-reloaded |
                    rules-reload-failed
  source.* destination.* network.* process.* user.* group.* container.* cgroup.*
  On flow-end: source.bytes/packets, destination.bytes/packets, network.bytes/packets
  (bytes are L4 payload bytes; packets are TCP segments or UDP datagrams).

Signals: SIGINT and SIGTERM stop policerd cleanly (probes detached, final agent-stats printed;
the pinned enforcement stays). SIGHUP reloads the rule files.
)";

template <typename T>
Result<T> narrow(uint64_t v, const std::string &name) {
    if (v > std::numeric_limits<T>::max())
        return Error{"--" + name + ": value " + std::to_string(v) + " is too large"};
    return static_cast<T>(v);
}

bool known_topic(const std::string &t) {
    for (auto k : kStreamTopics)
        if (k == t) return true;
    return false;
}

std::string topic_list() {
    std::string s;
    for (auto k : kStreamTopics)
        s += (s.empty() ? "" : ", ") + std::string(k);
    return s;
}

// The --zmq-* options, checked (endpoints, topic names, rates, CURVE files given in pairs).
Status parse_zmq(const cxxopts::ParseResult &r, ZmqOptions &z) {
    if (r.count("zmq-endpoint")) z.endpoints = r["zmq-endpoint"].as<std::vector<std::string>>();
    for (const auto &ep : z.endpoints) {
        const bool ipc = ep.rfind("ipc:///", 0) == 0 && ep.size() > 7;
        const size_t colon = ep.rfind(':');
        const bool tcp = ep.rfind("tcp://", 0) == 0 && colon > 6 && colon + 1 < ep.size();
        if (!ipc && !tcp)
            return Error{"--zmq-endpoint: '" + ep +
                         "' is not ipc:///absolute/path or tcp://address:port"};
    }
    if (r.count("zmq-topics")) {
        const std::string list = r["zmq-topics"].as<std::string>();
        size_t pos = 0;
        while (pos <= list.size()) {
            size_t end = std::min(list.find(',', pos), list.size());
            std::string t(trim(std::string_view(list).substr(pos, end - pos)));
            if (!known_topic(t))
                return Error{"--zmq-topics: unknown topic '" + t + "' (topics: " + topic_list() +
                             ")"};
            z.topics.push_back(t);
            pos = end + 1;
        }
    }
    if (r.count("zmq-rate"))
        for (const auto &spec : r["zmq-rate"].as<std::vector<std::string>>()) {
            const size_t eq = spec.find('=');
            const std::string t = spec.substr(0, eq);
            if (eq == std::string::npos || !known_topic(t))
                return Error{"--zmq-rate: '" + spec + "' is not TOPIC=N (topics: " + topic_list() +
                             ")"};
            const std::string n = spec.substr(eq + 1);
            auto v = parse_size(n);
            if (!v || n.find_first_not_of("0123456789") != std::string::npos || *v == 0 ||
                *v > 10000000)
                return Error{"--zmq-rate: '" + spec +
                             "': N must be a number of messages per second from 1 to 10000000"};
            z.rates[t] = static_cast<uint32_t>(*v);
        }
    z.hwm = r["zmq-hwm"].as<uint32_t>();
    if (z.hwm == 0 || z.hwm > 10000000)
        return Error{"--zmq-hwm must be from 1 to 10000000 (0 would queue without bound)"};
    if (r.count("zmq-curve-secret")) z.curve_secret = r["zmq-curve-secret"].as<std::string>();
    if (r.count("zmq-curve-clients")) z.curve_clients = r["zmq-curve-clients"].as<std::string>();
    if (z.curve_secret.empty() != z.curve_clients.empty())
        return Error{"--zmq-curve-secret and --zmq-curve-clients go together (the stream's "
                     "key, and who may subscribe)"};
    if (z.endpoints.empty() && (!z.curve_secret.empty() || !z.topics.empty() || !z.rates.empty()))
        return Error{"the --zmq-* options need a --zmq-endpoint"};
    return Ok{};
}

} // namespace

Result<uint64_t> parse_size(const std::string &text) {
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
        return Error{"'" + text + "' is not a size (examples: 65536, 512K, 8M, 1G)"};
    size_t pos = 0;
    uint64_t v = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        uint64_t d = static_cast<uint64_t>(text[pos] - '0');
        if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
            return Error{"'" + text + "' is too large"};
        v = v * 10 + d;
        ++pos;
    }
    std::string suffix = text.substr(pos);
    unsigned shift = 0;
    if (suffix.empty())
        shift = 0;
    else if (suffix == "K" || suffix == "k")
        shift = 10;
    else if (suffix == "M" || suffix == "m")
        shift = 20;
    else if (suffix == "G" || suffix == "g")
        shift = 30;
    else
        return Error{"'" + text + "': unknown size suffix '" + suffix + "' (use K, M or G)"};
    if (v > (std::numeric_limits<uint64_t>::max() >> shift))
        return Error{"'" + text + "' is too large"};
    return v << shift;
}

namespace {

// The option table: the one catalogue of policerd's options, for the command line and the
// config file alike.
cxxopts::Options option_spec() {
    const Options o;
    cxxopts::Options spec("policerd", "policer daemon: identity-aware flow attribution and policy");
    spec.custom_help("[OPTION...]");
    // clang-format off
    spec.add_options()
        ("events-stdout", "Print every flow start and end, and agent events, as one ECS JSON "
                          "object per line on stdout")
        ("cgroup-root", "cgroup v2 directory to attach the socket hooks to (default: the "
                        "cgroup2 mount found in /proc/mounts)", cxxopts::value<std::string>())
        ("btf", "Kernel BTF used to relocate the probes", cxxopts::value<std::string>()->default_value(o.btf))
        ("bpffs", "Where bpffs is (mounted there if missing)", cxxopts::value<std::string>()->default_value(o.bpffs))
        ("ringbuf-size", "Kernel-to-daemon ring buffer size, power of two (e.g. 8M)", cxxopts::value<std::string>()->default_value("8M"))
        ("max-flows", "Flows tracked at once, in the kernel (UDP) and in the daemon", cxxopts::value<std::string>()->default_value(std::to_string(o.max_flows)))
        ("max-processes", "Processes remembered (live, and as many recently exited)", cxxopts::value<std::string>()->default_value(std::to_string(o.max_processes)))
        ("udp-idle-timeout", "Seconds without a datagram after which a UDP flow ends", cxxopts::value<uint32_t>()->default_value(std::to_string(o.udp_idle_timeout_s)))
        ("udp-new-flows-per-sec", "New UDP flows a socket may start per second; datagrams to further new endpoints are counted in one aggregate flow (a scan cannot flood the event stream)", cxxopts::value<uint32_t>()->default_value(std::to_string(o.udp_new_flows_per_sec)))
        ("accept-wait", "Milliseconds an inbound TCP flow waits to learn which process "
                        "accept()s it before it is reported with the listener's identity", cxxopts::value<uint32_t>()->default_value(std::to_string(o.accept_wait_ms)))
        ("stats-interval", "Seconds between agent-stats events (drops, table fill); 0: only at exit", cxxopts::value<uint32_t>()->default_value(std::to_string(o.stats_interval_s)))
        ("sample-packets", "L7: payload packets sampled per flow and direction for nDPI; 0 turns L7 dissection off", cxxopts::value<uint32_t>()->default_value(std::to_string(o.sample_packets)))
        ("sample-bytes", "L7: bytes kept of each sampled packet, from its IP header (at most 2048)", cxxopts::value<uint32_t>()->default_value(std::to_string(o.sample_bytes)))
        ("samples-ringbuf-size", "L7: ring buffer for payload samples, power of two", cxxopts::value<std::string>()->default_value("4M"))
        ("max-dissected-flows", "L7: flows dissected at once (nDPI state is freed as each finishes)", cxxopts::value<std::string>()->default_value(std::to_string(o.max_dissected_flows)))
        ("dissect-packets", "L7: packets inspected per flow before giving up on it", cxxopts::value<uint32_t>()->default_value(std::to_string(o.dissect_packets)))
        ("dissect-idle", "L7: seconds without a sample after which a flow's dissection is finished", cxxopts::value<uint32_t>()->default_value(std::to_string(o.dissect_idle_s)))
        ("max-domains", "L7: addresses remembered from DNS answers (destination.domain)", cxxopts::value<std::string>()->default_value(std::to_string(o.max_domains)))
        ("rules", "Rule file or rules.d directory (repeat for more). Enforced in the kernel: connect/sendmsg refused with EPERM, inbound first packets dropped, L7 verdicts cut live flows; each flow event says which rule decided it. A file with any error stops policerd from starting; on SIGHUP the files are read again and a broken set leaves the one in force", cxxopts::value<std::vector<std::string>>())
        ("report-only", "Compute and report verdicts, but load nothing that enforces them")
        ("pin-dir", "Where enforcement is pinned in bpffs; it stays in force when policerd stops or dies, and a restarted policerd adopts it (default: <bpffs>/policer)", cxxopts::value<std::string>())
        ("remove-enforcement", "Detach and remove the pinned enforcement (the host is no longer enforced), then exit")
        ("tc-iface", "Attach TC enforcement (ingress and egress) to this interface: a name or a glob such as 'ens*' (repeat for more). Packets of refused flows are dropped there, rejected TCP answered with a RST; also for traffic with no local socket (bridged, forwarded)", cxxopts::value<std::vector<std::string>>())
        ("xdp-iface", "Attach XDP enforcement to this uplink (name or glob; repeat for more): sources every rule refuses, and inbound packets of refused flows, are dropped before the network stack", cxxopts::value<std::vector<std::string>>())
        ("no-veth-tc", "Do not attach TC enforcement to veth interfaces (container links) as they appear")
        ("db", "SQLite store of managed rules and their history, flow records and alerts ('none': no store)", cxxopts::value<std::string>()->default_value(o.db_path))
        ("retention-days", "Flow records and alerts older than this are deleted (rule history is kept)", cxxopts::value<uint32_t>()->default_value(std::to_string(o.retention_days)))
        ("db-max-size", "Past this size the oldest flow records are deleted", cxxopts::value<std::string>()->default_value("1G"))
        ("control-socket", "Unix socket the policer CLI talks to ('none': no control socket)", cxxopts::value<std::string>()->default_value(o.control_socket))
        ("control-group", "Group whose members may use the control socket, besides root", cxxopts::value<std::string>()->default_value(o.control_group))
        ("max-flow-verdicts", "Flows with a kernel verdict (tier 2/3 decisions, UDP peers, limits)", cxxopts::value<std::string>()->default_value(std::to_string(o.max_flow_verdicts)))
        ("max-limit-buckets", "Token buckets of limit rules, one per rule and identity", cxxopts::value<std::string>()->default_value(std::to_string(o.max_limit_buckets)))
        ("zmq-endpoint", "Publish events on a ZeroMQ PUB socket bound here: ipc:///path or tcp://addr:port (repeat for more). One frame per event, '<topic> <json>'", cxxopts::value<std::vector<std::string>>())
        ("zmq-topics", "Comma list of the topics to publish: flow.start, flow.end, verdict, alert, rule.change, agent (default: all)", cxxopts::value<std::string>())
        ("zmq-rate", "TOPIC=N: at most N messages per second on TOPIC (token bucket; the excess is dropped and counted; repeat for more topics)", cxxopts::value<std::vector<std::string>>())
        ("zmq-hwm", "Messages queued for each subscriber before further ones are dropped (counted)", cxxopts::value<uint32_t>()->default_value(std::to_string(o.zmq.hwm)))
        ("zmq-curve-secret", "The stream's secret CURVE certificate (policer keygen): encrypts the stream and admits only the subscribers of --zmq-curve-clients", cxxopts::value<std::string>())
        ("zmq-curve-clients", "Directory of the allowed subscribers' public certificates (*.cert); any other key is refused", cxxopts::value<std::string>())
        ("log-level", "trace, debug, info, warn, error or off (logs go to stderr)", cxxopts::value<std::string>()->default_value(o.log_level))
        ("config", "Also read options from this file: one 'key = value' per line, keys being these long option names; the command line overrides it (no file is read unless given)", cxxopts::value<std::string>())
        ("check-config", "Check the options, the config file and the rule files, print OK or the errors, and exit (0 or 1) without loading anything into the kernel")
        ("version", "Print the version and exit")
        ("h,help", "Print this help and exit");
    // clang-format on
    return spec;
}

Result<Command> parse_arguments(cxxopts::Options &spec, int argc, const char *const *argv) {
    Command cmd;
    Options &o = cmd.options;
    try {
        auto r = spec.parse(argc, argv);
        if (!r.unmatched().empty())
            return Error{"unexpected argument '" + r.unmatched().front() + "' (see --help)"};
        if (r.count("help")) {
            cmd.print_and_exit = spec.help() + kEpilog;
            return cmd;
        }
        cmd.check_config = r.count("check-config") > 0;
        if (r.count("version")) {
            cmd.print_and_exit = std::string("policerd ") + kVersion + "\n";
            return cmd;
        }
        o.events_stdout = r.count("events-stdout") > 0;
        if (r.count("cgroup-root")) o.cgroup_root = r["cgroup-root"].as<std::string>();
        o.btf = r["btf"].as<std::string>();
        if (r.count("rules")) o.rules = r["rules"].as<std::vector<std::string>>();
        o.bpffs = r["bpffs"].as<std::string>();
        o.report_only = r.count("report-only") > 0;
        o.remove_enforcement = r.count("remove-enforcement") > 0;
        if (r.count("tc-iface")) o.tc_ifaces = r["tc-iface"].as<std::vector<std::string>>();
        if (r.count("xdp-iface")) o.xdp_ifaces = r["xdp-iface"].as<std::vector<std::string>>();
        o.veth_tc = r.count("no-veth-tc") == 0;
        for (const auto *list : {&o.tc_ifaces, &o.xdp_ifaces})
            for (const auto &name : *list)
                if (name.empty() || name.size() >= 16 || name.find('/') != std::string::npos)
                    return Error{"--" + std::string(list == &o.tc_ifaces ? "tc" : "xdp") +
                                 "-iface: '" + name +
                                 "' is not an interface name (1 to 15 characters, no '/')"};
        o.db_path = r["db"].as<std::string>();
        if (o.db_path == "none") o.db_path.clear();
        if (!o.db_path.empty() && o.db_path[0] != '/')
            return Error{"--db must be an absolute path (or 'none')"};
        o.control_socket = r["control-socket"].as<std::string>();
        if (o.control_socket == "none") o.control_socket.clear();
        if (!o.control_socket.empty() &&
            (o.control_socket[0] != '/' || o.control_socket.size() > 100))
            return Error{
                "--control-socket must be an absolute path of at most 100 bytes (or 'none')"};
        o.control_group = r["control-group"].as<std::string>();
        o.retention_days = r["retention-days"].as<uint32_t>();
        if (o.retention_days == 0) return Error{"--retention-days must be at least 1"};
        auto dbmax = parse_size(r["db-max-size"].as<std::string>());
        if (!dbmax) return Error{"--db-max-size: " + dbmax.error().message};
        if (*dbmax < (1u << 20)) return Error{"--db-max-size must be at least 1M"};
        o.db_max_bytes = *dbmax;
        o.pin_dir = r.count("pin-dir") ? r["pin-dir"].as<std::string>() : o.bpffs + "/policer";
        if (o.pin_dir.empty() || o.pin_dir[0] != '/')
            return Error{"--pin-dir must be an absolute path in bpffs"};

        // A size option: "65536", "512K", "8M"; at least `min`.
        auto size_option = [&](const char *name, uint32_t min) -> Result<uint32_t> {
            auto v = parse_size(r[name].as<std::string>());
            if (!v) return Error{std::string("--") + name + ": " + v.error().message};
            auto v32 = narrow<uint32_t>(*v, name);
            if (v32 && *v32 < min)
                return Error{std::string("--") + name + " must be at least " + std::to_string(min)};
            return v32;
        };
        auto ring = size_option("ringbuf-size", 0);
        if (!ring) return ring.error();
        if (*ring < 4096 || (*ring & (*ring - 1)) != 0)
            return Error{"--ringbuf-size: " + std::to_string(*ring) +
                         " bytes is not a power of two of at least 4K (examples: 1M, 8M, 64M)"};
        o.ringbuf_bytes = *ring;
        auto flows = size_option("max-flows", 1);
        if (!flows) return flows.error();
        o.max_flows = *flows;
        auto verdicts = size_option("max-flow-verdicts", 1);
        if (!verdicts) return verdicts.error();
        o.max_flow_verdicts = *verdicts;
        auto buckets = size_option("max-limit-buckets", 1);
        if (!buckets) return buckets.error();
        o.max_limit_buckets = *buckets;
        auto procs = size_option("max-processes", 1);
        if (!procs) return procs.error();
        o.max_processes = *procs;

        auto sring = size_option("samples-ringbuf-size", 0);
        if (!sring) return sring.error();
        if (*sring < 4096 || (*sring & (*sring - 1)) != 0)
            return Error{"--samples-ringbuf-size: " + std::to_string(*sring) +
                         " bytes is not a power of two of at least 4K (examples: 1M, 4M)"};
        o.samples_ringbuf_bytes = *sring;
        o.sample_packets = r["sample-packets"].as<uint32_t>();
        if (o.sample_packets > 65535) return Error{"--sample-packets must be at most 65535"};
        o.sample_bytes = r["sample-bytes"].as<uint32_t>();
        if (o.sample_bytes < 64 || o.sample_bytes > 2048)
            return Error{"--sample-bytes must be between 64 and 2048"};
        auto dflows = size_option("max-dissected-flows", 1);
        if (!dflows) return dflows.error();
        o.max_dissected_flows = *dflows;
        o.dissect_packets = r["dissect-packets"].as<uint32_t>();
        if (o.dissect_packets == 0) return Error{"--dissect-packets must be at least 1"};
        o.dissect_idle_s = r["dissect-idle"].as<uint32_t>();
        if (o.dissect_idle_s == 0) return Error{"--dissect-idle must be at least 1"};
        auto domains = size_option("max-domains", 1);
        if (!domains) return domains.error();
        o.max_domains = *domains;

        o.udp_idle_timeout_s = r["udp-idle-timeout"].as<uint32_t>();
        if (o.udp_idle_timeout_s == 0) return Error{"--udp-idle-timeout must be at least 1"};
        o.accept_wait_ms = r["accept-wait"].as<uint32_t>();
        o.udp_new_flows_per_sec = r["udp-new-flows-per-sec"].as<uint32_t>();
        if (o.udp_new_flows_per_sec == 0)
            return Error{"--udp-new-flows-per-sec must be at least 1"};
        o.stats_interval_s = r["stats-interval"].as<uint32_t>();
        if (auto st = parse_zmq(r, o.zmq); !st) return st.error();
        o.log_level = r["log-level"].as<std::string>();
        static const char *levels[] = {"trace", "debug", "info", "warn", "error", "off"};
        bool known = false;
        for (const char *l : levels)
            known = known || o.log_level == l;
        if (!known) return Error{"--log-level: unknown level '" + o.log_level + "'"};
    } catch (const cxxopts::exceptions::exception &e) {
        return Error{std::string(e.what()) + " (see --help)"};
    }
    return cmd;
}

// What a config file may set: every option but those that ask for a one-off action.
std::vector<ConfigKey> config_keys(const cxxopts::Options &spec) {
    static const char *const not_in_file[] = {"config", "check-config", "remove-enforcement",
                                              "help", "version"};
    std::vector<ConfigKey> keys;
    for (const auto &d : spec.group_help("").options) {
        if (d.l.empty() || std::find(std::begin(not_in_file), std::end(not_in_file), d.l[0]) !=
                               std::end(not_in_file))
            continue;
        keys.push_back({d.l[0], d.is_boolean, d.is_container});
    }
    return keys;
}

} // namespace

Result<Command> parse_options(int argc, const char *const *argv) {
    cxxopts::Options spec = option_spec();
    // The command line alone first: which file to read, and which options it gives (those
    // override the file's).
    std::string config;
    std::vector<std::string> given;
    try {
        auto r = spec.parse(argc, argv);
        for (const auto &kv : r.arguments())
            given.push_back(kv.key());
        // --help and --version answer even when the file is broken.
        if (r.count("config") && !r.count("help") && !r.count("version"))
            config = r["config"].as<std::string>();
    } catch (const cxxopts::exceptions::exception &e) {
        return Error{std::string(e.what()) + " (see --help)"};
    }
    ConfigArgs args(argc, argv);
    if (!config.empty()) {
        auto settings = read_config(config, config_keys(spec));
        if (!settings) return settings.error();
        // Each value alone first, so that one the option parser refuses is named by file:line.
        for (const auto &s : *settings) {
            static const char *const name[] = {"policerd"};
            ConfigArgs one(1, name);
            one.add({s}, {});
            try {
                spec.parse(one.argc(), one.argv());
            } catch (const cxxopts::exceptions::exception &e) {
                return Error{s.where() + ": " + s.key + ": " + e.what()};
            }
        }
        args.add(*settings, given);
    }
    auto cmd = parse_arguments(spec, args.argc(), args.argv());
    if (!cmd) return Error{args.locate(cmd.error().message)};
    cmd->config_file = config;
    return cmd;
}

} // namespace policer::daemon
