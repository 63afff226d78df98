#!/usr/bin/env bash
# Runs a libFuzzer target for a bounded number of inputs from a small seed corpus of real
# packets (written here): enough for CI to prove the target runs clean. Longer campaigns: run
# the binary by hand, e.g. `fuzz_sample_dissect -max_total_time=3600 CORPUS_DIR`.
#   run_fuzzer.sh FUZZER [RUNS]
set -euo pipefail
fuzzer="$1"
runs="${2:-20000}"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT

/usr/bin/python3 - "$corpus" <<'PY'
import struct, sys
d = sys.argv[1]
def seed(name, *packets):
    # 1 byte mode (odd: IP packets wrapped in a sample header), then length-prefixed packets.
    with open(f"{d}/{name}", "wb") as f:
        f.write(b"\x01")
        for p in packets:
            f.write(struct.pack("<H", len(p)) + p)
def ipv4(proto, src, dst, l4):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, proto, 0,
                       bytes(src), bytes(dst)) + l4
def tcp(sport, dport, payload, flags=0x18):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, flags, 8192, 0, 0) + payload
def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
a, b = [10, 0, 0, 1], [10, 0, 0, 2]
seed("http", ipv4(6, a, b, tcp(54321, 80, b"GET /x HTTP/1.1\r\nHost: a.example\r\n"
                                          b"User-Agent: fuzz\r\n\r\n")),
     ipv4(6, b, a, tcp(80, 54321, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")))
dns_q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x07example\x00\x00\x01\x00\x01"
dns_r = (b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x01a\x07example\x00\x00\x01\x00\x01"
         b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x07")
seed("dns", ipv4(17, a, b, udp(50000, 53, dns_q)), ipv4(17, b, a, udp(53, 50000, dns_r)))
hello = bytes.fromhex("160301002a0100002603035a" + "00" * 31 + "0000020013010100")
seed("tls", ipv4(6, a, b, tcp(40000, 443, hello)))
v6 = struct.pack("!IHBB16s16s", 6 << 28, 8 + 4, 17, 64, bytes([0xfd] + [0] * 14 + [1]),
                 bytes([0xfd] + [0] * 14 + [2])) + udp(12345, 53, b"abcd")
seed("v6", v6)
PY

"$fuzzer" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$corpus" 2>&1 | tail -n 12
