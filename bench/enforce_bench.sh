#!/usr/bin/env bash
# enforce_bench.sh - what kernel enforcement costs the traffic of a host: TCP throughput, small
# UDP datagrams/s, new TCP connections/s and connect() latency with policerd enforcing 1,000 and
# 10,000 rules, against no filtering and against nftables with the equivalent rules, as ratios
# measured in the same run. Results and how to read them: docs/BENCHMARKS.md ("Enforcement").
#
#   bench/enforce_bench.sh [--quick] [--json] [--runs R] [--seconds S] [--connects N]
#                          [--configs LIST] [--ipv6] [--port P] [--build-dir DIR]
#
# Needs root, a build (./scripts/build.sh: policerd and bench/pl-net-bench; the build directory
# is ./build or $POLICER_BUILD_DIR), python3, iproute2 and nftables (installed with apt-get if
# missing). Nothing else may filter or enforce on the host while it runs.
#
# Traffic runs over a veth pair between the host and a network namespace the script creates
# (a free /30 in 10.250.0.0/24, a /112 in fd50::/64), and on loopback. A pl-net-bench server
# on the host, restarted for every configuration, receives it, so that the host's policer
# hooks and nftables chains see it. Measured, each R times (default 3; the median is shown):
#   tcp-in    MB/s of one TCP stream, namespace -> host, for S seconds (default 3)
#   tcp-out   MB/s of one TCP stream, host -> namespace
#   udp       64-byte UDP datagrams/s the host's server received from the namespace in S s
#   conn      TCP connections/s (socket, connect, close with a reset) namespace -> host
#   lat-veth  connect() latency p50/p99 in µs over N connects (default 20000), namespace -> host
#   lat-lo    the same on loopback, client on the host
# Configurations (--configs, comma-separated; default none,observe,policer-1k,nft-1k,
# nftset-1k,policer-10k,nft-10k,nftset-10k):
#   none         no policer, no nftables (the baseline of every ratio)
#   observe      policerd without rules: flow tracking and events only, nothing enforced
#   policer-N    policerd enforcing N generated rules (bench/gen_enforce_rules.py)
#   nft-N        an nftables table with the equivalent N rules in an input and an output chain
#   nftset-N     the same N rules as elements of one set per family, one lookup per chain
# N is a number, or with k for thousands (1k, 10k). None of the rules matches the traffic
# except the last, a canary that denies one other port: before measuring, each configuration
# is checked by one connect() there (refused by the server's kernel without rules, EPERM with
# policer, no answer with nftables). Rounds alternate the configurations (none, then the rest,
# R times) so that a change of machine load hits every configuration alike.
#
# --quick: R=1, S=1, N=2000 (a smoke run, about a minute). --json: one JSON object on stdout
# (progress goes to stderr). --ipv6: the veth traffic over IPv6 (loopback: ::1).
# Everything the script creates (namespace, veth, nftables table, policerd and its pinned
# enforcement, servers) is removed on exit, also on errors and Ctrl-C.
set -euo pipefail

runs=3
seconds=3
connects=20000
configs="none,observe,policer-1k,nft-1k,nftset-1k,policer-10k,nft-10k,nftset-10k"
json=0
family=4
port=47100
build="${POLICER_BUILD_DIR:-build}"

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

die() {
    echo "enforce_bench: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --quick) runs=1 seconds=1 connects=2000; shift ;;
    --json) json=1; shift ;;
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --connects) connects="${2:?--connects needs a number}"; shift 2 ;;
    --configs) configs="${2:?--configs needs a list}"; shift 2 ;;
    --ipv6) family=6; shift ;;
    --port) port="${2:?--port needs a number}"; shift 2 ;;
    --build-dir) build="${2:?--build-dir needs a directory}"; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "enforce_bench: unexpected argument '$1'" >&2; usage 2 ;;
    esac
