// field_catalogue.cpp - the rule fields (see field_catalogue.h). To add a field: add a row
// here; the parser, compiler, explain, `policer fields` and the docs follow.
#include "rules/field_catalogue.h"

namespace policer::rules {
namespace {

constexpr const char *kKernelIdentity =
    "the kernel captures it in process context when the socket is made or used";
constexpr const char *kKernelTuple = "the kernel reads it from the socket at connect/bind";
constexpr const char *kResolved =
    "names are resolved ahead of time to ids the kernel compares (kept current by policerd)";
constexpr const char *kGlobUser =
    "a pattern cannot be resolved to ids ahead of time: policerd matches it on the flow";
constexpr const char *kUserSpace = "only policerd knows it (enrichment from /proc and events)";
constexpr const char *kL7 = "known only once nDPI has dissected the flow's first payload packets";
constexpr const char *kCgroupSet =
    "policerd resolves it to the set of matching cgroup ids as cgroups come and go";
constexpr const char *kDomainSet = "policerd fills the set of addresses from observed DNS "
                                   "answers before the application can read them";

using T = Tier;
using F = FieldType;
using K = KernelMatch;

const std::vector<FieldDef> kFields = {
    // flow
    {"direction",
     F::Enum,
     T::Kernel,
     T::Kernel,
     K::Class,
     "network.direction",
     "Who opened the flow: egress (this host) or ingress (the peer)",
     kKernelTuple,
     {"egress", "ingress"}},
    {"l4.proto",
     F::Enum,
     T::Kernel,
     T::Kernel,
     K::Class,
     "network.transport",
     "Transport protocol",
     kKernelTuple,
     {"tcp", "udp"}},
    {"ip.family",
     F::Enum,
     T::Kernel,
     T::Kernel,
     K::Class,
     "network.type",
     "IP version",
     kKernelTuple,
     {"ipv4", "ipv6"}},
    {"src.ip",
     F::Address,
     T::Kernel,
     T::Kernel,
     K::SrcAddr,
     "source.ip",
     "Address of the side that opened the flow",
     kKernelTuple,
     {}},
    {"src.port",
     F::Port,
     T::Kernel,
     T::Kernel,
     K::SrcPort,
     "source.port",
     "Port of the side that opened the flow",
     kKernelTuple,
     {}},
    {"dst.ip",
     F::Address,
     T::Kernel,
     T::Kernel,
     K::DstAddr,
     "destination.ip",
     "Address of the side that accepted the flow",
     kKernelTuple,
     {}},
    {"dst.port",
     F::Port,
     T::Kernel,
     T::Kernel,
     K::DstPort,
     "destination.port",
     "Port of the side that accepted the flow",
     kKernelTuple,
     {}},
    {"src.domain",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Domain,
     "source.domain",
     "DNS name of the source address (from DNS answers seen on this host)",
     kDomainSet,
     {}},
    {"dst.domain",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Domain,
     "destination.domain",
     "DNS name of the destination address (from DNS answers seen on this host)",
     kDomainSet,
     {}},
    {"iface",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Iface,
     "observer.ingress.interface.name",
     "Network interface (enforced at TC on configured interfaces)",
     kResolved,
     {}},
    // who
    {"user.id",
     F::Number,
     T::Kernel,
     T::Kernel,
     K::Uid,
     "user.id",
     "Real uid of the process",
     kKernelIdentity,
     {}},
    {"user.name",
     F::String,
     T::Kernel,
     T::UserSpace,
     K::Uid,
     "user.name",
     "User name of the process's uid",
     kResolved,
     {}},
    {"group.id",
     F::Number,
     T::Kernel,
     T::Kernel,
     K::Gid,
     "group.id",
     "Real gid of the process",
     kKernelIdentity,
     {}},
    {"group.name",
     F::String,
     T::Kernel,
     T::UserSpace,
     K::Gid,
     "group.name",
     "Group name of the process's gid",
     kResolved,
     {}},
    {"process.name",
     F::String,
     T::Kernel,
     T::UserSpace,
     K::Comm,
     "process.name",
     "Process name (the kernel's comm, at most 15 characters)",
     kKernelIdentity,
     {}},
    {"process.exe",
     F::String,
     T::Kernel,
     T::UserSpace,
     K::Exe,
     "process.executable",
     "Absolute path of the executable",
     kResolved,
     {}},
    {"process.cmdline",
     F::String,
     T::UserSpace,
     T::UserSpace,
     K::None,
     "process.command_line",
     "Command line, arguments joined by spaces",
     kUserSpace,
     {}},
    {"process.pid",
     F::Number,
     T::UserSpace,
     T::UserSpace,
     K::None,
     "process.pid",
     "Process id",
     kUserSpace,
     {}},
    {"process.parent.name",
     F::String,
     T::UserSpace,
     T::UserSpace,
     K::None,
     "process.parent.name",
     "Parent process name",
     kUserSpace,
     {}},
    {"process.parent.exe",
     F::String,
     T::UserSpace,
     T::UserSpace,
     K::None,
     "process.parent.executable",
     "Parent process executable",
     kUserSpace,
     {}},
    {"cgroup.path",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Cgroup,
     "cgroup.path",
     "cgroup v2 path (\"/system.slice/nginx.service\")",
     kCgroupSet,
     {}},
    {"container.id",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Cgroup,
     "container.id",
     "Container id (64 hex digits)",
     kCgroupSet,
     {}},
    {"container.name",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Cgroup,
     "container.name",
     "Container name, as its runtime knows it",
     kCgroupSet,
     {}},
    {"container.runtime",
     F::String,
     T::Kernel,
     T::Kernel,
     K::Cgroup,
     "container.runtime",
     "Container runtime: docker, containerd, cri-o or podman",
     kCgroupSet,
     {}},
    // what (L7)
    {"l7.protocol",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "network.protocol",
     "Application protocol, lowercase: http, tls, dns, ssh, quic, ...",
     kL7,
     {}},
    {"l7.app",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "policer.l7.application",
     "Application nDPI recognised (\"Google\", \"GitHub\", ...)",
     kL7,
     {}},
    {"l7.category",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "policer.l7.category",
     "nDPI category (\"Web\", \"Network\", \"RemoteAccess\", ...)",
     kL7,
     {}},
    {"l7.host",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "policer.l7.host",
     "HTTP Host, TLS SNI or DNS query name",
     kL7,
     {}},
    {"l7.risk",
     F::StringSet,
     T::L7,
     T::L7,
     K::None,
     "policer.l7.risks",
     "nDPI flow risks by name; == x: the flow has risk x",
     kL7,
     {}},
    {"http.method",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "http.request.method",
     "HTTP request method",
     kL7,
     {}},
    {"http.url", F::String, T::L7, T::L7, K::None, "url.original", "HTTP URL (host/path)", kL7, {}},
    {"tls.sni",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "tls.client.server_name",
     "TLS server name indication",
     kL7,
     {}},
    {"dns.query",
     F::String,
     T::L7,
     T::L7,
     K::None,
     "dns.question.name",
     "DNS question name",
     kL7,
     {}},
};

} // namespace

const std::vector<FieldDef> &field_catalogue() {
    return kFields;
}

const FieldDef *find_field(std::string_view name) {
    for (const auto &f : kFields)
        if (name == f.name) return &f;
    return nullptr;
}

std::vector<std::string> field_names() {
    std::vector<std::string> names;
    for (const auto &f : kFields)
        names.emplace_back(f.name);
    return names;
}

const char *tier_reason(const FieldDef &f, bool glob) {
    return glob && f.glob_tier != f.tier ? kGlobUser : f.tier_reason;
}

const char *type_name(FieldType t) {
    switch (t) {
    case FieldType::String: return "string";
    case FieldType::Number: return "number";
    case FieldType::Port: return "port";
    case FieldType::Address: return "address";
    case FieldType::Enum: return "enum";
    case FieldType::StringSet: return "string set";
    }
    return "?";
}

const char *tier_name(Tier t) {
    switch (t) {
    case Tier::Kernel: return "kernel";
    case Tier::UserSpace: return "user space";
    case Tier::L7: return "L7";
    }
    return "?";
}

} // namespace policer::rules
