#!/usr/bin/env bash
# dissect_bench.sh - packets/s and flows/s of `policer dissect` against Debian's ndpiReader
# (libndpi-bin, the same nDPI library) on one generated multi-protocol capture, as a ratio
# measured in the same run. Results and how to read them: docs/BENCHMARKS.md.
#
#   bench/dissect_bench.sh [--flows N] [--seed S] [--runs R] [--pcap FILE] [--build-dir DIR]
#
# Needs a build (./scripts/build.sh; the build directory is ./build or $POLICER_BUILD_DIR)
# and ndpiReader (apt-get install libndpi-bin). The capture is written by pl-gen-pcap into
# ${TMPDIR:-/tmp}/policer-bench/ and reused while flows, seed and generator are the same.
#
# Each tool first runs once untimed (warms the page cache; its output gives the classification
# counts and, with GNU time installed, the peak memory), then R timed runs alternate between
# the two tools; policer's table goes to /dev/null, ndpiReader prints only its summary. Reported:
# medians of wall, user and system time; packets/s and flows/s from the median wall time;
# the throughput ratio policer/ndpiReader (> 1: policer is faster); flows classified by DPI
# (not guessed from ports) by each; flows per application side by side.
# Exits non-zero if either tool fails or the two read different packet counts.
set -euo pipefail

flows=20000
seed=1
runs=5
pcap=""
build="${POLICER_BUILD_DIR:-build}"
max_packets=32 # policer dissect's default --max-packets; ndpiReader gets the same via -T/-U

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit "${1:-0}"
}

die() {
    echo "dissect_bench: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --flows) flows="${2:?--flows needs a number}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
    --pcap) pcap="${2:?--pcap needs a file}"; shift 2 ;;
    --build-dir) build="${2:?--build-dir needs a directory}"; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "dissect_bench: unexpected argument '$1'" >&2; usage 2 ;;
    esac
done
for n in "$flows" "$seed" "$runs"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "'$n' is not a number"
done
[ "$runs" -ge 1 ] || die "--runs must be at least 1"

