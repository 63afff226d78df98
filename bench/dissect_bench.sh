#!/usr/bin/env bash
# dissect_bench.sh - packets/s and flows/s of `policer dissect` against Debian's ndpiReader
# (libndpi-bin, the same nDPI library) on one generated multi-protocol capture, as a ratio
# measured in the same run. Results and how to read them: docs/BENCHMARKS.md.
#
#   bench/dissect_bench.sh [--flows N] [--seed S] [--runs R] [--pcap FILE] [--build-dir DIR]
#
# Needs a build (./scripts/build.sh; the build directory is ./build or $POLICER_BUILD_DIR)
# and ndpiReader (apt-get install libndpi-bin). The capture (default 20000 flows, seed 1) is
# written by pl-gen-pcap into ${TMPDIR:-/tmp}/policer-bench/ and reused while flows, seed and
# generator are the same.
#
# Three tools read the same file: policer dissect (its per-flow table to /dev/null);
# ndpiReader set up for comparable work (the baseline of the ratio); and ndpiReader with its
# default payload string scan, for reference. Each first runs once untimed (this warms the page
# cache; its output gives the classification and, with GNU time installed, the peak memory),
# then R timed runs (default 5) alternate between the tools. Reported: medians of wall, user
# and system time; packets/s and flows/s from the median wall time; the ratios
# policer/ndpiReader (> 1: policer is faster); the flows each classified from payload (not
# guessed from ports); flows per application side by side.
# Exits non-zero if a tool fails or the tools read different packet counts.
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

# --- the tools ------------------------------------------------------------------------------
# 0: policer dissect, its per-flow table to /dev/null.
# 1: ndpiReader doing comparable work: every flow classified with the same per-flow packet
#    budget, no per-flow printing, and -e 0, which turns off its scan of every packet for
#    printable strings (its "PLAIN TEXT" flow attribute), something policer does not do. This
#    is the baseline of the ratio.
# 2: ndpiReader the same but with that scan (its default -e 5), for reference.
names=("policer" "ndpiReader" "ndpiReader -e5")
tool_cmd() { # INDEX [json]: sets the array cmd
    case "$1" in
    0) cmd=("$policer" dissect ${2:+--json} "$pcap") ;;
    1) cmd=("$ndpi_reader" -i "$pcap" -T "$max_packets" -U "$max_packets" -e 0) ;;
    2) cmd=("$ndpi_reader" -i "$pcap" -T "$max_packets" -U "$max_packets") ;;
    esac
}

report_failure() { # RC ERRFILE CMD...
    local rc="$1" err="$2"
    shift 2
    if [ "$rc" -ne 0 ]; then
        echo "dissect_bench: '$*' exited with $rc:" >&2
        tail -5 "$err" >&2
        exit 1
    fi
}

# timed INDEX: one timed run; appends "wall user sys" to $work/times.INDEX, output to
# $work/out.INDEX (ndpiReader) or /dev/null (policer's table; its summary to $work/err.INDEX).
timed() {
    local i="$1" rc=0 out="$work/out.$1"
    local TIMEFORMAT='%3R %3U %3S'
    tool_cmd "$i"
    [ "$i" -eq 0 ] && out=/dev/null
    { time "${cmd[@]}" >"$out" 2>"$work/err.$i"; } 2>"$work/time" || rc=$?
    report_failure "$rc" "$work/err.$i" "${cmd[@]}"
    cat "$work/time" >>"$work/times.$i"
    counts "$i" >/dev/null # fails on a run that printed no sane summary
}

# first INDEX: the untimed first run (policer with --json); peak RSS in MB to $work/rss.INDEX.
first() {
    local i="$1" rc=0
    tool_cmd "$i" json
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$work/rss" "${cmd[@]}" >"$work/out.$i" 2>"$work/err.$i" || rc=$?
        report_failure "$rc" "$work/err.$i" "${cmd[@]}"
        awk '{ printf "%.0f\n", $1 / 1024 }' "$work/rss" >"$work/rss.$i"
    else
        "${cmd[@]}" >"$work/out.$i" 2>"$work/err.$i" || rc=$?
        report_failure "$rc" "$work/err.$i" "${cmd[@]}"
        echo "n/a" >"$work/rss.$i"
    fi
    [ "$i" -eq 0 ] && cp "$work/out.0" "$work/policer.json"
    counts "$i" >/dev/null
}