done
for n in "$runs" "$seconds" "$connects" "$port"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a number"
done
[ "$runs" -ge 1 ] || die "--runs must be at least 1"
[ "$seconds" -ge 1 ] || die "--seconds must be at least 1"
[ "$connects" -ge 100 ] || die "--connects must be at least 100"
{ [ "$port" -ge 1024 ] && [ "$port" -le 65000 ]; } || die "--port must be 1024..65000"
canary_port=$((port + 2)) # the server listens on port and port+1

# Progress goes to stdout, or to stderr when stdout is for the JSON.
say() {
    if [ "$json" -eq 1 ]; then echo "enforce_bench: $*" >&2; else echo "enforce_bench: $*"; fi
}

# --- configurations ---------------------------------------------------------------------------
IFS=',' read -r -a cfgs <<<"$configs"
[ "${#cfgs[@]}" -ge 1 ] || die "--configs is empty"
rule_count() { # CONFIG: N of policer-N, nft-N, nftset-N
    local n="${1#*-}"
    [[ "$n" =~ ^[0-9]+k$ ]] && n=$((${n%k} * 1000))
    echo "$n"
}
seen=" "
for c in "${cfgs[@]}"; do
    case "$c" in
    none | observe) ;;
    policer-* | nft-* | nftset-*)
        n="${c#*-}"
        [[ "$n" =~ ^[0-9]+k?$ ]] || die "configuration '$c': expected policer-N, nft-N or nftset-N (N: 1000, 10k, ...)"
        n="$(rule_count "$c")"
        { [ "$n" -ge 1 ] && [ "$n" -le 16000 ]; } || die "configuration '$c': 1..16000 rules"
        ;;
    *) die "unknown configuration '$c' (none, observe, policer-N, nft-N, nftset-N)" ;;
    esac
    [[ "$seen" != *" $c "* ]] || die "configuration '$c' given twice"
    seen+="$c "
done
# The baseline comes first in every round.
if [[ "$seen" == *" none "* ]]; then
    order=(none)
    for c in "${cfgs[@]}"; do [ "$c" = none ] || order+=("$c"); done
    cfgs=("${order[@]}")
fi

