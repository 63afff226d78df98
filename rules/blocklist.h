// blocklist.h - the XDP source blocklist derived from a compiled rule set: address prefixes
// whose packets XDP may drop before the network stack sees them, because the rule set refuses
// every flow with a peer there whatever else the flow is (its user, process, ports, ...).
//
// Soundness is the point: an entry that is wrong drops legitimate traffic, one that is missing
// only costs the later hooks some work. So the derivation is deliberately conservative.
//
// What a prefix P in the list guarantees, at full knowledge (the reference evaluator,
// evaluate.h, with every field known or absent), for every TCP or UDP flow:
//   - ingress flows with src.ip in P are refused (deny or reject, enforced: no audit), and
//   - with BlocklistScope::PeerTraffic (the default) also egress flows with dst.ip in P.
// The second half matters because enforce_xdp.bpf.c drops *every* packet from a listed
// source, including the replies of connections this host opened to it; IngressFlows is only
// sound for a consumer that never drops packets of egress flows.
//
// How: rules are walked in decision order, separately for the two halves (src.ip / ingress,
// dst.ip / egress). A rule refuses addresses only through a term (a conjunction of its normal
// form, compiler.h) that constrains nothing but that address field and `direction` (which
// must admit the half's direction): such a term is true for every flow from those addresses.
// Every other field (l4.proto, ip.family, ports, identities, L7) disqualifies the term: XDP
// knows none of them before the stack. The addresses are added minus every address at which
// an earlier rule that does not refuse (allow, alert, limit, or any audit rule) might match
// some flow of that direction - over-approximated: its terms' constraints on the address
// field and on direction are honoured, every other literal is assumed satisfiable, and a
// condition kept whole by the compiler (too large for normal form) may match anything.
// Earlier refusing rules need no carving: whatever they match is refused too. Defaults are
// never used (a default deny would list everything no rule allows - too broad to be safe as
// a source drop), and `mode audit` lists nothing.
//
// Addresses are those of flows, which policer reports IPv4-mapped peers as IPv4: IPv4 entries
// are IPv4, and IPv6 entries never cover ::ffff:0:0/96 (an IPv6 packet from a mapped source
// would be judged as IPv4 by the rules, which an IPv6 entry does not speak for).
//
// Not covered by the guarantee, for the consumer to decide: traffic the rules never judge
// (ICMP - including errors about flows to other hosts, which a router inside P may send -
// and other protocols), and forwarded traffic that is not a local flow.
#pragma once

#include "rules/ast.h"
#include "rules/compiler.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace policer::rules {

// The kernel map's size (pl_blocklist in probes/bpf/enforce_common.bpf.h).
constexpr size_t kMaxBlocklistEntries = 65536;

struct BlockPrefix {
    int family = 0;                 // 2 (AF_INET) or 10 (AF_INET6)
    std::array<uint8_t, 16> addr{}; // network order, IPv4 in the first 4 bytes, host bits zero
    unsigned bits = 0;              // prefix length
    std::string rule;               // the rule refusing ingress flows from it (first in order)
    // Its action: deny or reject. XDP can only drop, so a reject's RST is not sent for
    // packets dropped there.
    ActionKind action = ActionKind::Deny;
    std::string str() const; // "10.0.0.0/8", "2001:db8::/32"
};

enum class BlocklistScope {
    PeerTraffic,  // ingress flows from P and egress flows to P are refused
    IngressFlows, // ingress flows from P are refused (egress flows to P may be allowed)
};

struct BlocklistOptions {
    BlocklistScope scope = BlocklistScope::PeerTraffic;
    size_t max_entries = kMaxBlocklistEntries;
};

struct Blocklist {
    // Disjoint, sorted: IPv4 first, then by address. Each range the analysis found is cut
    // into the fewest CIDR prefixes.
    std::vector<BlockPrefix> prefixes;
    // Prefixes left out to respect max_entries: the widest are kept (leaving an entry out is
    // always safe; the later hooks still refuse those flows).
    size_t omitted = 0;
    std::string note; // why nothing could be listed at all ("mode audit"), else empty
};

Blocklist xdp_blocklist(const CompiledRules &rules, const BlocklistOptions &opts = {});

} // namespace policer::rules
