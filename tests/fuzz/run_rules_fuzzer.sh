#!/usr/bin/env bash
# Runs the rule-language libFuzzer target for a bounded number of inputs, from a small seed
# corpus of rule files that together use the whole grammar (written here) and a dictionary of
# the language's words, so that mutations stay close to rules and reach the checker, the
# compiler and the engine instead of stopping at the first stray byte. Enough for CI to prove
# the target runs clean; longer campaigns: run the binary by hand, e.g.
# `fuzz_rules -max_total_time=3600 -dict=rules.dict CORPUS_DIR`.
#   run_rules_fuzzer.sh FUZZER [RUNS]
set -euo pipefail
fuzzer="$1"
runs="${2:-20000}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus="$work/corpus"
mkdir "$corpus"

cat >"$corpus/grammar.rules" <<'EOF'
# every statement, operator and action
list ssh_ports = (22, 2222, 8022,)
list admins = (alice, "bob smith")
list internal = (10.0.0.0/8, 192.168.0.0/16, fd00::/8, ::ffff:172.16.0.1)
list empty = ()
macro is_ssh = dst.port in ssh_ports and l4.proto == tcp
macro from_admin = user.name in admins or group.name == wheel
rule "ssh only for admins" {
    description "outbound ssh is for admins"
    priority 10
    when is_ssh and not from_admin
    action reject
}
rule internal_ok { priority 5 when dst.ip in internal and direction == egress action allow }
rule uids { when user.id in (0, 1000-1999) and group.id != 4294967295 action alert }
rule names { when process.exe glob "/usr/*" and process.name not in (nc, ncat) action allow }
rule patterns { when process.cmdline not glob ("*--insecure*", *curl*) action deny }
rule limited { audit when l4.proto == udp and dst.port == 53 action limit 50/s burst 100 per process }
rule per_user { when ip.family == ipv6 and src.port in 1024-65535 action limit 5/s per user }
rule per_cgroup { when container.name == web or cgroup.path glob /system.slice/* action limit 1/s burst 2 per cgroup }
rule nothing { when dst.port in empty action deny }
default egress deny
default ingress allow
mode audit
EOF

cat >"$corpus/l7.rules" <<'EOF'
rule evil { priority 20 when l7.host glob "*.evil.example" or tls.sni == bad.example action reject }
rule risky { when l7.risk in (self_signed_cert, obsolete_tls) and l7.protocol == tls action alert }
rule http { when http.method == POST and http.url glob "*/upload*" and l7.app != GitHub action deny }
rule dns { when dns.query glob "*.onion" or l7.category == Malware action deny }
rule web { when dst.port in (80, 443) and dst.domain != example.com action allow }
mode enforce
EOF

cat >"$corpus/addresses.rules" <<'EOF'
rule v4 { when src.ip == 10.0.0.1 and dst.ip in (0.0.0.0/0, 128.0.0.0/1, 10.0.0.2/31) action deny }
rule v6 { when dst.ip in (::/0, 2001:db8::/32, fd00::1/128) and src.ip != ::1 action deny }
rule mapped { when dst.ip == ::ffff:192.0.2.1 and iface == eth0 action alert }
rule ports { when src.port == 0 or dst.port in (65535, 1-1023) and process.pid in 1-100 action allow }
EOF

cat >"$corpus/nested.rules" <<'EOF'
macro a = dst.port == 1 or dst.port == 2
macro b = a and (src.port == 1 or src.port == 2)
macro c = not (b or user.id == 0) and not not container.id == x
rule deep { when ((c and (user.id == 1 or user.id == 2)) or (group.id == 1 and not a)) action deny }
rule wide { when (dst.port == 1 or src.port == 1) and (user.id == 1 or group.id == 1) and (process.pid == 1 or dst.port == 2) and (src.port == 2 or user.id == 2) and (group.id == 2 or process.pid == 2) and (dst.port == 3 or src.port == 3) and (user.id == 3 or group.id == 3) action reject }
EOF

cat >"$corpus/errors.rules" <<'EOF'
rule typo { when usr.name == alice and l4.proto == tpc action denny }
rule bad_cidr { when dst.ip in 10.0.0.1/8 and dst.port == 70000 action deny }
rule typo { when dst.port in ssh_prots action limit 0/s per usr }
macro loop = loop or dst.port == 1
rule uses_loop { when loop action allow }
rule str { when process.name == "unterminated action deny }
default sideways allow
mode audti
EOF

{
    for w in list macro rule default mode when action priority audit description and or not \
        in glob allow deny reject alert limit burst per egress ingress enforce process user \
        cgroup tcp udp ipv4 ipv6 self_signed_cert; do
        echo "\"$w\""
    done
    # Every field, from the one catalogue (field_catalogue.cpp).
    catalogue="$(dirname "$0")/../../rules/field_catalogue.cpp"
    if [ -f "$catalogue" ]; then
        sed -n 's/^ *{"\([a-z0-9_.]*\)",.*/"\1"/p' "$catalogue"
    fi
    for w in '==' '!=' '=' '(' ')' '{' '}' ',' '#' '/s' '\"' '\\' '10.0.0.0/8' 'fd00::/8' \
        '::ffff:10.0.0.1' '0.0.0.0/0' '::/0' '1000-1999' '65535' '4294967295' '*.example.com' \
        '?' '*' '50/s'; do
        echo "\"$w\""
    done
    echo '"\x0a"'
} >"$work/rules.dict"

status=0
"$fuzzer" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -dict="$work/rules.dict" \
    -print_final_stats=1 "$corpus" >"$work/log" 2>&1 || status=$?
if [ "$status" -eq 0 ]; then
    tail -n 12 "$work/log"
else
    # A crash: the whole report (the input is saved in the working directory as crash-*).
    tail -n 200 "$work/log"
fi
exit "$status"