# counts INDEX: "packets flows classified" from the last run's output. ndpiReader exits 0 even
# when it cannot read the file, so its output is checked too.
counts() {
    if [ "$1" -eq 0 ]; then
        local line
        line="$(grep -E '^policer dissect: [0-9]+ frames' "$work/err.0" | tail -1)" ||
            die "policer printed no summary line: $(tail -3 "$work/err.0")"
        sed -E 's/^policer dissect: ([0-9]+) frames, [0-9]+ IP packets in ([0-9]+) flows \(([0-9]+) classified\).*/\1 \2 \3/' <<<"$line"
        return
    fi
    local out="$work/out.$1" err="$work/err.$1"
    if grep -q '^ERROR' "$out" "$err"; then
        die "ndpiReader failed: $(grep -h '^ERROR' "$out" "$err" | head -1)"
    fi
    grep -q 'Unique flows:' "$out" || die "ndpiReader printed no statistics: $(tail -3 "$err")"
    # "Confidence: DPI" (and its "(cache)"/"(partial)" variants): identified from payload,
    # not guessed by port or address - what policer counts as classified.
    awk '/IP packets:/ { total = $(NF - 2) }
         /Unique flows:/ { flows = $3 }
         /Confidence: DPI/ { dpi += $(NF - 1) }
         END { print total + 0, flows + 0, dpi + 0 }' "$out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- running ----------------------------------------------------------------------------------
echo "dissect_bench: $pcap ($(du -m "$pcap" | cut -f1) MB)"
echo "dissect_bench: $("$policer" --version); ndpiReader: $({ "$ndpi_reader" -h 2>&1 || true; } | grep -m1 -o 'nDPI [0-9.]*' || echo '?')"
for i in 0 1 2; do
    tool_cmd "$i"
    printf 'dissect_bench: %-15s = %s\n' "${names[$i]}" "${cmd[*]}"
done
echo "dissect_bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v n="$(nproc)" '{ exit !($1 > n / 2) }' /proc/loadavg; then
    echo "dissect_bench: warning: the machine is busy; wall times will be noisy (CPU times less so)" >&2
fi

# Untimed first runs: warm the page cache; their outputs give the classification.
packets=() nflows=() classified=() wall=() user=() sys=()
for i in 0 1 2; do
    first "$i"
    read -r p f c < <(counts "$i")
    packets[i]=$p nflows[i]=$f classified[i]=$c
done
for i in 1 2; do
    [ "${packets[0]}" -eq "${packets[$i]}" ] ||
        die "the tools read different packet counts: policer ${packets[0]}, ${names[$i]} ${packets[$i]}"
done
[ "${packets[0]}" -gt 0 ] || die "no packets in $pcap"

# Timed runs, interleaved so that a change of machine load hits every tool alike.
for ((r = 1; r <= runs; r++)); do
    for i in 0 1 2; do
        timed "$i"
    done
done

for i in 0 1 2; do
    wall[i]=$(cut -d' ' -f1 "$work/times.$i" | median)
    user[i]=$(cut -d' ' -f2 "$work/times.$i" | median)
    sys[i]=$(cut -d' ' -f3 "$work/times.$i" | median)
done

echo
echo "$runs timed runs per tool, medians; ${packets[0]} packets; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fmt="%-15s %7s %7s %7s %11s %9s %6s %10s %6s %7s\n"
# shellcheck disable=SC2059
printf "$fmt" "tool" "wall s" "user s" "sys s" "packets/s" "flows/s" "flows" "classified" "share" "RSS MB"
for i in 0 1 2; do
    # shellcheck disable=SC2059
    printf "$fmt" "${names[$i]}" "${wall[$i]}" "${user[$i]}" "${sys[$i]}" \
        "$(awk -v n="${packets[$i]}" -v t="${wall[$i]}" 'BEGIN { printf "%.0f", n / t }')" \
        "$(awk -v n="${nflows[$i]}" -v t="${wall[$i]}" 'BEGIN { printf "%.0f", n / t }')" \
        "${nflows[$i]}" "${classified[$i]}" \
        "$(awk -v c="${classified[$i]}" -v n="${nflows[$i]}" 'BEGIN { printf "%.1f%%", 100 * c / n }')" \
        "$(cat "$work/rss.$i")"
done
for i in 1 2; do
    awk -v pw="${wall[0]}" -v pc="$(awk -v u="${user[0]}" -v s="${sys[0]}" 'BEGIN { print u + s }')" \
        -v pf="${nflows[0]}" -v nw="${wall[$i]}" -v nf="${nflows[$i]}" \
        -v nc="$(awk -v u="${user[$i]}" -v s="${sys[$i]}" 'BEGIN { print u + s }')" \
        -v name="${names[$i]}" 'BEGIN {
        printf "ratio policer/%s: packets/s %.2f, flows/s %.2f, CPU time %.2f (> 1: policer is faster)\n",
            name, nw / pw, (pf / pw) / (nf / nw), nc / pc
    }'
done

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
     on && /flows:/ { print $1, $NF }' "$work/out.1" | LC_ALL=C sort >"$work/n.apps"
echo
echo "flows per application (first runs; * = the tools differ):"
LC_ALL=C join -a1 -a2 -e0 -o 0,1.2,2.2 "$work/p.apps" "$work/n.apps" |
    sort -k3,3nr -k2,2nr |
    awk 'BEGIN { printf "  %-16s %8s %11s\n", "application", "policer", "ndpiReader" }
         { printf "  %-16s %8s %11s%s\n", $1, $2, $3, ($2 != $3 ? "  *" : "") }'
if grep -q '^(no-result) ' "$work/p.apps"; then
    echo "note: policer printed $(awk '$1 == "(no-result)" { print $2 }' "$work/p.apps") flows with no L7 result (\"-\"); its summary counts ${classified[0]} flows classified"
fi