# --- tools ------------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, nftables, eBPF)"
cd "$(dirname "$0")/.."
[[ "$build" = /* ]] || build="$PWD/$build"
policerd="$build/policer/policerd"
netbench="$build/bench/pl-net-bench"
gen="$PWD/bench/gen_enforce_rules.py"
[ -x "$netbench" ] || die "$netbench not found: build first (./scripts/build.sh)"
command -v python3 >/dev/null || die "python3 not found"
command -v ip >/dev/null || die "ip not found: apt-get install iproute2"
uses_policer=0 uses_nft=0
for c in "${cfgs[@]}"; do
    case "$c" in
    observe | policer-*) uses_policer=1 ;;
    nft-* | nftset-*) uses_nft=1 ;;
    esac
done
if [ "$uses_policer" -eq 1 ]; then
    [ -x "$policerd" ] || die "$policerd not found: build first (./scripts/build.sh)"
    if pgrep -x policerd >/dev/null; then
        die "a policerd is already running (pid $(pgrep -x policerd | tr '\n' ' ')): stop it first"
    fi
fi
if [ "$uses_nft" -eq 1 ] && ! command -v nft >/dev/null; then
    say "installing nftables (apt-get install -y nftables)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y nftables >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y nftables >/dev/null 2>&1; } ||
        die "cannot install nftables"
fi
if command -v nft >/dev/null && [ -n "$(nft list tables 2>/dev/null)" ]; then
    say "warning: nftables already has tables ($(nft list tables | tr '\n' ' ')); they filter every configuration"
fi
cgroup2="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)"
if command -v bpftool >/dev/null && [ -n "$cgroup2" ] &&
    [ -n "$(bpftool cgroup show "$cgroup2" 2>/dev/null | tail -n +2)" ]; then
    say "warning: eBPF programs are attached to $cgroup2 already; they run in every configuration:"
    bpftool cgroup show "$cgroup2" | sed 's/^/    /' >&2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/enforce-bench.XXXXXX")"
ns="plbench-$$"
veth_h="plb$$h"
veth_n="plb$$n"
table="plbench_$$"
server_pid=""
watcher_pid=""
pd_pid=""
pd_reader=""
pin_dir=""

# --- cleanup ----------------------------------------------------------------------------------
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}

stop_policerd() {
    [ -n "$pd_pid" ] || return 0
    kill -TERM "$pd_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pd_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pd_pid" 2>/dev/null || true
    wait "$pd_pid" 2>/dev/null || true
    pd_pid=""
    if [ -n "$pd_reader" ]; then
        kill "$pd_reader" 2>/dev/null || true
        wait "$pd_reader" 2>/dev/null || true
        pd_reader=""
    fi
    # Enforcement is pinned and outlives policerd by design: remove it.
    if [ -n "$pin_dir" ]; then
        local args=()
        [ "$pin_dir" = /sys/fs/bpf/policer ] || args=(--pin-dir "$pin_dir")
        if ! "$policerd" --remove-enforcement "${args[@]}" >>"$work/remove.log" 2>&1; then
            rm -rf "$pin_dir"
        fi
        [ ! -e "$pin_dir" ] || rm -rf "$pin_dir"
    fi
}

cleanup() {
    set +e
    trap - EXIT INT TERM
    [ -z "$watcher_pid" ] || kill "$watcher_pid" 2>/dev/null
    stop_server
    stop_policerd
    if command -v nft >/dev/null; then nft delete table inet "$table" 2>/dev/null; fi
    ip netns del "$ns" 2>/dev/null
    ip link del "$veth_h" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the network ------------------------------------------------------------------------------
# A /30 of 10.250.0.0/24 (and a /112 of fd50::/64) no interface of the host uses yet.
addrs="$(ip -o addr show | awk '{ print $4 }')"
slot=""
for ((k = 1; k < 63; k++)); do
    if ! grep -qE "^(10\.250\.0\.$((4 * k + 1))|10\.250\.0\.$((4 * k + 2))|fd50::$k:[12])/" <<<"$addrs"; then
        slot=$k
        break
    fi
done
[ -n "$slot" ] || die "no free /30 in 10.250.0.0/24"
host4="10.250.0.$((4 * slot + 1))" ns4="10.250.0.$((4 * slot + 2))"
host6="fd50::$slot:1" ns6="fd50::$slot:2"
if [ "$family" -eq 6 ]; then host_ip="$host6" lo_ip="::1"; else host_ip="$host4" lo_ip="127.0.0.1"; fi

ip netns add "$ns"
ip link add "$veth_h" type veth peer name "$veth_n"
ip link set "$veth_n" netns "$ns"
ip addr add "$host4/30" dev "$veth_h"
ip addr add "$host6/112" dev "$veth_h" nodad
ip link set "$veth_h" up
ip -n "$ns" addr add "$ns4/30" dev "$veth_n"
ip -n "$ns" addr add "$ns6/112" dev "$veth_n" nodad
ip -n "$ns" link set "$veth_n" up
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }
# Nothing listens yet: a reset ("refused") shows the host answers over the veth.
for ((i = 0; i < 50; i++)); do
    if in_ns "$netbench" connect-once "$host4" --port "$canary_port" --seconds 1 | grep -q 'result=refused' &&
        in_ns "$netbench" connect-once "$host6" --port "$canary_port" --seconds 1 | grep -q 'result=refused'; then
        break
    fi
    sleep 0.1
done
[ "$i" -lt 50 ] || die "the namespace cannot reach the host over $veth_n"

# --- rule sets --------------------------------------------------------------------------------
for c in "${cfgs[@]}"; do
    case "$c" in
    policer-*) python3 "$gen" --rules "$(rule_count "$c")" --policer "$work/$c.rules" --canary "$host_ip" "$canary_port" ;;
    nft-*) python3 "$gen" --rules "$(rule_count "$c")" --nft "$work/$c.nft" --table "$table" --canary "$host_ip" "$canary_port" ;;
    nftset-*) python3 "$gen" --rules "$(rule_count "$c")" --nft "$work/$c.nft" --table "$table" --canary "$host_ip" "$canary_port" --nft-sets ;;
    esac
done

# --- configurations: set up, check, tear down -------------------------------------------------
pd_cpu_ticks() { # utime + stime of policerd, in clock ticks
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pd_pid/stat" 2>/dev/null || echo 0
}

start_policerd() { # [RULES]
    local args=(--events-stdout) i
    [ $# -eq 0 ] || args+=(--rules "$1")
    if [ -z "$pin_dir" ]; then
        if "$policerd" --help | grep -q -- '--pin-dir'; then
            pin_dir="/sys/fs/bpf/plbench-$$"
        else
            pin_dir=/sys/fs/bpf/policer
            [ ! -e "$pin_dir" ] || die "enforcement is pinned at $pin_dir already: policerd --remove-enforcement"
        fi
    fi
    [ "$pin_dir" = /sys/fs/bpf/policer ] || args+=(--pin-dir "$pin_dir")
    # Its own store and control socket, as a deployment has (flow records are written, so their
    # cost is measured), but not the host's: a benchmark's million flows stay out of
    # /var/lib/policer. Versions before the store do not know the options.
    if "$policerd" --help | grep -q -- '--db'; then
        args+=(--db "$work/bench.db" --control-socket "$work/control.sock")
    fi
    rm -f "$work/pd.fifo" "$work/pd.head"
    : >"$work/pd.head"
    mkfifo "$work/pd.fifo"
    # Events go through a FIFO: the first lines (up to agent-start) are kept, the rest is
    # read and thrown away, as a consumer of the event stream would.
    # shellcheck disable=SC2094
    {
        while IFS= read -r line; do
            printf '%s\n' "$line" >>"$work/pd.head"
            case "$line" in *'"agent-start"'*) break ;; esac
        done
        exec cat >/dev/null
    } <"$work/pd.fifo" &
    pd_reader=$!
    "$policerd" "${args[@]}" >"$work/pd.fifo" 2>"$work/pd.log" &
    pd_pid=$!
    echo "$pd_pid" >>"$work/mine"
    for ((i = 0; i < 1200; i++)); do
        grep -q '"agent-start"' "$work/pd.head" && break
        kill -0 "$pd_pid" 2>/dev/null || { tail -5 "$work/pd.log" >&2; die "policerd exited during start"; }
        sleep 0.1
    done
    [ "$i" -lt 1200 ] || { tail -5 "$work/pd.log" >&2; die "policerd printed no agent-start in 120 s"; }
}

setup_config() { # CONFIG
    case "$1" in
    none) ;;
    observe) start_policerd ;;
    policer-*) start_policerd "$work/$1.rules" ;;
    nft-* | nftset-*) nft -f "$work/$1.nft" || die "nft -f $work/$1.nft failed" ;;
    esac
}

teardown_config() { # CONFIG
    case "$1" in
    observe | policer-*) stop_policerd ;;
    nft-* | nftset-*) nft delete table inet "$table" ;;
    esac
}

start_server() {
    local i
    "$netbench" server --port "$port" >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    for ((i = 0; i < 100; i++)); do
        grep -q '^ready' "$work/server.out" && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$work/server.err" >&2
    die "pl-net-bench server did not start (port $port or $((port + 1)) in use? --port P)"
}

# The canary rule (the last of each set) denies $host_ip:$canary_port: one connect() there
# shows which configuration is in force.
check_config() { # CONFIG
    local want got
    case "$1" in
    none | observe) want=refused ;;
    policer-*) want=eperm ;;
    nft-* | nftset-*) want=timeout ;;
    esac
    got="$(in_ns "$netbench" connect-once "$host_ip" --port "$canary_port" --seconds 1 | sed -n 's/.*result=//p')"
    if [ "$got" != "$want" ]; then
        [ "$1" = "${1#policer-}" ] || tail -3 "$work/pd.log" >&2
        die "configuration $1 is not in force: a connect() to the canary $host_ip:$canary_port got '$got', expected '$want'"
    fi
}

# --- measurements -----------------------------------------------------------------------------
metrics=(tcp-in tcp-out udp conn lat-veth-p50 lat-veth-p99 lat-lo-p50 lat-lo-p99)
labels=("TCP ns->host MB/s" "TCP host->ns MB/s" "UDP 64 B recv/s" "TCP conn/s"
    "connect p50 us veth" "connect p99 us veth" "connect p50 us lo" "connect p99 us lo")

kv() { # KEY LINE: the value of KEY=value in LINE
    sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"
}

client() { # WHERE(ns|host) ARGS...: runs pl-net-bench, prints its result line
    local where="$1" out rc=0
    shift
    local cmd=(timeout $((seconds * 4 + connects / 500 + 60)) "$netbench" "$@")
    [ "$where" = host ] || cmd=(ip netns exec "$ns" "${cmd[@]}")
    out="$("${cmd[@]}" 2>"$work/client.err")" || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$work/client.err" >&2
        die "'pl-net-bench $*' failed (exit $rc)"
    fi
    echo "$out"
}

record() { # CONFIG METRIC VALUE
    [ -n "$3" ] || die "$1 $2: no value"
    echo "$3" >>"$work/res.$1.$2"
}

measure() { # CONFIG
    local c="$1" line
    line="$(client ns tcp-send "$host_ip" --port "$port" --seconds "$seconds")"
    record "$c" tcp-in "$(kv mbytes_per_s "$line")"
    line="$(client ns tcp-recv "$host_ip" --port "$port" --seconds "$seconds")"
    record "$c" tcp-out "$(kv mbytes_per_s "$line")"
    line="$(client ns udp "$host_ip" --port "$port" --seconds "$seconds" --size 64)"
    record "$c" udp "$(kv received_per_s "$line")"
    record "$c" udp-loss "$(kv loss "$line")"
    line="$(client ns connect-rate "$host_ip" --port "$port" --seconds "$seconds")"
    record "$c" conn "$(kv connections_per_s "$line")"
    line="$(client ns connect-latency "$host_ip" --port "$port" --count "$connects")"
    record "$c" lat-veth-p50 "$(kv p50_us "$line")"
    record "$c" lat-veth-p99 "$(kv p99_us "$line")"
    line="$(client host connect-latency "$lo_ip" --port "$port" --count "$connects")"
    record "$c" lat-lo-p50 "$(kv p50_us "$line")"
    record "$c" lat-lo-p99 "$(kv p99_us "$line")"
}

# Another policerd (a test, say) attaches its hooks to the same cgroup and slows everything
# measured meanwhile: a watcher notes every policerd it sees, twice a second.
watch_policerd() {
    while sleep 0.5; do
        pgrep -x policerd >>"$work/seen" || true
    done
}
foreign_policerd() { # policerd processes seen since the last call, other than ours
    local p
    touch "$work/seen" "$work/mine"
    while read -r p; do
        grep -qx "$p" "$work/mine" || printf '%s ' "$p"
    done < <(sort -u "$work/seen")
    : >"$work/seen"
}

last() { tail -1 "$work/res.$c.$1"; } # METRIC: the last value of configuration $c

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- running ----------------------------------------------------------------------------------
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit+="+changes"
say "$(nproc) CPUs: $cpu; kernel $(uname -r); policer $commit; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
say "veth $veth_h $host_ip <-> namespace $ns $([ "$family" -eq 6 ] && echo "$ns6" || echo "$ns4"); loopback $lo_ip; ports $port, $((port + 1)) (canary $canary_port)"
say "configurations: ${cfgs[*]}; $runs round(s); ${seconds} s per throughput test, $connects connects per latency test"
if awk -v n="$(nproc)" '{ exit !($1 > n / 2) }' /proc/loadavg; then
    say "warning: the machine is busy; results will be noisy"
fi
hz="$(getconf CLK_TCK)"
watch_policerd &
watcher_pid=$!
start_time=$SECONDS
for ((r = 1; r <= runs; r++)); do
    for c in "${cfgs[@]}"; do
        t0=$SECONDS
        foreign_policerd >/dev/null
        setup_config "$c"
        start_server
        check_config "$c"
        ticks0=0
        [ -z "$pd_pid" ] || ticks0="$(pd_cpu_ticks)"
        m0="$(date +%s.%N)"
        measure "$c"
        if [ -n "$pd_pid" ]; then
            awk -v t="$(pd_cpu_ticks)" -v t0="$ticks0" -v hz="$hz" -v m0="$m0" -v m1="$(date +%s.%N)" \
                'BEGIN { printf "%.1f\n", 100 * (t - t0) / hz / (m1 - m0) }' >>"$work/res.$c.pd-cpu"
        fi
        foreign="$(foreign_policerd)" foreign="${foreign% }"
        if [ -n "$foreign" ]; then
            say "warning: another policerd (pid $foreign) ran during round $r of $c: its hooks slowed this configuration's traffic"
            echo "$r $c" >>"$work/foreign"
        fi
        stop_server
        teardown_config "$c"
        say "round $r/$runs $(printf '%-12s' "$c") tcp-in $(last tcp-in) MB/s, tcp-out $(last tcp-out) MB/s, udp $(last udp)/s, conn $(last conn)/s, connect p50/p99 veth $(last lat-veth-p50)/$(last lat-veth-p99) us, lo $(last lat-lo-p50)/$(last lat-lo-p99) us$([ ! -s "$work/res.$c.pd-cpu" ] || echo ", policerd CPU $(tail -1 "$work/res.$c.pd-cpu")%") ($((SECONDS - t0)) s)"
    done
done

# --- results ----------------------------------------------------------------------------------
declare -A med
for c in "${cfgs[@]}"; do
    for m in "${metrics[@]}" udp-loss pd-cpu; do
        [ -s "$work/res.$c.$m" ] && med[$c.$m]="$(median <"$work/res.$c.$m")" || med[$c.$m]=""
    done
done
ratio() { # A B: A/B, or "-"
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx\n", a / b }'
}
fmt_value() { # METRIC VALUE
    case "$1" in
    lat-*) awk -v v="$2" 'BEGIN { printf "%.1f", v }' ;;
    *) awk -v v="$2" 'BEGIN { printf "%.0f", v }' ;;
    esac
}
# Ratio columns: each configuration against none, then policer-N against nft-N and nftset-N.
rcols=() rnum=() rden=() rshow=() # name (JSON), numerator, denominator, column header
if [[ "$seen" == *" none "* ]]; then
    for c in "${cfgs[@]}"; do
        [ "$c" = none ] && continue
        rcols+=("$c/none") rnum+=("$c") rden+=(none) rshow+=("$c")
    done
fi
n_vs_none=${#rcols[@]}
for c in "${cfgs[@]}"; do
    [[ "$c" == policer-* ]] || continue
    for f in nft nftset; do
        if [[ "$seen" == *" $f-${c#policer-} "* ]]; then
            rcols+=("$c/$f-${c#policer-}") rnum+=("$c") rden+=("$f-${c#policer-}") rshow+=("$c/$f-${c#policer-}")
        fi
    done
done

if [ -s "$work/foreign" ]; then
    say "warning: another policerd ran during $(wc -l <"$work/foreign") measurement(s) (round config: $(paste -sd, "$work/foreign")); those numbers are too low"
fi

if [ "$json" -eq 1 ]; then
    {
        printf '{"benchmark":"enforce","cpus":%s,"cpu":"%s","kernel":"%s","commit":"%s","runs":%s,"seconds":%s,"connects":%s,"family":"ipv%s",' \
            "$(nproc)" "$cpu" "$(uname -r)" "$commit" "$runs" "$seconds" "$connects" "$family"
        printf '"load_after":"%s","configs":[' "$(cut -d' ' -f1-3 /proc/loadavg)"
        sep=""
        for c in "${cfgs[@]}"; do printf '%s"%s"' "$sep" "$c"; sep=","; done
        printf '],"medians":{'
        sep=""
        for c in "${cfgs[@]}"; do
            printf '%s"%s":{' "$sep" "$c"
            sep2=""
            for m in "${metrics[@]}" udp-loss pd-cpu; do
                [ -n "${med[$c.$m]}" ] || continue
                printf '%s"%s":%s' "$sep2" "$m" "${med[$c.$m]}"
                sep2=","
            done
            printf '}'
            sep=","
        done
        printf '},"runs_per_config":{'
        sep=""
        for c in "${cfgs[@]}"; do
            printf '%s"%s":{' "$sep" "$c"
            sep2=""
            for m in "${metrics[@]}" udp-loss pd-cpu; do
                [ -s "$work/res.$c.$m" ] || continue
                printf '%s"%s":[%s]' "$sep2" "$m" "$(paste -sd, "$work/res.$c.$m")"
                sep2=","
            done
            printf '}'
            sep=","
        done
        printf '},"ratios":{'
        sep=""
        for ((j = 0; j < ${#rcols[@]}; j++)); do
            printf '%s"%s":{' "$sep" "${rcols[$j]}"
            sep2=""
            for m in "${metrics[@]}"; do
                v="$(ratio "${med[${rnum[$j]}.$m]}" "${med[${rden[$j]}.$m]}")"
                [ "$v" = "-" ] && continue
                printf '%s"%s":%s' "$sep2" "$m" "${v%x}"
                sep2=","
            done
            printf '}'
            sep=","
        done
        printf '}}\n'
    }
    exit 0
fi

echo
echo "medians of $runs run(s); ${seconds} s per throughput test, $connects connects per latency test; IPv$family; $(nproc) CPUs: $cpu; load average after: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - start_time)) s"
{
    printf '%-20s' "measurement"
    for c in "${cfgs[@]}"; do printf ' %12s' "$c"; done
    echo
    for ((j = 0; j < ${#metrics[@]}; j++)); do
        m="${metrics[$j]}"
        printf '%-20s' "${labels[$j]}"
        for c in "${cfgs[@]}"; do printf ' %12s' "$(fmt_value "$m" "${med[$c.$m]}")"; done
        echo
    done
    printf '%-20s' "UDP loss %"
    for c in "${cfgs[@]}"; do printf ' %12s' "$(awk -v v="${med[$c.udp-loss]}" 'BEGIN { printf "%.1f", 100 * v }')"; done
    echo
    if [ "$uses_policer" -eq 1 ]; then
        printf '%-20s' "policerd CPU %"
        for c in "${cfgs[@]}"; do printf ' %12s' "${med[$c.pd-cpu]:--}"; done
        echo
    fi
}
# ratio_table TITLE FIRST LAST: the ratio columns FIRST..LAST-1.
ratio_table() {
    local j k col w
    [ "$3" -gt "$2" ] || return 0
    echo
    echo "$1"
    printf '%-20s' "measurement"
    for ((k = $2; k < $3; k++)); do
        col="${rshow[$k]}" w=$((${#rshow[$k]} > 9 ? ${#rshow[$k]} : 9))
        printf ' %*s' "$w" "$col"
    done
    echo
    for ((j = 0; j < ${#metrics[@]}; j++)); do
        m="${metrics[$j]}"
        printf '%-20s' "${labels[$j]}"
        for ((k = $2; k < $3; k++)); do
            w=$((${#rshow[$k]} > 9 ? ${#rshow[$k]} : 9))
            printf ' %*s' "$w" "$(ratio "${med[${rnum[$k]}.$m]}" "${med[${rden[$k]}.$m]}")"
        done
        echo
    done
}
ratio_table "ratios against none: configuration/none (rates: < 1 is slower; latencies: > 1 is slower):" 0 "$n_vs_none"
ratio_table "policer against nftables (rates: > 1 policer is faster; latencies: < 1 policer is faster):" "$n_vs_none" "${#rcols[@]}"
