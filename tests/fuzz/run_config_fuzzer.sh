#!/usr/bin/env bash
# Runs the config and certificate libFuzzer target for a bounded number of inputs, seeded with
# the shipped policer.conf and a real key pair in policer keygen's layout (a throwaway pair
# made for this corpus, written here): enough for CI to prove the parsers run clean on
# mutations of real files. Longer campaigns: run the binary by hand, e.g.
# `fuzz_config_inputs -max_total_time=3600 CORPUS_DIR`.
#   run_config_fuzzer.sh FUZZER [RUNS]
set -euo pipefail
fuzzer="$1"
runs="${2:-50000}"
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT

# The first byte picks the parser: 0 public certificate, 1 secret certificate, 2 policer.conf.
/usr/bin/python3 - "$corpus" "$source_dir/packaging/policer.conf" <<'PY'
import sys
corpus, conf = sys.argv[1], sys.argv[2]
head = ('#   ****  Generated on 2026-11-24 21:28:55 by policer keygen  ****\n'
        '#   ZeroMQ CURVE Certificate\n\n'
        'metadata\n    name = "fz"\ncurve\n'
        '    public-key = "66wdf?x?wb<({ShfsMfTHqUY-z8xK?AHkE<RL>Z-"\n')
secret = head + '    secret-key = "SHSFJV9?oDdpcRR@OUKNvp:LAfmz2DVC>$*asQaJ"\n'
with open(f"{corpus}/public", "wb") as f:
    f.write(b"\x00" + head.encode())
with open(f"{corpus}/secret", "wb") as f:
    f.write(b"\x01" + secret.encode())
with open(conf, "rb") as src, open(f"{corpus}/conf", "wb") as f:
    f.write(b"\x02" + src.read())
PY
"$fuzzer" -runs="$runs" -max_len=8192 -timeout=10 "$corpus"