cd "$(dirname "$0")/.."
[[ "$build" = /* ]] || build="$PWD/$build"
policer="$build/cli/policer"
gen="$build/bench/pl-gen-pcap"
[ -x "$policer" ] || die "$policer not found: build first (./scripts/build.sh)"
ndpi_reader="$(command -v ndpiReader || true)"
[ -n "$ndpi_reader" ] || die "ndpiReader not found: apt-get install libndpi-bin"

work="$(mktemp -d "${TMPDIR:-/tmp}/dissect-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- the capture ------------------------------------------------------------------------------
if [ -z "$pcap" ]; then
    [ -x "$gen" ] || die "$gen not found: build first (./scripts/build.sh)"
    cache="${TMPDIR:-/tmp}/policer-bench"
    mkdir -p "$cache"
    gen_id="$(sha1sum "$gen" | cut -c1-12)"
    pcap="$cache/mix-f$flows-s$seed-$gen_id.pcap"
    if [ ! -s "$pcap" ]; then
        "$gen" --flows "$flows" --seed "$seed" --out "$pcap.tmp" >"$work/gen.txt" ||
            die "pl-gen-pcap failed"
        mv "$pcap.tmp" "$pcap"
    fi
fi
[ -r "$pcap" ] || die "cannot read $pcap"

# --- running and timing -----------------------------------------------------------------------
policer_cmd=("$policer" dissect "$pcap")
policer_json_cmd=("$policer" dissect --json "$pcap")
ndpi_cmd=("$ndpi_reader" -i "$pcap" -T "$max_packets" -U "$max_packets")

# timed OUT ERR CMD... : runs CMD with stdout to OUT and stderr to ERR; prints "wall user sys".
timed() {
    local out="$1" err="$2" rc=0
    shift 2
    local TIMEFORMAT='%3R %3U %3S'
    { time "$@" >"$out" 2>"$err"; } 2>"$work/time" || rc=$?
    report_failure "$rc" "$err" "$@"
    cat "$work/time"
}

# first OUT ERR RSS CMD... : an untimed run; its peak RSS in MB goes to the file RSS.
first() {
    local out="$1" err="$2" rss="$3" rc=0
    shift 3
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$work/rss" "$@" >"$out" 2>"$err" || rc=$?
        report_failure "$rc" "$err" "$@"
        awk '{ printf "%.0f\n", $1 / 1024 }' "$work/rss" >"$rss"
    else
        "$@" >"$out" 2>"$err" || rc=$?
        report_failure "$rc" "$err" "$@"
        echo "n/a" >"$rss"
    fi
}

report_failure() {
    local rc="$1" err="$2"
    shift 2
    if [ "$rc" -ne 0 ]; then
        echo "dissect_bench: '$*' exited with $rc:" >&2
        tail -5 "$err" >&2
        exit 1
    fi
}

# Checks one run's output; prints "packets flows classified".
policer_counts() { # stderr file
    local line
    line="$(grep -E '^policer dissect: [0-9]+ frames' "$1" | tail -1)" ||
        die "policer printed no summary line: $(tail -3 "$1")"
    sed -E 's/^policer dissect: ([0-9]+) frames, [0-9]+ IP packets in ([0-9]+) flows \(([0-9]+) classified\).*/\1 \2 \3/' <<<"$line"
}
ndpi_counts() { # stdout+stderr file
    grep -q '^ERROR' "$1" && die "ndpiReader failed: $(grep '^ERROR' "$1" | head -1)"
    grep -q 'Unique flows:' "$1" || die "ndpiReader printed no statistics: $(tail -3 "$1")"
    awk '/IP packets:/ { total = $(NF - 2) }
         /Unique flows:/ { flows = $3 }
         /Confidence: DPI/ { dpi += $(NF - 1) }
         END { print total + 0, flows + 0, dpi + 0 }' "$1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "dissect_bench: $pcap ($(du -m "$pcap" | cut -f1) MB)"
echo "dissect_bench: $("$policer" --version); ndpiReader: $({ "$ndpi_reader" -h 2>&1 || true; } | grep -m1 -o 'nDPI [0-9.]*' || echo '?')"
echo "dissect_bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Untimed first runs: warm the page cache; their outputs give the classification.
first "$work/policer.json" "$work/policer.err" "$work/p.rss" "${policer_json_cmd[@]}"
first "$work/ndpi.out" "$work/ndpi.out2" "$work/n.rss" "${ndpi_cmd[@]}"
cat "$work/ndpi.out2" >>"$work/ndpi.out"
read -r p_packets p_flows p_classified < <(policer_counts "$work/policer.err")
read -r n_packets n_flows n_classified < <(ndpi_counts "$work/ndpi.out")
[ "$p_packets" -eq "$n_packets" ] ||
    die "the tools read different packet counts: policer $p_packets, ndpiReader $n_packets"
[ "$p_packets" -gt 0 ] || die "no packets in $pcap"

: >"$work/p.times"
: >"$work/n.times"
for ((i = 1; i <= runs; i++)); do
    timed /dev/null "$work/policer.err" "${policer_cmd[@]}" >>"$work/p.times"
    policer_counts "$work/policer.err" >/dev/null
    timed "$work/ndpi.out" "$work/ndpi.out2" "${ndpi_cmd[@]}" >>"$work/n.times"
    ndpi_counts "$work/ndpi.out" >/dev/null
done

p_wall=$(cut -d' ' -f1 "$work/p.times" | median)
p_user=$(cut -d' ' -f2 "$work/p.times" | median)
p_sys=$(cut -d' ' -f3 "$work/p.times" | median)
n_wall=$(cut -d' ' -f1 "$work/n.times" | median)
n_user=$(cut -d' ' -f2 "$work/n.times" | median)
n_sys=$(cut -d' ' -f3 "$work/n.times" | median)

echo
echo "$runs timed runs per tool, medians; $p_packets packets; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v pw="$p_wall" -v pu="$p_user" -v ps="$p_sys" -v pf="$p_flows" -v pc="$p_classified" \
    -v nw="$n_wall" -v nu="$n_user" -v ns="$n_sys" -v nf="$n_flows" -v nc="$n_classified" \
    -v pk="$p_packets" -v pm="$(cat "$work/p.rss")" -v nm="$(cat "$work/n.rss")" 'BEGIN {
    fmt = "%-11s %7s %7s %7s %11s %9s %6s %10s %6s %7s\n"
    printf fmt, "tool", "wall s", "user s", "sys s", "packets/s", "flows/s", "flows", "classified", "share", "RSS MB"
    printf fmt, "policer", pw, pu, ps, sprintf("%.0f", pk / pw), sprintf("%.0f", pf / pw), pf, pc,
        sprintf("%.1f%%", 100 * pc / pf), pm
    printf fmt, "ndpiReader", nw, nu, ns, sprintf("%.0f", pk / nw), sprintf("%.0f", nf / nw), nf, nc,
        sprintf("%.1f%%", 100 * nc / nf), nm
    printf "ratio policer/ndpiReader: packets/s %.2f, flows/s %.2f, CPU (user+sys) %.2f (> 1: policer is faster)\n",
        nw / pw, (pf / pw) / (nf / nw), (nu + ns) / (pu + ps)
}'

# Flows per application, keyed as ndpiReader keys them: nDPI's app protocol, else its master
# ("Google" for TLS.Google); guessed flows count under their guess in both tools.
awk '/"action":"flow-dissected"/ {
         p = "(no-result)"
         if (match($0, /"l7":\{[^}]*/)) {
             l7 = substr($0, RSTART, RLENGTH); p = "Unknown"
             if (match(l7, /"master":"[^"]*"/)) p = substr(l7, RSTART + 10, RLENGTH - 11)
             if (match(l7, /"application":"[^"]*"/)) {
                 a = substr(l7, RSTART + 15, RLENGTH - 16)
                 if (a != "Unknown") p = a
             }
         }
         n[p]++
     }
     END { for (p in n) print p, n[p] }' "$work/policer.json" | LC_ALL=C sort >"$work/p.apps"
awk '/^Detected protocols:/ { on = 1; next } on && NF == 0 { on = 0 }
     on && /flows:/ { print $1, $NF }' "$work/ndpi.out" | LC_ALL=C sort >"$work/n.apps"
echo
echo "flows per application (first runs; * = the tools differ):"
LC_ALL=C join -a1 -a2 -e0 -o 0,1.2,2.2 "$work/p.apps" "$work/n.apps" |
    sort -k3,3nr -k2,2nr |
    awk 'BEGIN { printf "  %-16s %8s %11s\n", "application", "policer", "ndpiReader" }
         { printf "  %-16s %8s %11s%s\n", $1, $2, $3, ($2 != $3 ? "  *" : "") }'
if grep -q '^(no-result) ' "$work/p.apps"; then
    echo "note: policer printed $(awk '$1 == "(no-result)" { print $2 }' "$work/p.apps") flows with no L7 result (\"-\"); its summary counts $p_classified flows classified"
fi
