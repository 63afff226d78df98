#!/usr/bin/env python3
"""gen_enforce_rules.py - the rule sets of bench/enforce_bench.sh: N policer rules and the
equivalent nftables ruleset, none of whose rules matches the benchmark's traffic.

  bench/gen_enforce_rules.py --rules N [--policer FILE] [--nft FILE] [--table NAME]
                             [--canary ADDRESS PORT] [--nft-sets]

Rule i (1..N) denies the flows of uid 40000+i to one address and port:

  policer:  rule rI {
                when user.id == 40000+i and dst.ip == X and dst.port == 9000+i
                action deny
            }
  nftables: ip daddr X meta l4proto @tcp_udp th dport 9000+i meta skuid 40000+i drop
            (ip6 daddr for IPv6 X; @tcp_udp is one set of the table: { tcp, udp }),
            in the output chain and again in the input chain

X is 10.99.A.B for nine rules in ten and fd99::I for every tenth. The policer rule has no
direction and no protocol, so it holds for both directions and for TCP and UDP: egress flows
(this host opened them: dst is the peer) meet the copy in the output chain, ingress flows
(the peer opened them: dst is this host, the uid that of the receiving socket) the copy in
the input chain. Both sets end in "allow": policer's default verdicts, the chains' policy.
The benchmark's traffic (10.250.0.0/24, fd50::/64, loopback; uid 0) matches none of them,
so nftables tests every packet against every rule of its chain, and policer's tables rule
every rule out.

--nft-sets writes the nftables rules as nftables would best hold them: one set per family of
(address . protocol . port . uid) elements, two per rule (tcp and udp), looked up by one rule
in each chain, "ip daddr . meta l4proto . th dport . meta skuid @deny4 drop" (a hash: one
lookup per packet, whatever the number of rules).

--canary ADDRESS PORT makes the last rule (rule N, named "canary") one that does match
something: it denies TCP and UDP to ADDRESS:PORT (dst.ip == ADDRESS and dst.port == PORT; in
nftables "ip daddr ADDRESS meta l4proto @tcp_udp th dport PORT drop", last in both chains).
The benchmark connects there once to check that the rule set is in force, and sends nothing
else there.
"""

import argparse
import sys


def target(i):
    """The address rule i names: fd99::I for every tenth rule, else 10.99.A.B (distinct)."""
    if i % 10 == 0:
        return 6, "fd99::%x" % i
    return 4, "10.99.%d.%d" % ((i // 250) % 256, 1 + i % 250)


def uid(i):
    return 40000 + i


def port(i):
    return 9000 + i


def canary_target(canary):
    addr, p = canary
    return ("ip6" if ":" in addr else "ip"), addr, int(p)


def policer_rules(n, canary):
    out = [
        "# %d generated rules (bench/gen_enforce_rules.py)%s: none matches the traffic"
        % (n, ", the last a canary" if canary else ""),
        "# of bench/enforce_bench.sh. Equivalent nftables ruleset: the same script, --nft.",
        "default egress allow",
        "default ingress allow",
        "",
    ]
    for i in range(1, n + 1 - (1 if canary else 0)):
        _, addr = target(i)
        out += [
            "rule r%d {" % i,
            "    when user.id == %d and dst.ip == %s and dst.port == %d" % (uid(i), addr, port(i)),
            "    action deny",
            "}",
        ]
    if canary:
        _, addr, p = canary_target(canary)
        out += [
            "rule canary {",
            "    when dst.ip == %s and dst.port == %d" % (addr, p),
            "    action deny",
            "}",
        ]
    return "\n".join(out) + "\n"


def nft_rules(n, table, canary, sets):
    body = []
    elements = {4: [], 6: []}
    for i in range(1, n + 1 - (1 if canary else 0)):
        fam, addr = target(i)
        if sets:
            for proto in ("tcp", "udp"):
                elements[fam].append("%s . %s . %d . %d" % (addr, proto, port(i), uid(i)))
            continue
        body.append(
            "        %s daddr %s meta l4proto @tcp_udp th dport %d meta skuid %d drop"
            % ("ip" if fam == 4 else "ip6", addr, port(i), uid(i))
        )
    declare = []
    for fam in (4, 6):
        if not elements[fam]:
            continue
        ip = "ip" if fam == 4 else "ip6"
        declare += [
            "    set deny%d {" % fam,
            "        typeof %s daddr . meta l4proto . th dport . meta skuid" % ip,
            "        elements = {",
            ",\n".join("            " + e for e in elements[fam]),
            "        }",
            "    }",
        ]
        body.append("        %s daddr . meta l4proto . th dport . meta skuid @deny%d drop" % (ip, fam))
    if canary:
        body.append("        %s daddr %s meta l4proto @tcp_udp th dport %d drop" % canary_target(canary))
    rules = "\n".join(body)
    out = [
        "# %d generated rules (bench/gen_enforce_rules.py)%s%s, in both chains,"
        % (n, ", the last a canary" if canary else "", ", held in sets" if sets else ""),
        "# equivalent to the policer rule set of the same script: none matches the traffic",
        "# of bench/enforce_bench.sh.",
        "table inet %s {" % table,
        "    set tcp_udp {",
        "        type inet_proto",
        "        elements = { tcp, udp }",
        "    }",
    ] + declare
    for chain in ("output", "input"):
        out += [
            "    chain %s {" % chain,
            "        type filter hook %s priority filter; policy accept;" % chain,
            rules,
            "    }",
        ]
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, required=True, help="number of rules (1..16000)")
    ap.add_argument("--policer", help="write the policer rule file here")
    ap.add_argument("--nft", help="write the nftables ruleset (for nft -f) here")
    ap.add_argument("--table", default="plbench", help="nftables table name (inet family)")
    ap.add_argument("--nft-sets", action="store_true",
                    help="nftables: one set lookup per chain instead of one rule per rule")
    ap.add_argument("--canary", nargs=2, metavar=("ADDRESS", "PORT"),
                    help="rule N denies ADDRESS:PORT instead (to check the set is in force)")
    a = ap.parse_args()
    if not 0 <= a.rules <= 16000:
        ap.error("--rules must be 0..16000 (dst.port = 9000 + i stays a port)")
    if a.canary and a.rules < 1:
        ap.error("--canary needs --rules of at least 1")
    if not a.policer and not a.nft:
        ap.error("nothing to write: give --policer and/or --nft")
    if a.policer:
        with open(a.policer, "w") as f:
            f.write(policer_rules(a.rules, a.canary))
    if a.nft:
        with open(a.nft, "w") as f:
            f.write(nft_rules(a.rules, a.table, a.canary, a.nft_sets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
